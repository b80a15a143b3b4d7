//! IDE-R messages on the wire. Every message starts with the same 8-byte
//! header: the command byte, two reserved bytes, an attribute byte and a
//! little-endian u32 sequence number; the body follows with little-endian
//! integers (the ATAPI packet inside 0x50 keeps SCSI's big-endian order).
//! Layouts and lengths as Intel's redirection constants give them
//! (amtterm's `RedirectionConstants.h`) and as MeshCommander's and
//! kvm-pilot's IDE-R consoles read and write them (docs/ider.md).
//!
//! [`Frame::parse`] reads one message from the front of a buffer and says
//! how many bytes it used, or that more are needed; it never panics,
//! whatever the bytes.

use thiserror::Error;

/// Console → device: open the IDE-R session (18 bytes).
pub const OPEN: u8 = 0x40;
/// Device → console: the session's parameters (30 bytes + OEM data).
pub const OPEN_REPLY: u8 = 0x41;
/// Console → device: close.
pub const CLOSE: u8 = 0x42;
/// Device → console: closed (also sent when the device closes first).
pub const CLOSE_REPLY: u8 = 0x43;
pub const KEEP_ALIVE_PING: u8 = 0x44;
pub const KEEP_ALIVE_PONG: u8 = 0x45;
/// Device → console: the host's IDE bus was reset (9 bytes).
pub const RESET_OCCURRED: u8 = 0x46;
pub const RESET_OCCURRED_RESPONSE: u8 = 0x47;
/// Console → device: query or toggle the redirected drives.
pub const DISABLE_ENABLE_FEATURES: u8 = 0x48;
pub const DISABLE_ENABLE_FEATURES_REPLY: u8 = 0x49;
/// Device → console: an error on the host's side (11 bytes).
pub const ERROR_OCCURRED: u8 = 0x4A;
pub const HEARTBEAT: u8 = 0x4B;
/// Device → console: the host wrote an IDE command (an ATAPI packet).
pub const COMMAND_WRITTEN: u8 = 0x50;
/// Console → device: the command ended, with the registers and sense.
pub const COMMAND_END_RESPONSE: u8 = 0x51;
/// Console → device: send me the data the host writes.
pub const GET_DATA_FROM_HOST: u8 = 0x52;
/// Device → console: data the host wrote.
pub const DATA_FROM_HOST: u8 = 0x53;
/// Console → device: data for the host (a sector read), with registers.
pub const DATA_TO_HOST: u8 = 0x54;

/// The header every message starts with.
pub const HEADER_LEN: usize = 8;
pub const OPEN_LEN: usize = 18;
/// Without the OEM data, whose length is the last of these bytes.
pub const OPEN_REPLY_LEN: usize = 30;
pub const RESET_OCCURRED_LEN: usize = 9;
/// A register toggle (type 3) carries a u32 value; the queries do not.
pub const FEATURES_LEN: usize = 13;
pub const FEATURES_QUERY_LEN: usize = 9;
pub const FEATURES_REPLY_LEN: usize = 13;
pub const ERROR_OCCURRED_LEN: usize = 11;
pub const COMMAND_WRITTEN_LEN: usize = 28;
pub const COMMAND_END_RESPONSE_LEN: usize = 31;
pub const GET_DATA_FROM_HOST_LEN: usize = 31;
/// Before the data.
pub const DATA_FROM_HOST_HEAD: usize = 14;
/// Before the data.
pub const DATA_TO_HOST_HEAD: usize = 34;

/// Attribute bit: the data phase of this command is the last one.
pub const ATTR_COMPLETED: u8 = 0x02;
/// Attribute bit: the transfer is DMA (else PIO).
pub const ATTR_DMA: u8 = 0x01;

/// `DisableEnableFeatures` types.
pub const FEATURES_GET_SUPPORTED: u8 = 1;
pub const FEATURES_GET_STATE: u8 = 2;
pub const FEATURES_SET_STATE: u8 = 3;
/// Value bit of a toggle: the redirected drives are enabled.
pub const FEATURE_ENABLE: u32 = 0x01;
/// Start-mode bits of a toggle (mask 0x18).
pub const START_ON_REBOOT: u32 = 0x08;
pub const START_GRACEFUL: u32 = 0x10;
pub const START_NOW: u32 = 0x18;

