//! The server side of RFB (the VNC protocol, RFC 6143) as Intel AMT's KVM
//! speaks it, as a pure state machine: bytes from the viewer in
//! ([`RfbServer::receive`]), bytes to send out ([`RfbServer::poll_transmit`])
//! and what the viewer did out ([`RfbServer::poll_event`]). The caller owns
//! the socket, the randomness (the VNC challenge) and the screen, which it
//! hands in with [`RfbServer::frame_changed`] whenever the picture changes.
//!
//! What AMT does that a plain VNC server would not (the project's
//! `docs/screen.md`):
//! - over the redirection port it announces `RFB 004.000` and offers
//!   security types None and 128; viewers answer 3.8 and pick None, the
//!   digest exchange having already authenticated them
//!   ([`Security::Redirection`]);
//! - on port 5900 it offers VNC authentication with the `RFBPassword`
//!   ([`Security::VncPassword`]);
//! - its native pixel format is 16-bpp RGB565, and it sends the screen as
//!   tiles of at most 64×64;
//! - a viewer must list RAW in SetEncodings: one that leaves it out gets no
//!   updates.
//!
//! Malformed input closes the session with a [`CloseReason`]; nothing the
//! viewer sends can make this panic or grow a buffer without bound.

mod pixel;

use std::collections::VecDeque;

use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockEncrypt, KeyInit};

pub use pixel::PixelFormat;

/// RAW encoding (RFC 6143 §7.7.1).
pub const ENCODING_RAW: i32 = 0;
/// AMT's "RLE" tiling encoding (ZRLE-like; not emulated: RAW is sent).
pub const ENCODING_AMT_RLE: i32 = 16;
/// The DesktopSize pseudo-encoding (RFC 6143 §7.8.2).
pub const ENCODING_DESKTOP_SIZE: i32 = -223;

/// Longest SetEncodings list accepted.
pub const MAX_ENCODINGS: u16 = 512;
/// Longest ClientCutText accepted, in bytes.
pub const MAX_CUT_TEXT: u32 = 64 * 1024;
/// Unparsed input kept at most. A caller that reads from its socket in
/// chunks and drains the events never comes near it.
pub const MAX_INPUT: usize = 1024 * 1024;
/// Events queued at most; parsing pauses until the caller takes some.
pub const MAX_EVENTS: usize = 1024;
/// Screen messages (SetPixelFormat, SetEncodings, update requests) queued
/// at most; parsing pauses until [`RfbServer::poll_transmit`] runs them.
pub const MAX_SCREEN_MESSAGES: usize = 1024;
/// Largest tile of a FramebufferUpdate, as AMT sends them.
pub const TILE: u16 = 64;

/// A protocol version (the `RFB xxx.yyy\n` banner).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProtocolVersion {
    V3_3,
    V3_7,
    V3_8,
    /// AMT's own banner on the redirection port. Viewers answer 3.8; one
    /// that answers 4.0 is served as 3.8.
    V4_0,
}

impl ProtocolVersion {
    /// The 12-byte banner.
    pub fn banner(self) -> &'static [u8; 12] {
        match self {
            ProtocolVersion::V3_3 => b"RFB 003.003\n",
            ProtocolVersion::V3_7 => b"RFB 003.007\n",
            ProtocolVersion::V3_8 => b"RFB 003.008\n",
            ProtocolVersion::V4_0 => b"RFB 004.000\n",
        }
    }

    /// Reads a viewer's version (RFC 6143 §7.1.1: an unknown 3.x below 3.7
    /// is 3.3, above 3.8 is 3.8).
    pub fn parse(b: &[u8]) -> Option<ProtocolVersion> {
        let digits = |s: &[u8]| -> Option<u32> {
            s.iter().try_fold(0u32, |acc, c| {
                c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
            })
        };
        if b.len() != 12 || &b[..4] != b"RFB " || b[7] != b'.' || b[11] != b'\n' {
            return None;
        }
        let major = digits(&b[4..7])?;
        let minor = digits(&b[8..11])?;
        match (major, minor) {
            (3, 7) => Some(ProtocolVersion::V3_7),
            (3, m) if m < 7 => Some(ProtocolVersion::V3_3),
            (3, _) => Some(ProtocolVersion::V3_8),
            (4, 0) => Some(ProtocolVersion::V4_0),
            _ => None,
        }
    }

    fn is_3_3(self) -> bool {
        self == ProtocolVersion::V3_3
    }

    fn sends_reasons(self) -> bool {
        self >= ProtocolVersion::V3_8
    }
}

