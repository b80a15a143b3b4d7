//! The device's side of an IDE-R session, as a state machine in the manner
//! of quinn-proto: the driver feeds it the console's bytes
//! ([`Session::receive`]) and the time ([`Session::handle_timeout`]), and
//! takes from it the messages to write ([`Session::poll_transmit`]), what
//! happened ([`Session::poll_event`]) and when to wake it next
//! ([`Session::next_timeout`]). It owns no socket and reads no clock.
//!
//! The order, as the consoles drive it (docs/ider.md):
//! 1. the console opens (0x40: its rx timeout, tx timeout, heartbeat,
//!    version 1); the device answers 0x41 with its buffer sizes;
//! 2. the console enables the drives (0x48 type 3, value 0x01 | start
//!    mode); the device answers 0x49 type 3 value 1: [`Event::Opened`];
//! 3. the host asks for sectors ([`Session::read`]): the device writes
//!    ATAPI packets (0x50) — TEST UNIT READY, READ CAPACITY once per
//!    drive, then READ(10) — and the console answers each with data
//!    (0x54, the last chunk marked completed) or an end response (0x51)
//!    carrying the status register and the sense;
//! 4. either side closes (0x42 from the console, 0x43 from the device).
//!
//! The console sends nothing while the host is quiet (MeshCommander and
//! kvm-pilot answer pings, they do not send them), so the device pings
//! (0x44) after `heartbeat` ms of silence and closes after the console's
//! `rx_timeout` with nothing received.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::wire::{
    Drive, Frame, Message, ParseError, Registers, ATA_PACKET, ATTR_COMPLETED, FEATURES_GET_STATE,
    FEATURES_GET_SUPPORTED, FEATURES_SET_STATE, FEATURE_ENABLE, START_GRACEFUL, START_NOW,
    START_ON_REBOOT, STATUS_ERR,
};

/// ATAPI operation codes the device issues.
pub const TEST_UNIT_READY: u8 = 0x00;
pub const READ_CAPACITY: u8 = 0x25;
pub const READ_10: u8 = 0x28;

/// SCSI sense keys the session acts on.
pub const SENSE_NOT_READY: u8 = 0x02;
pub const SENSE_UNIT_ATTENTION: u8 = 0x06;
/// Additional sense code: medium not present.
pub const ASC_MEDIUM_NOT_PRESENT: u8 = 0x3A;

/// The open protocol version the consoles send.
pub const VERSION: u32 = 1;
/// The largest read buffer the consoles accept (MeshCommander refuses more).
pub const MAX_READ_BUFFER: u16 = 8192;
/// Intel's IANA enterprise number, in the open reply.
pub const INTEL_IANA: u32 = 343;

/// What a session is made with.
#[derive(Clone, Debug)]
pub struct Config {
    /// Announced in the open reply: the most data per DataToHost.
    pub read_buffer: u16,
    pub write_buffer: u16,
    /// The firmware version in the open reply.
    pub fw_major: u8,
    pub fw_minor: u8,
    /// How long the console may take to open after the handover.
    pub open_timeout: Duration,
    /// How long one ATAPI command may go unanswered.
    pub command_timeout: Duration,
    /// TEST UNIT READY attempts while the drive reports a unit attention or
    /// "becoming ready" (the first answer after media is loaded is 06/28).
    pub ready_attempts: u8,
    /// The most blocks one [`Session::read`] may ask for.
    pub max_read_blocks: u16,
    /// The most reads waiting behind the one in flight.
    pub max_queued_reads: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            read_buffer: MAX_READ_BUFFER,
            write_buffer: MAX_READ_BUFFER,
            fw_major: 1,
            fw_minor: 0,
            open_timeout: Duration::from_secs(30),
            command_timeout: Duration::from_secs(30),
            ready_attempts: 4,
            max_read_blocks: 32,
            max_queued_reads: 16,
        }
    }
}

/// When the console wants its drives to appear to the host (the toggle's
/// start-mode bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartMode {
    /// 0x08: at the host's next reboot (what MeshCommander sends by default).
    OnReboot,
    /// 0x10: once the host's IDE bus is idle.
    Graceful,
    /// 0x18: at once.
    Now,
}

impl StartMode {
    fn from_value(value: u32) -> StartMode {
        match value & START_NOW {
            START_NOW => StartMode::Now,
            START_GRACEFUL => StartMode::Graceful,
            START_ON_REBOOT => StartMode::OnReboot,
            // No bits: the firmware's default, the next reboot.
            _ => StartMode::OnReboot,
        }
    }
}