/// The IDE command of an ATAPI packet.
pub const ATA_PACKET: u8 = 0xA0;

/// IDE status register bits.
pub const STATUS_BSY: u8 = 0x80;
pub const STATUS_DRDY: u8 = 0x40;
pub const STATUS_DSC: u8 = 0x10;
pub const STATUS_DRQ: u8 = 0x08;
pub const STATUS_ERR: u8 = 0x01;

/// A redirected drive, by its IDE drive-select value: the floppy is the
/// master (0xA0), the CD the slave (0xB0, bit 4 set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Drive {
    Floppy,
    Cd,
}

impl Drive {
    pub fn drive_select(self) -> u8 {
        match self {
            Drive::Floppy => 0xA0,
            Drive::Cd => 0xB0,
        }
    }

    /// The drive a drive-select byte names (bit 4).
    pub fn from_select(select: u8) -> Drive {
        if select & 0x10 != 0 {
            Drive::Cd
        } else {
            Drive::Floppy
        }
    }

    /// The block size of its medium before READ CAPACITY says otherwise.
    pub fn block_size(self) -> u32 {
        match self {
            Drive::Floppy => 512,
            Drive::Cd => 2048,
        }
    }
}

/// Why a buffer is not an IDE-R message.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("unknown IDE-R message type {0:#04x}")]
    UnknownType(u8),
}

/// The eight IDE task-file registers a response carries (input: as the
/// host set them; output: as the drive leaves them), in wire order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Registers {
    /// Which of the following the console set.
    pub mask: u8,
    pub error: u8,
    /// ATAPI: the interrupt reason.
    pub sector_count: u8,
    pub sector_number: u8,
    pub byte_count_lsb: u8,
    pub byte_count_msb: u8,
    pub drive_select: u8,
    pub status: u8,
}

impl Registers {
    fn read(b: &[u8]) -> Registers {
        let at = |i: usize| b.get(i).copied().unwrap_or(0);
        Registers {
            mask: at(0),
            error: at(1),
            sector_count: at(2),
            sector_number: at(3),
            byte_count_lsb: at(4),
            byte_count_msb: at(5),
            drive_select: at(6),
            status: at(7),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[
            self.mask,
            self.error,
            self.sector_count,
            self.sector_number,
            self.byte_count_lsb,
            self.byte_count_msb,
            self.drive_select,
            self.status,
        ]);
    }
}

/// One IDE-R message body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Timeouts in milliseconds (0: none).
    Open {
        rx_timeout: u16,
        tx_timeout: u16,
        heartbeat: u16,
        version: u32,
    },
    OpenReply {
        status: u8,
        major: u8,
        minor: u8,
        fw_major: u8,
        fw_minor: u8,
        /// The most data one DataToHost may carry.
        read_buffer: u16,
        /// The most data one DataFromHost carries.
        write_buffer: u16,
        /// 0: the only protocol the consoles accept.
        protocol: u8,
        iana: u32,
        oem: Vec<u8>,
    },
    Close,
    CloseReply,
    KeepAlivePing,
    KeepAlivePong,
    ResetOccurred {
        mask: u8,
    },
    ResetOccurredResponse,
    /// A toggle (type 3) carries a value; the queries (1, 2) do not.
    DisableEnableFeatures {
        kind: u8,
        value: Option<u32>,
    },
    DisableEnableFeaturesReply {
        kind: u8,
        value: u32,
    },
    ErrorOccurred {
        data: [u8; 3],
    },
    Heartbeat,
    CommandWritten {
        cable_select: u8,
        /// Bit 0: the host asks for DMA.
        feature: u8,
        sector_count: u8,
        sector_number: u8,
        /// The most bytes the host takes per data phase.
        byte_count: u16,
        drive_select: u8,
        command: u8,
        /// The 12-byte ATAPI packet (a SCSI CDB).
        packet: [u8; 12],
    },
    CommandEndResponse {
        cable_select: u8,
        transfer_bytes: u16,
        packet_number: u8,
        input: Registers,
        output: Registers,
        sense: u8,
        asc: u8,
        ascq: u8,
    },
    GetDataFromHost {
        body: [u8; 23],
    },
    DataFromHost {
        cable_select: u8,
        rest: [u8; 3],
        data: Vec<u8>,
    },
    /// The transfer length on the wire is `data.len()`.
    DataToHost {
        cable_select: u8,
        packet_number: u8,
        input: Registers,
        output: Registers,
        sense: u8,
        asc: u8,
        ascq: u8,
        data: Vec<u8>,
    },
}

