//! The messages of the redirection protocol, as the console sends them and
//! as the device answers.
//!
//! Every message starts with its type byte; the session-manager messages
//! (0x10–0x14) have their own short layouts, the SOL messages (0x20–0x2B)
//! share an 8-byte header (`type 00 00 00`, then a u32 little-endian
//! sequence number). Byte layouts: docs/redirection.md, after amtterm's
//! `RedirectionConstants.h` and what Debian's amtterm 1.4 sends.

use thiserror::Error;

/// StartRedirectionSession (console → device).
pub const START_REDIRECTION_SESSION: u8 = 0x10;
pub const START_REDIRECTION_SESSION_REPLY: u8 = 0x11;
pub const END_REDIRECTION_SESSION: u8 = 0x12;
pub const AUTHENTICATE_SESSION: u8 = 0x13;
pub const AUTHENTICATE_SESSION_REPLY: u8 = 0x14;
pub const START_SOL_REDIRECTION: u8 = 0x20;
pub const START_SOL_REDIRECTION_REPLY: u8 = 0x21;
pub const END_SOL_REDIRECTION: u8 = 0x22;
pub const END_SOL_REDIRECTION_REPLY: u8 = 0x23;
pub const SOL_KEEP_ALIVE_PING: u8 = 0x24;
pub const SOL_KEEP_ALIVE_PONG: u8 = 0x25;
/// Sent by MeshCommander and the DMT UI toolkit right after 0x21; its
/// meaning is not documented anywhere we found. Accepted and ignored.
pub const SOL_MESHCOMMANDER_SETTINGS: u8 = 0x27;
pub const SOL_DATA_TO_HOST: u8 = 0x28;
pub const SOL_CONTROLS_FROM_HOST: u8 = 0x29;
pub const SOL_DATA_FROM_HOST: u8 = 0x2A;
pub const SOL_HEARTBEAT: u8 = 0x2B;
/// The first message of an IDE-R session and of KVM after authentication
/// (8 bytes for KVM, 18 for IDE-R): where this crate hands over.
pub const START_IDER_OR_KVM: u8 = 0x40;

/// Lengths of the fixed-size messages.
pub const START_REDIRECTION_SESSION_LEN: usize = 8;
pub const START_REDIRECTION_SESSION_REPLY_LEN: usize = 13;
pub const END_REDIRECTION_SESSION_LEN: usize = 4;
pub const START_SOL_REDIRECTION_LEN: usize = 24;
pub const START_SOL_REDIRECTION_REPLY_LEN: usize = 23;
pub const SOL_HEADER_LEN: usize = 8;
/// 0x27: header plus 6 bytes.
pub const SOL_MESHCOMMANDER_SETTINGS_LEN: usize = 14;

/// The largest AuthenticateSession payload accepted. The longest real one
/// (digest with user, realm, nonce, uri, cnonce, nc, response, qop) is
/// well under 400 bytes; a bigger length is a broken or hostile console.
pub const MAX_AUTH_DATA: usize = 1024;

/// What a console can ask to redirect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionKind {
    /// Serial-over-LAN, tag `SOL `.
    Sol,
    /// IDE redirection (remote CD/floppy), tag `IDER`.
    Ider,
    /// KVM (RFB inside the redirection stream), tag `KVMR`.
    Kvm,
}

impl SessionKind {
    /// The 4-byte tag of StartRedirectionSession.
    pub fn tag(self) -> [u8; 4] {
        match self {
            SessionKind::Sol => *b"SOL ",
            SessionKind::Ider => *b"IDER",
            SessionKind::Kvm => *b"KVMR",
        }
    }

    pub fn from_tag(tag: [u8; 4]) -> Option<Self> {
        match &tag {
            b"SOL " => Some(SessionKind::Sol),
            b"IDER" => Some(SessionKind::Ider),
            b"KVMR" => Some(SessionKind::Kvm),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SessionKind::Sol => "SOL",
            SessionKind::Ider => "IDE-R",
            SessionKind::Kvm => "KVM",
        }
    }
}

/// AuthenticateSession's auth-type byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthType {
    /// 0: which types does the device support?
    Query,
    /// 1: user name and password in the clear (what amtterm 1.4 sends).
    UserPassword,
    /// 2: Kerberos (not modelled: refused as not supported).
    Kerberos,
    /// 3: digest without cnonce and qop (RFC 2069 style).
    DigestRfc2069,
    /// 4: digest as RFC 2617, qop `auth`.
    Digest,
}

