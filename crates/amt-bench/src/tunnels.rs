//! The CIRA fleet benchmark (`amt-bench --fleet N --cira`,
//! docs/benchmarks.md): N provisioned devices in this process, each
//! configured (library API: the MPS root, `AddMpServer`, a periodic rule)
//! to dial one MPS on loopback, and
//!
//! 1. *set-up*: from the configuration to every tunnel up (every forward
//!    answered), and each tunnel's own handshake (TCP accept to the last
//!    forward answered);
//! 2. *round trips*: digest-authenticated `AMT_GeneralSettings` Gets
//!    through the tunnels, each in its own channel to 16992 (the device
//!    closes a channel after each reply, as the MPSs expect), spread over
//!    every tunnel.
//!
//! The MPS is written here with `amt-apf`'s message codec (the MPS side of
//! the catalogue, no session logic): it accepts every login and forward,
//! sets keep-alives as MeshCentral does, answers the device's keep-alives
//! and opens channels. It is a minimal MPS, not MeshCentral's or the DMT
//! one; what it costs runs in this process too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use amt_apf::Message;
use anyhow::Context as _;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::server::TlsStream;

use crate::digest::{parse_challenge, DigestSession};
use crate::histogram::{Histogram, LatencySummary};
use crate::{GENERAL_SETTINGS_GET, WSMAN_URI};

const MPS_USER: &str = "benchmps";
const MPS_PASS: &str = "Bench-Mps-1";

#[derive(Debug, Clone)]
pub struct TunnelBenchConfig {
    pub count: u32,
    pub first: std::net::Ipv4Addr,
    pub seed: Option<u64>,
    pub password: String,
    pub clients: usize,
    pub requests: u64,
    pub timeout: Duration,
}

#[derive(Debug, Serialize)]
pub struct TunnelReport {
    pub devices: u32,
    pub tunnels_up: usize,
    pub mps: &'static str,
    /// Fleet started and every device made.
    pub ready_s: f64,
    /// Configuration applied to every device until the last tunnel up.
    pub all_tunnels_up_s: f64,
    /// One tunnel: TCP accepted to the last forward answered.
    pub tunnel_setup: LatencySummary,
    pub requests: u64,
    pub clients: usize,
    pub round_trips_s: f64,
    pub round_trips_per_s: f64,
    /// Channel open to the reply's last byte (authenticated Get).
    pub round_trip: LatencySummary,
    pub cpu_ms_per_round_trip: Option<f64>,
    pub errors: u64,
    pub error_examples: Vec<String>,
}

impl TunnelReport {
    pub fn passed(&self) -> bool {
        self.errors == 0 && self.tunnels_up == self.devices as usize
    }
}

/// One tunnel, as the MPS holds it.
struct Mps {
    tls: TlsStream<tokio::net::TcpStream>,
    buf: Vec<u8>,
    next_channel: u32,
}

impl Mps {
    async fn send(&mut self, msgs: &[Message]) -> Result<(), String> {
        let mut b = Vec::new();
        for m in msgs {
            m.encode(&mut b);
        }
        self.tls.write_all(&b).await.map_err(|e| e.to_string())?;
        self.tls.flush().await.map_err(|e| e.to_string())
    }

