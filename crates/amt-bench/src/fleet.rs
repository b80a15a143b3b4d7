//! The fleet benchmark (`amt-bench --fleet N`, docs/benchmarks.md): N
//! devices in this process on their own loopback addresses, then
//!
//! 1. *ready*: how long until every device's TLS port answers, and the
//!    resident memory then (dormant devices: ports bound, no key yet);
//! 2. *first contact*: every device's first console exchange (a 401 and
//!    an authenticated `AMT_GeneralSettings` Get, two full TLS handshakes),
//!    which is when a dormant device mints its RSA key; devices/s, and the
//!    memory once every device is live;
//! 3. *steady*: authenticated requests spread over the whole fleet, each a
//!    new TLS connection; handshakes/s and CPU per handshake.
//!
//! The clients run in this process too: CPU and memory figures are the
//! whole process's (the report says so).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use serde::Serialize;

use crate::client::Connection;
use crate::digest::{parse_challenge, DigestSession};
use crate::histogram::{Histogram, LatencySummary};
use crate::{rss, GENERAL_SETTINGS_GET, WSMAN_URI};

/// What a fleet run does.
#[derive(Debug, Clone)]
pub struct FleetBenchConfig {
    pub count: u32,
    /// Address of device 0; device i is at `first + i`.
    pub first: Ipv4Addr,
    pub seed: Option<u64>,
    /// Concurrent clients.
    pub clients: usize,
    /// Devices the first-contact phase starts (`None`: every one); the
    /// steady phase spreads over these.
    pub first_contact: Option<u32>,
    /// Authenticated requests of the steady phase, across the fleet.
    pub steady_requests: u64,
    pub user: String,
    pub password: String,
    pub timeout: Duration,
    /// Where the fleet keeps its state (`None`: in memory).
    pub state_dir: Option<PathBuf>,
    pub tls_versions: Vec<&'static rustls::SupportedProtocolVersion>,
}

/// Figures of one fleet run.
#[derive(Debug, Serialize)]
pub struct FleetReport {
    pub devices: u32,
    /// Devices started by the first-contact phase (and loaded after).
    pub contacted: usize,
    pub clients: usize,
    pub rss_scope: &'static str,
    pub rss_before_kib: Option<u64>,
    /// Until every device's port is bound and the fleet reports ready.
    pub ready_s: f64,
    pub rss_ready_kib: Option<u64>,
    pub rss_per_dormant_device_kib: Option<f64>,
    pub first_contact_s: f64,
    pub first_contact_devices_per_s: f64,
    pub first_contact_handshakes_per_s: f64,
    pub first_contact_latency: LatencySummary,
    pub cpu_ms_per_first_contact: Option<f64>,
    pub rss_live_kib: Option<u64>,
    pub rss_per_live_device_kib: Option<f64>,
    pub steady_requests: u64,
    pub steady_s: f64,
    pub steady_handshakes_per_s: f64,
    pub steady_latency: LatencySummary,
    /// Process CPU (server and clients) per steady-phase handshake.
    pub cpu_ms_per_handshake: Option<f64>,
    pub peak_rss_kib: Option<u64>,
    pub errors: u64,
    pub error_examples: Vec<String>,
}

impl FleetReport {
    pub fn passed(&self) -> bool {
        self.errors == 0
    }
}

/// CPU time of this process (user + system), from `/proc/self/stat`.
pub fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // Linux reports clock ticks; USER_HZ is 100 on every Linux we run on.
    Some(Duration::from_millis((utime + stime) * 10))
}

struct Device {
    conn: Connection,
    session: tokio::sync::Mutex<Option<DigestSession>>,
}

#[derive(Default)]
struct Tally {
    errors: AtomicU64,
    examples: Mutex<Vec<String>>,
}

impl Tally {
    fn error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut ex = self.examples.lock().unwrap_or_else(|p| p.into_inner());
        if ex.len() < 10 {
            ex.push(what);
        }
    }
}

fn body() -> Bytes {
    Bytes::from_static(GENERAL_SETTINGS_GET.as_bytes())
}

/// One authenticated GeneralSettings Get on `device`, fetching a challenge
/// first if it has no nonce yet (retried once on a stale nonce).
async fn request(device: &Device, user: &str, password: &str) -> Result<(), String> {
    let mut session = device.session.lock().await;
    for _ in 0..3 {
        let s = match session.as_mut() {
            Some(s) => s,
            None => {
                let reply = device
                    .conn
                    .post(None, body())
                    .await
                    .map_err(|e| e.to_string())?;
                let header = reply
                    .www_authenticate
                    .ok_or_else(|| format!("status {} without a challenge", reply.status))?;
                let challenge = parse_challenge(&header).map_err(|e| e.to_string())?;
                session.insert(DigestSession::new(challenge, user, password))
            }
        };
        let authorization = s.authorization("POST", WSMAN_URI);
        let reply = device
            .conn
            .post(Some(&authorization), body())
            .await
            .map_err(|e| e.to_string())?;
        match reply.status {
            200 => return Ok(()),
            401 => {
                *session = reply
                    .www_authenticate
                    .as_deref()
                    .and_then(|h| parse_challenge(h).ok())
                    .map(|c| DigestSession::new(c, user, password));
            }
            other => return Err(format!("status {other}")),
        }
    }
    Err("401 after a good digest".into())
}

