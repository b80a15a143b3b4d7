//! APF messages on the wire: a type byte, then big-endian u32 integers
//! and strings (a u32 length and the bytes, no terminator). Layouts from
//! the message catalogue in docs/cira.md.
//!
//! [`Message::parse`] reads one message from the front of a buffer and
//! says how many bytes it used, or that more bytes are needed; it never
//! panics, whatever the bytes, and bounds every length it is given.

use thiserror::Error;

pub const DISCONNECT: u8 = 1;
pub const SERVICE_REQUEST: u8 = 5;
pub const SERVICE_ACCEPT: u8 = 6;
pub const USERAUTH_REQUEST: u8 = 50;
pub const USERAUTH_FAILURE: u8 = 51;
pub const USERAUTH_SUCCESS: u8 = 52;
pub const GLOBAL_REQUEST: u8 = 80;
pub const REQUEST_SUCCESS: u8 = 81;
pub const REQUEST_FAILURE: u8 = 82;
pub const CHANNEL_OPEN: u8 = 90;
pub const CHANNEL_OPEN_CONFIRMATION: u8 = 91;
pub const CHANNEL_OPEN_FAILURE: u8 = 92;
pub const CHANNEL_WINDOW_ADJUST: u8 = 93;
pub const CHANNEL_DATA: u8 = 94;
pub const CHANNEL_CLOSE: u8 = 97;
pub const PROTOCOL_VERSION: u8 = 192;
pub const KEEPALIVE_REQUEST: u8 = 208;
pub const KEEPALIVE_REPLY: u8 = 209;
pub const KEEPALIVE_OPTIONS_REQUEST: u8 = 210;
pub const KEEPALIVE_OPTIONS_REPLY: u8 = 211;
pub const JSON_CONTROL: u8 = 250;

/// The longest string accepted (names, addresses, passwords, JSON).
pub const MAX_STRING: usize = 64 * 1024;
/// The most data one CHANNEL_DATA may carry (the DMT MPS's own bound).
pub const MAX_CHANNEL_DATA: usize = 1024 * 1024;

/// The service names.
pub const AUTH_SERVICE: &str = "auth@amt.intel.com";
pub const PFWD_SERVICE: &str = "pfwd@amt.intel.com";

/// Why a buffer is not an APF message.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("unknown APF message type {0}")]
    UnknownType(u8),
    #[error("APF string of {0} bytes is longer than allowed")]
    StringTooLong(u32),
    #[error("APF channel data of {0} bytes is longer than allowed")]
    DataTooLong(u32),
    #[error("APF string is not UTF-8")]
    NotUtf8,
}

/// The `DISCONNECT` reason codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DisconnectReason(pub u32);

impl DisconnectReason {
    pub const HOST_NOT_ALLOWED: Self = Self(1);
    pub const PROTOCOL_ERROR: Self = Self(2);
    pub const SERVICE_NOT_AVAILABLE: Self = Self(7);
    pub const PROTOCOL_VERSION_NOT_SUPPORTED: Self = Self(8);
    pub const CONNECTION_LOST: Self = Self(10);
    pub const BY_APPLICATION: Self = Self(11);
    pub const TOO_MANY_CONNECTIONS: Self = Self(12);
    pub const NO_MORE_AUTH_METHODS: Self = Self(14);
    pub const INVALID_CREDENTIALS: Self = Self(15);
    pub const CONNECTION_TIMED_OUT: Self = Self(16);
    pub const BY_POLICY: Self = Self(17);
    pub const TEMPORARILY_UNAVAILABLE: Self = Self(18);
}

