//! The device's side of an APF session, as a state machine in the manner
//! of quinn-proto: the driver feeds it the bytes read from the TLS stream
//! ([`Client::handle_input`]) and the time ([`Client::handle_timeout`]),
//! and takes from it the messages to write ([`Client::poll_transmit`]),
//! what happened ([`Client::poll_event`]) and when to wake it next
//! ([`Client::poll_timeout`]). It owns no socket and reads no clock.
//!
//! The handshake, in the order every MPS accepts (docs/cira.md):
//! PROTOCOLVERSION and SERVICE_REQUEST `auth@amt.intel.com` back to
//! back; USERAUTH_REQUEST once the service is accepted; SERVICE_REQUEST
//! `pfwd@amt.intel.com` after USERAUTH_SUCCESS; then one `tcpip-forward`
//! per port, each sent after the previous one is answered. Then the MPS
//! opens channels, and both sides keep the tunnel alive.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crate::wire::{DisconnectReason, Message, ParseError, AUTH_SERVICE, PFWD_SERVICE};

/// The channel types an MPS opens towards the device.
const FORWARDED_TCPIP: &str = "forwarded-tcpip";
const DIRECT_TCPIP: &str = "direct-tcpip";

/// CHANNEL_OPEN_FAILURE reasons.
pub const OPEN_ADMINISTRATIVELY_PROHIBITED: u32 = 1;
pub const OPEN_CONNECT_FAILED: u32 = 2;
pub const OPEN_UNKNOWN_CHANNEL_TYPE: u32 = 3;
pub const OPEN_RESOURCE_SHORTAGE: u32 = 4;

/// What a session is made with.
#[derive(Clone, Debug)]
pub struct Config {
    /// The device UUID in its text byte order (`8-4-4-4-12`); sent as a
    /// GUID.
    pub uuid: [u8; 16],
    pub username: String,
    pub password: String,
    /// PROTOCOLVERSION trigger reason (1 user, 2 alert, 4 periodic).
    pub trigger: u32,
    /// The address given in each `tcpip-forward` (the device host name).
    pub forward_address: String,
    /// The ports to register, in order.
    pub forward_ports: Vec<u16>,
    /// The ports whose channels the driver serves; others are refused
    /// with "connect failed".
    pub serve_ports: Vec<u16>,
    /// Keep-alive interval until the MPS sets one.
    pub keepalive_interval: Duration,
    /// How long a keep-alive may go unanswered (when the MPS sets none).
    pub keepalive_timeout: Duration,
    /// How long the handshake may take, up to the last forward answered.
    pub setup_timeout: Duration,
    /// The window offered on each channel.
    pub channel_window: u32,
    /// The most data one CHANNEL_DATA carries from the device.
    pub max_data: usize,
    pub max_channels: usize,
}

impl Config {
    /// Defaults for what the firmware does not tell (open questions in
    /// docs/cira.md): 4 KiB windows and messages (what the DMT console
    /// reads at once), keep-alives every 30 s answered within 60 s.
    pub fn new(uuid: [u8; 16], username: &str, password: &str) -> Self {
        Config {
            uuid,
            username: username.to_string(),
            password: password.to_string(),
            trigger: 4,
            forward_address: String::new(),
            forward_ports: vec![16993, 16992],
            serve_ports: vec![16992, 16993],
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(60),
            setup_timeout: Duration::from_secs(60),
            channel_window: 4096,
            max_data: 4096 - 9,
            max_channels: 16,
        }
    }
}

/// A channel, by the device's own id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelId(pub u32);

/// Where the session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// PROTOCOLVERSION and the auth service request sent.
    AwaitingAuthService,
    /// USERAUTH_REQUEST sent.
    Authenticating,
    /// Authenticated; the port-forwarding service requested.
    AwaitingForwardService,
    /// Registering forward `n` of the configured ports.
    Forwarding(usize),
    /// Every forward answered: the MPS may open channels.
    Established,
    Closed,
}