/// How the viewer proves who it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Security {
    /// No authentication (type 1).
    None,
    /// As over the redirection port: None and AMT's type 128 offered; the
    /// session's digest exchange already authenticated the viewer.
    Redirection,
    /// VNC authentication (type 2), as on port 5900 with `RFBPassword`.
    /// `challenge` comes from the caller's randomness.
    VncPassword {
        password: String,
        challenge: [u8; 16],
    },
}

/// Security type None.
pub const SECURITY_NONE: u8 = 1;
/// Security type VNC authentication.
pub const SECURITY_VNC: u8 = 2;
/// The security type AMT offers beside None over redirection (meaning not
/// published; not emulated).
pub const SECURITY_AMT: u8 = 128;

/// What the server is.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The banner sent first: 4.0 over the redirection port as AMT does,
    /// 3.8 on port 5900.
    pub version_banner: ProtocolVersion,
    pub security: Security,
    /// The desktop name in ServerInit.
    pub name: String,
}

/// The screen handed to the server: RGB888, row by row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    width: u16,
    height: u16,
    pixels: Vec<u8>,
}

/// A frame whose pixel count does not match its size.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a {width}x{height} frame needs {expected} RGB888 bytes, got {got}")]
pub struct FrameSizeError {
    pub width: u16,
    pub height: u16,
    pub expected: usize,
    pub got: usize,
}

impl Frame {
    /// A frame of `width × height` RGB888 pixels.
    pub fn new(width: u16, height: u16, pixels: Vec<u8>) -> Result<Frame, FrameSizeError> {
        let expected = usize::from(width) * usize::from(height) * 3;
        if pixels.len() != expected {
            return Err(FrameSizeError {
                width,
                height,
                expected,
                got: pixels.len(),
            });
        }
        Ok(Frame {
            width,
            height,
            pixels,
        })
    }

    pub fn width(&self) -> u16 {
        self.width
    }

    pub fn height(&self) -> u16 {
        self.height
    }

    fn rgb(&self, x: u16, y: u16) -> (u8, u8, u8) {
        let i = (usize::from(y) * usize::from(self.width) + usize::from(x)) * 3;
        match self.pixels.get(i..i + 3) {
            Some(p) => (p[0], p[1], p[2]),
            None => (0, 0, 0),
        }
    }

    fn full(&self) -> Rect {
        Rect {
            x: 0,
            y: 0,
            w: self.width,
            h: self.height,
        }
    }

    /// The smallest rectangle holding every pixel that differs.
    fn diff(&self, other: &Frame) -> Option<Rect> {
        let row_len = usize::from(self.width) * 3;
        if row_len == 0 {
            return None;
        }
        let rows = self
            .pixels
            .chunks_exact(row_len)
            .zip(other.pixels.chunks_exact(row_len));
        let mut bounds: Option<(usize, usize, usize, usize)> = None;
        for (y, (a, b)) in rows.enumerate() {
            if a == b {
                continue;
            }
            let first = a.iter().zip(b).position(|(p, q)| p != q).unwrap_or(0) / 3;
            let last = row_len / 3
                - 1
                - a.iter()
                    .rev()
                    .zip(b.iter().rev())
                    .position(|(p, q)| p != q)
                    .unwrap_or(0)
                    / 3;
            bounds = Some(match bounds {
                None => (first, y, last, y),
                Some((x0, y0, x1, _)) => (x0.min(first), y0, x1.max(last), y),
            });
        }
        let (x0, y0, x1, y1) = bounds?;
        Some(Rect {
            x: x0 as u16,
            y: y0 as u16,
            w: (x1 - x0 + 1) as u16,
            h: (y1 - y0 + 1) as u16,
        })
    }
}

/// A rectangle of the screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
}

impl Rect {
    fn right(&self) -> u32 {
        u32::from(self.x) + u32::from(self.w)
    }

    fn bottom(&self) -> u32 {
        u32::from(self.y) + u32::from(self.h)
    }