/// One APF message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Disconnect {
        reason: u32,
    },
    ServiceRequest {
        service: String,
    },
    ServiceAccept {
        service: String,
    },
    UserauthRequest {
        username: String,
        service: String,
        method: String,
        password: String,
    },
    UserauthFailure {
        methods: String,
    },
    UserauthSuccess,
    /// `tcpip-forward` / `cancel-tcpip-forward` carry an address and port;
    /// other requests (`udp-send-to@amt.intel.com`) are kept as raw bytes.
    GlobalRequest {
        name: String,
        want_reply: bool,
        address: String,
        port: u32,
        rest: Vec<u8>,
    },
    /// For a `tcpip-forward`, the port bound (absent otherwise).
    RequestSuccess {
        port: Option<u32>,
    },
    RequestFailure,
    ChannelOpen {
        channel_type: String,
        sender: u32,
        window: u32,
        connected_address: String,
        connected_port: u32,
        originator_address: String,
        originator_port: u32,
    },
    ChannelOpenConfirmation {
        recipient: u32,
        sender: u32,
        window: u32,
    },
    ChannelOpenFailure {
        recipient: u32,
        reason: u32,
    },
    ChannelWindowAdjust {
        recipient: u32,
        bytes: u32,
    },
    ChannelData {
        recipient: u32,
        data: Vec<u8>,
    },
    ChannelClose {
        recipient: u32,
    },
    ProtocolVersion {
        major: u32,
        minor: u32,
        trigger: u32,
        uuid: [u8; 16],
    },
    KeepaliveRequest {
        cookie: u32,
    },
    KeepaliveReply {
        cookie: u32,
    },
    KeepaliveOptionsRequest {
        interval: u32,
        timeout: u32,
    },
    KeepaliveOptionsReply {
        interval: u32,
        timeout: u32,
    },
    JsonControl {
        json: String,
    },
}

/// A cursor over a message; `None` means the message is not all there yet.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.bytes(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        let b = self.bytes(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let b = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(b)
    }

    fn rest(&mut self) -> &'a [u8] {
        let b = self.buf.get(self.pos..).unwrap_or_default();
        self.pos = self.buf.len();
        b
    }
}

/// Reads a length-prefixed field, bounding the length before waiting
/// for the bytes (a hostile length must not make us buffer gigabytes).
macro_rules! field {
    ($r:expr, $max:expr, $err:expr) => {{
        let Some(len) = $r.u32() else {
            return Ok(None);
        };
        if len as usize > $max {
            return Err($err(len));
        }
        let Some(b) = $r.bytes(len as usize) else {
            return Ok(None);
        };
        b
    }};
}

macro_rules! string {
    ($r:expr) => {{
        let b = field!($r, MAX_STRING, ParseError::StringTooLong);
        String::from_utf8(b.to_vec()).map_err(|_| ParseError::NotUtf8)?
    }};
}

macro_rules! need {
    ($e:expr) => {{
        let Some(v) = $e else {
            return Ok(None);
        };
        v
    }};
}

impl Message {
    /// Parses one message from the front of `buf`: `Ok(None)` when more
    /// bytes are needed, else the message and the bytes it took. A
    /// REQUEST_SUCCESS is taken to answer a `tcpip-forward` (with a port).
    pub fn parse(buf: &[u8]) -> Result<Option<(Message, usize)>, ParseError> {
        Message::parse_expecting(buf, true)
    }