impl AuthType {
    pub fn byte(self) -> u8 {
        match self {
            AuthType::Query => 0,
            AuthType::UserPassword => 1,
            AuthType::Kerberos => 2,
            AuthType::DigestRfc2069 => 3,
            AuthType::Digest => 4,
        }
    }

    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            0 => AuthType::Query,
            1 => AuthType::UserPassword,
            2 => AuthType::Kerberos,
            3 => AuthType::DigestRfc2069,
            4 => AuthType::Digest,
            _ => return None,
        })
    }
}

/// StartSOLRedirection's settings (all u16 little-endian; times in ms).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SolSettings {
    pub max_tx_buffer: u16,
    pub tx_timeout: u16,
    pub tx_overflow_timeout: u16,
    pub rx_timeout: u16,
    pub rx_flush_timeout: u16,
    /// How often the console wants a heartbeat (0: none).
    pub heartbeat_interval: u16,
}

/// A message from the console.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientMessage {
    /// 0x10: the raw tag (an unknown one is answered, not a parse error)
    /// and byte 1 (0x01 for KVMR).
    StartRedirectionSession { tag: [u8; 4], flags: u8 },
    /// 0x12.
    EndRedirectionSession,
    /// 0x13: the raw auth-type byte and its payload.
    AuthenticateSession { auth_type: u8, data: Vec<u8> },
    /// 0x20.
    StartSol { seq: u32, settings: SolSettings },
    /// 0x22.
    EndSol { seq: u32 },
    /// 0x24.
    KeepAlivePing { seq: u32 },
    /// 0x25: a pong (a console echoing what it got).
    KeepAlivePong { seq: u32 },
    /// 0x27 (MeshCommander).
    MeshCommanderSettings { seq: u32, body: [u8; 6] },
    /// 0x28: bytes typed at the console.
    SolDataToHost { seq: u32, data: Vec<u8> },
    /// 0x2B: a heartbeat (amtterm echoes the device's).
    Heartbeat { seq: u32 },
}

/// Bytes that are not a message the device understands.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("unknown message type 0x{0:02x}")]
    UnknownType(u8),
    #[error("AuthenticateSession payload of {0} bytes is too long")]
    AuthTooLong(u64),
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([
        b.get(i).copied().unwrap_or(0),
        b.get(i + 1).copied().unwrap_or(0),
    ])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    let mut v = [0u8; 4];
    for (k, slot) in v.iter_mut().enumerate() {
        *slot = b.get(i + k).copied().unwrap_or(0);
    }
    u32::from_le_bytes(v)
}

impl ClientMessage {
    /// Parses one message from the front of `buf`: `Ok(None)` when more
    /// bytes are needed, otherwise the message and how many bytes it took.
    pub fn parse(buf: &[u8]) -> Result<Option<(ClientMessage, usize)>, ParseError> {
        let Some(&kind) = buf.first() else {
            return Ok(None);
        };
        let need = |n: usize| buf.len() >= n;
        let seq = || u32_at(buf, 4);
        let msg = match kind {
            START_REDIRECTION_SESSION => {
                if !need(START_REDIRECTION_SESSION_LEN) {
                    return Ok(None);
                }
                let mut tag = [0u8; 4];
                tag.copy_from_slice(&buf[4..8]);
                (
                    ClientMessage::StartRedirectionSession { tag, flags: buf[1] },
                    START_REDIRECTION_SESSION_LEN,
                )
            }
            END_REDIRECTION_SESSION => {
                if !need(END_REDIRECTION_SESSION_LEN) {
                    return Ok(None);
                }
                (
                    ClientMessage::EndRedirectionSession,
                    END_REDIRECTION_SESSION_LEN,
                )
            }
            AUTHENTICATE_SESSION => {
                if !need(9) {
                    return Ok(None);
                }
                let len = u64::from(u32_at(buf, 5));
                if len > MAX_AUTH_DATA as u64 {
                    return Err(ParseError::AuthTooLong(len));
                }
                let total = 9 + len as usize;
                if !need(total) {
                    return Ok(None);
                }
                (
                    ClientMessage::AuthenticateSession {
                        auth_type: buf[4],
                        data: buf[9..total].to_vec(),
                    },
                    total,
                )
            }
            START_SOL_REDIRECTION => {
                if !need(START_SOL_REDIRECTION_LEN) {
                    return Ok(None);
                }
                let settings = SolSettings {
                    max_tx_buffer: u16_at(buf, 8),
                    tx_timeout: u16_at(buf, 10),
                    tx_overflow_timeout: u16_at(buf, 12),
                    rx_timeout: u16_at(buf, 14),
                    rx_flush_timeout: u16_at(buf, 16),
                    heartbeat_interval: u16_at(buf, 18),
                };
                (
                    ClientMessage::StartSol {
                        seq: seq(),
                        settings,
                    },
                    START_SOL_REDIRECTION_LEN,
                )
            }
            END_SOL_REDIRECTION | SOL_KEEP_ALIVE_PING | SOL_KEEP_ALIVE_PONG | SOL_HEARTBEAT => {
                if !need(SOL_HEADER_LEN) {
                    return Ok(None);
                }
                let seq = seq();
                let m = match kind {
                    END_SOL_REDIRECTION => ClientMessage::EndSol { seq },
                    SOL_KEEP_ALIVE_PING => ClientMessage::KeepAlivePing { seq },
                    SOL_KEEP_ALIVE_PONG => ClientMessage::KeepAlivePong { seq },
                    _ => ClientMessage::Heartbeat { seq },
                };
                (m, SOL_HEADER_LEN)
            }
            SOL_MESHCOMMANDER_SETTINGS => {
                if !need(SOL_MESHCOMMANDER_SETTINGS_LEN) {
                    return Ok(None);
                }
                let mut body = [0u8; 6];
                body.copy_from_slice(&buf[8..14]);
                (
                    ClientMessage::MeshCommanderSettings { seq: seq(), body },
                    SOL_MESHCOMMANDER_SETTINGS_LEN,
                )
            }
            SOL_DATA_TO_HOST => {
                if !need(10) {
                    return Ok(None);
                }
                let total = 10 + usize::from(u16_at(buf, 8));
                if !need(total) {
                    return Ok(None);
                }
                (
                    ClientMessage::SolDataToHost {
                        seq: seq(),
                        data: buf[10..total].to_vec(),
                    },
                    total,
                )
            }
            other => return Err(ParseError::UnknownType(other)),
        };
        Ok(Some(msg))
    }