/// Why the session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The MPS sent DISCONNECT with this reason.
    DisconnectedByMps(u32),
    /// The MPS refused the user name or password.
    AuthenticationFailed,
    /// The MPS sent something APF does not allow here.
    ProtocolError(String),
    /// A keep-alive went unanswered.
    KeepAliveTimeout,
    /// The handshake did not complete in time.
    SetupTimeout,
    /// The driver closed it ([`Client::disconnect`]).
    Local(u32),
}

/// What happened, for the driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Authenticated,
    ForwardAccepted {
        port: u16,
    },
    ForwardRefused {
        port: u16,
    },
    /// Every forward answered.
    Established,
    /// The MPS set the keep-alive interval and timeout (seconds).
    KeepAliveOptions {
        interval: u32,
        timeout: u32,
    },
    /// The MPS opened a channel to `port`.
    ChannelOpened {
        channel: ChannelId,
        port: u16,
        originator: String,
        originator_port: u32,
    },
    ChannelData {
        channel: ChannelId,
        data: Vec<u8>,
    },
    /// The channel is gone (closed by either side).
    ChannelClosed {
        channel: ChannelId,
    },
    Closed(CloseReason),
}

/// Errors of the driver's calls.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChannelError {
    #[error("no such channel")]
    UnknownChannel,
    #[error("the channel is closing")]
    Closing,
    #[error("the session is closed")]
    SessionClosed,
}

#[derive(Debug)]
struct Channel {
    peer: u32,
    port: u16,
    /// Bytes the MPS still lets us send.
    send_window: u32,
    /// Bytes we still let the MPS send.
    receive_window: u32,
    /// Received since the last WINDOW_ADJUST.
    unacknowledged: u32,
    /// Waiting for window.
    pending: VecDeque<u8>,
    /// The driver asked to close (sent once `pending` drains).
    closing: bool,
    close_sent: bool,
}

/// One APF session, device side.
#[derive(Debug)]
pub struct Client {
    config: Config,
    phase: Phase,
    input: Vec<u8>,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    channels: BTreeMap<u32, Channel>,
    next_channel: u32,
    keepalive_interval: Duration,
    keepalive_timeout: Duration,
    next_keepalive: Instant,
    /// The cookie of the keep-alive awaiting its reply, and its deadline.
    outstanding: Option<(u32, Instant)>,
    cookie: u32,
    setup_deadline: Instant,
}