    async fn recv(&mut self, expecting_port: bool) -> Result<Message, String> {
        loop {
            match Message::parse_expecting(&self.buf, expecting_port) {
                Ok(Some((m, n))) => {
                    self.buf.drain(..n);
                    return Ok(m);
                }
                Ok(None) => {}
                Err(e) => return Err(format!("APF from the device: {e}")),
            }
            let mut chunk = [0u8; 8192];
            let n = self.tls.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the device closed the tunnel".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next message that is not a keep-alive (answered).
    async fn recv_answering(&mut self) -> Result<Message, String> {
        loop {
            match self.recv(false).await? {
                Message::KeepaliveRequest { cookie } => {
                    self.send(&[Message::KeepaliveReply { cookie }]).await?
                }
                m => return Ok(m),
            }
        }
    }

    /// The device's handshake, every login and forward accepted.
    async fn handshake(&mut self) -> Result<(), String> {
        let mut forwarding = false;
        loop {
            match self.recv(forwarding).await? {
                Message::ProtocolVersion { .. } => {}
                Message::ServiceRequest { service } => {
                    self.send(&[Message::ServiceAccept { service }]).await?
                }
                Message::UserauthRequest { .. } => {
                    forwarding = true;
                    self.send(&[Message::UserauthSuccess]).await?
                }
                Message::GlobalRequest { port, .. } => {
                    let mut reply = Vec::new();
                    if port == 5900 {
                        reply.push(Message::KeepaliveOptionsRequest {
                            interval: 30,
                            timeout: 0,
                        });
                    }
                    reply.push(Message::RequestSuccess { port: Some(port) });
                    self.send(&reply).await?;
                    if port == 5900 {
                        return Ok(());
                    }
                }
                Message::KeepaliveRequest { cookie } => {
                    self.send(&[Message::KeepaliveReply { cookie }]).await?
                }
                other => return Err(format!("unexpected in the handshake: {other:?}")),
            }
        }
    }

    /// One HTTP exchange in a new channel to 16992; the raw reply.
    async fn exchange(&mut self, request: Vec<u8>) -> Result<Vec<u8>, String> {
        self.next_channel += 1;
        let ours = self.next_channel;
        self.send(&[Message::ChannelOpen {
            channel_type: "forwarded-tcpip".into(),
            sender: ours,
            window: 32768,
            connected_address: String::new(),
            connected_port: 16992,
            originator_address: "127.0.0.1".into(),
            originator_port: 1024 + ours % 30000,
        }])
        .await?;
        let device = loop {
            match self.recv_answering().await? {
                Message::ChannelOpenConfirmation {
                    recipient, sender, ..
                } if recipient == ours => break sender,
                Message::KeepaliveOptionsReply { .. } | Message::ChannelWindowAdjust { .. } => {}
                Message::ChannelClose { recipient } => {
                    // A late close of an earlier channel.
                    let _ = recipient;
                }
                other => return Err(format!("channel open answered {other:?}")),
            }
        };
        // The device's window is 4 KiB: the request fits.
        self.send(&[Message::ChannelData {
            recipient: device,
            data: request,
        }])
        .await?;
        let mut reply = Vec::new();
        loop {
            match self.recv_answering().await? {
                Message::ChannelData { recipient, data } if recipient == ours => reply.extend(data),
                Message::ChannelClose { recipient } if recipient == ours => {
                    self.send(&[Message::ChannelClose { recipient: device }])
                        .await?;
                    return Ok(reply);
                }
                Message::ChannelWindowAdjust { .. } | Message::KeepaliveOptionsReply { .. } => {}
                other => return Err(format!("in the channel: {other:?}")),
            }
        }
    }
}

struct Job {
    done: oneshot::Sender<Result<(), String>>,
}

/// The status line and WWW-Authenticate of a raw HTTP reply.
fn parse_reply(raw: &[u8]) -> (u16, Option<String>) {
    let text = String::from_utf8_lossy(raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let challenge = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("www-authenticate")
            .then(|| v.trim().to_string())
    });
    (status, challenge)
}

fn http_request(host: &str, authorization: Option<&str>) -> Vec<u8> {
    let mut r = format!("POST {WSMAN_URI} HTTP/1.1\r\nHost: {host}:16992\r\n");
    if let Some(a) = authorization {
        r.push_str(&format!("Authorization: {a}\r\n"));
    }
    r.push_str(&format!(
        "Content-Type: application/soap+xml; charset=utf-8\r\nContent-Length: {}\r\n\r\n{GENERAL_SETTINGS_GET}",
        GENERAL_SETTINGS_GET.len()
    ));
    r.into_bytes()
}

/// Serves one tunnel's jobs: each an authenticated Get (the challenge
/// fetched first when the tunnel has no nonce yet).
async fn tunnel_task(mut mps: Mps, mut jobs: mpsc::Receiver<Job>, user: String, password: String) {
    let mut session: Option<DigestSession> = None;
    let host = "device";
    loop {
        let job = tokio::select! {
            j = jobs.recv() => match j { Some(j) => j, None => return },
            // Idle: answer the device's keep-alives.
            m = mps.recv_answering() => match m {
                Ok(_) => continue,
                Err(_) => return,
            },
        };
        let mut outcome = Err("401 after a good digest".to_string());
        for _ in 0..3 {
            if session.is_none() {
                match mps.exchange(http_request(host, None)).await {
                    Ok(raw) => match parse_reply(&raw) {
                        (401, Some(h)) => match parse_challenge(&h) {
                            Ok(c) => session = Some(DigestSession::new(c, &user, &password)),
                            Err(e) => {
                                outcome = Err(e.to_string());
                                break;
                            }
                        },
                        (s, _) => {
                            outcome = Err(format!("status {s} without a challenge"));
                            break;
                        }
                    },
                    Err(e) => {
                        outcome = Err(e);
                        break;
                    }
                }
            }
            let Some(s) = session.as_mut() else { break };
            let authorization = s.authorization("POST", WSMAN_URI);
            match mps.exchange(http_request(host, Some(&authorization))).await {
                Ok(raw) => match parse_reply(&raw) {
                    (200, _) => {
                        outcome = Ok(());
                        break;
                    }
                    (401, h) => {
                        session = h
                            .as_deref()
                            .and_then(|h| parse_challenge(h).ok())
                            .map(|c| DigestSession::new(c, &user, &password));
                    }
                    (s, _) => {
                        outcome = Err(format!("status {s}"));
                        break;
                    }
                },
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        let failed = outcome.is_err();
        let _ = job.done.send(outcome);
        if failed {
            return;
        }
    }
}

pub async fn run_tunnels(config: TunnelBenchConfig) -> anyhow::Result<TunnelReport> {
    use amt_device::remote_access::{AddMpServer, AddPolicyRule};
    use amt_server::fleet::{Addressing, FleetConfig, GroupConfig};
    anyhow::ensure!(config.count > 0, "--fleet must be at least 1");
    anyhow::ensure!(
        config.first.is_loopback(),
        "--fleet-first must be a loopback address"
    );

    // The MPS: a certificate for `localhost` from a root each device is given.
    let ca = amt_testkit::TestCa::new("amt-bench MPS root");
    let (der, key) = ca.issue_server("localhost");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![der.into()],
            rustls::pki_types::PrivatePkcs8KeyDer::from(key).into(),
        )?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mps_port = listener.local_addr()?.port();

    let started = Instant::now();
    let mut group = GroupConfig::new("cira", config.count);
    group.admin_password = Some(config.password.clone());
    let fleet = amt_server::Fleet::start(
        FleetConfig {
            addressing: Addressing::Loopback,
            listen: std::net::IpAddr::V4(config.first),
            ports: amt_server::Ports::ephemeral(),
            seed: config.seed,
            groups: vec![group],
            ..FleetConfig::default()
        },
        |_, _| {},
    )
    .await
    .context("starting the fleet")?;
    let mut hosts = Vec::new();
    for m in fleet.members() {
        hosts.push(
            m.host()
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", m.id))?,
        );
    }
    let ready = started.elapsed();

    // Accept tunnels as they come.
    let (up_tx, mut up_rx) = mpsc::unbounded_channel::<Result<(Mps, Duration), String>>();
    let accept_task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, up_tx) = (acceptor.clone(), up_tx.clone());
            tokio::spawn(async move {
                let t = Instant::now();
                let _ = tcp.set_nodelay(true);
                let r = async {
                    let tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
                    let mut mps = Mps {
                        tls,
                        buf: Vec::new(),
                        next_channel: 0,
                    };
                    mps.handshake().await?;
                    Ok((mps, t.elapsed()))
                }
                .await;
                let _ = up_tx.send(r);
            });
        }
    });

    let t0 = Instant::now();
    let root = ca.der.clone();
    for host in &hosts {
        let root = root.clone();
        host.change_device(move |d, _| {
            d.add_trusted_root_certificate(&root)?;
            let index = d.add_mp_server(AddMpServer {
                access_info: "127.0.0.1".into(),
                info_format: 3,
                port: u32::from(mps_port),
                auth_method: 2,
                username: Some(MPS_USER.into()),
                password: Some(MPS_PASS.into()),
                cn: Some("localhost".into()),
                certificate_handle: None,
            })?;
            // Periodic every 25 s: the device stays connected.
            let mut data = 0u32.to_be_bytes().to_vec();
            data.extend(25u32.to_be_bytes());
            d.add_remote_access_policy(AddPolicyRule {
                trigger: 2,
                tunnel_lifetime: 0,
                extended_data: data,
                servers: vec![index],
            })?;
            Ok(())
        })
        .map_err(|e| anyhow::anyhow!("configuring CIRA: {e}"))?;
        host.cira_shared().wake();
    }

    let mut setup = Histogram::default();
    let (mut errors, mut error_examples) = (0u64, Vec::<String>::new());
    let mut note = |e: String, errors: &mut u64| {
        *errors += 1;
        if error_examples.len() < 10 {
            error_examples.push(e);
        }
    };
    let mut tunnels = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    while tunnels.len() < config.count as usize {
        match tokio::time::timeout_at(deadline, up_rx.recv()).await {
            Ok(Some(Ok((mps, d)))) => {
                setup.record(d);
                let (tx, rx) = mpsc::channel::<Job>(4);
                tokio::spawn(tunnel_task(
                    mps,
                    rx,
                    "admin".into(),
                    config.password.clone(),
                ));
                tunnels.push(tx);
            }
            Ok(Some(Err(e))) => note(format!("tunnel set-up: {e}"), &mut errors),
            Ok(None) | Err(_) => {
                note(
                    format!("only {} of {} tunnels came up", tunnels.len(), config.count),
                    &mut errors,
                );
                break;
            }
        }
    }
    let all_up = t0.elapsed();
    let up = tunnels.len();

    // Round trips, spread over the tunnels; a first pass (not measured)
    // fetches each tunnel's digest nonce, as a console's first call does.
    let tunnels = Arc::new(tunnels);
    let (_, warm_failures, _) =
        round_trips(&tunnels, config.clients, up as u64, config.timeout).await;
    for e in warm_failures {
        note(format!("first call: {e}"), &mut errors);
    }
    let cpu0 = crate::fleet::process_cpu();
    let (rtt, failures, rtt_time) =
        round_trips(&tunnels, config.clients, config.requests, config.timeout).await;
    for e in failures {
        note(format!("round trip: {e}"), &mut errors);
    }
    let cpu1 = crate::fleet::process_cpu();
    accept_task.abort();
    drop(tunnels);
    fleet.shutdown().await;
    let done = rtt.count();
    Ok(TunnelReport {
        devices: config.count,
        tunnels_up: up,
        mps: "minimal MPS in this process (amt-apf's codec, MPS side)",
        ready_s: ready.as_secs_f64(),
        all_tunnels_up_s: all_up.as_secs_f64(),
        tunnel_setup: setup.summary(),
        requests: config.requests,
        clients: config.clients,
        round_trips_s: rtt_time.as_secs_f64(),
        round_trips_per_s: done as f64 / rtt_time.as_secs_f64().max(1e-9),
        round_trip: rtt.summary(),
        cpu_ms_per_round_trip: cpu0
            .zip(cpu1)
            .and_then(|(a, b)| (done > 0).then(|| (b - a).as_secs_f64() * 1000.0 / done as f64)),
        errors,
        error_examples,
    })
}