    /// [`Message::parse`], saying whether a REQUEST_SUCCESS carries the
    /// bound port (the reply to a `tcpip-forward`) or nothing (to a
    /// `cancel-tcpip-forward`): the message itself does not tell.
    pub fn parse_expecting(
        buf: &[u8],
        request_success_has_port: bool,
    ) -> Result<Option<(Message, usize)>, ParseError> {
        let mut r = Reader { buf, pos: 0 };
        let Some(kind) = r.u8() else {
            return Ok(None);
        };
        let msg = match kind {
            DISCONNECT => {
                let reason = need!(r.u32());
                need!(r.u16());
                Message::Disconnect { reason }
            }
            SERVICE_REQUEST => Message::ServiceRequest {
                service: string!(r),
            },
            SERVICE_ACCEPT => Message::ServiceAccept {
                service: string!(r),
            },
            USERAUTH_REQUEST => {
                let username = string!(r);
                let service = string!(r);
                let method = string!(r);
                need!(r.u8());
                let password = string!(r);
                Message::UserauthRequest {
                    username,
                    service,
                    method,
                    password,
                }
            }
            USERAUTH_FAILURE => {
                let methods = string!(r);
                // MeshCentral and the DMT MPS send two zero bytes here, the
                // SSH layout one: accept either when the second is present.
                need!(r.u8());
                if r.buf.get(r.pos) == Some(&0) && r.buf.len() == r.pos + 1 {
                    r.pos += 1;
                }
                Message::UserauthFailure { methods }
            }
            USERAUTH_SUCCESS => Message::UserauthSuccess,
            GLOBAL_REQUEST => {
                let name = string!(r);
                let want_reply = need!(r.u8()) != 0;
                let (address, port, rest) = match name.as_str() {
                    "tcpip-forward" | "cancel-tcpip-forward" => {
                        let address = string!(r);
                        let port = need!(r.u32());
                        (address, port, Vec::new())
                    }
                    // Unknown requests run to the end of what was read;
                    // only the last message in a buffer can be one.
                    _ => (String::new(), 0, r.rest().to_vec()),
                };
                Message::GlobalRequest {
                    name,
                    want_reply,
                    address,
                    port,
                    rest,
                }
            }
            REQUEST_SUCCESS => {
                let port = if request_success_has_port {
                    Some(need!(r.u32()))
                } else {
                    None
                };
                Message::RequestSuccess { port }
            }
            REQUEST_FAILURE => Message::RequestFailure,
            CHANNEL_OPEN => {
                let channel_type = string!(r);
                let sender = need!(r.u32());
                let window = need!(r.u32());
                need!(r.u32());
                let connected_address = string!(r);
                let connected_port = need!(r.u32());
                let originator_address = string!(r);
                let originator_port = need!(r.u32());
                Message::ChannelOpen {
                    channel_type,
                    sender,
                    window,
                    connected_address,
                    connected_port,
                    originator_address,
                    originator_port,
                }
            }
            CHANNEL_OPEN_CONFIRMATION => {
                let recipient = need!(r.u32());
                let sender = need!(r.u32());
                let window = need!(r.u32());
                need!(r.u32());
                Message::ChannelOpenConfirmation {
                    recipient,
                    sender,
                    window,
                }
            }
            CHANNEL_OPEN_FAILURE => {
                let recipient = need!(r.u32());
                let reason = need!(r.u32());
                need!(r.u32());
                need!(r.u32());
                Message::ChannelOpenFailure { recipient, reason }
            }
            CHANNEL_WINDOW_ADJUST => Message::ChannelWindowAdjust {
                recipient: need!(r.u32()),
                bytes: need!(r.u32()),
            },
            CHANNEL_DATA => {
                let recipient = need!(r.u32());
                let data = field!(r, MAX_CHANNEL_DATA, ParseError::DataTooLong).to_vec();
                Message::ChannelData { recipient, data }
            }
            CHANNEL_CLOSE => Message::ChannelClose {
                recipient: need!(r.u32()),
            },
            PROTOCOL_VERSION => {
                let major = need!(r.u32());
                let minor = need!(r.u32());
                let trigger = need!(r.u32());
                let mut uuid = [0u8; 16];
                uuid.copy_from_slice(need!(r.bytes(16)));
                need!(r.bytes(64));
                Message::ProtocolVersion {
                    major,
                    minor,
                    trigger,
                    uuid,
                }
            }
            KEEPALIVE_REQUEST => Message::KeepaliveRequest {
                cookie: need!(r.u32()),
            },
            KEEPALIVE_REPLY => Message::KeepaliveReply {
                cookie: need!(r.u32()),
            },
            KEEPALIVE_OPTIONS_REQUEST => Message::KeepaliveOptionsRequest {
                interval: need!(r.u32()),
                timeout: need!(r.u32()),
            },
            KEEPALIVE_OPTIONS_REPLY => Message::KeepaliveOptionsReply {
                interval: need!(r.u32()),
                timeout: need!(r.u32()),
            },
            JSON_CONTROL => Message::JsonControl { json: string!(r) },
            other => return Err(ParseError::UnknownType(other)),
        };
        Ok(Some((msg, r.pos)))
    }