    fn intersect(&self, o: &Rect) -> Option<Rect> {
        let x = self.x.max(o.x);
        let y = self.y.max(o.y);
        let r = self.right().min(o.right());
        let b = self.bottom().min(o.bottom());
        (r > u32::from(x) && b > u32::from(y)).then(|| Rect {
            x,
            y,
            w: (r - u32::from(x)) as u16,
            h: (b - u32::from(y)) as u16,
        })
    }

    fn union(&self, o: &Rect) -> Rect {
        let x = self.x.min(o.x);
        let y = self.y.min(o.y);
        Rect {
            x,
            y,
            w: (self.right().max(o.right()) - u32::from(x)) as u16,
            h: (self.bottom().max(o.bottom()) - u32::from(y)) as u16,
        }
    }
}

/// What the viewer did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RfbEvent {
    /// The security handshake succeeded.
    Authenticated,
    /// The viewer gave a wrong VNC password (the session then closes).
    AuthenticationFailed,
    /// ClientInit: the viewer is ready; `shared` asks to keep other viewers.
    ClientInit { shared: bool },
    /// A key went down or up (an X11 keysym).
    Key { keysym: u32, down: bool },
    /// The pointer moved or a button changed (bit 0 left, 1 middle, 2 right).
    Pointer { x: u16, y: u16, buttons: u8 },
    /// The viewer's clipboard (ISO 8859-1 on the wire).
    CutText(String),
    /// The session is over; nothing more will be read or sent after the
    /// bytes still in [`RfbServer::poll_transmit`].
    Closed(CloseReason),
}

/// Why a session ended.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CloseReason {
    #[error("the viewer sent an unsupported protocol version {0:?}")]
    UnsupportedVersion(String),
    #[error("the viewer chose security type {0}, which was not offered")]
    SecurityTypeNotOffered(u8),
    #[error("security type {0} is not emulated")]
    SecurityTypeNotEmulated(u8),
    #[error("authentication failed")]
    AuthenticationFailed,
    #[error("unsupported pixel format: {0}")]
    UnsupportedPixelFormat(String),
    #[error("SetEncodings lists {0} encodings, more than {MAX_ENCODINGS}")]
    TooManyEncodings(u16),
    #[error("ClientCutText of {0} bytes, more than {MAX_CUT_TEXT}")]
    CutTextTooLong(u32),
    #[error("unknown client message type {0}")]
    UnknownMessage(u8),
    #[error("the viewer sent more than {MAX_INPUT} bytes without the caller draining events")]
    InputOverflow,
    /// The caller ended the session ([`RfbServer::close`]).
    #[error("closed by the server: {0}")]
    Server(String),
}

/// A viewer message about the screen, run when output is taken so that
/// input events before it have reached the host (and the frame) first.
#[derive(Clone, Copy, Debug)]
enum ScreenMessage {
    SetPixelFormat(PixelFormat),
    SetEncodings { raw: bool, desktop_size: bool },
    UpdateRequest { incremental: bool, rect: Rect },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Version,
    SecurityChoice,
    VncResponse,
    ClientInit,
    Normal,
    Closed,
}

/// One viewer's session.
#[derive(Debug)]
pub struct RfbServer {
    config: ServerConfig,
    state: State,
    version: ProtocolVersion,
    input: Vec<u8>,
    output: Vec<u8>,
    events: VecDeque<RfbEvent>,
    format: PixelFormat,
    raw_listed: bool,
    desktop_size: bool,
    frame: Frame,
    /// The size the viewer believes the screen has.
    viewer_size: (u16, u16),
    /// What changed since the last update sent.
    dirty: Option<Rect>,
    /// An incremental FramebufferUpdateRequest waiting for a change.
    pending: Option<Rect>,
    /// Screen messages parsed but not yet run, in order.
    screen_messages: VecDeque<ScreenMessage>,
}

impl RfbServer {
    /// A session that has just accepted a viewer: the version banner is
    /// ready in [`RfbServer::poll_transmit`].
    pub fn new(config: ServerConfig, frame: Frame) -> RfbServer {
        let output = config.version_banner.banner().to_vec();
        RfbServer {
            version: config.version_banner,
            config,
            state: State::Version,
            input: Vec::new(),
            output,
            events: VecDeque::new(),
            format: PixelFormat::RGB565,
            raw_listed: true,
            desktop_size: false,
            viewer_size: (frame.width, frame.height),
            frame,
            dirty: None,
            pending: None,
            screen_messages: VecDeque::new(),
        }
    }

