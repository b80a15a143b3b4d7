//! Load benchmark and soak run for the emulator (docs/benchmarks.md).
//!
//! N concurrent clients each do what a console (RPS / rpc-go's go client)
//! does: POST a WS-Man request without `Authorization`, take the 401's
//! digest challenge, POST again with a digest response, and from then on
//! reuse that nonce with a growing `nc` until the device sends a new
//! challenge. The device closes every connection after its reply, so every
//! request is a new TCP connection with a full TLS handshake.
//!
//! All traffic goes to loopback. Every loop is bounded: a bench by its
//! request count and a time limit, a soak by its duration, and every
//! request by a timeout.

pub mod client;
pub mod digest;
pub mod face;
pub mod fleet;
pub mod flows;
pub mod handshakes;
pub mod histogram;
pub mod reference;
pub mod rss;
pub mod tunnels;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use bytes::Bytes;
use serde::Serialize;

use crate::client::Connection;
use crate::digest::{parse_challenge, DigestSession};
use crate::histogram::{Histogram, LatencySummary};

/// The WS-Man request every client sends: `AMT_GeneralSettings` Get as
/// Intel's wsman-messages builds it (requests/README.md).
pub const GENERAL_SETTINGS_GET: &str = include_str!("../requests/AMT_GeneralSettings.Get.xml");
/// The only WS-Man endpoint.
pub const WSMAN_URI: &str = "/wsman";
/// The password of the in-process device when none is given.
pub const DEFAULT_PASSWORD: &str = "P@ssw0rd";
/// The network administrator account.
pub const DEFAULT_USER: &str = "admin";
/// Longest soak accepted.
pub const MAX_SOAK: Duration = Duration::from_secs(24 * 3600);
/// Soak requests per client per second above which a client stops anyway
/// (a count bound besides the time bound; far above what TLS allows).
const SOAK_MAX_RATE_PER_CLIENT: u64 = 10_000;
/// RSS samples kept (a 24 h soak sampled every second fits).
const MAX_SAMPLES: usize = 100_000;

/// Which device to load.
#[derive(Debug, Clone)]
pub enum Target {
    /// Start one emulated device in this process (state in memory).
    InProcess { seed: Option<u64> },
    /// An emulator already listening on a loopback address (its TLS port).
    Remote(SocketAddr),
}

/// What a run does.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub target: Target,
    pub user: String,
    pub password: String,
    /// Concurrent clients.
    pub clients: usize,
    /// Requests per client (bench mode; ignored by a soak).
    pub requests: u64,
    /// Run for this long instead of a fixed count.
    pub soak: Option<Duration>,
    /// RSS sampling interval of a soak.
    pub sample_every: Duration,
    /// Growth is measured from the first sample at or after this.
    pub warmup: Duration,
    /// Status an authenticated request should get (200 once WS-Man
    /// answers; the front alone answers 404).
    pub expect_status: u16,
    /// Bound on one HTTP exchange (connect, handshake, request, reply).
    pub timeout: Duration,
    /// Bound on a whole bench run.
    pub time_limit: Duration,
    /// TLS versions the clients offer.
    pub tls_versions: Vec<&'static rustls::SupportedProtocolVersion>,
    /// Print soak samples as they are taken.
    pub progress: bool,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            target: Target::InProcess { seed: None },
            user: DEFAULT_USER.into(),
            password: DEFAULT_PASSWORD.into(),
            clients: 16,
            requests: 200,
            soak: None,
            sample_every: Duration::from_secs(5),
            warmup: Duration::from_secs(10),
            expect_status: 200,
            timeout: Duration::from_secs(10),
            time_limit: Duration::from_secs(600),
            tls_versions: rustls::DEFAULT_VERSIONS.to_vec(),
            progress: false,
        }
    }
}

/// One RSS sample of a soak.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RssSample {
    pub t_s: f64,
    pub rss_kib: u64,
    /// HTTP requests sent so far.
    pub requests: u64,
}

