//! The CIRA driver: the device dials out over TLS to the Management
//! Presence Server its remote-access policies name, speaks APF inside the
//! tunnel (the pure `amt-apf` session), and serves each channel the MPS
//! opens to 16992 (plain) or 16993 (TLS inside the channel) through the
//! same request path as a direct connection (docs/cira.md).
//!
//! One task per device. It holds only a weak reference to the device
//! host, so dropping the emulator ends the tunnel: the task notices within
//! a second, sends DISCONNECT and stops.
//!
//! What starts a tunnel: a user-initiated request (the control API's
//! "button"), else a periodic rule. Only outside the intranet, unless the
//! rule's MPS is marked internal too. A failed attempt is retried with a
//! doubling backoff (1 s up to [`MAX_BACKOFF`], never longer than a
//! periodic rule's interval); a tunnel that was up resets it.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use amt_apf::{ChannelId, Client, CloseReason, Config, DisconnectReason, Event};
use amt_device::remote_access::{MpServer, MpsAuth, PeriodicSchedule, PolicyTrigger};
use amt_device::{Device, ProvisioningState};
use rustls::pki_types::{CertificateDer, ServerName};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};

use crate::device_host::DeviceHost;
use crate::listener;
use crate::vocabulary::{Interface, Transport, Via, AMT_HTTP_PORT, AMT_TLS_PORT};

/// The longest wait between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle driver, or a live session, looks at the device.
const TICK: Duration = Duration::from_secs(1);

/// The ports registered with `tcpip-forward`, in the order both JS MPSs
/// document for real firmware (docs/cira.md); 5900 last, which is where
/// they send the keep-alive options.
pub const FORWARDED_PORTS: [u16; 7] = [16993, 16992, 664, 623, 16995, 16994, 5900];
/// The ports whose channels the driver serves itself; others need a
/// [`ChannelHandler`].
const SERVED_PORTS: [u16; 2] = [AMT_HTTP_PORT, AMT_TLS_PORT];

/// One end of a CIRA channel, as a byte stream: what the MPS sends in the
/// channel is read from it, what is written goes back to the MPS. Shut
/// down (or dropped) it closes the channel.
pub type ChannelStream = tokio::io::DuplexStream;

/// Serves the channels the MPS opens to one port the driver does not
/// serve itself (the redirection ports 16994/16995 and 5900): given the
/// channel and the MPS's address, returns the future that serves it. The
/// redirection listener registers one per port with
/// [`CiraShared::set_port_handler`]; until then the device refuses those
/// channels with CHANNEL_OPEN_FAILURE 2 (connect failed), as for a port
/// nothing listens on. A tunnel takes the handlers present when it comes
/// up.
pub type ChannelHandler = Arc<
    dyn Fn(ChannelStream, SocketAddr) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync,
>;

/// The registered [`ChannelHandler`]s, by port.
#[derive(Default)]
struct PortHandlers(BTreeMap<u16, ChannelHandler>);

impl std::fmt::Debug for PortHandlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// Where the tunnel is, for the control API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TunnelState {
    /// No policy applies (or the device is not provisioned).
    Idle,
    /// TCP and TLS to the MPS.
    Connecting,
    /// APF user authentication.
    Authenticating,
    /// Registering forwards.
    Forwarding,
    /// Every forward answered; channels are served.
    Connected,
    /// Waiting to retry after a failure.
    Backoff,
}

/// The tunnel of one device, as the control API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct CiraStatus {
    pub state: TunnelState,
    /// `host:port` of the MPS in use or last tried.
    pub mps: Option<String>,
    /// `user_initiated` or `periodic`.
    pub trigger: Option<&'static str>,
    pub last_error: Option<String>,
    /// Attempts since the last tunnel that came up.
    pub failed_attempts: u32,
    /// Tunnels that came up since the emulator started.
    pub connections: u64,
    pub forwards: Vec<u16>,
    /// Channels served in the current tunnel.
    pub channels: u64,
    /// Why the last tunnel that came up ended, when the device ended it
    /// (its rule's `TunnelLifeTime`, a changed policy).
    pub last_close: Option<String>,
    /// Where the device believes it is.
    pub inside_intranet: bool,
}

