//! An IDE-R console for tests: it lends a CD and/or floppy image to the
//! device and answers the ATAPI commands the host issues through it, the
//! way MeshCommander's and kvm-pilot's IDE-R consoles do (the byte layouts
//! in docs/ider.md). It is written against the bytes, not against
//! `amt-ider`, so a test pits two independent readings of the protocol
//! against each other.
//!
//! Sans-I/O: [`IderConsole::open`] gives the first message, and
//! [`IderConsole::receive`] takes the device's bytes and returns what to
//! write back. A test drives it over a byte pipe or a socket.

/// Drive-select values: the floppy is the IDE master, the CD the slave.
const FLOPPY: u8 = 0xA0;
const CD: u8 = 0xB0;

/// What the console answered, for the test to look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// An ATAPI packet (the CDB's operation code) for a drive (0xA0/0xB0),
    /// with the LBA of a read.
    Command {
        drive: u8,
        op: u8,
        lba: Option<u32>,
    },
    Ping,
    Reset,
    Closed,
    /// Something the console could not read.
    Error(String),
}

/// A console's IDE-R session.
#[derive(Debug)]
pub struct IderConsole {
    cd: Option<Vec<u8>>,
    floppy: Option<Vec<u8>>,
    /// 0x08 on reboot, 0x10 graceful, 0x18 now.
    pub start_mode: u32,
    out_seq: u32,
    in_seq: u32,
    input: Vec<u8>,
    read_buffer: usize,
    /// Drives that already reported the medium change.
    attention_given: [bool; 2],
    pub enabled: bool,
    pub closed: bool,
    pub seen: Vec<Seen>,
}

