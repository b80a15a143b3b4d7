//! `amt-emu`: an emulated Intel AMT device on the network.

use std::net::IpAddr;
use std::path::PathBuf;

use amt_device::{flash, BiosClock, Entropy, FirmwareVersion};
use amt_server::control::CONTROL_PORT;
use amt_server::scenario::Scenario;
use amt_server::{
    Emulator, EmulatorConfig, FaultRule, FlashStore, JournalConfig, LmsConfig, Ports,
};

mod ctl;
mod fleet;
mod record;
use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Emulates the network side of an Intel AMT (CSME) device: WS-Man over
/// HTTP digest on 16992/16993, the provisioning state machine and the
/// firmware's self-signed TLS certificate.
#[derive(Parser, Debug)]
#[command(name = "amt-emu", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one emulated device until Ctrl-C.
    Serve(ServeArgs),
    /// Run many emulated devices from one process until Ctrl-C, each on
    /// its own loopback address or port block, with its own state and
    /// identity (docs/deployment.md).
    Fleet(fleet::FleetArgs),
    /// Inspect a device's stored state.
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Drive a running device through its control API (what only the
    /// machine's owner can do: MEBx, BIOS clock, power; faults; journal).
    Ctl(ctl::CtlArgs),
    /// What the host OS sees over HECI, through the control API.
    Host(ctl::HostArgs),
    /// Record a real device: a proxy consoles point at, or a sweep
    /// (docs/recording.md).
    Record(record::RecordArgs),
    /// Compare the emulator's replies with a device's or a recording's.
    Compare(record::CompareArgs),
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Directory holding the device's flash image (created if missing).
    #[arg(long, default_value = ".amt-emu", env = "AMT_EMU_STATE_DIR")]
    state_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    listen: IpAddr,
    /// Added to every AMT port (16992, 16993, ...), to run several devices
    /// on one address or to avoid needing root for low ports.
    #[arg(long, default_value_t = 0)]
    port_offset: u16,
    /// Firmware version of a new device, e.g. 16.1.25 (CSME 16.1, the
    /// default), 15.0.23, 19.0.5.
    #[arg(long, value_parser = parse_firmware)]
    firmware: Option<FirmwareVersion>,
    /// TLS stack: rustls or openssl. The default is the one the firmware
    /// needs: openssl before CSME 16.1 (TLS 1.0/1.1, static-RSA suites,
    /// TLS-PSK), rustls from 16.1.
    #[arg(long, value_parser = parse_tls_backend)]
    tls_backend: Option<amt_server::tls::TlsBackendKind>,
    /// BIOS clock: an RFC 3339 time, "host" (follow the host clock, the
    /// default for a new device) or "unset" (not configured: the firmware
    /// then dates its certificate 2020-01-01).
    #[arg(long, value_parser = parse_bios_time)]
    bios_time: Option<BiosTime>,
    /// Seed for a reproducible new device: the same seed gives the same
    /// realm, UUID, keys and certificates.
    #[arg(long)]
    seed: Option<u64>,
    /// Testing shortcut: start (or keep) the device in post-provisioning,
    /// client control mode, with this network admin password.
    #[arg(long, env = "AMT_EMU_ADMIN_PASSWORD")]
    admin_password: Option<String>,
    /// Open the local (LMS) interface on this address, as LMS does on a
    /// real host: the local system account ($$OsAdmin) works there, and TLS
    /// follows the LMS TLS settings. Use another loopback address than
    /// --listen (e.g. 127.0.0.2) or another --lms-port-offset.
    #[arg(long)]
    lms_listen: Option<IpAddr>,
    /// Port offset of the local interface (default: --port-offset).
    #[arg(long, requires = "lms_listen")]
    lms_port_offset: Option<u16>,
    /// Port of the control API on --listen (default 16990 + --port-offset).
    #[arg(long)]
    control_port: Option<u16>,
    /// Run without the control API.
    #[arg(long, conflicts_with = "control_port")]
    no_control_api: bool,
    /// The token the control API and dashboard ask for. Without one, a
    /// control API on a non-loopback --listen makes one and prints it.
    #[arg(long, env = "AMT_EMU_CONTROL_TOKEN", hide_env_values = true)]
    control_token: Option<String>,
    /// Also append every WS-Man call and web UI request to this file as
    /// JSON lines (secrets redacted).
    #[arg(long)]
    journal: Option<PathBuf>,
    /// A scenario file (TOML) describing the device and its faults; see
    /// fixtures/scenarios/. Its device settings shape a new device only.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Inject a fault from the start, as JSON (repeatable), e.g.
    /// '{"operation":"CommitChanges","kind":"drop_after_response","times":1}'.
    #[arg(long = "fault", value_parser = parse_fault)]
    faults: Vec<FaultRule>,
    /// Answer the classes the emulator does not model from this recording
    /// (made with `amt-emu record`); modelled classes stay the model's.
    #[arg(long)]
    replay: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum StateCommand {
    /// Print the device state as JSON (certificates in PEM; never private keys).
    Show {
        #[arg(long, default_value = ".amt-emu", env = "AMT_EMU_STATE_DIR")]
        state_dir: PathBuf,
    },
}

#[derive(Clone, Debug)]
enum BiosTime {
    Host,
    Unset,
    At(OffsetDateTime),
}

fn parse_bios_time(s: &str) -> Result<BiosTime, String> {
    match s {
        "unset" => Ok(BiosTime::Unset),
        "host" => Ok(BiosTime::Host),
        _ => OffsetDateTime::parse(s, &Rfc3339)
            .map(BiosTime::At)
            .map_err(|e| format!("expected an RFC 3339 time, \"host\" or \"unset\": {e}")),
    }
}

fn parse_fault(s: &str) -> Result<FaultRule, String> {
    serde_json::from_str(s).map_err(|e| format!("a fault rule in JSON: {e}"))
}

fn parse_tls_backend(s: &str) -> Result<amt_server::tls::TlsBackendKind, String> {
    s.parse()
}

fn parse_firmware(s: &str) -> Result<FirmwareVersion, String> {
    s.parse()
        .map_err(|e: amt_device::DeviceError| e.to_string())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Fleet(args) => fleet::run(args),
        Command::State {
            command: StateCommand::Show { state_dir },
        } => state_show(state_dir),
        Command::Ctl(args) => ctl::run_ctl(args),
        Command::Host(args) => ctl::run_host(args),
        Command::Record(args) => {
            init_logging();
            record::run_record(args)
        }
        Command::Compare(args) => {
            init_logging();
            record::run_compare(args)
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: logs piped to a file or a CI log stay
    // plain text (and NO_COLOR is honoured).
    use std::io::IsTerminal;
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}

/// Tells the operator where the dashboard is, with its token if one is
/// asked (on stderr, beside the logs, not through them).
fn print_dashboard(addr: std::net::SocketAddr, token: Option<&str>) {
    match token {
        Some(t) => eprintln!("dashboard: http://{addr}/?token={t}"),
        None => eprintln!("dashboard: http://{addr}/"),
    }
}

fn serve(args: ServeArgs) -> Result<()> {
    init_logging();
    let ports = Ports::with_offset(args.port_offset).context("--port-offset is too large")?;
    let now = OffsetDateTime::now_utc();
    let control_port = if args.no_control_api {
        None
    } else {
        Some(match args.control_port {
            Some(p) => p,
            None => CONTROL_PORT
                .checked_add(args.port_offset)
                .context("--port-offset is too large")?,
        })
    };
    let mut config = EmulatorConfig {
        state_dir: Some(args.state_dir),
        listen: args.listen,
        ports,
        firmware: args.firmware,
        bios_clock: args.bios_time.map(|t| match t {
            BiosTime::Host => BiosClock::Host,
            BiosTime::Unset => BiosClock::Unset,
            BiosTime::At(at) => BiosClock::set(at, now),
        }),
        seed: args.seed,
        admin_password: args.admin_password,
        limits: Default::default(),
        lms: match args.lms_listen {
            None => None,
            Some(listen) => Some(LmsConfig {
                listen,
                ports: Ports::with_offset(args.lms_port_offset.unwrap_or(args.port_offset))
                    .context("--lms-port-offset is too large")?,
            }),
        },
        control_port,
        control_token: args.control_token,
        journal: JournalConfig {
            file: args.journal,
            ..JournalConfig::default()
        },
        faults: args.faults,
        scenario: None,
        replay: match &args.replay {
            Some(dir) => Some(std::sync::Arc::new(record::load_replay(dir)?)),
            None => None,
        },
        tls_backend: args.tls_backend,
    };
    if let Some(path) = &args.scenario {
        let scenario = Scenario::load(path)?;
        scenario
            .configure(&mut config)
            .map_err(anyhow::Error::msg)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let running = Emulator::start(config).await?;
        if let Some(addr) = running.control_addr() {
            print_dashboard(addr, running.control_token());
        }
        running.host().with_device(|d| {
            tracing::info!(
                firmware = %d.profile().version(),
                uuid = %d.uuid(),
                realm = %d.digest_realm(),
                state = ?d.provisioning_state(),
                "device ready"
            );
        });
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        tracing::info!("shutting down");
        running.shutdown().await;
        Ok(())
    })
}

fn state_show(state_dir: PathBuf) -> Result<()> {
    if !state_dir.exists() {
        bail!("no state directory at {}", state_dir.display());
    }
    let store = FlashStore::open(&state_dir)?;
    let Some(bytes) = store.read()? else {
        bail!(
            "no device stored in {} (run `amt-emu serve` first)",
            state_dir.display()
        );
    };
    let device = flash::decode(&bytes, Entropy([0; 32]))
        .with_context(|| format!("flash image {} is unusable", store.image_path().display()))?;
    println!("{}", serde_json::to_string_pretty(&device.public_view())?);
    Ok(())
}