/// What the driver and the control API share.
#[derive(Debug)]
pub struct CiraShared {
    status: Mutex<CiraStatus>,
    user_initiated: Mutex<bool>,
    /// An event happened since the last alert tunnel.
    alert: Mutex<bool>,
    wake: Notify,
    handlers: Mutex<PortHandlers>,
}

impl Default for CiraShared {
    fn default() -> Self {
        CiraShared {
            status: Mutex::new(CiraStatus {
                state: TunnelState::Idle,
                mps: None,
                trigger: None,
                last_error: None,
                failed_attempts: 0,
                connections: 0,
                forwards: Vec::new(),
                channels: 0,
                last_close: None,
                inside_intranet: false,
            }),
            user_initiated: Mutex::new(false),
            alert: Mutex::new(false),
            wake: Notify::new(),
            handlers: Mutex::new(PortHandlers::default()),
        }
    }
}

impl CiraShared {
    pub fn status(&self) -> CiraStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut CiraStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// The owner "presses the button": a user-initiated tunnel.
    pub fn request_user_initiated(&self) {
        *self
            .user_initiated
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = true;
        self.wake.notify_one();
    }

    /// Serves the channels the MPS opens to `port` with `handler` from the
    /// next tunnel on (see [`ChannelHandler`]). 16992 and 16993 are always
    /// the driver's own.
    pub fn set_port_handler(&self, port: u16, handler: ChannelHandler) {
        if !SERVED_PORTS.contains(&port) {
            self.handlers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .0
                .insert(port, handler);
        }
    }

    fn port_handler(&self, port: u16) -> Option<ChannelHandler> {
        self.handlers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .get(&port)
            .cloned()
    }

    /// The ports whose channels are served: the driver's own and those
    /// with a handler.
    fn served_ports(&self) -> Vec<u16> {
        let handlers = self.handlers.lock().unwrap_or_else(|p| p.into_inner());
        SERVED_PORTS
            .iter()
            .copied()
            .chain(handlers.0.keys().copied())
            .collect()
    }

    /// The device raised an event: with an `Alert` rule, it dials its MPS
    /// (docs/cira.md).
    pub fn raise_alert(&self) {
        *self.alert.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.wake.notify_one();
    }

    fn alert(&self) -> bool {
        *self.alert.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn clear_alert(&self) {
        *self.alert.lock().unwrap_or_else(|p| p.into_inner()) = false;
    }

    /// Makes the driver look at the device now (configuration changed).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    fn user_initiated(&self) -> bool {
        *self
            .user_initiated
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn clear_user_initiated(&self) {
        *self
            .user_initiated
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = false;
    }
}

/// What one attempt dials.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Plan {
    trigger: PolicyTrigger,
    servers: Vec<MpServer>,
    /// A periodic rule's interval bounds the backoff.
    interval: Option<Duration>,
    /// The rule's `TunnelLifeTime` (0: until closed).
    lifetime: Option<Duration>,
}

