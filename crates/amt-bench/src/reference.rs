//! The single-device bench against its references, in one run
//! (`amt-bench --reference`, docs/benchmarks.md): the same clients load
//!
//! 1. the emulated device (in this process), then
//! 2. a bare hyper + rustls server with the device's own certificate and
//!    key, which answers a request without `Authorization` with a digest
//!    challenge and every other with a 200 carrying the device's own
//!    `AMT_GeneralSettings` reply (no WS-Man, no digest check: the floor
//!    for the same handshakes and requests),
//!
//! and then `openssl speed rsa2048` runs. The servers run on their own
//! runtime threads (`bench-server`), so their CPU is measured apart from
//! the clients'. The report gives requests/s and server CPU per request of
//! both, and the ratios.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::Full;
use serde::Serialize;

use crate::{BenchConfig, Report, Target};

const SERVER_THREAD: &str = "bench-server";

#[derive(Debug, Serialize)]
pub struct ReferenceReport {
    pub emulator: Report,
    pub reference: Report,
    /// CPU of the server threads per HTTP request.
    pub emulator_server_cpu_ms_per_request: Option<f64>,
    pub reference_server_cpu_ms_per_request: Option<f64>,
    pub openssl_rsa2048_sign_per_s: Option<f64>,
    pub openssl_rsa2048_verify_per_s: Option<f64>,
    /// Emulator over reference.
    pub requests_per_s_ratio: f64,
    pub server_cpu_per_request_ratio: Option<f64>,
    /// Server CPU of one emulator handshake in RSA-2048 signatures
    /// (openssl, one core).
    pub emulator_handshake_cpu_in_rsa_signs: Option<f64>,
    pub reference_handshake_cpu_in_rsa_signs: Option<f64>,
}

impl ReferenceReport {
    pub fn passed(&self) -> bool {
        self.emulator.passed() && self.reference.passed()
    }
}

/// CPU time of this process's threads named `name` (user + system).
fn threads_cpu(name: &str) -> Option<Duration> {
    let mut ticks = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let path = task.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        let utime: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0);
        let stime: u64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
        ticks += utime + stime;
    }
    // USER_HZ is 100 on every Linux we run on.
    Some(Duration::from_millis(ticks * 10))
}