    /// The message's bytes (the console's side: for tests and fuzzing).
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = |t: u8, seq: u32| {
            let mut v = vec![t, 0, 0, 0];
            v.extend_from_slice(&seq.to_le_bytes());
            v
        };
        match self {
            ClientMessage::StartRedirectionSession { tag, flags } => {
                let mut v = vec![START_REDIRECTION_SESSION, *flags, 0, 0];
                v.extend_from_slice(tag);
                v
            }
            ClientMessage::EndRedirectionSession => vec![END_REDIRECTION_SESSION, 0, 0, 0],
            ClientMessage::AuthenticateSession { auth_type, data } => {
                let mut v = vec![AUTHENTICATE_SESSION, 0, 0, 0, *auth_type];
                v.extend_from_slice(&(data.len() as u32).to_le_bytes());
                v.extend_from_slice(data);
                v
            }
            ClientMessage::StartSol { seq, settings } => {
                let mut v = header(START_SOL_REDIRECTION, *seq);
                for x in [
                    settings.max_tx_buffer,
                    settings.tx_timeout,
                    settings.tx_overflow_timeout,
                    settings.rx_timeout,
                    settings.rx_flush_timeout,
                    settings.heartbeat_interval,
                ] {
                    v.extend_from_slice(&x.to_le_bytes());
                }
                v.extend_from_slice(&[0; 4]);
                v
            }
            ClientMessage::EndSol { seq } => header(END_SOL_REDIRECTION, *seq),
            ClientMessage::KeepAlivePing { seq } => header(SOL_KEEP_ALIVE_PING, *seq),
            ClientMessage::KeepAlivePong { seq } => header(SOL_KEEP_ALIVE_PONG, *seq),
            ClientMessage::Heartbeat { seq } => header(SOL_HEARTBEAT, *seq),
            ClientMessage::MeshCommanderSettings { seq, body } => {
                let mut v = header(SOL_MESHCOMMANDER_SETTINGS, *seq);
                v.extend_from_slice(body);
                v
            }
            ClientMessage::SolDataToHost { seq, data } => {
                let mut v = header(SOL_DATA_TO_HOST, *seq);
                v.extend_from_slice(&(data.len() as u16).to_le_bytes());
                v.extend_from_slice(data);
                v
            }
        }
    }
}

/// StartRedirectionSessionReply's status byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartStatus {
    Success,
    /// 1: the tag names no session type.
    UnknownType,
    /// 2: a session of that type is already open.
    Busy,
    /// 3: the type is not supported or not enabled.
    Unsupported,
    /// 0xFF.
    Error,
}

impl StartStatus {
    pub fn byte(self) -> u8 {
        match self {
            StartStatus::Success => 0,
            StartStatus::UnknownType => 1,
            StartStatus::Busy => 2,
            StartStatus::Unsupported => 3,
            StartStatus::Error => 0xFF,
        }
    }
}

