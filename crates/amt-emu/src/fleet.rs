//! `amt-emu fleet`: many devices from one process (docs/deployment.md).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use amt_device::FirmwareVersion;
use amt_server::fleet::{Addressing, FleetConfig, GroupConfig, DEFAULT_PORT_BASE};
use amt_server::fleet_file::FleetFile;
use amt_server::{Fleet, MemberState, Ports};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};

/// Every flag can also be set from the environment variable named after
/// it (AMT_EMU_COUNT, AMT_EMU_ADDRESSING, ...).
#[derive(Args, Debug)]
pub struct FleetArgs {
    /// Number of devices (ignored with --fleet-file, whose groups say).
    #[arg(long, env = "AMT_EMU_COUNT", default_value_t = 1)]
    count: u32,
    /// Firmware of every device, e.g. 16.1.25 (the default).
    #[arg(long, env = "AMT_EMU_FIRMWARE", value_parser = crate::parse_firmware)]
    firmware: Option<FirmwareVersion>,
    /// Seed of the fleet: device identities (realm, UUID, keys) derive from
    /// it and the device's global index, so a seeded fleet is reproducible.
    #[arg(long, env = "AMT_EMU_SEED")]
    seed: Option<u64>,
    /// Directory of the fleet's state: device <id> keeps DIR/<id>/.
    #[arg(long, env = "AMT_EMU_STATE_DIR", default_value = ".amt-emu-fleet")]
    state_dir: PathBuf,
    /// A fleet file (TOML): groups with count, firmware, scenario,
    /// provisioning state and address range.
    #[arg(long, env = "AMT_EMU_FLEET_FILE")]
    fleet_file: Option<PathBuf>,
    /// loopback: device i on ADDR+i (127/8 needs no setup on Linux) on the
    /// AMT ports + K. ports: every device on ADDR, device i's 16992 at
    /// P + 10*i and 16993 at P + 10*i + 1.
    #[arg(long, env = "AMT_EMU_ADDRESSING", value_enum, default_value_t = AddressingArg::Loopback)]
    addressing: AddressingArg,
    /// ADDR: the first device's address (loopback, default 127.1.0.1) or
    /// every device's (ports, default 127.0.0.1; 0.0.0.0 in a container).
    #[arg(long, env = "AMT_EMU_LISTEN")]
    listen: Option<IpAddr>,
    /// K: added to the AMT ports in loopback addressing.
    #[arg(long, env = "AMT_EMU_PORT_OFFSET", default_value_t = 0)]
    port_offset: u16,
    /// P: the first port of device 0's block in ports addressing.
    #[arg(long, env = "AMT_EMU_PORT_BASE", default_value_t = DEFAULT_PORT_BASE)]
    port_base: u16,
    /// I: the global index of the first device (a StatefulSet pod running
    /// slice `ordinal` of N devices passes ordinal*N). Ids are dev-<index>.
    #[arg(long, env = "AMT_EMU_INDEX_BASE", default_value_t = 0)]
    index_base: u32,
    /// The fleet control API (/api/devices, /api/devices/{id}/..., /healthz).
    #[arg(long, env = "AMT_EMU_CONTROL", default_value = "127.0.0.1:16990")]
    control: SocketAddr,
    /// The token the control API and dashboard ask for. Without one, a
    /// non-loopback --control makes one and prints it.
    #[arg(long, env = "AMT_EMU_CONTROL_TOKEN", hide_env_values = true)]
    control_token: Option<String>,
    /// Every device starts in client control mode with this admin password.
    #[arg(long, env = "AMT_EMU_ADMIN_PASSWORD")]
    admin_password: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum AddressingArg {
    Loopback,
    Ports,
}

pub fn run(args: FleetArgs) -> Result<()> {
    crate::init_logging();
    let config = config(args)?;
    let total: u64 = config.groups.iter().map(|g| u64::from(g.count)).sum();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let started = std::time::Instant::now();
        let progress = Progress::new(total);
        let bar = progress.clone();
        let fleet = Fleet::start(config, move |done, total| bar.set(done, total))
            .await
            .context("the fleet did not start")?;
        progress.finish();
        if let Some(addr) = fleet.control_addr() {
            crate::print_dashboard(addr, fleet.control_token());
        }
        let members = fleet.members();
        let failed: Vec<_> = members
            .iter()
            .filter_map(|m| match m.state() {
                MemberState::Failed(e) => Some((m.id.clone(), e)),
                _ => None,
            })
            .collect();
        for (id, e) in &failed {
            tracing::error!(device = %id, error = %e, "device failed");
        }
        if let (Some(first), Some(last)) = (members.first(), members.last()) {
            tracing::info!(
                devices = members.len(),
                failed = failed.len(),
                first = %describe(first),
                last = %describe(last),
                control = ?fleet.control_addr(),
                seconds = started.elapsed().as_secs_f64(),
                "fleet ready"
            );
        }
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        tracing::info!("shutting down");
        fleet.shutdown().await;
        Ok(())
    })
}

fn describe(m: &amt_server::Member) -> String {
    let a = m.addrs();
    match (a.tls, a.http) {
        (Some(t), _) => format!("{} https://{t}", m.id),
        (None, Some(h)) => format!("{} http://{h}", m.id),
        _ => m.id.clone(),
    }
}

fn config(args: FleetArgs) -> Result<FleetConfig> {
    let (seed, groups) = match &args.fleet_file {
        Some(path) => {
            let file = FleetFile::load(path)?;
            let mut groups = file.groups;
            for g in &mut groups {
                // Command-line options fill what a group leaves out.
                g.firmware = g.firmware.or(args.firmware);
                if g.admin_password.is_none() {
                    g.admin_password = args.admin_password.clone();
                }
            }
            (args.seed.or(file.seed), groups)
        }
        None => {
            if args.count == 0 {
                bail!("--count must be at least 1");
            }
            let mut g = GroupConfig::new("default", args.count);
            g.firmware = args.firmware;
            g.admin_password = args.admin_password.clone();
            (args.seed, vec![g])
        }
    };
    let (addressing, listen) = match args.addressing {
        AddressingArg::Loopback => (
            Addressing::Loopback,
            args.listen
                .unwrap_or(IpAddr::V4(amt_server::fleet::DEFAULT_LOOPBACK_BASE)),
        ),
        AddressingArg::Ports => (
            Addressing::Ports,
            args.listen.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        ),
    };
    Ok(FleetConfig {
        state_dir: Some(args.state_dir),
        addressing,
        listen,
        ports: Ports::with_offset(args.port_offset).context("--port-offset is too large")?,
        port_base: args.port_base,
        index_base: args.index_base,
        seed,
        groups,
        limits: Default::default(),
        control: Some(args.control),
        lms: None,
        control_token: args.control_token,
    })
}

/// A progress bar on a terminal, plain log lines otherwise.
#[derive(Clone)]
struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new(total: u64) -> Self {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} starting devices {pos}/{len} {wide_bar} {elapsed}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Progress { bar }
    }

    fn set(&self, done: usize, total: usize) {
        match &self.bar {
            Some(bar) => bar.set_position(done as u64),
            // About ten lines for a large fleet.
            None => {
                let step = (total / 10).max(1);
                if done.is_multiple_of(step) || done == total {
                    tracing::info!(started = done, total, "starting devices");
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