/// Why a read gave no sectors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadFailure {
    /// TEST UNIT READY said 02/3A: the console has no image in this drive.
    NoMedium,
    /// The console ended a command with an error status and this sense.
    Check { key: u8, asc: u8, ascq: u8 },
    /// Beyond the capacity READ CAPACITY gave.
    OutOfRange,
    /// The command ended with fewer bytes than asked for.
    ShortData { expected: usize, got: usize },
    /// READ CAPACITY gave a reply that is not 8 bytes or a block size the
    /// device cannot use.
    BadCapacity,
    /// The host's IDE bus was reset while the read was in flight.
    Reset,
}

/// Why the session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The console sent Close (0x42).
    ByConsole,
    /// The driver closed it ([`Session::close`]).
    Local,
    /// The byte stream ended ([`Session::connection_lost`]).
    ConnectionLost,
    /// The console sent nothing for its own rx timeout.
    RxTimeout,
    /// The console did not open in time.
    OpenTimeout,
    /// An ATAPI command went unanswered.
    CommandTimeout,
    /// The open named a protocol version the device does not speak.
    UnsupportedVersion(u32),
    /// Bytes IDE-R does not allow here.
    ProtocolError(String),
}

/// What happened, for the driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The console enabled its drives.
    Opened {
        start: StartMode,
    },
    /// The console disabled its drives (a toggle without the enable bit).
    Disabled,
    /// READ CAPACITY answered, the first time a drive was used.
    MediaInfo {
        drive: Drive,
        blocks: u64,
        block_size: u32,
    },
    /// A [`Session::read`] completed.
    SectorsRead {
        drive: Drive,
        lba: u32,
        data: Vec<u8>,
    },
    ReadFailed {
        drive: Drive,
        lba: u32,
        failure: ReadFailure,
    },
    Closed {
        reason: CloseReason,
    },
}

/// Why [`Session::read`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("the console has not enabled its drives")]
    NotEnabled,
    #[error("the session is closed")]
    Closed,
    #[error("a read of zero blocks or more than the session allows")]
    BadLength,
    #[error("too many reads are waiting")]
    Busy,
}

/// Where the session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the console's open.
    AwaitingOpen,
    /// Opened; the drives are not enabled.
    Open,
    /// The drives are enabled: reads go to the console.
    Enabled,
    Closed,
}

#[derive(Clone, Copy, Debug)]
struct ReadRequest {
    drive: Drive,
    lba: u32,
    count: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    TestUnitReady { attempt: u8 },
    ReadCapacity,
    Read,
}

#[derive(Debug)]
struct InFlight {
    request: ReadRequest,
    step: Step,
    /// Data phases so far.
    data: Vec<u8>,
    deadline: Instant,
}

/// The sense bytes of a response.
#[derive(Clone, Copy, Debug)]
struct Sense {
    key: u8,
    asc: u8,
    ascq: u8,
}

#[derive(Clone, Copy, Debug, Default)]
struct DriveState {
    /// (blocks, block size) once READ CAPACITY answered.
    capacity: Option<(u64, u32)>,
    /// TEST UNIT READY passed since the last reset.
    ready: bool,
}

/// One IDE-R session, device side.
#[derive(Debug)]
pub struct Session {
    config: Config,
    phase: Phase,
    input: Vec<u8>,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    out_seq: u32,
    /// The sequence number the console's next message must carry.
    in_seq: Option<u32>,
    open_deadline: Instant,
    rx_timeout: Option<Duration>,
    heartbeat: Option<Duration>,
    last_rx: Instant,
    ping_sent: bool,
    drives: [DriveState; 2],
    queue: VecDeque<ReadRequest>,
    in_flight: Option<InFlight>,
    /// A ResetOccurred awaits its response: command replies are stale.
    awaiting_reset: bool,
    /// The drives' state (0x49 type 2) was reported since they were enabled.
    status_reported: bool,
}

fn index(drive: Drive) -> usize {
    match drive {
        Drive::Floppy => 0,
        Drive::Cd => 1,
    }
}

impl Session {
    /// A session handed over by the redirection layer at `now`.
    pub fn new(config: Config, now: Instant) -> Session {
        Session {
            open_deadline: now + config.open_timeout,
            config,
            phase: Phase::AwaitingOpen,
            input: Vec::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            out_seq: 0,
            in_seq: None,
            rx_timeout: None,
            heartbeat: None,
            last_rx: now,
            ping_sent: false,
            drives: [DriveState::default(); 2],
            queue: VecDeque::new(),
            in_flight: None,
            awaiting_reset: false,
            status_reported: false,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// The capacity of `drive` as READ CAPACITY gave it: (blocks, block size).
    pub fn capacity(&self, drive: Drive) -> Option<(u64, u32)> {
        self.drives[index(drive)].capacity
    }

    /// The next message to write.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] must next run.
    pub fn next_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Closed => None,
            Phase::AwaitingOpen => Some(self.open_deadline),
            Phase::Open | Phase::Enabled => [
                self.rx_timeout.map(|t| self.last_rx + t),
                self.heartbeat
                    .filter(|_| !self.ping_sent)
                    .map(|h| self.last_rx + h),
                self.in_flight.as_ref().map(|f| f.deadline),
            ]
            .into_iter()
            .flatten()
            .min(),
        }
    }