/// `requests` authenticated Gets from `clients` workers, job j on tunnel
/// j mod n: the latencies, the failures, the time taken.
async fn round_trips(
    tunnels: &Arc<Vec<mpsc::Sender<Job>>>,
    clients: usize,
    requests: u64,
    timeout: Duration,
) -> (Histogram, Vec<String>, Duration) {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients.max(1) {
        let (tunnels, next) = (tunnels.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut h = Histogram::default();
            let mut failures = Vec::new();
            loop {
                let j = next.fetch_add(1, Ordering::Relaxed);
                if j >= requests || tunnels.is_empty() {
                    break;
                }
                let tunnel = &tunnels[(j as usize) % tunnels.len()];
                let (done, rx) = oneshot::channel();
                let t = Instant::now();
                let r = async {
                    tunnel
                        .send(Job { done })
                        .await
                        .map_err(|_| "tunnel gone".to_string())?;
                    rx.await.map_err(|_| "tunnel gone".to_string())?
                };
                match tokio::time::timeout(timeout, r).await {
                    Ok(Ok(())) => h.record(t.elapsed()),
                    Ok(Err(e)) => failures.push(e),
                    Err(_) => failures.push("timeout".into()),
                }
            }
            (h, failures)
        }));
    }
    let mut all = Histogram::default();
    let mut failures = Vec::new();
    for t in tasks {
        match t.await {
            Ok((h, f)) => {
                all.merge(&h);
                failures.extend(f);
            }
            Err(e) => failures.push(format!("client task: {e}")),
        }
    }
    (all, failures, started.elapsed())
}

impl std::fmt::Display for TunnelReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "amt-bench cira: {} devices, {} tunnels up to one MPS on loopback ({})",
            self.devices, self.tunnels_up, self.mps
        )?;
        writeln!(
            f,
            "  fleet ready (every device made): {:.2} s",
            self.ready_s
        )?;
        writeln!(
            f,
            "  set-up: every tunnel up {:.2} s after configuration; one tunnel p50 {:.1} ms, p99 {:.1} ms",
            self.all_tunnels_up_s, self.tunnel_setup.p50_ms, self.tunnel_setup.p99_ms
        )?;
        writeln!(
            f,
            "  WS-Man through the tunnel: {} Gets, {} clients, {:.2} s, {:.1}/s, p50 {:.2} ms, p99 {:.2} ms, CPU {} per round trip",
            self.requests,
            self.clients,
            self.round_trips_s,
            self.round_trips_per_s,
            self.round_trip.p50_ms,
            self.round_trip.p99_ms,
            self.cpu_ms_per_round_trip
                .map_or("n/a".into(), |v| format!("{v:.2} ms"))
        )?;
        write!(f, "  errors: {}", self.errors)?;
        for e in &self.error_examples {
            write!(f, "\n    {e}")?;
        }
        Ok(())
    }
}