/// What a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub mode: &'static str,
    pub target: String,
    /// What the RSS figures cover.
    pub rss_scope: &'static str,
    pub clients: usize,
    pub requests_per_client: Option<u64>,
    pub expect_status: u16,
    pub elapsed_s: f64,
    /// Console-level requests attempted (each is one authenticated POST,
    /// preceded by an unauthenticated one when a challenge was needed).
    pub exchanges: u64,
    /// Exchanges that got the expected status.
    pub ok: u64,
    /// Every HTTP request sent (challenge requests included).
    pub http_requests: u64,
    /// HTTP requests per second.
    pub http_requests_per_s: f64,
    /// Exchanges per second.
    pub exchanges_per_s: f64,
    /// Unauthenticated requests answered with a challenge.
    pub challenges: u64,
    /// Authenticated requests answered 401 stale="true" and retried with
    /// the new nonce (not an error).
    pub stale_retries: u64,
    pub tls_handshakes: u64,
    /// Status of every authenticated request that got a reply.
    pub auth_statuses: BTreeMap<u16, u64>,
    pub errors: BTreeMap<String, u64>,
    /// The first message of each error kind.
    pub error_examples: BTreeMap<String, String>,
    /// Connect to last reply byte of the authenticated request.
    pub latency_auth: LatencySummary,
    /// First (unauthenticated) request to the authenticated reply, for
    /// exchanges that needed a challenge.
    pub latency_challenge_pair: LatencySummary,
    pub rss_start_kib: Option<u64>,
    pub rss_end_kib: Option<u64>,
    pub peak_rss_kib: Option<u64>,
    pub rss_samples: Vec<RssSample>,
    /// RSS growth from the first sample at or after the warm-up to the
    /// last sample (both taken under load).
    pub rss_growth_kib: Option<i64>,
    /// Lowest and highest sample at or after the warm-up: the band that
    /// "flat" is judged against (first-to-last alone is noisy).
    pub rss_band_kib: Option<(u64, u64)>,
    pub warmup_s: f64,
}

impl Report {
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// No errors, and (for a bench) every request done.
    pub fn passed(&self) -> bool {
        self.error_count() == 0
            && self.ok == self.exchanges
            && self
                .requests_per_client
                .is_none_or(|n| self.exchanges == n * self.clients as u64)
    }
}

/// Per-client counters, merged at the end (no locks while running).
#[derive(Default)]
struct Stats {
    exchanges: u64,
    ok: u64,
    http_requests: u64,
    challenges: u64,
    stale_retries: u64,
    auth_statuses: BTreeMap<u16, u64>,
    errors: BTreeMap<String, u64>,
    error_examples: BTreeMap<String, String>,
    latency_auth: Histogram,
    latency_pair: Histogram,
}

impl Stats {
    fn error(
        &mut self,
        shared: &Shared,
        kind: impl Into<String>,
        example: impl FnOnce() -> String,
    ) {
        let kind = kind.into();
        if !self.error_examples.contains_key(&kind) {
            self.error_examples.insert(kind.clone(), example());
        }
        *self.errors.entry(kind).or_default() += 1;
        shared.errors.fetch_add(1, Ordering::Relaxed);
    }

    fn merge(&mut self, o: Stats) {
        self.exchanges += o.exchanges;
        self.ok += o.ok;
        self.http_requests += o.http_requests;
        self.challenges += o.challenges;
        self.stale_retries += o.stale_retries;
        for (k, v) in o.auth_statuses {
            *self.auth_statuses.entry(k).or_default() += v;
        }
        for (k, v) in o.errors {
            *self.errors.entry(k).or_default() += v;
        }
        for (k, v) in o.error_examples {
            self.error_examples.entry(k).or_insert(v);
        }
        self.latency_auth.merge(&o.latency_auth);
        self.latency_pair.merge(&o.latency_pair);
    }
}

/// Live counters, for soak progress lines.
#[derive(Default)]
struct Shared {
    http_requests: AtomicU64,
    errors: AtomicU64,
    stop: AtomicBool,
}

