//! The bench must not rot: a tiny run against a real in-process device
//! reports exact counts and no errors, and errors are counted, not
//! panicked, when the password is wrong.

use std::time::{Duration, Instant};

use amt_bench::{run, BenchConfig, Target};
use amt_server::{Emulator, EmulatorConfig};

/// What an authenticated `AMT_GeneralSettings` Get gets from the device.
const EXPECTED: u16 = 200;

fn small(target: Target, password: &str) -> BenchConfig {
    BenchConfig {
        target,
        password: password.into(),
        clients: 2,
        requests: 3,
        expect_status: EXPECTED,
        timeout: Duration::from_secs(10),
        time_limit: Duration::from_secs(60),
        ..BenchConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_in_process_bench_has_exact_counts_and_no_errors() {
    let t = Instant::now();
    let report = run(small(Target::InProcess { seed: Some(7) }, "P@ssw0rd"))
        .await
        .expect("bench runs");
    eprintln!("{report}");
    assert!(report.passed(), "{report}");
    assert_eq!(report.error_count(), 0, "{report}");
    assert_eq!(report.exchanges, 6);
    assert_eq!(report.ok, 6);
    // One challenge per client, then the nonce is reused.
    assert_eq!(report.challenges, 2);
    assert_eq!(report.http_requests, 8);
    assert_eq!(report.tls_handshakes, 8, "a new connection per request");
    assert_eq!(report.auth_statuses.get(&EXPECTED), Some(&6));
    assert_eq!(report.latency_auth.count, 6);
    assert_eq!(report.latency_challenge_pair.count, 2);
    assert!(report.latency_auth.p50_ms > 0.0);
    assert!(report.latency_challenge_pair.p50_ms > 0.0);
    assert!(report.peak_rss_kib.is_some_and(|k| k > 0));
    eprintln!("took {:?}", t.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_against_a_running_emulator_counts_errors() {
    let emu = Emulator::start(EmulatorConfig {
        admin_password: Some("P@ssw0rd".into()),
        seed: Some(8),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let addr = emu.tls_addr().unwrap();
    let mut config = small(Target::Remote(addr), "wrong");
    // Under the device's login lockout threshold (5 failures).
    config.clients = 1;
    config.requests = 2;
    let report = run(config).await.expect("bench runs");
    eprintln!("{report}");
    assert!(!report.passed());
    assert_eq!(report.ok, 0);
    assert_eq!(
        report.errors.get("401 after a good digest"),
        Some(&2),
        "{report}"
    );
    assert_eq!(report.error_count(), 2);
    // The refusal carried a fresh challenge, which the client followed, so
    // no further unauthenticated request was needed.
    assert_eq!(report.challenges, 1);
    assert_eq!(report.http_requests, 3);
    assert_eq!(report.auth_statuses.get(&401), Some(&2));
    emu.shutdown().await;
}

#[test]
fn only_loopback_targets() {
    assert!(amt_bench::parse_target("127.0.0.1:16993").is_ok());
    assert!(amt_bench::parse_target("localhost:16993").is_ok());
    assert!(amt_bench::parse_target("[::1]:16993").is_ok());
    assert!(amt_bench::parse_target("10.0.0.5:16993").is_err());
    assert!(amt_bench::parse_target("example.com:16993").is_err());
    assert!(amt_bench::parse_target("127.0.0.1").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_soak_samples_rss_and_stops_by_itself() {
    let started = Instant::now();
    let config = BenchConfig {
        clients: 2,
        soak: Some(Duration::from_millis(1500)),
        sample_every: Duration::from_millis(250),
        warmup: Duration::from_millis(500),
        ..small(Target::InProcess { seed: Some(9) }, "P@ssw0rd")
    };
    let report = run(config).await.expect("soak runs");
    eprintln!("{report}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "bounded in time"
    );
    assert_eq!(report.mode, "soak");
    assert!(report.passed(), "{report}");
    assert!(report.exchanges > 0 && report.ok == report.exchanges);
    assert!(report.rss_samples.len() >= 3, "{:?}", report.rss_samples);
    assert!(report.rss_growth_kib.is_some());
    assert!(report.rss_band_kib.is_some());
    assert!(report
        .rss_samples
        .windows(2)
        .all(|w| w[0].t_s < w[1].t_s && w[0].requests <= w[1].requests));
}