fn plan(device: &Device, user_initiated: bool, alert: bool) -> Option<Plan> {
    if device.provisioning_state() != ProvisioningState::PostProvisioning {
        return None;
    }
    let take = |trigger| {
        let servers: Vec<MpServer> = device.cira_targets(trigger).into_iter().cloned().collect();
        (!servers.is_empty()).then_some(servers)
    };
    let lifetime = |trigger| {
        device
            .remote_access()
            .policies
            .iter()
            .find(|p| p.trigger == trigger)
            .map(|p| p.tunnel_lifetime)
            .filter(|s| *s > 0)
            .map(|s| Duration::from_secs(u64::from(s)))
    };
    if user_initiated {
        if let Some(servers) = take(PolicyTrigger::UserInitiated) {
            return Some(Plan {
                trigger: PolicyTrigger::UserInitiated,
                servers,
                interval: None,
                lifetime: lifetime(PolicyTrigger::UserInitiated),
            });
        }
    }
    if alert {
        if let Some(servers) = take(PolicyTrigger::Alert) {
            return Some(Plan {
                trigger: PolicyTrigger::Alert,
                servers,
                interval: None,
                lifetime: lifetime(PolicyTrigger::Alert),
            });
        }
    }
    let servers = take(PolicyTrigger::Periodic)?;
    let interval = device
        .remote_access()
        .policies
        .iter()
        .find(|p| p.trigger == PolicyTrigger::Periodic)
        .and_then(|p| match p.schedule() {
            Some(PeriodicSchedule::EverySeconds(s)) => Some(Duration::from_secs(u64::from(s))),
            _ => None,
        });
    Some(Plan {
        trigger: PolicyTrigger::Periodic,
        servers,
        interval,
        lifetime: lifetime(PolicyTrigger::Periodic),
    })
}

fn trigger_name(t: PolicyTrigger) -> &'static str {
    match t {
        PolicyTrigger::UserInitiated => "user_initiated",
        PolicyTrigger::Alert => "alert",
        PolicyTrigger::Periodic => "periodic",
    }
}

/// Starts the device's CIRA driver.
pub fn spawn(host: &Arc<DeviceHost>) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(host);
    tokio::spawn(run(weak))
}

async fn run(weak: Weak<DeviceHost>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let Some(host) = weak.upgrade() else {
            return;
        };
        let shared = host.cira_shared();
        let user = shared.user_initiated();
        let alert = shared.alert();
        let (plan, inside) = host.with_device(|d| (plan(d, user, alert), d.inside_intranet()));
        shared.update(|s| s.inside_intranet = inside);
        let Some(plan) = plan else {
            // An event with no alert rule (or a tunnel that serves it
            // already) is forgotten.
            shared.clear_alert();
            if user {
                shared.clear_user_initiated();
                shared.update(|s| s.last_error = Some("no user-initiated policy applies".into()));
            }
            shared.update(|s| {
                s.state = TunnelState::Idle;
                s.trigger = None;
            });
            drop(host);
            wait(&weak, TICK).await;
            continue;
        };
        if alert && plan.trigger != PolicyTrigger::Alert {
            // No alert rule applies: the event is forgotten.
            shared.clear_alert();
        }
        drop(host);
        let mut came_up = false;
        let mut lifetime_over = false;
        for server in &plan.servers {
            let outcome = session(&weak, &plan, server).await;
            let Some(host) = weak.upgrade() else {
                return;
            };
            let shared = host.cira_shared();
            match outcome {
                Ok(end) => {
                    came_up = true;
                    lifetime_over = end == Ended::Lifetime;
                    break;
                }
                Err(SessionError::Stopped) => return,
                Err(SessionError::Failed { error, was_up }) => {
                    tracing::info!(mps = %addr(server), %error, "CIRA tunnel failed");
                    came_up |= was_up;
                    shared.update(|s| {
                        s.last_error = Some(error);
                        if !was_up {
                            s.failed_attempts += 1;
                        }
                    });
                    if was_up {
                        break;
                    }
                }
            }
        }
        if let Some(host) = weak.upgrade() {
            match plan.trigger {
                PolicyTrigger::UserInitiated => host.cira_shared().clear_user_initiated(),
                PolicyTrigger::Alert => host.cira_shared().clear_alert(),
                PolicyTrigger::Periodic => {}
            }
        }
        backoff = if came_up {
            MIN_BACKOFF
        } else {
            (backoff * 2).min(MAX_BACKOFF)
        };
        let delay = match plan.interval {
            // The tunnel served its lifetime: the next one is the next
            // period's.
            Some(i) if lifetime_over => i.max(MIN_BACKOFF),
            Some(i) => backoff.min(i.max(MIN_BACKOFF)),
            None => backoff,
        };
        if let Some(host) = weak.upgrade() {
            host.cira_shared()
                .update(|s| s.state = TunnelState::Backoff);
        }
        wait(&weak, delay).await;
    }
}