struct ClientCtx {
    conn: Connection,
    shared: Shared,
    user: String,
    password: String,
    expect_status: u16,
    max_requests: u64,
    deadline: Instant,
    /// A soak ends at its deadline; a bench that hits it is cut short.
    deadline_is_error: bool,
}

/// Whether `addr` is loopback; the bench sends nothing anywhere else.
pub fn check_loopback(addr: SocketAddr) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        bail!("refusing to load {addr}: amt-bench only talks to loopback (127.0.0.1)");
    }
    Ok(())
}

/// Parses `HOST:PORT` where HOST is a loopback IP or `localhost`.
pub fn parse_target(s: &str) -> anyhow::Result<SocketAddr> {
    let addr = match s.parse::<SocketAddr>() {
        Ok(a) => a,
        Err(_) => {
            let (host, port) = s
                .rsplit_once(':')
                .with_context(|| format!("--target {s:?} is not HOST:PORT"))?;
            let port: u16 = port
                .parse()
                .with_context(|| format!("bad port in --target {s:?}"))?;
            if !host.eq_ignore_ascii_case("localhost") {
                bail!("--target {s:?}: HOST must be a loopback IP address or localhost");
            }
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
        }
    };
    check_loopback(addr)?;
    Ok(addr)
}

/// Runs a bench (or a soak) and reports what it measured. Errors of the
/// load itself are counted in the report; `Err` means the run could not
/// start.
pub async fn run(config: BenchConfig) -> anyhow::Result<Report> {
    if config.clients == 0 {
        bail!("--clients must be at least 1");
    }
    if let Some(d) = config.soak {
        if d.is_zero() || d > MAX_SOAK {
            bail!("--soak must be between 1 s and {} s", MAX_SOAK.as_secs());
        }
    }
    let rss_start_kib = rss::current_kib();
    let (addr, emulator, target, rss_scope) = match &config.target {
        Target::InProcess { seed } => {
            let emu = amt_server::Emulator::start(amt_server::EmulatorConfig {
                admin_password: Some(config.password.clone()),
                seed: *seed,
                ..Default::default()
            })
            .await
            .context("starting the in-process emulated device")?;
            let addr = emu
                .tls_addr()
                .context("the in-process device has no TLS listener")?;
            (
                addr,
                Some(emu),
                format!("in-process device on {addr}"),
                "this process: the emulated device and the clients",
            )
        }
        Target::Remote(addr) => (
            *addr,
            None,
            format!("running emulator at {addr}"),
            "this process: the clients only",
        ),
    };
    check_loopback(addr)?;

    let tls = client::no_verify_client(&config.tls_versions)?;
    let start = Instant::now();
    let (deadline, max_requests) = match config.soak {
        Some(d) => (start + d, d.as_secs().max(1) * SOAK_MAX_RATE_PER_CLIENT),
        None => (start + config.time_limit, config.requests),
    };
    let ctx = Arc::new(ClientCtx {
        conn: Connection {
            addr,
            connector: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            server_name: rustls::pki_types::ServerName::IpAddress(addr.ip().into()),
            host_header: addr.to_string(),
            timeout: config.timeout,
            handshakes: AtomicU64::new(0),
        },
        shared: Shared::default(),
        user: config.user.clone(),
        password: config.password.clone(),
        expect_status: config.expect_status,
        max_requests,
        deadline,
        deadline_is_error: config.soak.is_none(),
    });

    let sampler = config.soak.map(|soak| {
        let ctx = ctx.clone();
        let every = config.sample_every.max(Duration::from_millis(100));
        let progress = config.progress;
        tokio::spawn(sample_rss(ctx, start, every, soak, progress))
    });

    let mut tasks = Vec::with_capacity(config.clients);
    for _ in 0..config.clients {
        tasks.push(tokio::spawn(client_loop(ctx.clone())));
    }
    let mut stats = Stats::default();
    for t in tasks {
        match t.await {
            Ok(s) => stats.merge(s),
            Err(e) => {
                let msg = e.to_string();
                stats.error(&ctx.shared, "client task failed", || msg);
            }
        }
    }
    let elapsed = start.elapsed();
    ctx.shared.stop.store(true, Ordering::Relaxed);
    // Samples are taken under load only; the figure after the load has
    // stopped is `rss_end_kib`.
    let rss_samples = match sampler {
        Some(s) => s.await.unwrap_or_default(),
        None => Vec::new(),
    };
    let rss_end_kib = rss::current_kib();
    let peak_rss_kib = rss::peak_kib();
    if let Some(emu) = emulator {
        emu.shutdown().await;
    }

    let warm_from = config.warmup.as_secs_f64();
    let warm = rss_samples.iter().find(|s| s.t_s >= warm_from);
    let warm_samples = || rss_samples.iter().filter(|s| s.t_s >= warm_from);
    let rss_band_kib = warm_samples()
        .map(|s| s.rss_kib)
        .min()
        .zip(warm_samples().map(|s| s.rss_kib).max());
    let rss_growth_kib = match (warm, rss_samples.last()) {
        (Some(a), Some(b)) if b.t_s > a.t_s => Some(b.rss_kib as i64 - a.rss_kib as i64),
        _ => None,
    };
    let secs = elapsed.as_secs_f64().max(1e-9);
    Ok(Report {
        mode: if config.soak.is_some() {
            "soak"
        } else {
            "bench"
        },
        target,
        rss_scope,
        clients: config.clients,
        requests_per_client: config.soak.is_none().then_some(config.requests),
        expect_status: config.expect_status,
        elapsed_s: elapsed.as_secs_f64(),
        exchanges: stats.exchanges,
        ok: stats.ok,
        http_requests: stats.http_requests,
        http_requests_per_s: stats.http_requests as f64 / secs,
        exchanges_per_s: stats.exchanges as f64 / secs,
        challenges: stats.challenges,
        stale_retries: stats.stale_retries,
        tls_handshakes: ctx.conn.handshakes.load(Ordering::Relaxed),
        auth_statuses: stats.auth_statuses,
        errors: stats.errors,
        error_examples: stats.error_examples,
        latency_auth: stats.latency_auth.summary(),
        latency_challenge_pair: stats.latency_pair.summary(),
        rss_start_kib,
        rss_end_kib,
        peak_rss_kib,
        rss_samples,
        rss_growth_kib,
        rss_band_kib,
        warmup_s: config.warmup.as_secs_f64(),
    })
}

