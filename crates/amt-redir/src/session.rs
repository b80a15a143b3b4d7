//! The device's side of one redirection connection.
//!
//! ```text
//! AwaitStart --0x10--> AwaitAuth(kind) --0x13 ok--> SOL: AwaitSolStart --0x20--> Sol --0x22--> Ending
//!                                                   IDE-R/KVM: AwaitHandover --0x40--> HandedOver
//! ```
//!
//! The caller feeds what the console sent ([`Session::receive`]), what the
//! host wrote to its serial port ([`Session::send_to_console`]) and the
//! time ([`Session::handle_timeout`]); it writes out each
//! [`Session::poll_transmit`] as its own write and acts on each
//! [`Session::poll_event`]. Nothing here reads a clock or a socket.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};

use crate::wire::{
    self, AuthType, ClientMessage, Credentials, DigestFields, ParseError, SessionKind, SolSettings,
    StartStatus,
};

/// The digest uri every client sends.
pub const DIGEST_URI: &str = "/RedirectionService";

/// What the device lets one session do; the server implements it with the
/// device's settings and accounts.
pub trait SessionPolicy {
    /// May a session of `kind` start (listener, `EnabledState`, one KVM at
    /// a time ...)?
    fn start(&mut self, kind: SessionKind) -> StartDecision;
    /// The device's digest realm.
    fn digest_realm(&mut self) -> String;
    /// The HA1 (`MD5(user:realm:password)`) of `user` if the user may use
    /// redirection (the admin, or an enabled ACL entry with the Redirection
    /// realm); `None` refuses the login.
    fn redirection_ha1(&mut self, user: &str) -> Option<[u8; 16]>;
}

/// The answer to a StartRedirectionSession.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartDecision {
    Accept,
    /// Another session of the kind is open (KVM: one at a time).
    Busy,
    /// Disabled (`EnabledState`, `CIM_KVMRedirectionSAP`) or not modelled.
    Unsupported,
    /// Refused for another reason (status 0xFF).
    Error,
}

/// Session settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// The digest nonce (randomness comes in from the caller).
    pub nonce: [u8; 16],
    /// The auth types a query lists, in the device's order.
    pub auth_types: Vec<AuthType>,
    /// How long a console may take from connecting to an open session.
    pub setup_timeout: Duration,
    /// A session that receives nothing this long is closed (the console
    /// vanished). amtterm echoes every heartbeat, so a live one never is.
    pub inactivity_timeout: Duration,
    /// Largest SOLDataFromHost payload (also capped by the console's
    /// MaxTxBuffer).
    pub max_sol_chunk: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            nonce: [0; 16],
            auth_types: vec![
                AuthType::UserPassword,
                AuthType::DigestRfc2069,
                AuthType::Digest,
            ],
            setup_timeout: Duration::from_secs(60),
            inactivity_timeout: Duration::from_secs(120),
            max_sol_chunk: 1024,
        }
    }
}

/// One write. `alone`: the console must see it in a read of its own
/// (amtterm 1.4 consumes its whole receive buffer for 0x14, 0x21, 0x23 and
/// 0x29), so the caller lets it reach the console before the next write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub bytes: Vec<u8>,
    pub alone: bool,
}

/// What the caller must act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A session of `kind` was refused at its start.
    Refused {
        kind: SessionKind,
        status: StartDecision,
    },
    /// The console proved who it is.
    Authenticated { kind: SessionKind, user: String },
    /// A login failed (the user name as given).
    AuthenticationFailed { user: String },
    /// SOL is open: the caller starts forwarding the host's serial output.
    SolOpened { user: String, settings: SolSettings },
    /// Bytes typed at the console, for the host's serial port.
    SolDataToHost(Vec<u8>),
    /// An IDE-R or KVM session is authenticated and its first message came:
    /// `bytes` (starting with 0x40) and everything after belong to that
    /// session's own protocol.
    Handover {
        kind: SessionKind,
        user: String,
        bytes: Vec<u8>,
    },
    /// The session is over; the caller closes the connection after the
    /// last transmit.
    Closed(CloseReason),
}