impl Message {
    /// The command byte.
    pub fn command(&self) -> u8 {
        match self {
            Message::Open { .. } => OPEN,
            Message::OpenReply { .. } => OPEN_REPLY,
            Message::Close => CLOSE,
            Message::CloseReply => CLOSE_REPLY,
            Message::KeepAlivePing => KEEP_ALIVE_PING,
            Message::KeepAlivePong => KEEP_ALIVE_PONG,
            Message::ResetOccurred { .. } => RESET_OCCURRED,
            Message::ResetOccurredResponse => RESET_OCCURRED_RESPONSE,
            Message::DisableEnableFeatures { .. } => DISABLE_ENABLE_FEATURES,
            Message::DisableEnableFeaturesReply { .. } => DISABLE_ENABLE_FEATURES_REPLY,
            Message::ErrorOccurred { .. } => ERROR_OCCURRED,
            Message::Heartbeat => HEARTBEAT,
            Message::CommandWritten { .. } => COMMAND_WRITTEN,
            Message::CommandEndResponse { .. } => COMMAND_END_RESPONSE,
            Message::GetDataFromHost { .. } => GET_DATA_FROM_HOST,
            Message::DataFromHost { .. } => DATA_FROM_HOST,
            Message::DataToHost { .. } => DATA_TO_HOST,
        }
    }
}

/// A message with its header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// [`ATTR_COMPLETED`], [`ATTR_DMA`].
    pub attributes: u8,
    pub seq: u32,
    pub message: Message,
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    match b.get(i..i + 2) {
        Some(&[lo, hi]) => u16::from_le_bytes([lo, hi]),
        _ => 0,
    }
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    match b.get(i..i + 4) {
        Some(&[a, c, d, e]) => u32::from_le_bytes([a, c, d, e]),
        _ => 0,
    }
}

fn byte(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

fn array<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0; N];
    if let Some(src) = b.get(at..at + N) {
        out.copy_from_slice(src);
    }
    out
}

impl Frame {
    pub fn new(seq: u32, message: Message) -> Frame {
        Frame {
            attributes: 0,
            seq,
            message,
        }
    }

    /// The length of the message at the front of `buf`, once its header
    /// (and, for variable messages, its length field) is there.
    fn wire_len(buf: &[u8]) -> Result<Option<usize>, ParseError> {
        let Some(&command) = buf.first() else {
            return Ok(None);
        };
        let fixed = match command {
            OPEN => OPEN_LEN,
            CLOSE
            | CLOSE_REPLY
            | KEEP_ALIVE_PING
            | KEEP_ALIVE_PONG
            | HEARTBEAT
            | RESET_OCCURRED_RESPONSE => HEADER_LEN,
            RESET_OCCURRED => RESET_OCCURRED_LEN,
            DISABLE_ENABLE_FEATURES => {
                if buf.len() <= HEADER_LEN {
                    return Ok(None);
                }
                if byte(buf, HEADER_LEN) == FEATURES_SET_STATE {
                    FEATURES_LEN
                } else {
                    FEATURES_QUERY_LEN
                }
            }
            DISABLE_ENABLE_FEATURES_REPLY => FEATURES_REPLY_LEN,
            ERROR_OCCURRED => ERROR_OCCURRED_LEN,
            COMMAND_WRITTEN => COMMAND_WRITTEN_LEN,
            COMMAND_END_RESPONSE => COMMAND_END_RESPONSE_LEN,
            GET_DATA_FROM_HOST => GET_DATA_FROM_HOST_LEN,
            OPEN_REPLY => {
                if buf.len() < OPEN_REPLY_LEN {
                    return Ok(None);
                }
                OPEN_REPLY_LEN + usize::from(byte(buf, OPEN_REPLY_LEN - 1))
            }
            DATA_FROM_HOST => {
                if buf.len() < DATA_FROM_HOST_HEAD {
                    return Ok(None);
                }
                DATA_FROM_HOST_HEAD + usize::from(u16_at(buf, 9))
            }
            DATA_TO_HOST => {
                if buf.len() < DATA_TO_HOST_HEAD {
                    return Ok(None);
                }
                DATA_TO_HOST_HEAD + usize::from(u16_at(buf, 9))
            }
            other => return Err(ParseError::UnknownType(other)),
        };
        Ok(Some(fixed))
    }

