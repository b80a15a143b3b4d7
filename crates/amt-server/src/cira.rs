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

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use amt_apf::{ChannelId, Client, CloseReason, Config, DisconnectReason, Event};
use amt_device::remote_access::{MpServer, MpsAuth, PeriodicSchedule, PolicyTrigger};
use amt_device::{Device, ProvisioningState};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::pki_types::{CertificateDer, ServerName};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};

use crate::device_host::DeviceHost;
use crate::http::{serve, Interface};
use crate::vocabulary::Transport;

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
/// The ports whose channels are served: WS-Man and redirection (plain and
/// TLS inside the channel).
const SERVED_PORTS: [u16; 4] = [16992, 16993, 16994, 16995];

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
    /// Where the device believes it is.
    pub inside_intranet: bool,
}

/// What the driver and the control API share.
#[derive(Debug)]
pub struct CiraShared {
    status: Mutex<CiraStatus>,
    user_initiated: Mutex<bool>,
    wake: Notify,
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
                inside_intranet: false,
            }),
            user_initiated: Mutex::new(false),
            wake: Notify::new(),
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
}

fn plan(device: &Device, user_initiated: bool) -> Option<Plan> {
    if device.provisioning_state() != ProvisioningState::PostProvisioning {
        return None;
    }
    let take = |trigger| {
        let servers: Vec<MpServer> = device.cira_targets(trigger).into_iter().cloned().collect();
        (!servers.is_empty()).then_some(servers)
    };
    if user_initiated {
        if let Some(servers) = take(PolicyTrigger::UserInitiated) {
            return Some(Plan {
                trigger: PolicyTrigger::UserInitiated,
                servers,
                interval: None,
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
        let (plan, inside) = host.with_device(|d| (plan(d, user), d.inside_intranet()));
        shared.update(|s| s.inside_intranet = inside);
        let Some(plan) = plan else {
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
        drop(host);
        let mut came_up = false;
        for server in &plan.servers {
            let outcome = session(&weak, &plan, server).await;
            let Some(host) = weak.upgrade() else {
                return;
            };
            let shared = host.cira_shared();
            match outcome {
                Ok(()) => {
                    came_up = true;
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
        if plan.trigger == PolicyTrigger::UserInitiated {
            if let Some(host) = weak.upgrade() {
                host.cira_shared().clear_user_initiated();
            }
        }
        backoff = if came_up {
            MIN_BACKOFF
        } else {
            (backoff * 2).min(MAX_BACKOFF)
        };
        let delay = match plan.interval {
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
) -> Result<(), SessionError> {
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
    config.serve_ports = SERVED_PORTS.to_vec();
    let mut client = Client::new(config, Instant::now());

    let (mut rd, mut wr) = tokio::io::split(stream);
    let (to_session, mut from_channels) = mpsc::unbounded_channel::<ToSession>();
    let mut writers: HashMap<ChannelId, mpsc::UnboundedSender<Vec<u8>>> = HashMap::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut was_up = false;
    let mut ended_by_us = false;
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
                    let tx = serve_channel(host, channel, port, to_session.clone());
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
                    if ended_by_us {
                        return Ok(());
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
                        host.with_device(|d| plan_still_names(d, user, plan, server, close_requests))
                    }
                };
                if !still_wanted && !client.is_closed() {
                    ended_by_us = true;
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

/// Serves one channel: a duplex pipe whose far end hyper serves with the
/// request path every direct connection uses (TLS first for 16993).
/// Answers the sender the session writes the MPS's bytes into.
fn serve_channel(
    host: Arc<DeviceHost>,
    channel: ChannelId,
    port: u16,
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
    tokio::spawn(async move {
        let limits = *host.limits();
        // The redirection protocol over the tunnel: the same sessions as
        // 16994/16995 (the peer is the MPS's side of the channel, unknown).
        if port == 16994 || port == 16995 {
            let transport = if port == 16995 {
                Transport::Tls
            } else {
                Transport::Plain
            };
            let peer = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
            crate::redirection::serve_redirection(far, peer, transport, host).await;
            return;
        }
        if port == 16993 {
            let accepting = host.tls().accept(Box::new(far), Interface::Remote);
            match tokio::time::timeout(limits.handshake_timeout, accepting).await {
                Ok(Ok((tls, _facts))) => serve_http(TokioIo::new(tls), host, &limits).await,
                _ => tracing::info!("TLS inside a CIRA channel failed"),
            }
        } else {
            serve_http(TokioIo::new(far), host, &limits).await;
        }
    });
    tx
}

async fn serve_http<I>(io: I, host: Arc<DeviceHost>, limits: &crate::limits::ServerLimits)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |req| serve(req, host.clone(), Interface::Remote, None));
    let mut builder = http1::Builder::new();
    builder
        .title_case_headers(true)
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    if let Err(e) = builder.serve_connection(io, service).await {
        tracing::debug!(error = %e, "CIRA channel ended with an error");
    }
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
