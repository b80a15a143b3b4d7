//! RMCP (Remote Management and Control Protocol) with the ASF message
//! class, as DMTF DSP0136 (Alert Standard Format 2.0) defines it: the
//! presence ping a console sends to UDP 623 and the presence pong the
//! firmware answers. Pure bytes in, bytes out; the server owns the socket.
//!
//! Layout (all integers big-endian):
//!
//! ```text
//! RMCP header  version 0x06 | reserved 0x00 | sequence | class 0x06 (ASF)
//! ASF header   IANA 4542 (4) | type (1) | tag (1) | reserved (1) | data length (1)
//! ping data    none (type 0x80, length 0)
//! pong data    IANA (4) | OEM-defined (4) | supported entities (1)
//!              | supported interactions (1) | reserved (6)   (type 0x40, length 16)
//! ```
//!
//! Intel AMT fills the pong as the Intel AMT SDK ("Discovery > Detailed
//! Description", "Use RMCP Ping to Determine the Platform State")
//! documents it: IANA 343 (Intel), the OEM bytes carry the open port
//! (16992/16993, 0 before setup from 6.1), the version nibbles (0 when the
//! major version does not fit a nibble, and then the first two reserved
//! bytes carry major and minor) and the setup state; bit 5 of the
//! supported-interactions byte says DASH. MeshCentral's scanner also reads
//! bit 2 of the setup-state byte as "both 16992 and 16993 open".

use thiserror::Error;

/// RMCP version 1.0 as ASF writes it.
pub const RMCP_VERSION: u8 = 0x06;
/// The RMCP message class of ASF messages.
pub const CLASS_ASF: u8 = 0x06;
/// Sequence number 0xFF: the sender wants no RMCP ACK.
pub const NO_ACK_SEQUENCE: u8 = 0xFF;
/// The ASF IANA enterprise number, in every ASF message header.
pub const ASF_IANA: u32 = 4542;
/// Intel's IANA enterprise number, in the pong data of AMT.
pub const INTEL_IANA: u32 = 343;
/// ASF message type: presence ping.
pub const TYPE_PING: u8 = 0x80;
/// ASF message type: presence pong.
pub const TYPE_PONG: u8 = 0x40;
/// Length of a whole ping datagram.
pub const PING_LEN: usize = 12;
/// Length of a whole pong datagram.
pub const PONG_LEN: usize = 28;
/// Supported entities: bit 7 = IPMI; bits 3:0 = ASF version (1 = 1.0).
/// AMT does not speak IPMI over RMCP.
pub const ENTITIES_ASF_1_0: u8 = 0x01;
/// Supported interactions: bit 5, DASH (DSP0232) from AMT 5.1.
pub const INTERACTIONS_DASH: u8 = 0x20;

/// Why a datagram is not a message we answer. The firmware drops such
/// datagrams without a word.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RmcpError {
    #[error("datagram too short ({0} bytes)")]
    Short(usize),
    #[error("not RMCP version 1.0 (0x{0:02x})")]
    Version(u8),
    #[error("RMCP class 0x{0:02x} is not ASF")]
    Class(u8),
    #[error("ASF IANA number {0} is not 4542")]
    Iana(u32),
    #[error("data length {declared} but {available} bytes follow")]
    Length { declared: u8, available: usize },
}

/// The RMCP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RmcpHeader {
    pub sequence: u8,
    pub class: u8,
}

/// One ASF message inside RMCP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsfMessage {
    pub sequence: u8,
    pub message_type: u8,
    pub tag: u8,
    pub data: Vec<u8>,
}

impl AsfMessage {
    /// Parses an RMCP/ASF datagram. Extra bytes after the declared data
    /// are ignored, as a UDP receiver would.
    pub fn parse(datagram: &[u8]) -> Result<AsfMessage, RmcpError> {
        let header: [u8; 12] = datagram
            .get(..12)
            .and_then(|h| h.try_into().ok())
            .ok_or(RmcpError::Short(datagram.len()))?;
        if header[0] != RMCP_VERSION {
            return Err(RmcpError::Version(header[0]));
        }
        if header[3] != CLASS_ASF {
            return Err(RmcpError::Class(header[3]));
        }
        let iana = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        if iana != ASF_IANA {
            return Err(RmcpError::Iana(iana));
        }
        let declared = header[11];
        let rest = &datagram[12..];
        let data = rest.get(..usize::from(declared)).ok_or(RmcpError::Length {
            declared,
            available: rest.len(),
        })?;
        Ok(AsfMessage {
            sequence: header[2],
            message_type: header[8],
            tag: header[9],
            data: data.to_vec(),
        })
    }

    /// The datagram. Data longer than 255 bytes is cut at 255 (ASF
    /// messages carry a one-byte length).
    pub fn encode(&self) -> Vec<u8> {
        let data = &self.data[..self.data.len().min(255)];
        let mut out = Vec::with_capacity(12 + data.len());
        out.extend_from_slice(&[RMCP_VERSION, 0, self.sequence, CLASS_ASF]);
        out.extend_from_slice(&ASF_IANA.to_be_bytes());
        out.extend_from_slice(&[self.message_type, self.tag, 0, data.len() as u8]);
        out.extend_from_slice(data);
        out
    }

    /// A presence ping with this tag.
    pub fn ping(sequence: u8, tag: u8) -> AsfMessage {
        AsfMessage {
            sequence,
            message_type: TYPE_PING,
            tag,
            data: Vec::new(),
        }
    }

    pub fn is_ping(&self) -> bool {
        self.message_type == TYPE_PING
    }
}

/// Setup state in the pong (the AMT provisioning state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupState {
    NotConfigured = 0,
    InProcess = 1,
    Completed = 2,
}