fn le16(b: &[u8], at: usize) -> usize {
    usize::from(b[at]) | usize::from(b[at + 1]) << 8
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl IderConsole {
    pub fn new(cd: Option<Vec<u8>>, floppy: Option<Vec<u8>>) -> Self {
        IderConsole {
            cd,
            floppy,
            start_mode: 0x08,
            out_seq: 0,
            in_seq: 0,
            input: Vec::new(),
            read_buffer: 8192,
            attention_given: [false; 2],
            enabled: false,
            closed: false,
            seen: Vec::new(),
        }
    }

    fn message(&mut self, out: &mut Vec<u8>, cmd: u8, attributes: u8, body: &[u8]) {
        out.extend_from_slice(&[cmd, 0, 0, attributes]);
        out.extend_from_slice(&self.out_seq.to_le_bytes());
        out.extend_from_slice(body);
        self.out_seq += 1;
    }

    /// The open: rx timeout 30000 ms, tx timeout 0, heartbeat 20000 ms,
    /// version 1.
    pub fn open(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut body = Vec::new();
        body.extend_from_slice(&30000u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&20000u16.to_le_bytes());
        body.extend_from_slice(&1u32.to_le_bytes());
        self.message(&mut out, 0x40, 0, &body);
        out
    }

    /// Close (0x42).
    pub fn close(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.message(&mut out, 0x42, 0, &[]);
        out
    }

    /// Device bytes in; the bytes to write back out.
    pub fn receive(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.input.extend_from_slice(bytes);
        let mut out = Vec::new();
        while !self.closed {
            let Some(len) = self.next_len() else { break };
            let msg: Vec<u8> = self.input.drain(..len).collect();
            if le32(&msg, 4) != self.in_seq {
                self.seen.push(Seen::Error(format!(
                    "sequence {} where {} was due",
                    le32(&msg, 4),
                    self.in_seq
                )));
            }
            self.in_seq = le32(&msg, 4).wrapping_add(1);
            self.handle(&msg, &mut out);
        }
        out
    }

    fn next_len(&mut self) -> Option<usize> {
        let b = &self.input;
        let need = match *b.first()? {
            0x41 => {
                if b.len() < 30 {
                    return None;
                }
                30 + usize::from(b[29])
            }
            0x43 | 0x44 | 0x45 | 0x4B => 8,
            0x46 => 9,
            0x49 => 13,
            0x4A => 11,
            0x50 => 28,
            other => {
                self.seen
                    .push(Seen::Error(format!("unknown message {other:#04x}")));
                self.closed = true;
                return None;
            }
        };
        (b.len() >= need).then_some(need)
    }

    fn handle(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        match msg[0] {
            0x41 => {
                if msg[1] != 0 {
                    self.seen.push(Seen::Error("open refused".into()));
                    self.closed = true;
                    return;
                }
                self.read_buffer = le16(msg, 16).clamp(512, 8192);
                let mut body = vec![3];
                body.extend_from_slice(&(0x01 | self.start_mode).to_le_bytes());
                self.message(out, 0x48, 0, &body);
            }
            // The toggle took.
            0x49 if msg[8] == 3 && le32(msg, 9) == 1 => self.enabled = true,
            0x43 => {
                self.seen.push(Seen::Closed);
                self.closed = true;
            }
            0x44 => {
                self.seen.push(Seen::Ping);
                self.message(out, 0x45, 0, &[]);
            }
            0x46 => {
                self.seen.push(Seen::Reset);
                self.attention_given = [false; 2];
                self.message(out, 0x47, 0, &[]);
            }
            0x50 => self.command(msg, out),
            _ => {}
        }
    }

    fn medium(&self, drive: u8) -> Option<(&[u8], usize)> {
        if drive == CD {
            self.cd.as_deref().map(|m| (m, 2048))
        } else {
            self.floppy.as_deref().map(|m| (m, 512))
        }
    }

    /// Ends the command: good (status DRDY|DSC) or a check condition with
    /// this sense (status DRDY|DSC|ERR, the key also in the error register).
    fn end(&mut self, out: &mut Vec<u8>, drive: u8, sense: Option<(u8, u8, u8)>) {
        let mut body = vec![0u8; 23];
        let (status, (key, asc, ascq)) = match sense {
            None => (0x50, (0, 0, 0)),
            Some(s) => (0x51, s),
        };
        body[12..20].copy_from_slice(&[0x87, key << 4, 3, 0, 0, 0, drive, status]);
        body[20..23].copy_from_slice(&[key, asc, ascq]);
        self.message(out, 0x51, 0x02, &body);
    }

    /// Data for the host in read-buffer chunks, the last one completed.
    fn data(&mut self, out: &mut Vec<u8>, drive: u8, data: &[u8]) {
        let chunks: Vec<&[u8]> = data.chunks(self.read_buffer).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let last = i + 1 == chunks.len();
            let n = chunk.len() as u16;
            let [lo, hi] = n.to_le_bytes();
            let mut body = vec![0, lo, hi, 0, 0xB5, 0, 2, 0, lo, hi, drive, 0x58];
            if last {
                body.extend_from_slice(&[0x85, 0, 3, 0, 0, 0, drive, 0x50]);
            } else {
                body.extend_from_slice(&[0; 8]);
            }
            body.extend_from_slice(&[0; 6]);
            body.extend_from_slice(chunk);
            self.message(out, 0x54, if last { 0x02 } else { 0 }, &body);
        }
    }

    fn command(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        let drive = if msg[14] & 0x10 != 0 { CD } else { FLOPPY };
        let cdb = &msg[16..28];
        let op = cdb[0];
        let slot = usize::from(drive == CD);
        let lba = (op == 0x28).then(|| be32(cdb, 2));
        self.seen.push(Seen::Command { drive, op, lba });
        if msg[15] != 0xA0 {
            self.end(out, drive, Some((5, 0x20, 0)));
            return;
        }
        let Some((medium, block)) = self.medium(drive) else {
            // Medium not present.
            self.end(out, drive, Some((2, 0x3A, 0)));
            return;
        };
        let blocks = medium.len() / block;
        match op {
            0x00 => {
                if self.attention_given[slot] {
                    self.end(out, drive, None);
                } else {
                    // Unit attention: medium may have changed.
                    self.attention_given[slot] = true;
                    self.end(out, drive, Some((6, 0x28, 0)));
                }
            }
            0x25 => {
                let mut reply = ((blocks as u32).saturating_sub(1)).to_be_bytes().to_vec();
                reply.extend_from_slice(&(block as u32).to_be_bytes());
                self.data(out, drive, &reply);
            }
            0x28 => {
                let lba = be32(cdb, 2) as usize;
                let count = usize::from(u16::from_be_bytes([cdb[7], cdb[8]]));
                if lba + count > blocks {
                    // Logical block address out of range.
                    self.end(out, drive, Some((5, 0x21, 0)));
                } else if count == 0 {
                    self.end(out, drive, None);
                } else {
                    let data = medium[lba * block..(lba + count) * block].to_vec();
                    self.data(out, drive, &data);
                }
            }
            // Invalid command operation code.
            _ => self.end(out, drive, Some((5, 0x20, 0))),
        }
    }
}