    /// Reads the message at the front of `buf`: `Ok(None)` when more bytes
    /// are needed, else the frame and the bytes it used.
    pub fn parse(buf: &[u8]) -> Result<Option<(Frame, usize)>, ParseError> {
        let Some(len) = Self::wire_len(buf)? else {
            return Ok(None);
        };
        let Some(b) = buf.get(..len) else {
            return Ok(None);
        };
        let attributes = byte(b, 3);
        let seq = u32_at(b, 4);
        let message = match byte(b, 0) {
            OPEN => Message::Open {
                rx_timeout: u16_at(b, 8),
                tx_timeout: u16_at(b, 10),
                heartbeat: u16_at(b, 12),
                version: u32_at(b, 14),
            },
            OPEN_REPLY => Message::OpenReply {
                status: byte(b, 1),
                major: byte(b, 8),
                minor: byte(b, 9),
                fw_major: byte(b, 10),
                fw_minor: byte(b, 11),
                read_buffer: u16_at(b, 16),
                write_buffer: u16_at(b, 18),
                protocol: byte(b, 21),
                iana: u32_at(b, 25),
                oem: b.get(OPEN_REPLY_LEN..).unwrap_or_default().to_vec(),
            },
            CLOSE => Message::Close,
            CLOSE_REPLY => Message::CloseReply,
            KEEP_ALIVE_PING => Message::KeepAlivePing,
            KEEP_ALIVE_PONG => Message::KeepAlivePong,
            HEARTBEAT => Message::Heartbeat,
            RESET_OCCURRED => Message::ResetOccurred { mask: byte(b, 8) },
            RESET_OCCURRED_RESPONSE => Message::ResetOccurredResponse,
            DISABLE_ENABLE_FEATURES => Message::DisableEnableFeatures {
                kind: byte(b, 8),
                value: (len == FEATURES_LEN).then(|| u32_at(b, 9)),
            },
            DISABLE_ENABLE_FEATURES_REPLY => Message::DisableEnableFeaturesReply {
                kind: byte(b, 8),
                value: u32_at(b, 9),
            },
            ERROR_OCCURRED => Message::ErrorOccurred { data: array(b, 8) },
            COMMAND_WRITTEN => Message::CommandWritten {
                cable_select: byte(b, 8),
                feature: byte(b, 9),
                sector_count: byte(b, 10),
                sector_number: byte(b, 11),
                byte_count: u16_at(b, 12),
                drive_select: byte(b, 14),
                command: byte(b, 15),
                packet: array(b, 16),
            },
            COMMAND_END_RESPONSE => Message::CommandEndResponse {
                cable_select: byte(b, 8),
                transfer_bytes: u16_at(b, 9),
                packet_number: byte(b, 11),
                input: Registers::read(b.get(12..20).unwrap_or_default()),
                output: Registers::read(b.get(20..28).unwrap_or_default()),
                sense: byte(b, 28),
                asc: byte(b, 29),
                ascq: byte(b, 30),
            },
            GET_DATA_FROM_HOST => Message::GetDataFromHost { body: array(b, 8) },
            DATA_FROM_HOST => Message::DataFromHost {
                cable_select: byte(b, 8),
                rest: array(b, 11),
                data: b.get(DATA_FROM_HOST_HEAD..).unwrap_or_default().to_vec(),
            },
            DATA_TO_HOST => Message::DataToHost {
                cable_select: byte(b, 8),
                packet_number: byte(b, 11),
                input: Registers::read(b.get(12..20).unwrap_or_default()),
                output: Registers::read(b.get(20..28).unwrap_or_default()),
                sense: byte(b, 28),
                asc: byte(b, 29),
                ascq: byte(b, 30),
                data: b.get(DATA_TO_HOST_HEAD..).unwrap_or_default().to_vec(),
            },
            other => return Err(ParseError::UnknownType(other)),
        };
        // The reserved header bytes are not kept; only 0x41 uses byte 1.
        Ok(Some((
            Frame {
                attributes,
                seq,
                message,
            },
            len,
        )))
    }