/// AuthenticateSessionReply's status byte.
pub const AUTH_SUCCESS: u8 = 0;
pub const AUTH_FAILURE: u8 = 1;
pub const AUTH_NOT_SUPPORTED: u8 = 2;

/// 0x11, 13 bytes. Bytes 2–11 are not documented in any source we have;
/// clients read only the status (byte 1) and the OEM-data length (byte
/// 12, none here), so they are zero.
pub fn start_session_reply(status: StartStatus) -> Vec<u8> {
    let mut v = vec![0u8; START_REDIRECTION_SESSION_REPLY_LEN];
    v[0] = START_REDIRECTION_SESSION_REPLY;
    v[1] = status.byte();
    v
}

/// 0x14: status, auth type, payload.
pub fn auth_reply(status: u8, auth_type: u8, data: &[u8]) -> Vec<u8> {
    let mut v = vec![AUTHENTICATE_SESSION_REPLY, status, 0, 0, auth_type];
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(data);
    v
}

fn sol_header(kind: u8, seq: u32) -> Vec<u8> {
    let mut v = vec![kind, 0, 0, 0];
    v.extend_from_slice(&seq.to_le_bytes());
    v
}

/// 0x21, 23 bytes: status at byte 1, the sequence number, then the
/// settings in force as the console sent them and three zero bytes (no OEM
/// data). The firmware's layout past byte 1 is undocumented (clients only
/// read the status and skip 23 bytes); this echo is our choice.
pub fn start_sol_reply(status: u8, seq: u32, settings: &SolSettings) -> Vec<u8> {
    let mut v = sol_header(START_SOL_REDIRECTION_REPLY, seq);
    v[1] = status;
    for x in [
        settings.max_tx_buffer,
        settings.tx_timeout,
        settings.tx_overflow_timeout,
        settings.rx_timeout,
        settings.rx_flush_timeout,
        settings.heartbeat_interval,
    ] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.resize(START_SOL_REDIRECTION_REPLY_LEN, 0);
    v
}

/// 0x23.
pub fn end_sol_reply(seq: u32) -> Vec<u8> {
    sol_header(END_SOL_REDIRECTION_REPLY, seq)
}

/// 0x25.
pub fn keep_alive_pong(seq: u32) -> Vec<u8> {
    sol_header(SOL_KEEP_ALIVE_PONG, seq)
}

/// 0x2B.
pub fn heartbeat(seq: u32) -> Vec<u8> {
    sol_header(SOL_HEARTBEAT, seq)
}

/// 0x29: the host's COM-port control lines and status bits (bit 2 of the
/// status: the system is powered on).
pub fn sol_controls_from_host(seq: u32, control: u8, status: u8) -> Vec<u8> {
    let mut v = sol_header(SOL_CONTROLS_FROM_HOST, seq);
    v.push(control);
    v.push(status);
    v
}

/// 0x2A: what the host wrote to its serial port (at most 65535 bytes).
pub fn sol_data_from_host(seq: u32, data: &[u8]) -> Vec<u8> {
    let data = &data[..data.len().min(usize::from(u16::MAX))];
    let mut v = sol_header(SOL_DATA_FROM_HOST, seq);
    v.extend_from_slice(&(data.len() as u16).to_le_bytes());
    v.extend_from_slice(data);
    v
}

/// Length-prefixed strings (u8 length, bytes), as the auth payloads are
/// built. Stops at the end of `data`; a length past the end yields `None`.
fn prefixed_strings(data: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len);
        if tail.len() < len {
            return None;
        }
        let (s, more) = tail.split_at(len);
        out.push(s);
        rest = more;
    }
    Some(out)
}

/// A digest AuthenticateSession payload (types 3 and 4).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DigestFields {
    pub user: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub cnonce: String,
    pub nc: String,
    pub response: String,
    pub qop: String,
}

/// What an AuthenticateSession carries, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    Query,
    UserPassword { user: String, password: String },
    Digest { rfc2069: bool, fields: DigestFields },
}