/// Sleeps, or less when the control API wakes the driver.
async fn wait(weak: &Weak<DeviceHost>, d: Duration) {
    let Some(host) = weak.upgrade() else {
        return;
    };
    let shared = host.clone();
    drop(host);
    tokio::select! {
        () = tokio::time::sleep(d) => {}
        () = shared.cira_shared().wake.notified() => {}
    }
}

fn addr(m: &MpServer) -> String {
    match m.access_info.parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) => format!("[{ip}]:{}", m.port),
        _ => format!("{}:{}", m.access_info, m.port),
    }
}

#[derive(Debug)]
enum SessionError {
    /// The emulator is gone.
    Stopped,
    Failed {
        error: String,
        was_up: bool,
    },
}

/// How a tunnel the device ended came to end.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// Its rule's `TunnelLifeTime` ran out.
    Lifetime,
    /// The policy, the MPS or the location changed, or a close was asked.
    NotWanted,
}

fn failed(error: impl Into<String>) -> SessionError {
    SessionError::Failed {
        error: error.into(),
        was_up: false,
    }
}

/// The rustls client: trusts only the roots added with
/// `AddTrustedRootCertificate`, and checks the name AddMpServer gave.
fn tls_client(device: &Device) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in device
        .cert_store()
        .certificates()
        .iter()
        .filter(|c| c.trusted_root)
    {
        // A root the TLS library cannot use is skipped, as if absent.
        let _ = roots.add(CertificateDer::from(c.der.clone()));
    }
    if roots.is_empty() {
        return Err("no trusted root certificate: the MPS cannot be verified".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

enum ToSession {
    Data(ChannelId, Vec<u8>),
    Eof(ChannelId),
}

/// One tunnel: connect, authenticate, forward, serve channels until it
/// ends. `Ok` when the driver ended it deliberately after it was up.
async fn session(
    weak: &Weak<DeviceHost>,
    plan: &Plan,
    server: &MpServer,
) -> Result<Ended, SessionError> {
    let host = weak.upgrade().ok_or(SessionError::Stopped)?;
    let shared_host = host.clone();
    let shared = shared_host.cira_shared();
    shared.update(|s| {
        s.state = TunnelState::Connecting;
        s.mps = Some(addr(server));
        s.trigger = Some(trigger_name(plan.trigger));
        s.forwards.clear();
        s.channels = 0;
    });
    let MpsAuth::UsernamePassword { username, password } = &server.auth else {
        return Err(failed("mutual-TLS MPS authentication is not modelled yet"));
    };
    let (tls, uuid, host_name, close_requests) = host.with_device(|d| {
        (
            tls_client(d),
            parse_uuid(&d.uuid()),
            d.host_name().to_string(),
            d.remote_access().tunnel.close_requests,
        )
    });
    drop(host);
    let tls = tls.map_err(failed)?;
    let name = ServerName::try_from(server.expected_cn().to_string())
        .map_err(|e| failed(format!("MPS name {:?}: {e}", server.expected_cn())))?;
    let tcp = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect((server.access_info.as_str(), server.port)),
    )
    .await
    .map_err(|_| failed("TCP connect to the MPS timed out"))?
    .map_err(|e| failed(format!("TCP connect to the MPS: {e}")))?;
    let _ = tcp.set_nodelay(true);
    let mps_addr = tcp
        .peer_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], server.port)));
    let stream = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio_rustls::TlsConnector::from(tls).connect(name, tcp),
    )
    .await
    .map_err(|_| failed("TLS handshake with the MPS timed out"))?
    .map_err(|e| failed(format!("TLS handshake with the MPS refused: {e}")))?;
    shared.update(|s| s.state = TunnelState::Authenticating);

    let mut config = Config::new(uuid, username, password);
    config.trigger = plan.trigger.apf_reason();
    config.forward_address = host_name;
    config.forward_ports = FORWARDED_PORTS.to_vec();
    config.serve_ports = shared.served_ports();
    let mut client = Client::new(config, Instant::now());

    let (mut rd, mut wr) = tokio::io::split(stream);
    let (to_session, mut from_channels) = mpsc::unbounded_channel::<ToSession>();
    let mut writers: HashMap<ChannelId, mpsc::UnboundedSender<Vec<u8>>> = HashMap::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut was_up = false;
    let mut ended_by_us: Option<Ended> = None;
    let mut up_since: Option<Instant> = None;
    loop {
        while let Some(msg) = client.poll_transmit() {
            if wr.write_all(&msg).await.is_err() {
                client.connection_lost();
                break;
            }
        }
        let _ = wr.flush().await;
        while let Some(event) = client.poll_event() {
            match event {
                Event::Authenticated => shared.update(|s| s.state = TunnelState::Forwarding),
                Event::ForwardAccepted { port } => shared.update(|s| s.forwards.push(port)),
                Event::ForwardRefused { port } => {
                    tracing::info!(port, "MPS refused a forward")
                }
                Event::Established => {
                    was_up = true;
                    up_since = Some(Instant::now());
                    shared.update(|s| {
                        s.state = TunnelState::Connected;
                        s.failed_attempts = 0;
                        s.connections += 1;
                        s.last_error = None;
                    });
                    set_connected(weak, true);
                    tracing::info!(mps = %addr(server), "CIRA tunnel up");
                }
                Event::KeepAliveOptions { interval, timeout } => {
                    tracing::debug!(interval, timeout, "MPS keep-alive options")
                }
                Event::ChannelOpened { channel, port, .. } => {
                    let Some(host) = weak.upgrade() else {
                        return Err(SessionError::Stopped);
                    };
                    shared.update(|s| s.channels += 1);
                    let tx = serve_channel(host, channel, port, mps_addr, to_session.clone());
                    writers.insert(channel, tx);
                }
                Event::ChannelData { channel, data } => {
                    if let Some(w) = writers.get(&channel) {
                        let _ = w.send(data);
                    }
                }
                Event::ChannelClosed { channel } => {
                    writers.remove(&channel);
                }
                Event::Closed(reason) => {
                    if was_up {
                        set_connected(weak, false);
                    }
                    if let Some(end) = ended_by_us.take() {
                        let why = match end {
                            Ended::Lifetime => format!(
                                "the rule's TunnelLifeTime ({} s) ran out",
                                plan.lifetime.map_or(0, |l| l.as_secs())
                            ),
                            Ended::NotWanted => {
                                "the policy no longer names this MPS, or a close was asked".into()
                            }
                        };
                        shared.update(|s| s.last_close = Some(why));
                        return Ok(end);
                    }
                    return Err(SessionError::Failed {
                        error: describe(&reason),
                        was_up,
                    });
                }
            }
        }
        let wake = client
            .poll_timeout()
            .map(|t| t.min(Instant::now() + TICK))
            .unwrap_or_else(|| Instant::now() + TICK);
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => client.connection_lost(),
                Ok(n) => client.handle_input(&buf[..n], Instant::now()),
            },
            Some(m) = from_channels.recv() => match m {
                ToSession::Data(ch, data) => { let _ = client.send_data(ch, &data); }
                ToSession::Eof(ch) => { let _ = client.close_channel(ch); }
            },
            () = tokio::time::sleep_until(wake.into()) => {
                client.handle_timeout(Instant::now());
                let still_wanted = match weak.upgrade() {
                    None => false,
                    Some(host) => {
                        let user = host.cira_shared().user_initiated();
                        let alert = host.cira_shared().alert();
                        host.with_device(|d| plan_still_names(d, user, alert, plan, server, close_requests))
                    }
                };
                let expired = plan
                    .lifetime
                    .zip(up_since)
                    .is_some_and(|(l, t)| t.elapsed() >= l);
                if (expired || !still_wanted) && !client.is_closed() {
                    ended_by_us = Some(if expired { Ended::Lifetime } else { Ended::NotWanted });
                    client.disconnect(DisconnectReason::BY_APPLICATION);
                }
            }
        }
    }
}