impl Client {
    /// Starts a session: the first two messages are queued.
    pub fn new(config: Config, now: Instant) -> Self {
        let mut c = Client {
            keepalive_interval: config.keepalive_interval,
            keepalive_timeout: config.keepalive_timeout,
            next_keepalive: now + config.keepalive_interval,
            setup_deadline: now + config.setup_timeout,
            config,
            phase: Phase::AwaitingAuthService,
            input: Vec::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            channels: BTreeMap::new(),
            next_channel: 1,
            outstanding: None,
            cookie: 0,
        };
        c.send(Message::ProtocolVersion {
            major: 1,
            minor: 0,
            trigger: c.config.trigger,
            uuid: crate::wire::uuid_to_wire(c.config.uuid),
        });
        c.send(Message::ServiceRequest {
            service: AUTH_SERVICE.into(),
        });
        c
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// The channels open now.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// The next message to write, if any. Each is one APF message, so a
    /// driver that writes each as its own TLS record serves MPSs that
    /// parse one message per read.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Client::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Closed => None,
            Phase::Established => Some(match self.outstanding {
                Some((_, deadline)) => deadline,
                None => self.next_keepalive,
            }),
            _ => Some(self.setup_deadline),
        }
    }

    /// Bytes read from the MPS.
    pub fn handle_input(&mut self, bytes: &[u8], now: Instant) {
        if self.is_closed() {
            return;
        }
        self.input.extend_from_slice(bytes);
        let mut used = 0;
        while !self.is_closed() {
            let expecting_port = matches!(self.phase, Phase::Forwarding(_));
            match Message::parse_expecting(&self.input[used..], expecting_port) {
                Ok(None) => break,
                Ok(Some((msg, n))) => {
                    used += n;
                    self.on_message(msg, now);
                }
                Err(e) => {
                    self.protocol_error(e);
                    break;
                }
            }
        }
        self.input.drain(..used.min(self.input.len()));
    }

    /// The time passed: keep-alives and their deadlines, the setup bound.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.phase {
            Phase::Closed => {}
            Phase::Established => {
                if let Some((_, deadline)) = self.outstanding {
                    if now >= deadline {
                        self.close_with(
                            CloseReason::KeepAliveTimeout,
                            Some(DisconnectReason::CONNECTION_TIMED_OUT),
                        );
                    }
                } else if now >= self.next_keepalive {
                    self.cookie = self.cookie.wrapping_add(1);
                    self.send(Message::KeepaliveRequest {
                        cookie: self.cookie,
                    });
                    self.outstanding = Some((self.cookie, now + self.keepalive_timeout));
                }
            }
            _ => {
                if now >= self.setup_deadline {
                    self.close_with(
                        CloseReason::SetupTimeout,
                        Some(DisconnectReason::CONNECTION_TIMED_OUT),
                    );
                }
            }
        }
    }

    /// Queues data on a channel; what the MPS's window does not allow yet
    /// waits for its WINDOW_ADJUST.
    pub fn send_data(&mut self, channel: ChannelId, data: &[u8]) -> Result<(), ChannelError> {
        if self.is_closed() {
            return Err(ChannelError::SessionClosed);
        }
        let ch = self
            .channels
            .get_mut(&channel.0)
            .ok_or(ChannelError::UnknownChannel)?;
        if ch.closing {
            return Err(ChannelError::Closing);
        }
        ch.pending.extend(data);
        self.flush(channel.0);
        Ok(())
    }

    /// Closes a channel once its queued data is sent.
    pub fn close_channel(&mut self, channel: ChannelId) -> Result<(), ChannelError> {
        let ch = self
            .channels
            .get_mut(&channel.0)
            .ok_or(ChannelError::UnknownChannel)?;
        ch.closing = true;
        self.flush(channel.0);
        Ok(())
    }

    /// Ends the session with DISCONNECT.
    pub fn disconnect(&mut self, reason: DisconnectReason) {
        self.close_with(CloseReason::Local(reason.0), Some(reason));
    }

    /// The transport ended without a DISCONNECT.
    pub fn connection_lost(&mut self) {
        self.close_with(
            CloseReason::DisconnectedByMps(DisconnectReason::CONNECTION_LOST.0),
            None,
        );
    }

    fn send(&mut self, msg: Message) {
        self.transmit.push_back(msg.to_bytes());
    }

    fn protocol_error(&mut self, e: ParseError) {
        self.close_with(
            CloseReason::ProtocolError(e.to_string()),
            Some(DisconnectReason::PROTOCOL_ERROR),
        );
    }

    fn unexpected(&mut self, what: &str) {
        let phase = self.phase;
        self.close_with(
            CloseReason::ProtocolError(format!("{what} in {phase:?}")),
            Some(DisconnectReason::PROTOCOL_ERROR),
        );
    }

    fn close_with(&mut self, reason: CloseReason, send: Option<DisconnectReason>) {
        if self.is_closed() {
            return;
        }
        if let Some(r) = send {
            self.send(Message::Disconnect { reason: r.0 });
        }
        for id in std::mem::take(&mut self.channels).into_keys() {
            self.events.push_back(Event::ChannelClosed {
                channel: ChannelId(id),
            });
        }
        self.phase = Phase::Closed;
        self.events.push_back(Event::Closed(reason));
    }

    fn request_next_forward(&mut self, index: usize) {
        match self.config.forward_ports.get(index) {
            Some(port) => {
                self.phase = Phase::Forwarding(index);
                self.send(Message::GlobalRequest {
                    name: "tcpip-forward".into(),
                    want_reply: true,
                    address: self.config.forward_address.clone(),
                    port: u32::from(*port),
                    rest: Vec::new(),
                });
            }
            None => {
                self.phase = Phase::Established;
                self.events.push_back(Event::Established);
            }
        }
    }

    fn on_message(&mut self, msg: Message, now: Instant) {
        match (self.phase, msg) {
            (_, Message::Disconnect { reason }) => {
                self.close_with(CloseReason::DisconnectedByMps(reason), None)
            }
            (_, Message::KeepaliveRequest { cookie }) => {
                self.send(Message::KeepaliveReply { cookie })
            }
            (_, Message::KeepaliveReply { cookie }) => {
                if self.outstanding.is_some_and(|(c, _)| c == cookie) {
                    self.outstanding = None;
                    self.next_keepalive = now + self.keepalive_interval;
                }
            }
            (_, Message::JsonControl { .. }) => {}
            (Phase::AwaitingAuthService, Message::ServiceAccept { service })
                if service == AUTH_SERVICE =>
            {
                self.phase = Phase::Authenticating;
                self.send(Message::UserauthRequest {
                    username: self.config.username.clone(),
                    service: PFWD_SERVICE.into(),
                    method: "password".into(),
                    password: self.config.password.clone(),
                });
            }
            (Phase::Authenticating, Message::UserauthSuccess) => {
                self.events.push_back(Event::Authenticated);
                self.phase = Phase::AwaitingForwardService;
                self.send(Message::ServiceRequest {
                    service: PFWD_SERVICE.into(),
                });
            }
            (Phase::Authenticating, Message::UserauthFailure { .. }) => self.close_with(
                CloseReason::AuthenticationFailed,
                Some(DisconnectReason::NO_MORE_AUTH_METHODS),
            ),
            (Phase::AwaitingForwardService, Message::ServiceAccept { service })
                if service == PFWD_SERVICE =>
            {
                self.request_next_forward(0)
            }
            (Phase::Forwarding(i), Message::RequestSuccess { .. }) => {
                let port = self.config.forward_ports.get(i).copied().unwrap_or(0);
                self.events.push_back(Event::ForwardAccepted { port });
                self.request_next_forward(i + 1);
            }
            (Phase::Forwarding(i), Message::RequestFailure) => {
                let port = self.config.forward_ports.get(i).copied().unwrap_or(0);
                self.events.push_back(Event::ForwardRefused { port });
                self.request_next_forward(i + 1);
            }
            (
                Phase::Forwarding(_) | Phase::Established | Phase::AwaitingForwardService,
                Message::KeepaliveOptionsRequest { interval, timeout },
            ) => {
                // MeshCentral and the DMT MPS send these on the 5900
                // forward, before its REQUEST_SUCCESS.
                if interval > 0 {
                    self.keepalive_interval = Duration::from_secs(u64::from(interval));
                    self.next_keepalive = now + self.keepalive_interval;
                }
                if timeout > 0 {
                    self.keepalive_timeout = Duration::from_secs(u64::from(timeout));
                }
                self.send(Message::KeepaliveOptionsReply { interval, timeout });
                self.events
                    .push_back(Event::KeepAliveOptions { interval, timeout });
            }
            (
                Phase::Forwarding(_) | Phase::Established,
                Message::GlobalRequest { want_reply, .. },
            ) => {
                if want_reply {
                    self.send(Message::RequestFailure);
                }
            }
            (Phase::Forwarding(_) | Phase::Established, open @ Message::ChannelOpen { .. }) => {
                self.on_channel_open(open)
            }
            (
                Phase::Forwarding(_) | Phase::Established,
                Message::ChannelData { recipient, data },
            ) => self.on_channel_data(recipient, data),
            (
                Phase::Forwarding(_) | Phase::Established,
                Message::ChannelWindowAdjust { recipient, bytes },
            ) => {
                if let Some(ch) = self.channels.get_mut(&recipient) {
                    ch.send_window = ch.send_window.saturating_add(bytes);
                    self.flush(recipient);
                }
            }
            (Phase::Forwarding(_) | Phase::Established, Message::ChannelClose { recipient }) => {
                if let Some(ch) = self.channels.remove(&recipient) {
                    // Answer with our own close unless we sent it already.
                    if !ch.close_sent {
                        self.send(Message::ChannelClose { recipient: ch.peer });
                    }
                    self.events.push_back(Event::ChannelClosed {
                        channel: ChannelId(recipient),
                    });
                }
            }
            (_, other) => {
                self.unexpected(&format!("{other:?}").chars().take(60).collect::<String>())
            }
        }
    }

    fn on_channel_open(&mut self, open: Message) {
        let Message::ChannelOpen {
            channel_type,
            sender,
            window,
            connected_port,
            originator_address,
            originator_port,
            ..
        } = open
        else {
            return;
        };
        let refuse = |reason| Message::ChannelOpenFailure {
            recipient: sender,
            reason,
        };
        if channel_type != FORWARDED_TCPIP && channel_type != DIRECT_TCPIP {
            self.send(refuse(OPEN_UNKNOWN_CHANNEL_TYPE));
            return;
        }
        let port = u16::try_from(connected_port).ok();
        let Some(port) = port.filter(|p| self.config.serve_ports.contains(p)) else {
            self.send(refuse(OPEN_CONNECT_FAILED));
            return;
        };
        if self.channels.len() >= self.config.max_channels {
            self.send(refuse(OPEN_RESOURCE_SHORTAGE));
            return;
        }
        let id = self.next_channel;
        self.next_channel = self.next_channel.wrapping_add(1).max(1);
        self.channels.insert(
            id,
            Channel {
                peer: sender,
                port,
                send_window: window,
                receive_window: self.config.channel_window,
                unacknowledged: 0,
                pending: VecDeque::new(),
                closing: false,
                close_sent: false,
            },
        );
        self.send(Message::ChannelOpenConfirmation {
            recipient: sender,
            sender: id,
            window: self.config.channel_window,
        });
        self.events.push_back(Event::ChannelOpened {
            channel: ChannelId(id),
            port,
            originator: originator_address,
            originator_port,
        });
    }

    fn on_channel_data(&mut self, recipient: u32, data: Vec<u8>) {
        let half = self.config.channel_window / 2;
        let Some(ch) = self.channels.get_mut(&recipient) else {
            // Data racing our close: dropped, as after a close in SSH.
            return;
        };
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        if len > ch.receive_window {
            self.unexpected("CHANNEL_DATA beyond the window");
            return;
        }
        ch.receive_window -= len;
        ch.unacknowledged += len;
        // No WINDOW_ADJUST once our CHANNEL_CLOSE is out: nothing may follow
        // it on the channel (MeshCentral logs one as an unknown channel).
        let adjust = (ch.unacknowledged > half && !ch.close_sent).then(|| {
            let n = ch.unacknowledged;
            ch.unacknowledged = 0;
            ch.receive_window += n;
            (ch.peer, n)
        });
        // The driver takes the data at once, so the window reopens as it
        // arrives.
        if let Some((peer, bytes)) = adjust {
            self.send(Message::ChannelWindowAdjust {
                recipient: peer,
                bytes,
            });
        }
        self.events.push_back(Event::ChannelData {
            channel: ChannelId(recipient),
            data,
        });
    }

    /// Sends what the window allows, then the close if one is due.
    fn flush(&mut self, id: u32) {
        let max = self.config.max_data.max(1);
        let mut out = Vec::new();
        let Some(ch) = self.channels.get_mut(&id) else {
            return;
        };
        while !ch.pending.is_empty() && ch.send_window > 0 {
            let n = ch
                .pending
                .len()
                .min(max)
                .min(usize::try_from(ch.send_window).unwrap_or(usize::MAX));
            let data: Vec<u8> = ch.pending.drain(..n).collect();
            ch.send_window -= n as u32;
            out.push(Message::ChannelData {
                recipient: ch.peer,
                data,
            });
        }
        // Keep the entry until the MPS answers, so its close is known.
        let close = ch.closing && ch.pending.is_empty() && !ch.close_sent;
        if close {
            ch.close_sent = true;
        }
        let peer = ch.peer;
        for m in out {
            self.send(m);
        }
        if close {
            self.send(Message::ChannelClose { recipient: peer });
        }
    }

    /// The port a channel was opened to.
    pub fn channel_port(&self, channel: ChannelId) -> Option<u16> {
        self.channels.get(&channel.0).map(|c| c.port)
    }
}