    /// Bytes from the viewer.
    pub fn receive(&mut self, bytes: &[u8]) {
        if self.state == State::Closed {
            return;
        }
        if self.input.len() + bytes.len() > MAX_INPUT {
            self.close(CloseReason::InputOverflow);
            return;
        }
        self.input.extend_from_slice(bytes);
        self.process();
    }

    /// Bytes to send to the viewer, all that are ready. Framebuffer
    /// updates are drawn here, from the frame as it is now: a caller that
    /// applies the events ([`RfbServer::poll_event`]) and hands in the new
    /// frame before calling this shows the viewer the effect of its own
    /// keys, even when the keys and the update request came in one read.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        loop {
            self.run_screen_messages();
            let waiting = self.input.len();
            if waiting == 0 || self.state == State::Closed {
                break;
            }
            self.process();
            if self.input.len() == waiting {
                break;
            }
        }
        (!self.output.is_empty()).then(|| std::mem::take(&mut self.output))
    }

    /// The next thing the viewer did.
    pub fn poll_event(&mut self) -> Option<RfbEvent> {
        let event = self.events.pop_front();
        if self.events.len() < MAX_EVENTS / 2 && !self.input.is_empty() {
            self.process();
        }
        event
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Whether the viewer has authenticated and sent ClientInit.
    pub fn is_running(&self) -> bool {
        self.state == State::Normal
    }

    /// The pixel format the viewer asked for (RGB565 until it asks).
    pub fn pixel_format(&self) -> PixelFormat {
        self.format
    }

    /// The version the session speaks.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// Ends the session from the server's side.
    pub fn close(&mut self, reason: CloseReason) {
        if self.state != State::Closed {
            // What the viewer asked before the end is still answered, as
            // if each message had been run when it arrived.
            self.run_screen_messages();
            self.state = State::Closed;
            self.input.clear();
            self.pending = None;
            self.screen_messages.clear();
            self.events.push_back(RfbEvent::Closed(reason));
        }
    }

    /// The screen now looks like `frame`. Only what changed is sent, at the
    /// next [`RfbServer::poll_transmit`] once the viewer has asked.
    pub fn frame_changed(&mut self, frame: &Frame) {
        if self.state == State::Closed {
            return;
        }
        let changed = if frame.width != self.frame.width || frame.height != self.frame.height {
            Some(frame.full())
        } else {
            self.frame.diff(frame)
        };
        let Some(changed) = changed else {
            return;
        };
        self.frame.clone_from(frame);
        self.dirty = Some(match self.dirty {
            Some(d) => d.union(&changed),
            None => changed,
        });
    }

    fn process(&mut self) {
        while self.state != State::Closed
            && self.events.len() < MAX_EVENTS
            && self.screen_messages.len() < MAX_SCREEN_MESSAGES
        {
            match self.step() {
                Ok(Some(used)) => {
                    self.input.drain(..used);
                }
                Ok(None) => break,
                Err(reason) => self.fail(reason),
            }
        }
    }

    /// Handles one message at the head of the input: the bytes it used,
    /// or `None` until more arrive.
    fn step(&mut self) -> Result<Option<usize>, CloseReason> {
        let input = &self.input;
        match self.state {
            State::Closed => Ok(None),
            State::Version => {
                let Some(b) = input.get(..12) else {
                    return Ok(None);
                };
                let client = ProtocolVersion::parse(b).ok_or_else(|| {
                    CloseReason::UnsupportedVersion(String::from_utf8_lossy(b).trim_end().into())
                })?;
                self.version = client.min(self.config.version_banner);
                self.offer_security();
                Ok(Some(12))
            }
            State::SecurityChoice => {
                let Some(&t) = input.first() else {
                    return Ok(None);
                };
                if !self.offered().contains(&t) {
                    return Err(CloseReason::SecurityTypeNotOffered(t));
                }
                match t {
                    SECURITY_NONE => {
                        if self.version.sends_reasons() {
                            self.output.extend_from_slice(&0u32.to_be_bytes());
                        }
                        self.authenticated();
                    }
                    SECURITY_VNC => self.send_challenge(),
                    other => return Err(CloseReason::SecurityTypeNotEmulated(other)),
                }
                Ok(Some(1))
            }
            State::VncResponse => {
                let Some(b) = input.get(..16) else {
                    return Ok(None);
                };
                let Security::VncPassword {
                    password,
                    challenge,
                } = &self.config.security
                else {
                    return Err(CloseReason::SecurityTypeNotOffered(SECURITY_VNC));
                };
                let expected = vnc_response(password, challenge);
                // Compare every byte: the time taken says nothing of where
                // a wrong response differs.
                let same = expected
                    .iter()
                    .zip(b)
                    .fold(0u8, |acc, (x, y)| acc | (x ^ y))
                    == 0;
                if !same {
                    self.events.push_back(RfbEvent::AuthenticationFailed);
                    return Err(CloseReason::AuthenticationFailed);
                }
                self.output.extend_from_slice(&0u32.to_be_bytes());
                self.authenticated();
                Ok(Some(16))
            }
            State::ClientInit => {
                let Some(&shared) = input.first() else {
                    return Ok(None);
                };
                self.send_server_init();
                self.events.push_back(RfbEvent::ClientInit {
                    shared: shared != 0,
                });
                self.state = State::Normal;
                Ok(Some(1))
            }
            State::Normal => self.client_message(),
        }
    }

    fn client_message(&mut self) -> Result<Option<usize>, CloseReason> {
        let input = &self.input;
        let Some(&kind) = input.first() else {
            return Ok(None);
        };
        match kind {
            // SetPixelFormat
            0 => {
                let Some(b) = input.get(4..20) else {
                    return Ok(None);
                };
                let mut raw = [0u8; 16];
                raw.copy_from_slice(b);
                let format = PixelFormat::from_bytes(&raw);
                if let Some(why) = format.unsupported() {
                    return Err(CloseReason::UnsupportedPixelFormat(why));
                }
                self.screen_messages
                    .push_back(ScreenMessage::SetPixelFormat(format));
                Ok(Some(20))
            }
            // SetEncodings
            2 => {
                let Some(b) = input.get(2..4) else {
                    return Ok(None);
                };
                let count = u16::from_be_bytes([b[0], b[1]]);
                if count > MAX_ENCODINGS {
                    return Err(CloseReason::TooManyEncodings(count));
                }
                let len = 4 + 4 * usize::from(count);
                let Some(list) = input.get(4..len) else {
                    return Ok(None);
                };
                let encodings: Vec<i32> = list
                    .chunks_exact(4)
                    .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                self.screen_messages.push_back(ScreenMessage::SetEncodings {
                    raw: encodings.contains(&ENCODING_RAW),
                    desktop_size: encodings.contains(&ENCODING_DESKTOP_SIZE),
                });
                Ok(Some(len))
            }
            // FramebufferUpdateRequest
            3 => {
                let Some(b) = input.get(..10) else {
                    return Ok(None);
                };
                let incremental = b[1] != 0;
                let rect = Rect {
                    x: u16::from_be_bytes([b[2], b[3]]),
                    y: u16::from_be_bytes([b[4], b[5]]),
                    w: u16::from_be_bytes([b[6], b[7]]),
                    h: u16::from_be_bytes([b[8], b[9]]),
                };
                self.screen_messages
                    .push_back(ScreenMessage::UpdateRequest { incremental, rect });
                Ok(Some(10))
            }
            // KeyEvent
            4 => {
                let Some(b) = input.get(..8) else {
                    return Ok(None);
                };
                self.events.push_back(RfbEvent::Key {
                    down: b[1] != 0,
                    keysym: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
                });
                Ok(Some(8))
            }
            // PointerEvent
            5 => {
                let Some(b) = input.get(..6) else {
                    return Ok(None);
                };
                self.events.push_back(RfbEvent::Pointer {
                    buttons: b[1],
                    x: u16::from_be_bytes([b[2], b[3]]),
                    y: u16::from_be_bytes([b[4], b[5]]),
                });
                Ok(Some(6))
            }
            // ClientCutText
            6 => {
                let Some(b) = input.get(4..8) else {
                    return Ok(None);
                };
                let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                if len > MAX_CUT_TEXT {
                    return Err(CloseReason::CutTextTooLong(len));
                }
                let end = 8 + len as usize;
                let Some(text) = input.get(8..end) else {
                    return Ok(None);
                };
                // ISO 8859-1: each byte is the code point.
                let text = text.iter().map(|&c| char::from(c)).collect();
                self.events.push_back(RfbEvent::CutText(text));
                Ok(Some(end))
            }
            other => Err(CloseReason::UnknownMessage(other)),
        }
    }

    /// Runs the queued screen messages in order (each as if it had been
    /// run when it arrived), then answers a waiting incremental request if
    /// the frame changed meanwhile.
    fn run_screen_messages(&mut self) {
        if self.state != State::Normal {
            return;
        }
        while let Some(message) = self.screen_messages.pop_front() {
            match message {
                ScreenMessage::SetPixelFormat(format) => {
                    self.format = format;
                    // Everything the viewer has is in the old format.
                    self.dirty = Some(self.frame.full());
                    self.answer_pending();
                }
                ScreenMessage::SetEncodings { raw, desktop_size } => {
                    self.raw_listed = raw;
                    self.desktop_size = desktop_size;
                }
                ScreenMessage::UpdateRequest {
                    incremental: true,
                    rect,
                } => {
                    self.pending = Some(rect);
                    self.answer_pending();
                }
                ScreenMessage::UpdateRequest {
                    incremental: false,
                    rect,
                } => {
                    self.pending = None;
                    let size_changed = self.viewer_size != (self.frame.width, self.frame.height);
                    if size_changed && self.desktop_size {
                        self.send_update(self.frame.full());
                    } else if let Some(r) = rect.intersect(&self.viewer_rect()) {
                        self.send_update(r);
                    } else {
                        self.send_empty_update();
                    }
                }
            }
        }
        self.answer_pending();
    }

    fn offered(&self) -> &'static [u8] {
        match self.config.security {
            Security::None => &[SECURITY_NONE],
            Security::Redirection => &[SECURITY_NONE, SECURITY_AMT],
            Security::VncPassword { .. } => &[SECURITY_VNC],
        }
    }

    fn offer_security(&mut self) {
        if self.version.is_3_3() {
            // 3.3: the server picks (RFC 6143 Appendix A.1).
            match self.config.security {
                Security::VncPassword { .. } => {
                    self.output
                        .extend_from_slice(&u32::from(SECURITY_VNC).to_be_bytes());
                    self.send_challenge();
                }
                Security::None | Security::Redirection => {
                    self.output
                        .extend_from_slice(&u32::from(SECURITY_NONE).to_be_bytes());
                    self.authenticated();
                }
            }
            return;
        }
        let offered = self.offered();
        self.output.push(offered.len() as u8);
        self.output.extend_from_slice(offered);
        self.state = State::SecurityChoice;
    }

    fn send_challenge(&mut self) {
        if let Security::VncPassword { challenge, .. } = &self.config.security {
            self.output.extend_from_slice(challenge);
        }
        self.state = State::VncResponse;
    }

    fn authenticated(&mut self) {
        self.events.push_back(RfbEvent::Authenticated);
        self.state = State::ClientInit;
    }

    /// Tells the viewer why, where the version has a way to, and closes.
    fn fail(&mut self, reason: CloseReason) {
        let in_security = matches!(self.state, State::SecurityChoice | State::VncResponse);
        if in_security && self.version.sends_reasons() {
            let text = reason.to_string();
            self.output.extend_from_slice(&1u32.to_be_bytes());
            self.output
                .extend_from_slice(&(text.len() as u32).to_be_bytes());
            self.output.extend_from_slice(text.as_bytes());
        } else if self.state == State::VncResponse {
            // 3.3 and 3.7 have SecurityResult without a reason.
            self.output.extend_from_slice(&1u32.to_be_bytes());
        }
        self.close(reason);
    }

    fn send_server_init(&mut self) {
        let out = &mut self.output;
        out.extend_from_slice(&self.frame.width.to_be_bytes());
        out.extend_from_slice(&self.frame.height.to_be_bytes());
        out.extend_from_slice(&self.format.to_bytes());
        let name = self.config.name.as_bytes();
        out.extend_from_slice(&(name.len() as u32).to_be_bytes());
        out.extend_from_slice(name);
        self.viewer_size = (self.frame.width, self.frame.height);
    }

    fn viewer_rect(&self) -> Rect {
        Rect {
            x: 0,
            y: 0,
            w: self.viewer_size.0,
            h: self.viewer_size.1,
        }
    }

    fn answer_pending(&mut self) {
        let Some(request) = self.pending else {
            return;
        };
        let Some(dirty) = self.dirty else {
            return;
        };
        let size_changed = self.viewer_size != (self.frame.width, self.frame.height);
        if size_changed && self.desktop_size {
            self.pending = None;
            self.send_update(self.frame.full());
            return;
        }
        let visible = request.intersect(&self.viewer_rect());
        if let Some(r) = visible.and_then(|v| v.intersect(&dirty)) {
            self.pending = None;
            self.send_update(r);
        }
    }

    fn send_empty_update(&mut self) {
        self.output.extend_from_slice(&[0, 0, 0, 0]);
    }

    /// A FramebufferUpdate of `rect` as RAW tiles (after a DesktopSize
    /// rectangle when the screen's size changed).
    fn send_update(&mut self, rect: Rect) {
        if !self.raw_listed {
            // As AMT: a viewer that leaves RAW out gets nothing.
            return;
        }
        let resize = self.viewer_size != (self.frame.width, self.frame.height);
        let rect = if resize {
            if !self.desktop_size {
                // The viewer cannot follow: show what fits.
                match rect
                    .intersect(&self.viewer_rect())
                    .and_then(|r| r.intersect(&self.frame.full()))
                {
                    Some(r) => r,
                    None => return self.send_empty_update(),
                }
            } else {
                self.frame.full()
            }
        } else {
            rect
        };
        let tiles: Vec<Rect> = tiles(rect).collect();
        let mut count = tiles.len();
        let with_resize = resize && self.desktop_size;
        if with_resize {
            count += 1;
        }
        let bpp = self.format.bytes_per_pixel();
        let out = &mut self.output;
        out.reserve(4 + count * 12 + usize::from(rect.w) * usize::from(rect.h) * bpp);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(count.min(usize::from(u16::MAX)) as u16).to_be_bytes());
        if with_resize {
            push_rect_header(out, self.frame.full(), ENCODING_DESKTOP_SIZE);
            self.viewer_size = (self.frame.width, self.frame.height);
        }
        for t in tiles {
            push_rect_header(out, t, ENCODING_RAW);
            for y in t.y..t.y + t.h {
                for x in t.x..t.x + t.w {
                    let (r, g, b) = self.frame.rgb(x, y);
                    self.format.push(out, r, g, b);
                }
            }
        }
        self.dirty = None;
    }
}