async fn sample_rss(
    ctx: Arc<ClientCtx>,
    start: Instant,
    every: Duration,
    soak: Duration,
    progress: bool,
) -> Vec<RssSample> {
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval_at(tokio::time::Instant::from_std(start + every), every);
    // Bounded by the soak's length (and a hard cap on the count).
    let last = start + soak;
    while samples.len() < MAX_SAMPLES && !ctx.shared.stop.load(Ordering::Relaxed) {
        tick.tick().await;
        if Instant::now() >= last || ctx.shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let Some(rss_kib) = rss::current_kib() else {
            break;
        };
        let sample = RssSample {
            t_s: start.elapsed().as_secs_f64(),
            rss_kib,
            requests: ctx.shared.http_requests.load(Ordering::Relaxed),
        };
        if progress {
            print_sample(&sample);
        }
        samples.push(sample);
    }
    samples
}

fn print_sample(s: &RssSample) {
    println!(
        "  t={:>7.1}s  VmRSS={:>8} KiB  requests={}",
        s.t_s, s.rss_kib, s.requests
    );
}

async fn client_loop(ctx: Arc<ClientCtx>) -> Stats {
    let mut stats = Stats::default();
    let mut session: Option<DigestSession> = None;
    let mut message_id: u64 = 0;
    for _ in 0..ctx.max_requests {
        if Instant::now() >= ctx.deadline {
            if ctx.deadline_is_error {
                stats.error(&ctx.shared, "time limit reached", || {
                    "the bench hit --time-limit before its requests were done".into()
                });
            }
            break;
        }
        exchange(&ctx, &mut stats, &mut session, &mut message_id).await;
    }
    stats
}