/// `openssl speed -seconds 3 rsa2048`: signatures and verifications per
/// second on one core.
fn openssl_speed() -> Option<(f64, f64)> {
    let out = std::process::Command::new("openssl")
        .args(["speed", "-seconds", "3", "rsa2048"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "rsa 2048 bits 0.000705s 0.000021s   1418.4  47619.0"
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("rsa") && l.contains("2048 bits"))?;
    let numbers: Vec<f64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let n = numbers.len();
    (n >= 2).then(|| (numbers[n - 2], numbers[n - 1]))
}

/// The bare server: the device's certificate and key, a challenge for a
/// request without credentials, a fixed reply otherwise.
async fn reference_server(cert: Vec<u8>, key: Vec<u8>, reply: Bytes) -> anyhow::Result<SocketAddr> {
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.into()],
            rustls::pki_types::PrivatePkcs8KeyDer::from(key).into(),
        )?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, reply) = (acceptor.clone(), reply.clone());
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let reply = reply.clone();
                    async move {
                        use http_body_util::BodyExt as _;
                        let authorized = req.headers().contains_key(hyper::header::AUTHORIZATION);
                        let _ = req.into_body().collect().await;
                        let mut r = hyper::Response::builder()
                            .header(hyper::header::CONNECTION, "close")
                            .header(hyper::header::CONTENT_TYPE, "application/soap+xml");
                        r = if authorized {
                            r.status(200)
                        } else {
                            r.status(401).header(
                                hyper::header::WWW_AUTHENTICATE,
                                "Digest realm=\"Digest:00000000000000000000000000000000\", nonce=\"0123456789abcdef0123456789abcdef\",stale=\"false\",qop=\"auth\"",
                            )
                        };
                        r.body(Full::new(if authorized { reply } else { Bytes::new() }))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

/// Runs both loads and openssl speed; `config.target` is ignored (the
/// device is started here).
pub fn run_reference(config: BenchConfig, seed: Option<u64>) -> anyhow::Result<ReferenceReport> {
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(SERVER_THREAD)
        .build()?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bench-client")
        .build()?;
    let emu = server_rt
        .block_on(amt_server::Emulator::start(amt_server::EmulatorConfig {
            admin_password: Some(config.password.clone()),
            seed,
            ..Default::default()
        }))
        .context("starting the in-process emulated device")?;
    let emu_addr = emu.tls_addr().context("the device has no TLS listener")?;
    let load = |addr| BenchConfig {
        target: Target::Remote(addr),
        soak: None,
        ..config.clone()
    };

    let cpu0 = threads_cpu(SERVER_THREAD);
    let emulator = client_rt.block_on(crate::run(load(emu_addr)))?;
    let cpu1 = threads_cpu(SERVER_THREAD);
    let (cert, key) = emu
        .host()
        .with_device(|d| {
            d.active_tls_certificate()
                .map(|(c, k)| (c.der.clone(), k.key.pkcs8_der().to_vec()))
        })
        .context("the device serves no certificate")?;
    // The bare server answers with the device's own reply.
    let tls = Arc::new(crate::client::no_verify_client(&config.tls_versions)?);
    let reply = client_rt
        .block_on(
            crate::face::Face::new(
                emu_addr,
                crate::face::Wire::Tls(tokio_rustls::TlsConnector::from(tls)),
                &config.user,
                &config.password,
                config.timeout,
            )
            .call(crate::GENERAL_SETTINGS_GET),
        )
        .map_err(|e| anyhow::anyhow!("the device's reply: {e}"))?;
    server_rt.block_on(emu.shutdown());

    let ref_addr = server_rt.block_on(reference_server(cert, key, Bytes::from(reply)))?;
    let cpu2 = threads_cpu(SERVER_THREAD);
    let reference = client_rt.block_on(crate::run(load(ref_addr)))?;
    let cpu3 = threads_cpu(SERVER_THREAD);
    let speed = openssl_speed();

    let per = |a: Option<Duration>, b: Option<Duration>, n: u64| {
        a.zip(b)
            .and_then(|(a, b)| (n > 0).then(|| (b - a).as_secs_f64() * 1000.0 / n as f64))
    };
    let emu_cpu = per(cpu0, cpu1, emulator.http_requests);
    let ref_cpu = per(cpu2, cpu3, reference.http_requests);
    let emu_hs = per(cpu0, cpu1, emulator.tls_handshakes);
    let ref_hs = per(cpu2, cpu3, reference.tls_handshakes);
    let in_signs = |ms: Option<f64>| speed.zip(ms).map(|((sign, _), ms)| ms / 1000.0 * sign);
    Ok(ReferenceReport {
        requests_per_s_ratio: emulator.http_requests_per_s
            / reference.http_requests_per_s.max(1e-9),
        server_cpu_per_request_ratio: emu_cpu.zip(ref_cpu).map(|(a, b)| a / b.max(1e-9)),
        emulator_handshake_cpu_in_rsa_signs: in_signs(emu_hs),
        reference_handshake_cpu_in_rsa_signs: in_signs(ref_hs),
        emulator_server_cpu_ms_per_request: emu_cpu,
        reference_server_cpu_ms_per_request: ref_cpu,
        openssl_rsa2048_sign_per_s: speed.map(|s| s.0),
        openssl_rsa2048_verify_per_s: speed.map(|s| s.1),
        emulator,
        reference,
    })
}

impl std::fmt::Display for ReferenceReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.3} ms"));
        let x = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.2}"));
        writeln!(f, "emulated device:\n{}", self.emulator)?;
        writeln!(
            f,
            "bare hyper + rustls, same certificate:\n{}",
            self.reference
        )?;
        writeln!(f, "references, same run:")?;
        writeln!(
            f,
            "  HTTP requests/s: emulator {:.1}, bare server {:.1}: ratio {:.2}",
            self.emulator.http_requests_per_s,
            self.reference.http_requests_per_s,
            self.requests_per_s_ratio
        )?;
        writeln!(
            f,
            "  server CPU per request: emulator {}, bare server {}: ratio {}",
            ms(self.emulator_server_cpu_ms_per_request),
            ms(self.reference_server_cpu_ms_per_request),
            x(self.server_cpu_per_request_ratio)
        )?;
        write!(
            f,
            "  openssl speed rsa2048 (one core): {} sign/s, {} verify/s; server CPU per handshake = {} RSA signatures (emulator), {} (bare server)",
            x(self.openssl_rsa2048_sign_per_s),
            x(self.openssl_rsa2048_verify_per_s),
            x(self.emulator_handshake_cpu_in_rsa_signs),
            x(self.reference_handshake_cpu_in_rsa_signs)
        )
    }
}