/// Why a session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// EndRedirectionSession (after EndSOLRedirection or not).
    Ended,
    /// The start was refused.
    Refused,
    /// Too many failed logins.
    AuthenticationFailed,
    /// Not open within the setup time.
    SetupTimeout,
    /// Nothing heard from the console.
    Inactive,
    /// Bytes that are not the protocol.
    Protocol(ParseError),
    /// A message that does not belong in the current state.
    Unexpected(u8),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    AwaitStart,
    AwaitAuth {
        kind: SessionKind,
        failures: u8,
    },
    AwaitSolStart {
        user: String,
    },
    Sol,
    /// EndSOLRedirection answered; waiting for EndRedirectionSession.
    Ending,
    AwaitHandover {
        kind: SessionKind,
        user: String,
    },
    HandedOver,
    Closed,
}

/// Logins a session may fail before it is closed.
pub const MAX_AUTH_FAILURES: u8 = 3;

/// One redirection connection, device side.
#[derive(Debug)]
pub struct Session {
    config: Config,
    state: State,
    buffer: Vec<u8>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    settings: SolSettings,
    tx_seq: u32,
    opened_at: Instant,
    last_heard: Instant,
    next_heartbeat: Option<Instant>,
}

impl Session {
    pub fn new(config: Config, now: Instant) -> Self {
        Session {
            config,
            state: State::AwaitStart,
            buffer: Vec::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            settings: SolSettings::default(),
            tx_seq: 0,
            opened_at: now,
            last_heard: now,
            next_heartbeat: None,
        }
    }