fn request_body(message_id: &mut u64) -> Bytes {
    let id = *message_id;
    *message_id += 1;
    Bytes::from(GENERAL_SETTINGS_GET.replacen(
        "<a:MessageID>0</a:MessageID>",
        &format!("<a:MessageID>{id}</a:MessageID>"),
        1,
    ))
}

/// One console-level request: a challenge round trip if there is no
/// nonce yet, then the authenticated POST (retried once on a stale nonce).
async fn exchange(
    ctx: &ClientCtx,
    stats: &mut Stats,
    session: &mut Option<DigestSession>,
    message_id: &mut u64,
) {
    stats.exchanges += 1;
    let started = Instant::now();
    let mut challenged = false;
    let body = request_body(message_id);
    if session.is_none() {
        stats.http_requests += 1;
        ctx.shared.http_requests.fetch_add(1, Ordering::Relaxed);
        match ctx.conn.post(None, body.clone()).await {
            Err(e) => return stats.error(&ctx.shared, e.kind(), || e.to_string()),
            Ok(reply) if reply.status == 401 => {
                match take_challenge(ctx, reply.www_authenticate.as_deref()) {
                    Ok(s) => {
                        stats.challenges += 1;
                        *session = Some(s);
                        challenged = true;
                    }
                    Err(msg) => return stats.error(&ctx.shared, "bad challenge", || msg),
                }
            }
            Ok(reply) => {
                return stats.error(
                    &ctx.shared,
                    format!("no challenge: status {}", reply.status),
                    || {
                        format!(
                            "an unauthenticated POST got {} instead of 401",
                            reply.status
                        )
                    },
                )
            }
        }
    }
    for attempt in 0..2 {
        let Some(s) = session.as_mut() else {
            return;
        };
        let authorization = s.authorization("POST", WSMAN_URI);
        stats.http_requests += 1;
        ctx.shared.http_requests.fetch_add(1, Ordering::Relaxed);
        let sent = Instant::now();
        let reply = match ctx.conn.post(Some(&authorization), body.clone()).await {
            // The nonce is kept: a transport error says nothing about it.
            Err(e) => return stats.error(&ctx.shared, e.kind(), || e.to_string()),
            Ok(r) => r,
        };
        *stats.auth_statuses.entry(reply.status).or_default() += 1;
        if reply.status == 401 {
            let old_nonce = s.nonce().to_string();
            let next = take_challenge(ctx, reply.www_authenticate.as_deref());
            let stale = next.as_ref().is_ok_and(|n| n.stale());
            // Follow the device's new nonce either way, as a console does.
            *session = next.ok();
            if stale && attempt == 0 {
                stats.stale_retries += 1;
                continue;
            }
            return stats.error(&ctx.shared, "401 after a good digest", || {
                format!("the device refused a digest response under nonce {old_nonce}")
            });
        }
        stats.latency_auth.record(reply.done.duration_since(sent));
        if challenged {
            stats
                .latency_pair
                .record(reply.done.duration_since(started));
        }
        if reply.status != ctx.expect_status {
            let (status, len) = (reply.status, reply.body.len());
            stats.error(&ctx.shared, format!("unexpected status {status}"), || {
                format!(
                    "authenticated request got {status} ({len} body bytes), expected {}",
                    ctx.expect_status
                )
            });
        } else if reply.status == 200 && !is_general_settings(&reply.body) {
            let head =
                String::from_utf8_lossy(&reply.body[..reply.body.len().min(200)]).into_owned();
            stats.error(
                &ctx.shared,
                "200 without an AMT_GeneralSettings instance",
                || head,
            );
        } else {
            stats.ok += 1;
        }
        return;
    }
}