/// Whether the device still wants this tunnel (the policy, the MPS and
/// the network location are unchanged enough to keep it).
fn plan_still_names(
    device: &Device,
    user: bool,
    alert: bool,
    current: &Plan,
    server: &MpServer,
    close_requests: u64,
) -> bool {
    if device.remote_access().tunnel.close_requests != close_requests {
        return false;
    }
    match plan(
        device,
        user || current.trigger == PolicyTrigger::UserInitiated,
        alert || current.trigger == PolicyTrigger::Alert,
    ) {
        Some(p) => p.servers.iter().any(|s| s == server),
        None => false,
    }
}

fn describe(reason: &CloseReason) -> String {
    match reason {
        CloseReason::DisconnectedByMps(10) => "the MPS dropped the tunnel".into(),
        CloseReason::DisconnectedByMps(r) => format!("the MPS disconnected (reason {r})"),
        CloseReason::AuthenticationFailed => "the MPS refused the user name or password".into(),
        CloseReason::ProtocolError(e) => format!("APF protocol error: {e}"),
        CloseReason::KeepAliveTimeout => "the MPS stopped answering keep-alives".into(),
        CloseReason::SetupTimeout => "the MPS did not complete the APF handshake".into(),
        CloseReason::Local(r) => format!("closed by the device (reason {r})"),
    }
}