    /// Bytes from the console.
    pub fn receive(&mut self, bytes: &[u8], now: Instant) {
        if self.is_closed() {
            return;
        }
        self.last_rx = now;
        self.ping_sent = false;
        self.input.extend_from_slice(bytes);
        let mut used = 0;
        while !self.is_closed() {
            let rest = self.input.get(used..).unwrap_or_default();
            match Frame::parse(rest) {
                Ok(Some((frame, n))) => {
                    used += n;
                    self.on_frame(frame, now);
                }
                Ok(None) => break,
                Err(ParseError::UnknownType(t)) => {
                    self.fail(format!("unknown message type {t:#04x}"));
                }
            }
        }
        self.input.drain(..used.min(self.input.len()));
        // Bound what a console can make the device hold: nothing valid is
        // longer than a DataToHost with 64 KiB of data.
        if self.input.len() > usize::from(u16::MAX) + 64 {
            self.fail("oversized message".into());
        }
    }

    /// Lets time pass up to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.phase {
            Phase::Closed => {}
            Phase::AwaitingOpen => {
                if now >= self.open_deadline {
                    self.close_with(CloseReason::OpenTimeout, true);
                }
            }
            Phase::Open | Phase::Enabled => {
                if self.rx_timeout.is_some_and(|t| now >= self.last_rx + t) {
                    self.close_with(CloseReason::RxTimeout, true);
                    return;
                }
                if self.in_flight.as_ref().is_some_and(|f| now >= f.deadline) {
                    self.close_with(CloseReason::CommandTimeout, true);
                    return;
                }
                if !self.ping_sent && self.heartbeat.is_some_and(|h| now >= self.last_rx + h) {
                    self.ping_sent = true;
                    self.send(0, Message::KeepAlivePing);
                }
            }
        }
    }

    /// The host wants `count` blocks of `drive` from `lba`. The first read
    /// of a drive first checks it is ready and asks its capacity.
    pub fn read(
        &mut self,
        drive: Drive,
        lba: u32,
        count: u16,
        now: Instant,
    ) -> Result<(), ReadError> {
        match self.phase {
            Phase::Closed => return Err(ReadError::Closed),
            Phase::AwaitingOpen | Phase::Open => return Err(ReadError::NotEnabled),
            Phase::Enabled => {}
        }
        if count == 0 || count > self.config.max_read_blocks {
            return Err(ReadError::BadLength);
        }
        if self.queue.len() >= self.config.max_queued_reads {
            return Err(ReadError::Busy);
        }
        self.queue.push_back(ReadRequest { drive, lba, count });
        self.advance(now);
        Ok(())
    }

    /// The host's IDE bus was reset (the host rebooted): the console is
    /// told (0x46), a read in flight fails, and each drive is checked
    /// again before its next read.
    pub fn host_reset(&mut self, now: Instant) {
        if self.phase != Phase::Enabled {
            return;
        }
        if let Some(f) = self.in_flight.take() {
            self.events.push_back(Event::ReadFailed {
                drive: f.request.drive,
                lba: f.request.lba,
                failure: ReadFailure::Reset,
            });
        }
        for d in &mut self.drives {
            d.ready = false;
        }
        self.awaiting_reset = true;
        self.send(0, Message::ResetOccurred { mask: 1 });
        let _ = now;
    }

    /// The driver ends the session (0x43 to the console).
    pub fn close(&mut self) {
        self.close_with(CloseReason::Local, true);
    }

    /// The byte stream is gone.
    pub fn connection_lost(&mut self) {
        self.close_with(CloseReason::ConnectionLost, false);
    }

    fn send(&mut self, attributes: u8, message: Message) {
        let frame = Frame {
            attributes,
            seq: self.out_seq,
            message,
        };
        self.out_seq = self.out_seq.wrapping_add(1);
        self.transmit.push_back(frame.to_bytes());
    }

    fn fail(&mut self, why: String) {
        self.close_with(CloseReason::ProtocolError(why), true);
    }

    fn close_with(&mut self, reason: CloseReason, tell_console: bool) {
        if self.is_closed() {
            return;
        }
        if tell_console {
            self.send(0, Message::CloseReply);
        }
        self.phase = Phase::Closed;
        self.in_flight = None;
        self.queue.clear();
        self.input.clear();
        self.events.push_back(Event::Closed { reason });
    }

    fn on_frame(&mut self, frame: Frame, now: Instant) {
        // Every console numbers its messages from its open on, one by one.
        if let Some(expected) = self.in_seq {
            if frame.seq != expected {
                self.fail(format!(
                    "sequence number {} where {expected} was due",
                    frame.seq
                ));
                return;
            }
        }
        self.in_seq = Some(frame.seq.wrapping_add(1));
        match (self.phase, frame.message) {
            (
                Phase::AwaitingOpen,
                Message::Open {
                    rx_timeout,
                    heartbeat,
                    version,
                    ..
                },
            ) => {
                if version != VERSION {
                    self.send(0, self.open_reply(1));
                    self.close_with(CloseReason::UnsupportedVersion(version), false);
                    return;
                }
                let ms = |v: u16| (v > 0).then(|| Duration::from_millis(u64::from(v)));
                self.rx_timeout = ms(rx_timeout);
                self.heartbeat = ms(heartbeat);
                self.phase = Phase::Open;
                self.send(0, self.open_reply(0));
            }
            (Phase::AwaitingOpen, m) => {
                self.fail(format!("message {:#04x} before the open", m.command()));
            }
            (_, Message::Close) => self.close_with(CloseReason::ByConsole, true),
            (_, Message::KeepAlivePing) => self.send(0, Message::KeepAlivePong),
            (_, Message::KeepAlivePong | Message::Heartbeat) => {}
            (_, Message::DisableEnableFeatures { kind, value }) => {
                self.on_features(kind, value, now)
            }
            (_, Message::ResetOccurredResponse) => {
                if self.awaiting_reset {
                    self.awaiting_reset = false;
                    self.advance(now);
                }
            }
            (
                Phase::Enabled,
                Message::CommandEndResponse {
                    output,
                    sense,
                    asc,
                    ascq,
                    ..
                },
            ) => {
                if !self.awaiting_reset {
                    let sense = Sense {
                        key: sense,
                        asc,
                        ascq,
                    };
                    self.on_response(output, sense, None, true, now);
                }
            }
            (
                Phase::Enabled,
                Message::DataToHost {
                    output,
                    sense,
                    asc,
                    ascq,
                    data,
                    ..
                },
            ) => {
                if !self.awaiting_reset {
                    let completed = frame.attributes & ATTR_COMPLETED != 0;
                    let sense = Sense {
                        key: sense,
                        asc,
                        ascq,
                    };
                    self.on_response(output, sense, Some(data), completed, now);
                }
            }
            (_, m) => self.fail(format!("unexpected message {:#04x}", m.command())),
        }
    }

    fn open_reply(&self, status: u8) -> Message {
        Message::OpenReply {
            status,
            major: 1,
            minor: 0,
            fw_major: self.config.fw_major,
            fw_minor: self.config.fw_minor,
            read_buffer: self.config.read_buffer.min(MAX_READ_BUFFER),
            write_buffer: self.config.write_buffer.min(MAX_READ_BUFFER),
            protocol: 0,
            iana: INTEL_IANA,
            oem: Vec::new(),
        }
    }

    fn on_features(&mut self, kind: u8, value: Option<u32>, now: Instant) {
        match kind {
            // Bit 0: the drives can be toggled.
            FEATURES_GET_SUPPORTED => {
                self.send(0, Message::DisableEnableFeaturesReply { kind, value: 1 })
            }
            // Bit 1: the drives are enabled (what MeshCommander tests).
            FEATURES_GET_STATE => {
                let value = if self.phase == Phase::Enabled { 2 } else { 0 };
                self.send(0, Message::DisableEnableFeaturesReply { kind, value });
            }
            FEATURES_SET_STATE => {
                let value = value.unwrap_or(0);
                // 1: the toggle took (MeshCommander reports anything else
                // as a failure).
                self.send(0, Message::DisableEnableFeaturesReply { kind, value: 1 });
                if value & FEATURE_ENABLE != 0 {
                    if self.phase != Phase::Enabled {
                        self.phase = Phase::Enabled;
                        self.events.push_back(Event::Opened {
                            start: StartMode::from_value(value),
                        });
                        self.advance(now);
                    }
                } else if self.phase == Phase::Enabled {
                    self.phase = Phase::Open;
                    self.in_flight = None;
                    self.queue.clear();
                    self.drives = [DriveState::default(); 2];
                    self.status_reported = false;
                    self.events.push_back(Event::Disabled);
                }
            }
            other => self.fail(format!("unknown feature request type {other}")),
        }
    }

    /// Issues the next ATAPI command if none is in flight.
    fn advance(&mut self, now: Instant) {
        while self.in_flight.is_none() && !self.awaiting_reset && self.phase == Phase::Enabled {
            let Some(request) = self.queue.pop_front() else {
                return;
            };
            let drive = self.drives[index(request.drive)];
            let step = if !drive.ready {
                Step::TestUnitReady { attempt: 1 }
            } else if let Some((blocks, _)) = drive.capacity {
                if u64::from(request.lba) + u64::from(request.count) > blocks {
                    self.events.push_back(Event::ReadFailed {
                        drive: request.drive,
                        lba: request.lba,
                        failure: ReadFailure::OutOfRange,
                    });
                    continue;
                }
                Step::Read
            } else {
                Step::ReadCapacity
            };
            self.issue(request, step, now);
        }
    }

    fn issue(&mut self, request: ReadRequest, step: Step, now: Instant) {
        if !self.status_reported {
            // Real firmware acknowledges the toggle at once but reports the
            // drives' state (type 2, bit 1 enabled) only when the host first
            // uses them (kvm-pilot's field note, docs/ider.md).
            self.status_reported = true;
            self.send(
                0,
                Message::DisableEnableFeaturesReply {
                    kind: FEATURES_GET_STATE,
                    value: 2,
                },
            );
        }
        let mut packet = [0u8; 12];
        match step {
            Step::TestUnitReady { .. } => packet[0] = TEST_UNIT_READY,
            Step::ReadCapacity => packet[0] = READ_CAPACITY,
            Step::Read => {
                packet[0] = READ_10;
                packet[2..6].copy_from_slice(&request.lba.to_be_bytes());
                packet[7..9].copy_from_slice(&request.count.to_be_bytes());
            }
        }
        self.in_flight = Some(InFlight {
            request,
            step,
            data: Vec::new(),
            deadline: now + self.config.command_timeout,
        });
        let [lo, hi] = self.config.read_buffer.to_le_bytes();
        self.send(
            0,
            Message::CommandWritten {
                cable_select: 0,
                // PIO: the device does not ask for DMA.
                feature: 0,
                sector_count: 0,
                sector_number: 0,
                byte_count: u16::from_le_bytes([lo, hi]),
                drive_select: request.drive.drive_select(),
                command: ATA_PACKET,
                packet,
            },
        );
    }

    /// A data phase (`data`) or the end of the command in flight.
    fn on_response(
        &mut self,
        output: Registers,
        sense: Sense,
        data: Option<Vec<u8>>,
        completed: bool,
        now: Instant,
    ) {
        let Some(flight) = self.in_flight.as_mut() else {
            self.fail("a command response with no command in flight".into());
            return;
        };
        if let Some(data) = data {
            let limit = match flight.step {
                Step::TestUnitReady { .. } => 0,
                Step::ReadCapacity => 8,
                Step::Read => {
                    let block = self.drives[index(flight.request.drive)]
                        .capacity
                        .map_or(flight.request.drive.block_size(), |(_, b)| b);
                    usize::from(flight.request.count) * block as usize
                }
            };
            if flight.data.len() + data.len() > limit {
                self.fail("more data than the command asked for".into());
                return;
            }
            flight.data.extend_from_slice(&data);
        }
        if !completed {
            return;
        }
        let Some(flight) = self.in_flight.take() else {
            return;
        };
        let request = flight.request;
        let failed = |failure| Event::ReadFailed {
            drive: request.drive,
            lba: request.lba,
            failure,
        };
        if output.status & STATUS_ERR != 0 {
            // The sense key is in its own byte, and in the error
            // register's upper nibble.
            let key = if sense.key != 0 {
                sense.key
            } else {
                output.error >> 4
            };
            let failure = if key == SENSE_NOT_READY && sense.asc == ASC_MEDIUM_NOT_PRESENT {
                ReadFailure::NoMedium
            } else {
                ReadFailure::Check {
                    key,
                    asc: sense.asc,
                    ascq: sense.ascq,
                }
            };
            match flight.step {
                Step::TestUnitReady { attempt }
                    if failure != ReadFailure::NoMedium
                        && (key == SENSE_UNIT_ATTENTION || key == SENSE_NOT_READY)
                        && attempt < self.config.ready_attempts =>
                {
                    self.issue(
                        request,
                        Step::TestUnitReady {
                            attempt: attempt + 1,
                        },
                        now,
                    );
                    return;
                }
                _ => self.events.push_back(failed(failure)),
            }
            self.advance(now);
            return;
        }
        match flight.step {
            Step::TestUnitReady { .. } => {
                self.drives[index(request.drive)].ready = true;
                self.queue.push_front(request);
            }
            Step::ReadCapacity => {
                let capacity = match flight.data.as_slice() {
                    &[a, b, c, d, e, f, g, h] => {
                        let last = u32::from_be_bytes([a, b, c, d]);
                        let block = u32::from_be_bytes([e, f, g, h]);
                        (block.is_power_of_two() && (512..=4096).contains(&block))
                            .then(|| (u64::from(last) + 1, block))
                    }
                    _ => None,
                };
                match capacity {
                    Some((blocks, block_size)) => {
                        self.drives[index(request.drive)].capacity = Some((blocks, block_size));
                        self.events.push_back(Event::MediaInfo {
                            drive: request.drive,
                            blocks,
                            block_size,
                        });
                        self.queue.push_front(request);
                    }
                    None => self.events.push_back(failed(ReadFailure::BadCapacity)),
                }
            }
            Step::Read => {
                let block = self.drives[index(request.drive)]
                    .capacity
                    .map_or(request.drive.block_size(), |(_, b)| b);
                let expected = usize::from(request.count) * block as usize;
                if flight.data.len() == expected {
                    self.events.push_back(Event::SectorsRead {
                        drive: request.drive,
                        lba: request.lba,
                        data: flight.data,
                    });
                } else {
                    self.events.push_back(failed(ReadFailure::ShortData {
                        expected,
                        got: flight.data.len(),
                    }));
                }
            }
        }
        self.advance(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ATTR_COMPLETED, STATUS_DRDY, STATUS_DSC};

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        ::hex::decode(s).unwrap()
    }

    /// Opens and enables a session, as MeshCommander does.
    fn enabled(now: Instant) -> Session {
        let mut s = Session::new(Config::default(), now);
        s.receive(&hex("40000000 00000000 3075 0000 204e 01000000"), now);
        assert_eq!(
            s.poll_transmit().unwrap(),
            hex("41000000 00000000 0100 0100 00000000 0020 0020 00 00 000000 57010000 00")
        );
        s.receive(&hex("48000000 01000000 03 09000000"), now);
        assert_eq!(
            s.poll_transmit().unwrap(),
            hex("49000000 01000000 03 01000000")
        );
        assert_eq!(
            s.poll_event(),
            Some(Event::Opened {
                start: StartMode::OnReboot
            })
        );
        s
    }

    fn end(seq: u32, status: u8, sense: [u8; 3]) -> Vec<u8> {
        Frame {
            attributes: ATTR_COMPLETED,
            seq,
            message: Message::CommandEndResponse {
                cable_select: 0,
                transfer_bytes: 0,
                packet_number: 0,
                input: Registers::default(),
                output: Registers {
                    mask: 0x87,
                    error: sense[0] << 4,
                    sector_count: 3,
                    drive_select: 0xB0,
                    status,
                    ..Registers::default()
                },
                sense: sense[0],
                asc: sense[1],
                ascq: sense[2],
            },
        }
        .to_bytes()
    }

    fn data(seq: u32, completed: bool, bytes: &[u8]) -> Vec<u8> {
        Frame {
            attributes: if completed { ATTR_COMPLETED } else { 0 },
            seq,
            message: Message::DataToHost {
                cable_select: 0,
                packet_number: 0,
                input: Registers::default(),
                output: Registers {
                    status: STATUS_DRDY | STATUS_DSC,
                    drive_select: 0xB0,
                    ..Registers::default()
                },
                sense: 0,
                asc: 0,
                ascq: 0,
                data: bytes.to_vec(),
            },
        }
        .to_bytes()
    }

    fn packet(out: &[u8]) -> &[u8] {
        assert_eq!(out[0], 0x50, "not a command: {out:02x?}");
        &out[16..28]
    }

    #[test]
    fn a_first_read_checks_the_drive_asks_its_capacity_then_reads() {
        let now = Instant::now();
        let mut s = enabled(now);
        s.read(Drive::Cd, 16, 1, now).unwrap();
        // The host touches the drives: their state (enabled), then TEST
        // UNIT READY to the CD (slave).
        assert_eq!(
            s.poll_transmit().unwrap(),
            hex("49000000 02000000 02 02000000")
        );
        assert_eq!(
            s.poll_transmit().unwrap(),
            hex("50000000 03000000 00 00 00 00 0020 b0 a0 000000000000000000000000")
        );
        // Unit attention (medium changed) first, as after loading.
        s.receive(&end(2, 0x51, [6, 0x28, 0]), now);
        assert_eq!(packet(&s.poll_transmit().unwrap())[0], TEST_UNIT_READY);
        s.receive(&end(3, 0x50, [0, 0, 0]), now);
        assert_eq!(packet(&s.poll_transmit().unwrap())[0], READ_CAPACITY);
        // 40 blocks of 2048.
        s.receive(&data(4, true, &[0, 0, 0, 39, 0, 0, 8, 0]), now);
        assert_eq!(
            s.poll_event(),
            Some(Event::MediaInfo {
                drive: Drive::Cd,
                blocks: 40,
                block_size: 2048
            })
        );
        assert_eq!(
            packet(&s.poll_transmit().unwrap()),
            hex("28000000 0010 0000 01000000")
        );
        // Two chunks, the last one completed.
        s.receive(&data(5, false, &[0xAB; 1024]), now);
        assert_eq!(s.poll_event(), None);
        s.receive(&data(6, true, &[0xCD; 1024]), now);
        let Some(Event::SectorsRead { drive, lba, data }) = s.poll_event() else {
            panic!("no sectors");
        };
        assert_eq!((drive, lba, data.len()), (Drive::Cd, 16, 2048));
        assert_eq!(data[1023..1025], [0xAB, 0xCD]);
        // The drive is known now: the next read goes straight to READ(10),
        // and one beyond the capacity never reaches the console.
        s.read(Drive::Cd, 40, 1, now).unwrap();
        assert_eq!(
            s.poll_event(),
            Some(Event::ReadFailed {
                drive: Drive::Cd,
                lba: 40,
                failure: ReadFailure::OutOfRange
            })
        );
        s.read(Drive::Cd, 17, 1, now).unwrap();
        assert_eq!(packet(&s.poll_transmit().unwrap())[0], READ_10);
    }

    #[test]
    fn no_medium_fails_the_read_and_the_session_stays() {
        let now = Instant::now();
        let mut s = enabled(now);
        s.read(Drive::Floppy, 0, 1, now).unwrap();
        let _state = s.poll_transmit();
        let tur = s.poll_transmit().unwrap();
        assert_eq!(tur[14], 0xA0);
        s.receive(&end(2, 0x51, [2, 0x3A, 0]), now);
        assert_eq!(
            s.poll_event(),
            Some(Event::ReadFailed {
                drive: Drive::Floppy,
                lba: 0,
                failure: ReadFailure::NoMedium
            })
        );
        assert_eq!(s.phase(), Phase::Enabled);
    }

    #[test]
    fn the_device_pings_when_quiet_and_closes_after_the_rx_timeout() {
        let now = Instant::now();
        let mut s = enabled(now);
        assert_eq!(s.next_timeout(), Some(now + Duration::from_secs(20)));
        s.handle_timeout(now + Duration::from_secs(20));
        assert_eq!(s.poll_transmit().unwrap(), hex("44000000 02000000"));
        // A pong keeps the session.
        let later = now + Duration::from_secs(25);
        s.receive(&hex("45000000 02000000"), later);
        s.handle_timeout(later + Duration::from_secs(29));
        assert!(!s.is_closed());
        s.handle_timeout(later + Duration::from_secs(30));
        assert_eq!(s.poll_transmit().unwrap(), hex("44000000 03000000"));
        assert_eq!(s.poll_transmit().unwrap(), hex("43000000 04000000"));
        assert_eq!(
            s.poll_event(),
            Some(Event::Closed {
                reason: CloseReason::RxTimeout
            })
        );
        assert_eq!(s.next_timeout(), None);
    }

    #[test]
    fn pings_are_answered_and_close_is_acknowledged() {
        let now = Instant::now();
        let mut s = enabled(now);
        s.receive(&hex("44000000 02000000 42000000 03000000"), now);
        assert_eq!(s.poll_transmit().unwrap(), hex("45000000 02000000"));
        assert_eq!(s.poll_transmit().unwrap(), hex("43000000 03000000"));
        assert_eq!(
            s.poll_event(),
            Some(Event::Closed {
                reason: CloseReason::ByConsole
            })
        );
    }

    #[test]
    fn malformed_input_closes_with_a_reason() {
        let now = Instant::now();
        // A message before the open.
        let mut s = Session::new(Config::default(), now);
        s.receive(&hex("44000000 00000000"), now);
        assert!(matches!(
            s.poll_event(),
            Some(Event::Closed {
                reason: CloseReason::ProtocolError(_)
            })
        ));
        // The legacy open (amtterm's, without a header) is version 0.
        let mut s = Session::new(Config::default(), now);
        s.receive(&hex("40 6400 1027 8813 01000000 00000000 000000"), now);
        assert_eq!(s.poll_transmit().unwrap()[..2], [0x41, 0x01]);
        assert!(matches!(
            s.poll_event(),
            Some(Event::Closed {
                reason: CloseReason::UnsupportedVersion(_)
            })
        ));
        // Out of sequence, an unknown type, an unasked-for response.
        for bad in ["44000000 07000000", "99000000 02000000", "51"] {
            let mut s = enabled(now);
            let mut b = hex(bad);
            if b.len() == 1 {
                b = end(2, 0x50, [0, 0, 0]);
            }
            s.receive(&b, now);
            assert!(
                matches!(
                    s.poll_event(),
                    Some(Event::Closed {
                        reason: CloseReason::ProtocolError(_)
                    })
                ),
                "{bad}"
            );
        }
        // Too much data for a read.
        let mut s = enabled(now);
        s.read(Drive::Cd, 0, 1, now).unwrap();
        s.receive(&end(2, 0x50, [0, 0, 0]), now);
        s.receive(&data(3, true, &[0, 0, 0, 9, 0, 0, 8, 0]), now);
        s.receive(&data(4, true, &[0; 4096]), now);
        assert!(matches!(s.poll_event(), Some(Event::MediaInfo { .. })));
        assert!(matches!(
            s.poll_event(),
            Some(Event::Closed {
                reason: CloseReason::ProtocolError(_)
            })
        ));
    }

    #[test]
    fn no_open_in_time_and_an_unanswered_command_close() {
        let now = Instant::now();
        let mut s = Session::new(Config::default(), now);
        assert_eq!(s.read(Drive::Cd, 0, 1, now), Err(ReadError::NotEnabled));
        s.handle_timeout(now + Duration::from_secs(30));
        assert_eq!(
            s.poll_event(),
            Some(Event::Closed {
                reason: CloseReason::OpenTimeout
            })
        );
        assert_eq!(s.read(Drive::Cd, 0, 1, now), Err(ReadError::Closed));

        let config = Config {
            command_timeout: Duration::from_secs(5),
            ..Config::default()
        };
        let mut s = Session::new(config, now);
        s.receive(&hex("40000000 00000000 0000 0000 0000 01000000"), now);
        s.receive(&hex("48000000 01000000 03 19000000"), now);
        assert_eq!(
            s.poll_event(),
            Some(Event::Opened {
                start: StartMode::Now
            })
        );
        s.read(Drive::Cd, 0, 1, now).unwrap();
        assert_eq!(s.next_timeout(), Some(now + Duration::from_secs(5)));
        s.handle_timeout(now + Duration::from_secs(5));
        assert_eq!(
            s.poll_event(),
            Some(Event::Closed {
                reason: CloseReason::CommandTimeout
            })
        );
    }

    #[test]
    fn a_host_reset_is_announced_and_the_drive_is_checked_again() {
        let now = Instant::now();
        let mut s = enabled(now);
        s.read(Drive::Cd, 16, 1, now).unwrap();
        let _state = s.poll_transmit();
        let _tur = s.poll_transmit();
        s.host_reset(now);
        assert_eq!(
            s.poll_event(),
            Some(Event::ReadFailed {
                drive: Drive::Cd,
                lba: 16,
                failure: ReadFailure::Reset
            })
        );
        assert_eq!(s.poll_transmit().unwrap(), hex("46000000 04000000 01"));
        // The stale answer to the old command is dropped.
        s.receive(&end(2, 0x50, [0, 0, 0]), now);
        s.read(Drive::Cd, 16, 1, now).unwrap();
        assert_eq!(s.poll_transmit(), None);
        s.receive(&hex("47000000 03000000"), now);
        assert_eq!(packet(&s.poll_transmit().unwrap())[0], TEST_UNIT_READY);
    }

    #[test]
    fn feature_queries_report_support_and_state() {
        let now = Instant::now();
        let mut s = enabled(now);
        s.receive(&hex("48000000 02000000 01 48000000 03000000 02"), now);
        assert_eq!(
            s.poll_transmit().unwrap(),
            hex("49000000 02000000 01 01000000")
        );
        assert_eq!(
            s.poll_transmit().unwrap(),
            hex("49000000 03000000 02 02000000")
        );
        s.receive(&hex("48000000 04000000 03 00000000"), now);
        assert_eq!(s.poll_transmit().unwrap()[8..13], hex("03 01000000"));
        assert_eq!(s.poll_event(), Some(Event::Disabled));
        assert_eq!(s.phase(), Phase::Open);
    }
}