/// Whether a 200 body carries the instance a GeneralSettings Get asks for.
fn is_general_settings(body: &[u8]) -> bool {
    // The element's tag (`<g:AMT_GeneralSettings>`), not the ResourceURI.
    const NEEDLE: &[u8] = b"AMT_GeneralSettings>";
    body.windows(NEEDLE.len()).any(|w| w == NEEDLE)
}

fn take_challenge(ctx: &ClientCtx, header: Option<&str>) -> Result<DigestSession, String> {
    let header = header.ok_or_else(|| "a 401 without WWW-Authenticate".to_string())?;
    let challenge = parse_challenge(header).map_err(|e| format!("{e}: {header}"))?;
    Ok(DigestSession::new(challenge, &ctx.user, &ctx.password))
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kib = |v: Option<u64>| v.map_or("n/a".to_string(), |v| format!("{v} KiB"));
        writeln!(f, "amt-bench {} against {}", self.mode, self.target)?;
        match self.requests_per_client {
            Some(n) => writeln!(f, "  clients: {} x {n} requests", self.clients)?,
            None => writeln!(f, "  clients: {} (continuous)", self.clients)?,
        }
        writeln!(f, "  elapsed: {:.2} s", self.elapsed_s)?;
        writeln!(
            f,
            "  exchanges: {} ({:.1}/s), ok (status {}): {}",
            self.exchanges, self.exchanges_per_s, self.expect_status, self.ok
        )?;
        writeln!(
            f,
            "  HTTP requests: {} ({:.1}/s); challenges: {}; stale retries: {}; TLS handshakes: {}",
            self.http_requests,
            self.http_requests_per_s,
            self.challenges,
            self.stale_retries,
            self.tls_handshakes
        )?;
        let statuses: Vec<String> = self
            .auth_statuses
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        writeln!(
            f,
            "  authenticated replies by status: {{{}}}",
            statuses.join(", ")
        )?;
        let lat = |f: &mut std::fmt::Formatter<'_>, name: &str, l: &LatencySummary| {
            writeln!(
                f,
                "  latency {name} (n={}): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms, mean {:.2} ms",
                l.count, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.mean_ms
            )
        };
        lat(f, "authenticated request", &self.latency_auth)?;
        lat(f, "401 + retry pair", &self.latency_challenge_pair)?;
        writeln!(
            f,
            "  RSS ({}): start {}, end {}, peak (VmHWM) {}",
            self.rss_scope,
            kib(self.rss_start_kib),
            kib(self.rss_end_kib),
            kib(self.peak_rss_kib)
        )?;
        if self.mode == "soak" {
            writeln!(f, "  RSS samples (VmRSS):")?;
            for s in &self.rss_samples {
                writeln!(
                    f,
                    "    t={:>7.1}s  {:>8} KiB  requests={}",
                    s.t_s, s.rss_kib, s.requests
                )?;
            }
            if let Some((lo, hi)) = self.rss_band_kib {
                writeln!(
                    f,
                    "  RSS band after warm-up: {lo}..{hi} KiB ({} KiB wide)",
                    hi - lo
                )?;
            }
            match self.rss_growth_kib {
                Some(g) => writeln!(
                    f,
                    "  RSS growth after {:.0} s warm-up (first to last sample): {g:+} KiB",
                    self.warmup_s
                )?,
                None => writeln!(
                    f,
                    "  RSS growth: n/a (fewer than two samples after the {:.0} s warm-up)",
                    self.warmup_s
                )?,
            }
        }
        if self.errors.is_empty() {
            writeln!(f, "  errors: 0")?;
        } else {
            writeln!(f, "  errors: {}", self.error_count())?;
            for (k, n) in &self.errors {
                let ex = self.error_examples.get(k).map_or("", String::as_str);
                writeln!(f, "    {k}: {n}  (e.g. {ex})")?;
            }
        }
        write!(
            f,
            "  result: {}",
            if self.passed() { "PASS" } else { "FAIL" }
        )
    }
}