    /// Appends the message's bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        fn u32(out: &mut Vec<u8>, v: u32) {
            out.extend_from_slice(&v.to_be_bytes());
        }
        fn bytes(out: &mut Vec<u8>, b: &[u8]) {
            // Lengths above u32 cannot be built by this crate's callers.
            u32(out, u32::try_from(b.len()).unwrap_or(u32::MAX));
            out.extend_from_slice(b);
        }
        match self {
            Message::Disconnect { reason } => {
                out.push(DISCONNECT);
                u32(out, *reason);
                out.extend_from_slice(&[0, 0]);
            }
            Message::ServiceRequest { service } => {
                out.push(SERVICE_REQUEST);
                bytes(out, service.as_bytes());
            }
            Message::ServiceAccept { service } => {
                out.push(SERVICE_ACCEPT);
                bytes(out, service.as_bytes());
            }
            Message::UserauthRequest {
                username,
                service,
                method,
                password,
            } => {
                out.push(USERAUTH_REQUEST);
                bytes(out, username.as_bytes());
                bytes(out, service.as_bytes());
                bytes(out, method.as_bytes());
                out.push(0);
                bytes(out, password.as_bytes());
            }
            Message::UserauthFailure { methods } => {
                out.push(USERAUTH_FAILURE);
                bytes(out, methods.as_bytes());
                out.extend_from_slice(&[0, 0]);
            }
            Message::UserauthSuccess => out.push(USERAUTH_SUCCESS),
            Message::GlobalRequest {
                name,
                want_reply,
                address,
                port,
                rest,
            } => {
                out.push(GLOBAL_REQUEST);
                bytes(out, name.as_bytes());
                out.push(u8::from(*want_reply));
                if name == "tcpip-forward" || name == "cancel-tcpip-forward" {
                    bytes(out, address.as_bytes());
                    u32(out, *port);
                } else {
                    out.extend_from_slice(rest);
                }
            }
            Message::RequestSuccess { port } => {
                out.push(REQUEST_SUCCESS);
                if let Some(p) = port {
                    u32(out, *p);
                }
            }
            Message::RequestFailure => out.push(REQUEST_FAILURE),
            Message::ChannelOpen {
                channel_type,
                sender,
                window,
                connected_address,
                connected_port,
                originator_address,
                originator_port,
            } => {
                out.push(CHANNEL_OPEN);
                bytes(out, channel_type.as_bytes());
                u32(out, *sender);
                u32(out, *window);
                u32(out, u32::MAX);
                bytes(out, connected_address.as_bytes());
                u32(out, *connected_port);
                bytes(out, originator_address.as_bytes());
                u32(out, *originator_port);
            }
            Message::ChannelOpenConfirmation {
                recipient,
                sender,
                window,
            } => {
                out.push(CHANNEL_OPEN_CONFIRMATION);
                u32(out, *recipient);
                u32(out, *sender);
                u32(out, *window);
                u32(out, u32::MAX);
            }
            Message::ChannelOpenFailure { recipient, reason } => {
                out.push(CHANNEL_OPEN_FAILURE);
                u32(out, *recipient);
                u32(out, *reason);
                u32(out, 0);
                u32(out, 0);
            }
            Message::ChannelWindowAdjust {
                recipient,
                bytes: n,
            } => {
                out.push(CHANNEL_WINDOW_ADJUST);
                u32(out, *recipient);
                u32(out, *n);
            }
            Message::ChannelData { recipient, data } => {
                out.push(CHANNEL_DATA);
                u32(out, *recipient);
                bytes(out, data);
            }
            Message::ChannelClose { recipient } => {
                out.push(CHANNEL_CLOSE);
                u32(out, *recipient);
            }
            Message::ProtocolVersion {
                major,
                minor,
                trigger,
                uuid,
            } => {
                out.push(PROTOCOL_VERSION);
                u32(out, *major);
                u32(out, *minor);
                u32(out, *trigger);
                out.extend_from_slice(uuid);
                out.extend_from_slice(&[0u8; 64]);
            }
            Message::KeepaliveRequest { cookie } => {
                out.push(KEEPALIVE_REQUEST);
                u32(out, *cookie);
            }
            Message::KeepaliveReply { cookie } => {
                out.push(KEEPALIVE_REPLY);
                u32(out, *cookie);
            }
            Message::KeepaliveOptionsRequest { interval, timeout } => {
                out.push(KEEPALIVE_OPTIONS_REQUEST);
                u32(out, *interval);
                u32(out, *timeout);
            }
            Message::KeepaliveOptionsReply { interval, timeout } => {
                out.push(KEEPALIVE_OPTIONS_REPLY);
                u32(out, *interval);
                u32(out, *timeout);
            }
            Message::JsonControl { json } => {
                out.push(JSON_CONTROL);
                bytes(out, json.as_bytes());
            }
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// The UUID as PROTOCOLVERSION carries it: a Windows GUID, whose first
/// three groups are little-endian, from the `8-4-4-4-12` text form.
pub fn uuid_to_wire(uuid: [u8; 16]) -> [u8; 16] {
    let mut w = uuid;
    w[0..4].reverse();
    w[4..6].reverse();
    w[6..8].reverse();
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_version_is_93_bytes() {
        let m = Message::ProtocolVersion {
            major: 1,
            minor: 0,
            trigger: 4,
            uuid: [7; 16],
        };
        let b = m.to_bytes();
        assert_eq!(b.len(), 93);
        assert_eq!(Message::parse(&b), Ok(Some((m, 93))));
    }

    #[test]
    fn userauth_request_has_the_change_password_byte() {
        let m = Message::UserauthRequest {
            username: "u".into(),
            service: PFWD_SERVICE.into(),
            method: "password".into(),
            password: "p".into(),
        };
        let b = m.to_bytes();
        assert_eq!(b.len(), 18 + 1 + PFWD_SERVICE.len() + 8 + 1);
        assert_eq!(b[1 + 4 + 1 + 4 + PFWD_SERVICE.len() + 4 + 8], 0);
    }

    #[test]
    fn partial_messages_ask_for_more_and_lengths_are_bounded() {
        let b = Message::ChannelData {
            recipient: 3,
            data: b"hello".to_vec(),
        }
        .to_bytes();
        for n in 0..b.len() {
            assert_eq!(Message::parse(&b[..n]), Ok(None), "{n}");
        }
        let mut huge = vec![CHANNEL_DATA, 0, 0, 0, 1];
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            Message::parse(&huge),
            Err(ParseError::DataTooLong(u32::MAX))
        );
        assert_eq!(Message::parse(&[77]), Err(ParseError::UnknownType(77)));
    }

    #[test]
    fn both_userauth_failure_layouts_parse() {
        let mut two = vec![USERAUTH_FAILURE, 0, 0, 0, 8];
        two.extend_from_slice(b"password");
        let mut one = two.clone();
        one.push(0);
        two.extend_from_slice(&[0, 0]);
        assert_eq!(Message::parse(&two).unwrap().unwrap().1, 15);
        assert_eq!(Message::parse(&one).unwrap().unwrap().1, 14);
    }

    #[test]
    fn guid_byte_order() {
        let text = [
            0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 9, 10, 11, 12, 13, 14, 15, 16,
        ];
        let w = uuid_to_wire(text);
        assert_eq!(&w[..8], &[4, 3, 2, 1, 6, 5, 8, 7]);
        assert_eq!(&w[8..], &text[8..]);
    }
}
