//! `amt-emu record` and `amt-emu compare` (docs/recording.md).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use amt_client::{Target, Verify, WsmanClient};
use amt_record::compare::{self, Source};
use amt_record::{proxy, sweep, Recording, RecordingWriter};
use anyhow::{bail, Context, Result};
use clap::Args;

/// How to reach and trust a device.
#[derive(Args, Debug, Clone)]
pub struct DeviceArgs {
    /// AMT user name.
    #[arg(long, default_value = "admin")]
    pub user: String,
    /// AMT password (or AMT_EMU_PASSWORD).
    #[arg(long, env = "AMT_EMU_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Accept any TLS certificate (a factory device's self-signed one).
    #[arg(long, conflicts_with = "ca")]
    pub insecure: bool,
    /// Trust only certificates chained to the roots in this PEM file.
    #[arg(long)]
    pub ca: Option<PathBuf>,
}

impl DeviceArgs {
    fn verify(&self, target: &Target) -> Result<Verify> {
        Ok(match &self.ca {
            Some(path) => Verify::from_pem_file(path)?,
            None if self.insecure || !target.tls => Verify::Insecure,
            // Said plainly rather than failing later with an opaque
            // handshake error: a factory device is self-signed.
            None => bail!(
                "{target} is TLS: give --ca FILE to check its certificate, or --insecure to accept any (a factory AMT presents a self-signed one)"
            ),
        })
    }

    fn client(&self, target: &str) -> Result<WsmanClient> {
        let target: Target = target.parse()?;
        let verify = self.verify(&target)?;
        Ok(WsmanClient::new(
            target,
            &self.user,
            self.password.as_deref().unwrap_or_default(),
            verify,
        )?)
    }
}

#[derive(Args, Debug)]
pub struct RecordArgs {
    /// The real device: https://HOST[:16993] or http://HOST[:16992].
    #[arg(long)]
    pub upstream: String,
    /// Where the recording is written (a new directory).
    #[arg(long)]
    pub out: PathBuf,
    /// Read the device itself (Identify, then Get/Enumerate of every class
    /// the emulator knows) instead of proxying a console.
    #[arg(long)]
    pub sweep: bool,
    /// Address the proxy listens on.
    #[arg(long, default_value = "127.0.0.1")]
    pub listen: IpAddr,
    /// Added to the proxy's ports (16992 plain, 16993 TLS).
    #[arg(long, default_value_t = 0)]
    pub port_offset: u16,
    #[command(flatten)]
    pub device: DeviceArgs,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The real device to compare against.
    #[arg(
        long,
        required_unless_present = "recording",
        conflicts_with = "recording"
    )]
    pub target: Option<String>,
    /// Or a recording of it (amt-emu record).
    #[arg(long)]
    pub recording: Option<PathBuf>,
    /// The emulator to compare: a running `amt-emu serve` endpoint.
    #[arg(long)]
    pub emulator: String,
    /// Credentials of the emulator (default: the device's).
    #[arg(long)]
    pub emulator_password: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit with status 1 when any class differs.
    #[arg(long)]
    pub fail_on_difference: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn run_record(args: RecordArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut client = args.device.client(&args.upstream)?;
        let mut writer = RecordingWriter::create(&args.out, &client.target().to_string())?;
        if args.sweep {
            let summary = sweep::sweep(&mut client, &mut writer).await?;
            for f in &summary.failures {
                tracing::warn!("{f}");
            }
            println!(
                "recorded {} exchanges from {} into {}",
                summary.exchanges,
                client.target(),
                args.out.display()
            );
            return Ok(());
        }
        let plain = SocketAddr::new(args.listen, 16992u16.saturating_add(args.port_offset));
        let tls = SocketAddr::new(args.listen, 16993u16.saturating_add(args.port_offset));
        let (plain_l, tls_l) = proxy::bind(Some(plain), Some(tls))
            .await
            .with_context(|| format!("binding the recorder on {plain} and {tls}"))?;
        let acceptor = proxy::self_signed_acceptor().map_err(anyhow::Error::msg)?;
        let proxy = proxy::Proxy::new(client, writer);
        let (Some(plain_l), Some(tls_l)) = (plain_l, tls_l) else {
            bail!("the recorder's listeners did not open");
        };
        tracing::info!(%plain, %tls, out = %args.out.display(), "recorder listening");
        let a = tokio::spawn(proxy::serve(proxy.clone(), plain_l, None));
        let b = tokio::spawn(proxy::serve(proxy.clone(), tls_l, Some(acceptor)));
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        a.abort();
        b.abort();
        println!(
            "recorded {} exchanges into {}",
            proxy.recorded(),
            args.out.display()
        );
        Ok(())
    })
}

pub fn run_compare(args: CompareArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        let mut device = match (&args.target, &args.recording) {
            (Some(t), _) => Source::Live(args.device.client(t)?),
            (None, Some(dir)) => Source::Recorded(Recording::load(dir)?),
            (None, None) => bail!("give --target or --recording"),
        };
        let mut emulator_args = args.device.clone();
        if let Some(p) = &args.emulator_password {
            emulator_args.password = Some(p.clone());
        }
        emulator_args.insecure = true;
        emulator_args.ca = None;
        let mut emulator = Source::Live(emulator_args.client(&args.emulator)?);
        anyhow::Ok(compare::run(&mut emulator, &mut device).await)
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.text());
    }
    if args.fail_on_difference && report.differences().next().is_some() {
        std::process::exit(1);
    }
    Ok(())
}

/// Loads `--replay DIR` for `serve`.
pub fn load_replay(dir: &std::path::Path) -> Result<amt_wsman::replay::Replay> {
    let recording = Recording::load(dir)?;
    let replay = recording.replay();
    tracing::info!(dir = %dir.display(), exchanges = replay.len(), "replaying recorded classes");
    Ok(replay)
}