impl Credentials {
    /// Decodes the payload of an AuthenticateSession of `auth_type`;
    /// `None` for a type the device does not speak or a malformed payload.
    pub fn decode(auth_type: u8, data: &[u8]) -> Option<Credentials> {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match AuthType::from_byte(auth_type)? {
            AuthType::Query => Some(Credentials::Query),
            AuthType::UserPassword => {
                let parts = prefixed_strings(data)?;
                match parts.as_slice() {
                    [user, password] => Some(Credentials::UserPassword {
                        user: text(user),
                        password: text(password),
                    }),
                    _ => None,
                }
            }
            AuthType::Kerberos => None,
            t @ (AuthType::DigestRfc2069 | AuthType::Digest) => {
                let parts = prefixed_strings(data)?;
                let get = |i: usize| parts.get(i).map(|s| text(s)).unwrap_or_default();
                if parts.len() < 7 {
                    return None;
                }
                Some(Credentials::Digest {
                    rfc2069: t == AuthType::DigestRfc2069,
                    fields: DigestFields {
                        user: get(0),
                        realm: get(1),
                        nonce: get(2),
                        uri: get(3),
                        cnonce: get(4),
                        nc: get(5),
                        response: get(6),
                        qop: get(7),
                    },
                })
            }
        }
    }
}

/// Appends `s` with its u8 length (truncated at 255 bytes).
pub fn push_prefixed(out: &mut Vec<u8>, s: &[u8]) {
    let s = &s[..s.len().min(255)];
    out.push(s.len() as u8);
    out.extend_from_slice(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        ::hex::decode(s).unwrap()
    }

    /// The bytes Debian's amtterm 1.4-3 sends (docs/redirection.md).
    #[test]
    fn amtterm_bytes_parse() {
        let start = hex("10000000534f4c20");
        assert_eq!(
            ClientMessage::parse(&start).unwrap(),
            Some((
                ClientMessage::StartRedirectionSession {
                    tag: *b"SOL ",
                    flags: 0
                },
                8
            ))
        );
        let mut auth = hex("13000000010f000000");
        auth.push(5);
        auth.extend_from_slice(b"admin");
        auth.push(8);
        auth.extend_from_slice(b"P@ssw0rd");
        let (m, used) = ClientMessage::parse(&auth).unwrap().unwrap();
        assert_eq!(used, auth.len());
        let ClientMessage::AuthenticateSession { auth_type, data } = m else {
            panic!("{m:?}")
        };
        assert_eq!(
            Credentials::decode(auth_type, &data),
            Some(Credentials::UserPassword {
                user: "admin".into(),
                password: "P@ssw0rd".into()
            })
        );
        let sol = hex("20000000 00000000 e803 6400 0000 1027 0000 8813 00000000");
        let (m, used) = ClientMessage::parse(&sol).unwrap().unwrap();
        assert_eq!(used, 24);
        assert_eq!(
            m,
            ClientMessage::StartSol {
                seq: 0,
                settings: SolSettings {
                    max_tx_buffer: 1000,
                    tx_timeout: 100,
                    tx_overflow_timeout: 0,
                    rx_timeout: 10000,
                    rx_flush_timeout: 0,
                    heartbeat_interval: 5000,
                }
            }
        );
        let typed = hex("28000000 00000000 0300 616263");
        assert_eq!(
            ClientMessage::parse(&typed).unwrap(),
            Some((
                ClientMessage::SolDataToHost {
                    seq: 0,
                    data: b"abc".to_vec()
                },
                13
            ))
        );
    }

    #[test]
    fn partial_messages_wait_and_garbage_is_an_error() {
        let sol = hex("20000000 00000000 e803 6400 0000 1027 0000 8813 00000000");
        for cut in 0..sol.len() {
            assert_eq!(ClientMessage::parse(&sol[..cut]).unwrap(), None);
        }
        assert_eq!(
            ClientMessage::parse(&[0x99, 0, 0, 0]),
            Err(ParseError::UnknownType(0x99))
        );
        assert!(matches!(
            ClientMessage::parse(&hex("13000000 04 ffffffff")),
            Err(ParseError::AuthTooLong(_))
        ));
    }

    #[test]
    fn replies_have_the_lengths_clients_expect() {
        assert_eq!(start_session_reply(StartStatus::Success).len(), 13);
        assert_eq!(auth_reply(0, 1, &[]), hex("14000000 01 00000000"));
        assert_eq!(
            start_sol_reply(0, 0, &SolSettings::default()).len(),
            START_SOL_REDIRECTION_REPLY_LEN
        );
        assert_eq!(
            sol_data_from_host(0, b"hi"),
            hex("2a000000 00000000 0200 6869")
        );
    }

    proptest::proptest! {
        #[test]
        fn what_parses_encodes_back(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            if let Ok(Some((m, used))) = ClientMessage::parse(&bytes) {
                proptest::prop_assert!(used <= bytes.len());
                let again = ClientMessage::parse(&m.to_bytes()).unwrap().unwrap();
                proptest::prop_assert_eq!(again.0, m);
            }
        }
    }
}