/// Runs `jobs` over `clients` workers; each job's latency is recorded.
async fn phase(
    devices: &Arc<Vec<Device>>,
    clients: usize,
    jobs: u64,
    pick: impl Fn(u64) -> usize + Send + Sync + 'static,
    config: &FleetBenchConfig,
    tally: &Arc<Tally>,
) -> (Duration, Histogram) {
    let next = Arc::new(AtomicU64::new(0));
    let pick = Arc::new(pick);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients.max(1) {
        let (devices, next, pick, tally) =
            (devices.clone(), next.clone(), pick.clone(), tally.clone());
        let (user, password) = (config.user.clone(), config.password.clone());
        tasks.push(tokio::spawn(async move {
            let mut h = Histogram::default();
            loop {
                let job = next.fetch_add(1, Ordering::Relaxed);
                if job >= jobs {
                    break;
                }
                let i = pick(job);
                let t = Instant::now();
                match request(&devices[i], &user, &password).await {
                    Ok(()) => h.record(t.elapsed()),
                    Err(e) => tally.error(format!("device {i}: {e}")),
                }
            }
            h
        }));
    }
    let mut all = Histogram::default();
    for t in tasks {
        match t.await {
            Ok(h) => all.merge(&h),
            Err(e) => tally.error(format!("client task: {e}")),
        }
    }
    (started.elapsed(), all)
}

pub async fn run_fleet(config: FleetBenchConfig) -> anyhow::Result<FleetReport> {
    use amt_server::fleet::{Addressing, FleetConfig, GroupConfig};
    anyhow::ensure!(config.count > 0, "--fleet must be at least 1");
    anyhow::ensure!(
        config.first.is_loopback(),
        "--fleet-first must be a loopback address"
    );
    let rss_before_kib = rss::current_kib();
    let mut group = GroupConfig::new("bench", config.count);
    group.admin_password = Some(config.password.clone());
    let started = Instant::now();
    let fleet = amt_server::Fleet::start(
        FleetConfig {
            state_dir: config.state_dir.clone(),
            addressing: Addressing::Loopback,
            listen: IpAddr::V4(config.first),
            ports: amt_server::Ports::ephemeral(),
            seed: config.seed,
            groups: vec![group],
            control: None,
            ..FleetConfig::default()
        },
        |_, _| {},
    )
    .await
    .context("starting the fleet")?;
    let ready = started.elapsed();
    let rss_ready_kib = rss::current_kib();

    let tls = Arc::new(crate::client::no_verify_client(&config.tls_versions)?);
    let addrs: Vec<SocketAddr> = fleet
        .members()
        .iter()
        .map(|m| m.addrs().tls.context("a device without a TLS port"))
        .collect::<anyhow::Result<_>>()?;
    let devices: Arc<Vec<Device>> = Arc::new(
        addrs
            .iter()
            .map(|addr| Device {
                conn: Connection {
                    addr: *addr,
                    connector: tokio_rustls::TlsConnector::from(tls.clone()),
                    server_name: rustls::pki_types::ServerName::IpAddress(addr.ip().into()),
                    host_header: addr.to_string(),
                    timeout: config.timeout,
                    handshakes: AtomicU64::new(0),
                },
                session: tokio::sync::Mutex::new(None),
            })
            .collect(),
    );
    let handshakes = |d: &Arc<Vec<Device>>| {
        d.iter()
            .map(|d| d.conn.handshakes.load(Ordering::Relaxed))
            .sum::<u64>()
    };
    let tally = Arc::new(Tally::default());
    let all = devices.len();
    let n = config
        .first_contact
        .map_or(all, |c| (c as usize).clamp(1, all));

    // First contact: each device once, in order.
    let cpu0 = process_cpu();
    let (first_time, first_hist) = phase(
        &devices,
        config.clients,
        n as u64,
        |j| j as usize,
        &config,
        &tally,
    )
    .await;
    let cpu1 = process_cpu();
    let first_handshakes = handshakes(&devices);
    let rss_live_kib = rss::current_kib();

    // Steady: spread over the fleet (a stride coprime with n visits every
    // device before repeating one).
    let stride = stride_for(n);
    let (steady_time, steady_hist) = phase(
        &devices,
        config.clients,
        config.steady_requests,
        move |j| ((j as u128 * stride as u128) % n as u128) as usize,
        &config,
        &tally,
    )
    .await;
    let cpu2 = process_cpu();
    let steady_handshakes = handshakes(&devices) - first_handshakes;
    let peak_rss_kib = rss::peak_kib();
    fleet.shutdown().await;

    let per = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => Some((a as f64 - b as f64) / f64::from(config.count)),
        _ => None,
    };
    let secs = |d: Duration| d.as_secs_f64().max(1e-9);
    let errors = tally.errors.load(Ordering::Relaxed);
    let error_examples = tally
        .examples
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Ok(FleetReport {
        devices: config.count,
        contacted: n,
        clients: config.clients,
        rss_scope: "this process: the fleet and the clients",
        rss_before_kib,
        ready_s: ready.as_secs_f64(),
        rss_ready_kib,
        rss_per_dormant_device_kib: per(rss_ready_kib, rss_before_kib),
        first_contact_s: first_time.as_secs_f64(),
        first_contact_devices_per_s: n as f64 / secs(first_time),
        first_contact_handshakes_per_s: first_handshakes as f64 / secs(first_time),
        first_contact_latency: first_hist.summary(),
        cpu_ms_per_first_contact: cpu0
            .zip(cpu1)
            .map(|(a, b)| (b - a).as_secs_f64() * 1000.0 / n as f64),
        rss_live_kib,
        rss_per_live_device_kib: match (rss_live_kib, rss_ready_kib) {
            // Dormant cost of the whole fleet plus the extra of the live ones.
            (Some(live), Some(ready)) => per(rss_ready_kib, rss_before_kib)
                .map(|d| d + (live as f64 - ready as f64) / n as f64),
            _ => None,
        },
        steady_requests: config.steady_requests,
        steady_s: steady_time.as_secs_f64(),
        steady_handshakes_per_s: steady_handshakes as f64 / secs(steady_time),
        steady_latency: steady_hist.summary(),
        cpu_ms_per_handshake: cpu1.zip(cpu2).and_then(|(a, b)| {
            (steady_handshakes > 0)
                .then(|| (b - a).as_secs_f64() * 1000.0 / steady_handshakes as f64)
        }),
        peak_rss_kib,
        errors,
        error_examples,
    })
}

