//! `amt-bench`: load benchmark and soak run for the emulator
//! (docs/benchmarks.md).

use std::process::ExitCode;
use std::time::Duration;

use amt_bench::{BenchConfig, Target, DEFAULT_PASSWORD, DEFAULT_USER};
use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum TlsVersion {
    /// TLS 1.3 or 1.2, whichever the device prefers (1.3 with rustls).
    Any,
    #[value(name = "1.2")]
    V12,
    #[value(name = "1.3")]
    V13,
}

/// Concurrent digest-authenticated WS-Man over TLS against one emulated
/// device, as consoles send it. Every request is a new TCP + TLS
/// connection (AMT closes the connection after each reply).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Load an emulator already running at this loopback TLS address
    /// (HOST:PORT, e.g. 127.0.0.1:16993) instead of starting one in-process.
    #[arg(long, value_name = "HOST:PORT", requires = "password")]
    target: Option<String>,
    /// Admin password (the in-process device is given it; default P@ssw0rd).
    #[arg(long, env = "AMT_BENCH_PASSWORD")]
    password: Option<String>,
    /// Digest user name.
    #[arg(long, default_value = DEFAULT_USER)]
    user: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Requests per client (ignored with --soak).
    #[arg(long, default_value_t = 200)]
    requests: u64,
    /// HTTP status an authenticated request should get. 200 once the
    /// WS-Man engine answers; 404 while only the front is there.
    #[arg(long, default_value_t = 200)]
    expect_status: u16,
    /// Run continuously for this many seconds, sampling RSS, instead of a
    /// fixed number of requests.
    #[arg(long, value_name = "SECONDS")]
    soak: Option<u64>,
    /// Seconds between RSS samples in a soak.
    #[arg(long, default_value_t = 5)]
    sample_every: u64,
    /// Seconds of soak before the RSS baseline sample.
    #[arg(long, default_value_t = 10)]
    warmup: u64,
    /// Seconds one HTTP exchange (connect, handshake, request, reply) may take.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// Seconds a bench may run before it stops (its remaining requests
    /// count as errors).
    #[arg(long, default_value_t = 600)]
    time_limit: u64,
    /// TLS version the clients offer.
    #[arg(long, value_enum, default_value_t = TlsVersion::Any)]
    tls: TlsVersion,
    /// Seed for the in-process device (reproducible keys).
    #[arg(long)]
    seed: Option<u64>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Handshake rate instead: full TLS handshakes (connect, handshake,
    /// close) against an in-process device for this many seconds, as a
    /// ratio to `openssl speed rsa2048` measured in the same run.
    #[arg(long, value_name = "SECONDS", conflicts_with_all = ["target", "soak", "fleet"])]
    handshakes: Option<u64>,
    /// Fleet benchmark instead: this many devices in-process, each on its
    /// own loopback address (ready time, memory per device, first contact,
    /// handshakes/s across the fleet).
    #[arg(long, value_name = "N", conflicts_with_all = ["target", "soak"])]
    fleet: Option<u32>,
    /// Address of the fleet's first device (device i at +i).
    #[arg(long, default_value = "127.2.0.1", requires = "fleet")]
    fleet_first: std::net::Ipv4Addr,
    /// Devices the first-contact phase starts (each mints its key); the
    /// steady phase spreads over them. Default: every device.
    #[arg(long, requires = "fleet")]
    first_contact: Option<u32>,
    /// Authenticated requests of the fleet's steady phase.
    #[arg(long, default_value_t = 4000, requires = "fleet")]
    steady_requests: u64,
    /// Keep the fleet's state in this directory (default: in memory).
    #[arg(long, requires = "fleet")]
    fleet_state_dir: Option<std::path::PathBuf>,
    /// With --fleet: every device holds a CIRA tunnel to one MPS on
    /// loopback; tunnel set-up time and WS-Man round trips through the
    /// tunnels (--steady-requests of them, --clients at once).
    #[arg(long, requires = "fleet", conflicts_with = "activation")]
    cira: bool,
    /// With --fleet: new devices, and one concurrent CCM activation + TLS
    /// configuration flow per device.
    #[arg(long, requires = "fleet")]
    activation: bool,
    /// The single-device bench, then the same load on a bare hyper +
    /// rustls server with the device's certificate, then `openssl speed
    /// rsa2048`; reports the ratios.
    #[arg(long, conflicts_with_all = ["target", "soak", "fleet"])]
    reference: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(seconds) = args.handshakes {
        return handshakes(&args, seconds);
    }
    if let Some(count) = args.fleet {
        return fleet(&args, count);
    }
    let config = match config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("amt-bench: {e:#}");
            return ExitCode::from(2);
        }
    };
    if args.reference {
        return match amt_bench::reference::run_reference(config, args.seed) {
            Ok(r) => finish(&r, args.json, r.passed()),
            Err(e) => {
                eprintln!("amt-bench: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    if let Some(s) = config.soak {
        if !args.json {
            println!(
                "soaking for {} s with {} clients (RSS sample every {} s, warm-up {} s)",
                s.as_secs(),
                config.clients,
                config.sample_every.as_secs(),
                config.warmup.as_secs()
            );
        }
    }
    match runtime.block_on(amt_bench::run(config)) {
        Ok(report) => finish(&report, args.json, report.passed()),
        Err(e) => {
            eprintln!("amt-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn fleet(args: &Args, count: u32) -> ExitCode {
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let password = args
        .password
        .clone()
        .unwrap_or_else(|| DEFAULT_PASSWORD.to_string());
    let timeout = Duration::from_secs(args.timeout.max(1));
    if args.cira {
        let config = amt_bench::tunnels::TunnelBenchConfig {
            count,
            first: args.fleet_first,
            seed: args.seed,
            password,
            clients: args.clients,
            requests: args.steady_requests,
            timeout,
        };
        return match runtime.block_on(amt_bench::tunnels::run_tunnels(config)) {
            Ok(r) => finish(&r, args.json, r.passed()),
            Err(e) => {
                eprintln!("amt-bench: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    if args.activation {
        let config = amt_bench::flows::ActivationConfig {
            count,
            first: args.fleet_first,
            seed: args.seed,
            password,
            timeout,
        };
        return match runtime.block_on(amt_bench::flows::run_activation(config)) {
            Ok(r) => finish(&r, args.json, r.passed()),
            Err(e) => {
                eprintln!("amt-bench: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    let config = amt_bench::fleet::FleetBenchConfig {
        count,
        first: args.fleet_first,
        seed: args.seed,
        clients: args.clients,
        first_contact: args.first_contact,
        steady_requests: args.steady_requests,
        user: args.user.clone(),
        password: args
            .password
            .clone()
            .unwrap_or_else(|| DEFAULT_PASSWORD.to_string()),
        timeout: Duration::from_secs(args.timeout.max(1)),
        state_dir: args.fleet_state_dir.clone(),
        tls_versions: tls_versions(args.tls),
    };
    match runtime.block_on(amt_bench::fleet::run_fleet(config)) {
        Ok(report) => finish(&report, args.json, report.passed()),
        Err(e) => {
            eprintln!("amt-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Prints a report (text or JSON); the exit status says whether it passed.
/// The multi-threaded runtime every bench runs on, or the exit code for
/// a machine that cannot give one.
fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("amt-bench: cannot start the tokio runtime: {e}");
            ExitCode::from(2)
        })
}

fn finish<R: serde::Serialize + std::fmt::Display>(
    report: &R,
    json: bool,
    passed: bool,
) -> ExitCode {
    if json {
        match serde_json::to_string_pretty(report) {
            Ok(j) => println!("{j}"),
            Err(e) => eprintln!("amt-bench: {e}"),
        }
    } else {
        println!("{report}");
    }
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn tls_versions(tls: TlsVersion) -> Vec<&'static rustls::SupportedProtocolVersion> {
    match tls {
        TlsVersion::Any => rustls::DEFAULT_VERSIONS.to_vec(),
        TlsVersion::V12 => vec![&rustls::version::TLS12],
        TlsVersion::V13 => vec![&rustls::version::TLS13],
    }
}

fn config(args: &Args) -> anyhow::Result<BenchConfig> {
    let target = match &args.target {
        Some(t) => Target::Remote(amt_bench::parse_target(t)?),
        None => Target::InProcess { seed: args.seed },
    };
    let tls_versions = tls_versions(args.tls);
    Ok(BenchConfig {
        target,
        user: args.user.clone(),
        password: args
            .password
            .clone()
            .unwrap_or_else(|| DEFAULT_PASSWORD.to_string()),
        clients: args.clients,
        requests: args.requests,
        soak: args.soak.map(Duration::from_secs),
        sample_every: Duration::from_secs(args.sample_every.max(1)),
        warmup: Duration::from_secs(args.warmup),
        expect_status: args.expect_status,
        timeout: Duration::from_secs(args.timeout.max(1)),
        time_limit: Duration::from_secs(args.time_limit.max(1)),
        tls_versions,
        progress: !args.json,
    })
}

fn handshakes(args: &Args, seconds: u64) -> ExitCode {
    if seconds == 0 || seconds > 600 {
        eprintln!("amt-bench: --handshakes must be between 1 and 600 s");
        return ExitCode::from(2);
    }
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    match runtime.block_on(amt_bench::handshakes::run(
        args.clients,
        Duration::from_secs(seconds),
        3,
    )) {
        Ok(report) => {
            if args.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(j) => println!("{j}"),
                    Err(e) => eprintln!("amt-bench: {e}"),
                }
            } else {
                print!("{report}");
            }
            if report.failures == 0 && report.handshakes > 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("amt-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}