fn set_connected(weak: &Weak<DeviceHost>, up: bool) {
    if let Some(host) = weak.upgrade() {
        if let Err(e) = host.change_device(|d, _| {
            d.set_remote_tunnel_connected(up);
            Ok(())
        }) {
            tracing::warn!(error = %e, "could not record the tunnel state");
        }
    }
}

/// The UUID's 16 bytes from its `8-4-4-4-12` text.
fn parse_uuid(text: &str) -> [u8; 16] {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = hex
            .get(i * 2..i * 2 + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .unwrap_or(0);
    }
    out
}

/// Serves one channel: a duplex pipe whose far end goes to
/// [`listener::serve_connection_via`] (16992 plain, 16993 with TLS inside
/// the channel), as a connection to the device's own listener would, or to
/// the handler registered for its port. Answers the sender the session
/// writes the MPS's bytes into.
fn serve_channel(
    host: Arc<DeviceHost>,
    channel: ChannelId,
    port: u16,
    peer: SocketAddr,
    to_session: mpsc::UnboundedSender<ToSession>,
) -> mpsc::UnboundedSender<Vec<u8>> {
    let (near, far) = tokio::io::duplex(64 * 1024);
    let (mut near_rd, mut near_wr) = tokio::io::split(near);
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    // MPS → device.
    tokio::spawn(async move {
        while let Some(data) = rx.recv().await {
            if near_wr.write_all(&data).await.is_err() {
                break;
            }
        }
        let _ = near_wr.shutdown().await;
    });
    // Device → MPS.
    let back = to_session.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match near_rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if back
                        .send(ToSession::Data(channel, buf[..n].to_vec()))
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
        let _ = back.send(ToSession::Eof(channel));
    });
    let transport = match port {
        AMT_HTTP_PORT => Some(Transport::Plain),
        AMT_TLS_PORT => Some(Transport::Tls),
        _ => None,
    };
    match transport {
        Some(transport) => {
            tokio::spawn(listener::serve_connection_via(
                far,
                peer,
                transport,
                Interface::Remote,
                Via::Cira,
                host,
            ));
        }
        None => match host.cira_shared().port_handler(port) {
            Some(handler) => {
                tokio::spawn(handler(far, peer));
            }
            // The session only confirms ports with a handler; dropping
            // the pipe closes the channel should one go away meanwhile.
            None => drop(far),
        },
    }
    tx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_text_to_bytes() {
        assert_eq!(
            parse_uuid("12345678-9abc-def0-0102-030405060708"),
            [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8]
        );
    }
}