/// What the firmware says about itself in a pong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AmtPresence {
    pub major: u8,
    pub minor: u8,
    /// 16992, 16993, or 0 when setup has not been performed.
    pub open_port: u16,
    /// Both 16992 and 16993 answer.
    pub dual_ports: bool,
    pub setup_state: SetupState,
}

impl AmtPresence {
    /// The 16 data bytes of the pong.
    pub fn pong_data(&self) -> [u8; 16] {
        let mut d = [0u8; 16];
        d[..4].copy_from_slice(&INTEL_IANA.to_be_bytes());
        d[4..6].copy_from_slice(&self.open_port.to_be_bytes());
        if self.major <= 15 && self.minor <= 15 {
            d[6] = (self.major << 4) | self.minor;
        } else {
            // The version byte stays 0; major and minor move to the first
            // two reserved bytes (Intel AMT SDK).
            d[10] = self.major;
            d[11] = self.minor;
        }
        d[7] = self.setup_state as u8 | if self.dual_ports { 0x04 } else { 0 };
        d[8] = ENTITIES_ASF_1_0;
        d[9] = INTERACTIONS_DASH;
        d
    }

    /// Reads the AMT fields back from pong data (for tests and tools).
    pub fn from_pong_data(d: &[u8]) -> Option<AmtPresence> {
        let d: &[u8; 16] = d.get(..16)?.try_into().ok()?;
        if u32::from_be_bytes([d[0], d[1], d[2], d[3]]) != INTEL_IANA {
            return None;
        }
        let (major, minor) = match d[6] {
            0 => (d[10], d[11]),
            v => (v >> 4, v & 0x0f),
        };
        let setup_state = match d[7] & 0x03 {
            0 => SetupState::NotConfigured,
            1 => SetupState::InProcess,
            2 => SetupState::Completed,
            _ => return None,
        };
        Some(AmtPresence {
            major,
            minor,
            open_port: u16::from_be_bytes([d[4], d[5]]),
            dual_ports: d[7] & 0x04 != 0,
            setup_state,
        })
    }
}

/// The firmware's answer to one datagram: a pong to a presence ping,
/// nothing to anything else (other ASF messages, garbage).
pub fn answer(datagram: &[u8], presence: &AmtPresence) -> Option<Vec<u8>> {
    let msg = AsfMessage::parse(datagram).ok()?;
    if !msg.is_ping() {
        return None;
    }
    Some(
        AsfMessage {
            sequence: msg.sequence,
            message_type: TYPE_PONG,
            tag: msg.tag,
            data: presence.pong_data().to_vec(),
        }
        .encode(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRESENCE: AmtPresence = AmtPresence {
        major: 11,
        minor: 8,
        open_port: 16992,
        dual_ports: false,
        setup_state: SetupState::Completed,
    };

    #[test]
    fn meshcentral_ping_gets_a_pong_with_its_tag() {
        // The ping MeshCentral's scanner sends, tag 0x2a.
        let ping = [
            0x06, 0x00, 0x00, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, 0x2a, 0x00, 0x00,
        ];
        let pong = answer(&ping, &PRESENCE).expect("a pong");
        assert_eq!(pong.len(), PONG_LEN);
        assert_eq!(&pong[..4], &[0x06, 0x00, 0x00, 0x06]);
        assert_eq!(
            &pong[4..12],
            &[0x00, 0x00, 0x11, 0xbe, 0x40, 0x2a, 0x00, 0x10]
        );
        assert_eq!(&pong[12..16], &[0x00, 0x00, 0x01, 0x57]);
        assert_eq!(&pong[16..18], &16992u16.to_be_bytes());
        assert_eq!(pong[18], 0xb8);
        assert_eq!(pong[19], 2);
        assert_eq!(pong[21] & 0x20, 0x20);
        assert_eq!(AmtPresence::from_pong_data(&pong[12..]), Some(PRESENCE));
    }

    #[test]
    fn a_two_digit_major_moves_to_the_reserved_bytes() {
        let p = AmtPresence {
            major: 16,
            minor: 1,
            open_port: 16993,
            dual_ports: false,
            setup_state: SetupState::NotConfigured,
        };
        let d = p.pong_data();
        assert_eq!(d[6], 0);
        assert_eq!((d[10], d[11]), (16, 1));
        assert_eq!(AmtPresence::from_pong_data(&d), Some(p));
    }

    #[test]
    fn other_messages_and_garbage_get_nothing() {
        assert!(answer(&[], &PRESENCE).is_none());
        assert!(answer(&[0x06, 0, 0xff, 0x06], &PRESENCE).is_none());
        let mut pong_in = AsfMessage::ping(0xff, 1);
        pong_in.message_type = TYPE_PONG;
        assert!(answer(&pong_in.encode(), &PRESENCE).is_none());
        let mut ipmi = AsfMessage::ping(0xff, 1).encode();
        ipmi[3] = 0x07;
        assert_eq!(AsfMessage::parse(&ipmi), Err(RmcpError::Class(0x07)));
        let mut long = AsfMessage::ping(0xff, 1).encode();
        long[11] = 4;
        assert!(matches!(
            AsfMessage::parse(&long),
            Err(RmcpError::Length { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn parse_encode_round_trip(seq: u8, ty: u8, tag: u8, data in proptest::collection::vec(proptest::num::u8::ANY, 0..255)) {
            let m = AsfMessage { sequence: seq, message_type: ty, tag, data };
            proptest::prop_assert_eq!(AsfMessage::parse(&m.encode()), Ok(m));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = answer(&bytes, &PRESENCE);
        }
    }
}