    /// Whether SOL data flows.
    pub fn is_sol_open(&self) -> bool {
        self.state == State::Sol
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed | State::HandedOver)
    }

    /// Bytes from the console.
    pub fn receive(&mut self, bytes: &[u8], now: Instant, policy: &mut dyn SessionPolicy) {
        if self.is_closed() {
            return;
        }
        self.last_heard = now;
        self.buffer.extend_from_slice(bytes);
        loop {
            if let State::AwaitHandover { kind, user } = &self.state {
                if self.buffer.first() == Some(&wire::START_IDER_OR_KVM) {
                    let (kind, user) = (*kind, user.clone());
                    let bytes = std::mem::take(&mut self.buffer);
                    self.state = State::HandedOver;
                    self.events.push_back(Event::Handover { kind, user, bytes });
                    return;
                }
            }
            match ClientMessage::parse(&self.buffer) {
                Ok(None) => return,
                Ok(Some((msg, used))) => {
                    self.buffer.drain(..used);
                    self.handle(msg, now, policy);
                    if self.is_closed() {
                        return;
                    }
                }
                Err(e) => {
                    self.close(CloseReason::Protocol(e));
                    return;
                }
            }
        }
    }

    /// Bytes the host wrote to its serial port; sent while SOL is open
    /// (dropped otherwise, as a UART with nobody listening).
    pub fn send_to_console(&mut self, bytes: &[u8]) {
        if self.state != State::Sol {
            return;
        }
        let cap = match usize::from(self.settings.max_tx_buffer) {
            0 => self.config.max_sol_chunk,
            n => n.min(self.config.max_sol_chunk),
        }
        .max(1);
        for chunk in bytes.chunks(cap) {
            let seq = self.next_seq();
            self.push(wire::sol_data_from_host(seq, chunk), false);
        }
    }

    /// The next write, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] wants to run next.
    pub fn next_timeout(&self) -> Option<Instant> {
        if self.is_closed() {
            return None;
        }
        let limit = match self.state {
            State::AwaitStart | State::AwaitAuth { .. } | State::AwaitSolStart { .. } => {
                self.opened_at + self.config.setup_timeout
            }
            _ => self.last_heard + self.config.inactivity_timeout,
        };
        Some(match self.next_heartbeat {
            Some(h) => h.min(limit),
            None => limit,
        })
    }

    /// Heartbeats and timeouts due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        let setup = matches!(
            self.state,
            State::AwaitStart | State::AwaitAuth { .. } | State::AwaitSolStart { .. }
        );
        if setup && now >= self.opened_at + self.config.setup_timeout {
            self.close(CloseReason::SetupTimeout);
            return;
        }
        if !setup && now >= self.last_heard + self.config.inactivity_timeout {
            self.close(CloseReason::Inactive);
            return;
        }
        if let Some(due) = self.next_heartbeat {
            if now >= due && self.state == State::Sol {
                let seq = self.next_seq();
                self.push(wire::heartbeat(seq), false);
                let every = Duration::from_millis(u64::from(self.settings.heartbeat_interval));
                self.next_heartbeat = Some(now + every);
            }
        }
    }

    /// Ends the session from the device's side (a fault, the listener
    /// closing): no more bytes are read or sent.
    pub fn abort(&mut self, reason: CloseReason) {
        if !self.is_closed() {
            self.close(reason);
        }
    }

    fn next_seq(&mut self) -> u32 {
        let s = self.tx_seq;
        self.tx_seq = self.tx_seq.wrapping_add(1);
        s
    }

    fn push(&mut self, bytes: Vec<u8>, alone: bool) {
        self.transmits.push_back(Transmit { bytes, alone });
    }

    fn close(&mut self, reason: CloseReason) {
        self.state = State::Closed;
        self.next_heartbeat = None;
        self.events.push_back(Event::Closed(reason));
    }

    fn handle(&mut self, msg: ClientMessage, now: Instant, policy: &mut dyn SessionPolicy) {
        match (&self.state, msg) {
            (_, ClientMessage::EndRedirectionSession) => self.close(CloseReason::Ended),
            // Keep-alives are answered in any state after the start.
            (State::AwaitStart, ClientMessage::KeepAlivePing { .. }) => {
                self.close(CloseReason::Unexpected(wire::SOL_KEEP_ALIVE_PING))
            }
            (_, ClientMessage::KeepAlivePing { seq }) => {
                self.push(wire::keep_alive_pong(seq), false)
            }
            // An echo of our heartbeat, or the console's own: activity only
            // (echoing it back would ping-pong with amtterm forever).
            (_, ClientMessage::Heartbeat { .. } | ClientMessage::KeepAlivePong { .. }) => {}
            (State::AwaitStart, ClientMessage::StartRedirectionSession { tag, .. }) => {
                self.start(tag, policy)
            }
            (
                State::AwaitAuth { kind, failures },
                ClientMessage::AuthenticateSession { auth_type, data },
            ) => {
                let (kind, failures) = (*kind, *failures);
                self.authenticate(kind, failures, auth_type, &data, policy)
            }
            (State::AwaitSolStart { user }, ClientMessage::StartSol { seq, settings }) => {
                let user = user.clone();
                self.settings = settings;
                self.state = State::Sol;
                self.push(wire::start_sol_reply(0, seq, &settings), true);
                if settings.heartbeat_interval > 0 {
                    self.next_heartbeat =
                        Some(now + Duration::from_millis(u64::from(settings.heartbeat_interval)));
                }
                self.events.push_back(Event::SolOpened { user, settings });
            }
            (State::Sol, ClientMessage::SolDataToHost { data, .. }) => {
                if !data.is_empty() {
                    self.events.push_back(Event::SolDataToHost(data));
                }
            }
            (State::Sol, ClientMessage::MeshCommanderSettings { .. }) => {}
            (State::Sol, ClientMessage::EndSol { seq }) => {
                self.state = State::Ending;
                self.next_heartbeat = None;
                self.push(wire::end_sol_reply(seq), true);
            }
            // amtterm sends its ^] as data right after EndSOLRedirection.
            (State::Ending, ClientMessage::SolDataToHost { .. }) => {}
            (_, other) => {
                let byte = other.to_bytes().first().copied().unwrap_or(0);
                self.close(CloseReason::Unexpected(byte));
            }
        }
    }

    fn start(&mut self, tag: [u8; 4], policy: &mut dyn SessionPolicy) {
        let Some(kind) = SessionKind::from_tag(tag) else {
            self.push(wire::start_session_reply(StartStatus::UnknownType), false);
            self.close(CloseReason::Refused);
            return;
        };
        let decision = policy.start(kind);
        let status = match decision {
            StartDecision::Accept => StartStatus::Success,
            StartDecision::Busy => StartStatus::Busy,
            StartDecision::Unsupported => StartStatus::Unsupported,
            StartDecision::Error => StartStatus::Error,
        };
        self.push(wire::start_session_reply(status), false);
        if decision == StartDecision::Accept {
            self.state = State::AwaitAuth { kind, failures: 0 };
        } else {
            self.events.push_back(Event::Refused {
                kind,
                status: decision,
            });
            self.close(CloseReason::Refused);
        }
    }

    fn authenticate(
        &mut self,
        kind: SessionKind,
        failures: u8,
        auth_type: u8,
        data: &[u8],
        policy: &mut dyn SessionPolicy,
    ) {
        let offered = |t: AuthType| self.config.auth_types.contains(&t);
        let creds = Credentials::decode(auth_type, data);
        let verdict = match creds {
            Some(Credentials::Query) => {
                let list: Vec<u8> = self.config.auth_types.iter().map(|t| t.byte()).collect();
                self.push(wire::auth_reply(wire::AUTH_SUCCESS, 0, &list), true);
                return;
            }
            Some(Credentials::UserPassword { user, password })
                if offered(AuthType::UserPassword) =>
            {
                let realm = policy.digest_realm();
                let ok = policy.redirection_ha1(&user).is_some_and(|ha1| {
                    ha1 == <[u8; 16]>::from(Md5::digest(format!("{user}:{realm}:{password}")))
                });
                Some((user, ok))
            }
            Some(Credentials::Digest { rfc2069, fields })
                if offered(if rfc2069 {
                    AuthType::DigestRfc2069
                } else {
                    AuthType::Digest
                }) =>
            {
                if fields.nonce.is_empty() || fields.response.is_empty() {
                    // The opening round: the console learns realm and nonce.
                    let mut out = Vec::new();
                    wire::push_prefixed(&mut out, policy.digest_realm().as_bytes());
                    wire::push_prefixed(&mut out, self.nonce().as_bytes());
                    if !rfc2069 {
                        wire::push_prefixed(&mut out, b"auth");
                    }
                    self.push(wire::auth_reply(wire::AUTH_FAILURE, auth_type, &out), true);
                    return;
                }
                let ok = self.digest_ok(rfc2069, &fields, policy);
                Some((fields.user, ok))
            }
            _ => None,
        };
        match verdict {
            None => {
                self.push(
                    wire::auth_reply(wire::AUTH_NOT_SUPPORTED, auth_type, &[]),
                    true,
                );
            }
            Some((user, true)) => {
                self.push(wire::auth_reply(wire::AUTH_SUCCESS, auth_type, &[]), true);
                self.events.push_back(Event::Authenticated {
                    kind,
                    user: user.clone(),
                });
                self.state = match kind {
                    SessionKind::Sol => State::AwaitSolStart { user },
                    SessionKind::Ider | SessionKind::Kvm => State::AwaitHandover { kind, user },
                };
            }
            Some((user, false)) => {
                self.push(wire::auth_reply(wire::AUTH_FAILURE, auth_type, &[]), true);
                self.events.push_back(Event::AuthenticationFailed { user });
                let failures = failures.saturating_add(1);
                if failures >= MAX_AUTH_FAILURES {
                    self.close(CloseReason::AuthenticationFailed);
                } else {
                    self.state = State::AwaitAuth { kind, failures };
                }
            }
        }
    }

    fn nonce(&self) -> String {
        hex::encode(self.config.nonce)
    }

    fn digest_ok(&self, rfc2069: bool, f: &DigestFields, policy: &mut dyn SessionPolicy) -> bool {
        let realm = policy.digest_realm();
        if f.realm != realm || f.nonce != self.nonce() || (!rfc2069 && f.qop != "auth") {
            return false;
        }
        let Some(ha1) = policy.redirection_ha1(&f.user) else {
            return false;
        };
        let ha1 = hex::encode(ha1);
        let ha2 = hex::encode(Md5::digest(format!("POST:{}", f.uri)));
        let expected = if rfc2069 {
            Md5::digest(format!("{ha1}:{}:{ha2}", f.nonce))
        } else {
            Md5::digest(format!(
                "{ha1}:{}:{}:{}:{}:{ha2}",
                f.nonce, f.nc, f.cnonce, f.qop
            ))
        };
        hex::encode(expected) == f.response.to_ascii_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Device {
        sol: bool,
    }

    const REALM: &str = "Digest:0123456789ABCDEF0000000000000000";

    fn ha1(user: &str, pass: &str) -> [u8; 16] {
        Md5::digest(format!("{user}:{REALM}:{pass}")).into()
    }

    impl SessionPolicy for Device {
        fn start(&mut self, kind: SessionKind) -> StartDecision {
            match kind {
                SessionKind::Sol if self.sol => StartDecision::Accept,
                _ => StartDecision::Unsupported,
            }
        }
        fn digest_realm(&mut self) -> String {
            REALM.into()
        }
        fn redirection_ha1(&mut self, user: &str) -> Option<[u8; 16]> {
            (user == "admin").then(|| ha1("admin", "P@ssw0rd"))
        }
    }

    fn amtterm_auth(user: &str, pass: &str) -> Vec<u8> {
        let mut data = Vec::new();
        wire::push_prefixed(&mut data, user.as_bytes());
        wire::push_prefixed(&mut data, pass.as_bytes());
        ClientMessage::AuthenticateSession { auth_type: 1, data }.to_bytes()
    }

    fn drain(s: &mut Session) -> (Vec<Transmit>, Vec<Event>) {
        (
            std::iter::from_fn(|| s.poll_transmit()).collect(),
            std::iter::from_fn(|| s.poll_event()).collect(),
        )
    }

    const START_SOL: &str = "10000000534f4c20";
    const AMTTERM_SOL: &str = "2000000000000000e80364000000102700008813 00000000";

    fn bytes(h: &str) -> Vec<u8> {
        hex::decode(h.split_whitespace().collect::<String>()).unwrap()
    }

    #[test]
    fn amtterm_opens_sol_types_and_ends() {
        let t0 = Instant::now();
        let mut dev = Device { sol: true };
        let mut s = Session::new(Config::default(), t0);
        s.receive(&bytes(START_SOL), t0, &mut dev);
        let (tx, _) = drain(&mut s);
        assert_eq!(tx.len(), 1);
        assert_eq!(tx[0].bytes.len(), 13);
        assert_eq!(tx[0].bytes[..2], [0x11, 0]);

        s.receive(&amtterm_auth("admin", "P@ssw0rd"), t0, &mut dev);
        let (tx, ev) = drain(&mut s);
        assert_eq!(tx[0].bytes, bytes("14000000 01 00000000"));
        assert!(tx[0].alone);
        assert_eq!(
            ev,
            [Event::Authenticated {
                kind: SessionKind::Sol,
                user: "admin".into()
            }]
        );

        s.receive(&bytes(AMTTERM_SOL), t0, &mut dev);
        let (tx, ev) = drain(&mut s);
        assert_eq!(tx[0].bytes.len(), 23);
        assert_eq!(tx[0].bytes[..2], [0x21, 0]);
        assert!(matches!(ev[0], Event::SolOpened { .. }));

        s.send_to_console(b"login: ");
        let (tx, _) = drain(&mut s);
        assert_eq!(tx[0].bytes, wire::sol_data_from_host(0, b"login: "));

        s.receive(&bytes("28000000 00000000 0300 616263"), t0, &mut dev);
        assert_eq!(drain(&mut s).1, [Event::SolDataToHost(b"abc".to_vec())]);

        // Heartbeats every 5 s; amtterm's echo is activity, not answered.
        assert_eq!(s.next_timeout(), Some(t0 + Duration::from_secs(5)));
        s.handle_timeout(t0 + Duration::from_secs(5));
        let (tx, _) = drain(&mut s);
        assert_eq!(tx[0].bytes[0], 0x2B);
        s.receive(&tx[0].bytes, t0 + Duration::from_secs(5), &mut dev);
        assert_eq!(drain(&mut s), (vec![], vec![]));

        // ^]: EndSOL, the ^] as data, then EndRedirectionSession.
        s.receive(&bytes("22000000 00000000"), t0, &mut dev);
        s.receive(&bytes("28000000 00000000 0100 1d"), t0, &mut dev);
        s.receive(&bytes("12000000"), t0, &mut dev);
        let (tx, ev) = drain(&mut s);
        assert_eq!(tx[0].bytes, bytes("23000000 00000000"));
        assert_eq!(ev, [Event::Closed(CloseReason::Ended)]);
    }

    #[test]
    fn sol_disabled_is_refused_at_the_start() {
        let t0 = Instant::now();
        let mut s = Session::new(Config::default(), t0);
        s.receive(&bytes(START_SOL), t0, &mut Device { sol: false });
        let (tx, ev) = drain(&mut s);
        assert_eq!(tx[0].bytes[..2], [0x11, 3]);
        assert_eq!(ev.last(), Some(&Event::Closed(CloseReason::Refused)));
    }

    #[test]
    fn wrong_password_and_unknown_user_fail_then_close() {
        let t0 = Instant::now();
        let mut dev = Device { sol: true };
        let mut s = Session::new(Config::default(), t0);
        s.receive(&bytes(START_SOL), t0, &mut dev);
        for (user, pass) in [("admin", "nope"), ("operator", "P@ssw0rd"), ("admin", "x")] {
            s.receive(&amtterm_auth(user, pass), t0, &mut dev);
        }
        let (tx, ev) = drain(&mut s);
        assert!(tx[1..].iter().all(|t| t.bytes[..2] == [0x14, 1]));
        assert_eq!(
            ev.last(),
            Some(&Event::Closed(CloseReason::AuthenticationFailed))
        );
    }

    /// Query, then the two digest rounds as MeshCommander builds them.
    #[test]
    fn query_and_digest() {
        let t0 = Instant::now();
        let mut dev = Device { sol: true };
        let config = Config {
            nonce: [0xAB; 16],
            ..Config::default()
        };
        let mut s = Session::new(config, t0);
        s.receive(&bytes(START_SOL), t0, &mut dev);
        s.receive(&bytes("13000000 00 00000000"), t0, &mut dev);
        let (tx, _) = drain(&mut s);
        assert_eq!(tx[1].bytes, bytes("14000000 00 03000000 010304"));

        let digest = |fields: &[&str]| {
            let mut data = Vec::new();
            for f in fields {
                wire::push_prefixed(&mut data, f.as_bytes());
            }
            ClientMessage::AuthenticateSession { auth_type: 4, data }.to_bytes()
        };
        s.receive(
            &digest(&["admin", "", "", DIGEST_URI, "", "", "", ""]),
            t0,
            &mut dev,
        );
        let (tx, _) = drain(&mut s);
        let reply = &tx[0].bytes;
        assert_eq!(reply[..2], [0x14, 1]);
        let nonce = hex::encode([0xAB; 16]);
        let mut expect = Vec::new();
        wire::push_prefixed(&mut expect, REALM.as_bytes());
        wire::push_prefixed(&mut expect, nonce.as_bytes());
        wire::push_prefixed(&mut expect, b"auth");
        assert_eq!(reply[9..], expect[..]);

        let ha1 = hex::encode(ha1("admin", "P@ssw0rd"));
        let ha2 = hex::encode(Md5::digest(format!("POST:{DIGEST_URI}")));
        let response = hex::encode(Md5::digest(format!(
            "{ha1}:{nonce}:00000002:c0ffee:auth:{ha2}"
        )));
        s.receive(
            &digest(&[
                "admin", REALM, &nonce, DIGEST_URI, "c0ffee", "00000002", &response, "auth",
            ]),
            t0,
            &mut dev,
        );
        let (tx, ev) = drain(&mut s);
        assert_eq!(tx[0].bytes[..2], [0x14, 0]);
        assert!(matches!(ev[0], Event::Authenticated { .. }));
    }

    #[test]
    fn kvm_hands_over_after_authentication() {
        struct Kvm;
        impl SessionPolicy for Kvm {
            fn start(&mut self, _: SessionKind) -> StartDecision {
                StartDecision::Accept
            }
            fn digest_realm(&mut self) -> String {
                REALM.into()
            }
            fn redirection_ha1(&mut self, _: &str) -> Option<[u8; 16]> {
                Some(ha1("admin", "P@ssw0rd"))
            }
        }
        let t0 = Instant::now();
        let mut s = Session::new(Config::default(), t0);
        s.receive(&bytes("10010000 4b564d52"), t0, &mut Kvm);
        s.receive(&amtterm_auth("admin", "P@ssw0rd"), t0, &mut Kvm);
        s.receive(&bytes("40000000 00000000 5246"), t0, &mut Kvm);
        let (_, ev) = drain(&mut s);
        assert_eq!(
            ev.last(),
            Some(&Event::Handover {
                kind: SessionKind::Kvm,
                user: "admin".into(),
                bytes: bytes("40000000 00000000 5246")
            })
        );
        assert!(s.is_closed());
    }

    #[test]
    fn a_silent_console_times_out() {
        let t0 = Instant::now();
        let mut s = Session::new(Config::default(), t0);
        let when = s.next_timeout().unwrap();
        s.handle_timeout(when);
        assert_eq!(
            s.poll_event(),
            Some(Event::Closed(CloseReason::SetupTimeout))
        );
        assert_eq!(s.next_timeout(), None);
    }
}
