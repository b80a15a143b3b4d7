//! Handshake rate: how many full TLS handshakes per second an in-process
//! device completes, as a ratio to a reference measured in the same run
//! (`openssl speed rsa2048` signatures per second, one process), so runs on
//! a loaded or a different machine compare (docs/benchmarks.md).
//!
//! Every handshake is what a console's connection costs: TCP connect, a
//! full handshake (no resumption: the device offers none), close. The
//! server signs with the device's RSA-2048 key once per handshake, which is
//! why RSA-2048 signing is the reference. The clients run rustls on ring
//! in every build, so two builds of the server differ only in its provider.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

/// What one handshake-rate run measured.
#[derive(Debug, Clone, Serialize)]
pub struct HandshakeReport {
    /// The server's rustls crypto provider (the build's cargo feature).
    pub provider: &'static str,
    pub clients: usize,
    pub seconds: f64,
    pub handshakes: u64,
    pub failures: u64,
    pub handshakes_per_second: f64,
    /// `openssl speed rsa2048` sign/s in the same run; `None` when openssl
    /// is missing or its output unreadable.
    pub reference_rsa2048_signs_per_second: Option<f64>,
    /// handshakes/s ÷ reference sign/s.
    pub ratio: Option<f64>,
}

impl std::fmt::Display for HandshakeReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "amt-bench handshakes: server provider {}, {} clients, {:.1} s",
            self.provider, self.clients, self.seconds
        )?;
        writeln!(
            f,
            "  handshakes: {} ({:.1}/s), failures: {}",
            self.handshakes, self.handshakes_per_second, self.failures
        )?;
        match (self.reference_rsa2048_signs_per_second, self.ratio) {
            (Some(r), Some(ratio)) => writeln!(
                f,
                "  reference (openssl speed rsa2048, same run): {r:.1} sign/s; ratio {ratio:.3} handshakes per RSA-2048 sign"
            ),
            _ => writeln!(f, "  reference: openssl speed unavailable"),
        }
    }
}

/// `openssl speed -seconds S rsa2048`: RSA-2048 signatures per second.
pub fn reference_rsa2048_signs(seconds: u64) -> Option<f64> {
    let out = std::process::Command::new("openssl")
        .args(["speed", "-seconds", &seconds.to_string(), "rsa2048"])
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    parse_openssl_speed(&String::from_utf8_lossy(&out.stdout))
}

/// The sign/s column of the `rsa 2048 bits` row of `openssl speed`.
pub fn parse_openssl_speed(text: &str) -> Option<f64> {
    // "rsa 2048 bits 0.000675s 0.000020s   1481.5  50000.0"
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("rsa 2048 bits"))?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    fields.get(fields.len().checked_sub(2)?)?.parse().ok()
}

/// Runs `clients` handshake loops against an in-process device for
/// `duration`, after the reference.
pub async fn run(
    clients: usize,
    duration: Duration,
    reference_seconds: u64,
) -> anyhow::Result<HandshakeReport> {
    let reference = tokio::task::spawn_blocking(move || reference_rsa2048_signs(reference_seconds))
        .await
        .context("reference measurement")?;
    let emu = amt_server::Emulator::start(amt_server::EmulatorConfig {
        admin_password: Some(crate::DEFAULT_PASSWORD.into()),
        seed: Some(1),
        ..Default::default()
    })
    .await
    .context("starting the in-process device")?;
    let addr = emu
        .tls_addr()
        .context("the in-process device has no TLS listener")?;
    let tls = Arc::new(crate::client::no_verify_client(rustls::DEFAULT_VERSIONS)?);
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..clients.max(1) {
        let (tls, done, failed) = (tls.clone(), done.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                match tokio::time::timeout(Duration::from_secs(10), handshake(addr, &tls)).await {
                    Ok(Ok(())) => done.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    emu.shutdown().await;
    let handshakes = done.load(Ordering::Relaxed);
    let per_second = handshakes as f64 / seconds.max(f64::EPSILON);
    Ok(HandshakeReport {
        provider: amt_server::tls::rustls_provider_name(),
        clients: clients.max(1),
        seconds,
        handshakes,
        failures: failed.load(Ordering::Relaxed),
        handshakes_per_second: per_second,
        reference_rsa2048_signs_per_second: reference,
        ratio: reference.filter(|r| *r > 0.0).map(|r| per_second / r),
    })
}

async fn handshake(addr: SocketAddr, tls: &Arc<rustls::ClientConfig>) -> anyhow::Result<()> {
    use tokio::io::AsyncWriteExt;
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let connector = tokio_rustls::TlsConnector::from(tls.clone());
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let mut stream = connector.connect(name, tcp).await?;
    let _ = stream.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sign_rate_of_openssl_speed() {
        let text = "                  sign    verify    sign/s verify/s\nrsa 2048 bits 0.000675s 0.000020s   1481.5  50000.0\n";
        assert_eq!(parse_openssl_speed(text), Some(1481.5));
        assert_eq!(parse_openssl_speed("nothing"), None);
    }
}