fn push_rect_header(out: &mut Vec<u8>, r: Rect, encoding: i32) {
    out.extend_from_slice(&r.x.to_be_bytes());
    out.extend_from_slice(&r.y.to_be_bytes());
    out.extend_from_slice(&r.w.to_be_bytes());
    out.extend_from_slice(&r.h.to_be_bytes());
    out.extend_from_slice(&encoding.to_be_bytes());
}

/// `rect` cut into tiles of at most [`TILE`]×[`TILE`], row by row.
fn tiles(rect: Rect) -> impl Iterator<Item = Rect> {
    let rows = (rect.y..rect.y.saturating_add(rect.h)).step_by(usize::from(TILE));
    rows.flat_map(move |y| {
        (rect.x..rect.x.saturating_add(rect.w))
            .step_by(usize::from(TILE))
            .map(move |x| Rect {
                x,
                y,
                w: TILE.min(rect.x + rect.w - x),
                h: TILE.min(rect.y + rect.h - y),
            })
    })
}

/// The VNC authentication response: the challenge DES-encrypted with the
/// password as key (first 8 bytes, zero-padded), each key byte's bits
/// reversed as the original VNC implementation does (RFC 6143 §7.2.2 and
/// its errata).
pub fn vnc_response(password: &str, challenge: &[u8; 16]) -> [u8; 16] {
    let mut key = [0u8; 8];
    for (k, p) in key.iter_mut().zip(password.as_bytes()) {
        *k = p.reverse_bits();
    }
    let cipher = des::Des::new(GenericArray::from_slice(&key));
    let mut out = *challenge;
    for block in out.chunks_exact_mut(8) {
        cipher.encrypt_block(GenericArray::from_mut_slice(block));
    }
    out
}

#[cfg(test)]
mod tests;