    /// Appends the message's bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let status = match &self.message {
            Message::OpenReply { status, .. } => *status,
            _ => 0,
        };
        out.extend_from_slice(&[self.message.command(), status, 0, self.attributes]);
        out.extend_from_slice(&self.seq.to_le_bytes());
        match &self.message {
            Message::Open {
                rx_timeout,
                tx_timeout,
                heartbeat,
                version,
            } => {
                out.extend_from_slice(&rx_timeout.to_le_bytes());
                out.extend_from_slice(&tx_timeout.to_le_bytes());
                out.extend_from_slice(&heartbeat.to_le_bytes());
                out.extend_from_slice(&version.to_le_bytes());
            }
            Message::OpenReply {
                major,
                minor,
                fw_major,
                fw_minor,
                read_buffer,
                write_buffer,
                protocol,
                iana,
                oem,
                ..
            } => {
                out.extend_from_slice(&[*major, *minor, *fw_major, *fw_minor, 0, 0, 0, 0]);
                out.extend_from_slice(&read_buffer.to_le_bytes());
                out.extend_from_slice(&write_buffer.to_le_bytes());
                out.extend_from_slice(&[0, *protocol, 0, 0, 0]);
                out.extend_from_slice(&iana.to_le_bytes());
                let oem = oem.get(..usize::from(u8::MAX)).unwrap_or(oem);
                out.push(oem.len() as u8);
                out.extend_from_slice(oem);
            }
            Message::Close
            | Message::CloseReply
            | Message::KeepAlivePing
            | Message::KeepAlivePong
            | Message::Heartbeat
            | Message::ResetOccurredResponse => {}
            Message::ResetOccurred { mask } => out.push(*mask),
            Message::DisableEnableFeatures { kind, value } => {
                out.push(*kind);
                // A toggle always carries its value; a query never does.
                if *kind == FEATURES_SET_STATE {
                    out.extend_from_slice(&value.unwrap_or(0).to_le_bytes());
                }
            }
            Message::DisableEnableFeaturesReply { kind, value } => {
                out.push(*kind);
                out.extend_from_slice(&value.to_le_bytes());
            }
            Message::ErrorOccurred { data } => out.extend_from_slice(data),
            Message::CommandWritten {
                cable_select,
                feature,
                sector_count,
                sector_number,
                byte_count,
                drive_select,
                command,
                packet,
            } => {
                out.extend_from_slice(&[*cable_select, *feature, *sector_count, *sector_number]);
                out.extend_from_slice(&byte_count.to_le_bytes());
                out.extend_from_slice(&[*drive_select, *command]);
                out.extend_from_slice(packet);
            }
            Message::CommandEndResponse {
                cable_select,
                transfer_bytes,
                packet_number,
                input,
                output,
                sense,
                asc,
                ascq,
            } => {
                out.push(*cable_select);
                out.extend_from_slice(&transfer_bytes.to_le_bytes());
                out.push(*packet_number);
                input.write(out);
                output.write(out);
                out.extend_from_slice(&[*sense, *asc, *ascq]);
            }
            Message::GetDataFromHost { body } => out.extend_from_slice(body),
            Message::DataFromHost {
                cable_select,
                rest,
                data,
            } => {
                let data = data.get(..usize::from(u16::MAX)).unwrap_or(data);
                out.push(*cable_select);
                out.extend_from_slice(&(data.len() as u16).to_le_bytes());
                out.extend_from_slice(rest);
                out.extend_from_slice(data);
            }
            Message::DataToHost {
                cable_select,
                packet_number,
                input,
                output,
                sense,
                asc,
                ascq,
                data,
            } => {
                let data = data.get(..usize::from(u16::MAX)).unwrap_or(data);
                out.push(*cable_select);
                out.extend_from_slice(&(data.len() as u16).to_le_bytes());
                out.push(*packet_number);
                input.write(out);
                output.write(out);
                out.extend_from_slice(&[*sense, *asc, *ascq, 0, 0, 0]);
                out.extend_from_slice(data);
            }
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        ::hex::decode(s).unwrap()
    }

    #[test]
    fn the_consoles_open_parses() {
        // MeshCommander's and kvm-pilot's open: rx 30000, tx 0, heartbeat
        // 20000, version 1, sequence 0.
        let bytes = hex("40000000 00000000 3075 0000 204e 01000000");
        let (frame, used) = Frame::parse(&bytes).unwrap().unwrap();
        assert_eq!(used, 18);
        assert_eq!(
            frame.message,
            Message::Open {
                rx_timeout: 30000,
                tx_timeout: 0,
                heartbeat: 20000,
                version: 1
            }
        );
        assert_eq!(frame.to_bytes(), bytes);
    }

    #[test]
    fn the_open_reply_has_the_offsets_the_consoles_read() {
        let frame = Frame::new(
            0,
            Message::OpenReply {
                status: 0,
                major: 1,
                minor: 0,
                fw_major: 16,
                fw_minor: 1,
                read_buffer: 8192,
                write_buffer: 8192,
                protocol: 0,
                iana: 343,
                oem: vec![],
            },
        );
        let b = frame.to_bytes();
        assert_eq!(b.len(), 30);
        assert_eq!(
            b,
            hex("41000000 00000000 0100 1001 00000000 0020 0020 00 00 000000 57010000 00")
        );
        // Where MeshCommander reads read/write buffers, protocol and IANA.
        assert_eq!(u16_at(&b, 16), 8192);
        assert_eq!(b[21], 0);
        assert_eq!(u32_at(&b, 25), 343);
        assert_eq!(Frame::parse(&b).unwrap().unwrap().0, frame);
    }

    #[test]
    fn feature_toggles_and_queries_have_their_own_lengths() {
        // Toggle: enable, start on reboot (0x01|0x08), sequence 1.
        let toggle = hex("48000000 01000000 03 09000000");
        let (f, used) = Frame::parse(&toggle).unwrap().unwrap();
        assert_eq!(used, 13);
        assert_eq!(
            f.message,
            Message::DisableEnableFeatures {
                kind: 3,
                value: Some(9)
            }
        );
        let query = hex("48000000 02000000 01");
        let (f, used) = Frame::parse(&query).unwrap().unwrap();
        assert_eq!(used, 9);
        assert_eq!(f.to_bytes(), query);
        assert_eq!(Frame::parse(&query[..8]).unwrap(), None);
    }

    #[test]
    fn command_written_carries_the_packet_at_16() {
        let mut packet = [0; 12];
        packet[0] = 0x28;
        packet[5] = 16;
        packet[8] = 1;
        let f = Frame::new(
            5,
            Message::CommandWritten {
                cable_select: 0,
                feature: 0,
                sector_count: 0,
                sector_number: 0,
                byte_count: 0xF800,
                drive_select: 0xB0,
                command: ATA_PACKET,
                packet,
            },
        );
        let b = f.to_bytes();
        assert_eq!(
            b,
            hex("50000000 05000000 00 00 00 00 00f8 b0 a0 28000000 0010 0000 01000000")
        );
        assert_eq!(Drive::from_select(b[14]), Drive::Cd);
    }

    #[test]
    fn data_to_host_is_34_bytes_then_the_data() {
        // A final PIO chunk of 4 bytes as MeshCommander builds it.
        let mut b = hex("54000002 07000000 00 0400 00 b5 00 02 00 0400 b0 58 85 00 03 00 00 00 b0 50 00 00 00 000000");
        b.extend_from_slice(b"\x00\x05\x80\x00");
        let (f, used) = Frame::parse(&b).unwrap().unwrap();
        assert_eq!(used, 38);
        assert_eq!(f.attributes, ATTR_COMPLETED);
        let Message::DataToHost { output, data, .. } = &f.message else {
            panic!("not data: {f:?}");
        };
        assert_eq!(output.status, 0x50);
        assert_eq!(data, &[0, 5, 0x80, 0]);
        assert_eq!(f.to_bytes(), b);
        assert_eq!(Frame::parse(&b[..37]).unwrap(), None);
    }

    #[test]
    fn unknown_types_are_errors_and_short_buffers_wait() {
        assert_eq!(Frame::parse(&[0x99]), Err(ParseError::UnknownType(0x99)));
        assert_eq!(Frame::parse(&[]).unwrap(), None);
        assert_eq!(Frame::parse(&[0x51, 0, 0, 2]).unwrap(), None);
    }
}