/// A stride near n/φ that shares no factor with n.
fn stride_for(n: usize) -> usize {
    if n <= 1 {
        return 1;
    }
    let gcd = |mut a: usize, mut b: usize| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    let mut s = ((n as f64) * 0.618) as usize | 1;
    while gcd(s, n) != 1 {
        s += 1;
    }
    s
}

impl std::fmt::Display for FleetReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kib =
            |v: Option<u64>| v.map_or("n/a".into(), |v| format!("{:.1} MiB", v as f64 / 1024.0));
        let opt = |v: Option<f64>, unit: &str| v.map_or("n/a".into(), |v| format!("{v:.2} {unit}"));
        writeln!(
            f,
            "amt-bench fleet: {} devices ({} contacted), {} clients",
            self.devices, self.contacted, self.clients
        )?;
        writeln!(
            f,
            "  ready: {:.2} s, RSS {} ({} per dormant device)",
            self.ready_s,
            kib(self.rss_ready_kib),
            opt(self.rss_per_dormant_device_kib, "KiB")
        )?;
        writeln!(
            f,
            "  first contact (key minted, 2 handshakes each): {:.2} s, {:.1} devices/s, {:.1} handshakes/s, p50 {:.1} ms, p99 {:.1} ms, CPU {} per device",
            self.first_contact_s,
            self.first_contact_devices_per_s,
            self.first_contact_handshakes_per_s,
            self.first_contact_latency.p50_ms,
            self.first_contact_latency.p99_ms,
            opt(self.cpu_ms_per_first_contact, "ms")
        )?;
        writeln!(
            f,
            "  contacted devices live: RSS {} ({} per live device)",
            kib(self.rss_live_kib),
            opt(self.rss_per_live_device_kib, "KiB")
        )?;
        writeln!(
            f,
            "  steady: {} requests in {:.2} s, {:.1} handshakes/s, p50 {:.1} ms, p99 {:.1} ms, CPU {} per handshake (server and clients)",
            self.steady_requests,
            self.steady_s,
            self.steady_handshakes_per_s,
            self.steady_latency.p50_ms,
            self.steady_latency.p99_ms,
            opt(self.cpu_ms_per_handshake, "ms")
        )?;
        writeln!(
            f,
            "  peak RSS: {} ({})",
            kib(self.peak_rss_kib),
            self.rss_scope
        )?;
        write!(f, "  errors: {}", self.errors)?;
        for e in &self.error_examples {
            write!(f, "\n    {e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn stride_visits_every_device() {
        for n in [1usize, 2, 3, 10, 97, 1000] {
            let s = super::stride_for(n);
            let mut seen: Vec<_> = (0..n).map(|j| (j * s) % n).collect();
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), n);
        }
    }
}
