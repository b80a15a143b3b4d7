//! The network face of an emulated Intel AMT device, and the library test
//! authors embed.
//!
//! [`Emulator::start`] loads (or creates) a device from its state directory
//! and opens the listeners its firmware profile and TLS settings allow:
//! WS-Man over plain HTTP on 16992 and over TLS on 16993 (plus an offset).
//! See docs/architecture.md for the path of a connection.

pub mod cira;
pub mod clock;
pub mod control;
pub mod control_cira;
mod control_consent;
pub mod control_network;
pub mod control_server;
pub mod dashboard;
pub mod device_host;
pub mod digest;
pub mod event_delivery;
pub mod faults;
pub mod flash_store;
pub mod fleet;
pub mod fleet_control;
pub mod fleet_file;
pub mod http;
pub mod journal;
pub mod limits;
pub mod listener;
pub mod listener_set;
pub mod lockout;
pub mod pki_hello;
pub mod ports;
pub mod redirection;
pub mod rmcp;
pub mod scenario;
pub mod tls;
pub mod vocabulary;
pub mod web_ui;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use amt_device::{
    flash, BiosClock, Device, DeviceConfig, Entropy, FirmwareProfile, FirmwareVersion,
};
use rand::Rng;
use thiserror::Error;
use time::OffsetDateTime;

pub use control::ControlListener;
pub use device_host::{DeviceHost, HostError};
pub use faults::{FaultKind, FaultRule, FaultScope};
pub use flash_store::{FlashStore, FlashStoreError};
pub use fleet::{Addressing, Fleet, FleetConfig, FleetError, GroupConfig, Member, MemberState};
pub use http::Interface;
pub use journal::{Journal, JournalEntry};
pub use limits::ServerLimits;
pub use listener::{Listener, Transport};
pub use listener_set::{BoundSockets, ListenError, ListenerAddrs, ListenerSet};
pub use ports::{PortPolicy, Ports};

/// How to start one emulated device.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Where the flash image lives; `None` keeps the device in memory only.
    pub state_dir: Option<PathBuf>,
    /// Address to listen on.
    pub listen: IpAddr,
    pub ports: Ports,
    /// Firmware of a new device (an existing one keeps its own).
    pub firmware: Option<FirmwareVersion>,
    /// BIOS clock to set (applies to an existing device too).
    pub bios_clock: Option<BiosClock>,
    /// Seed for a reproducible new device.
    pub seed: Option<u64>,
    /// Testing shortcut: a device in post-provisioning, client control
    /// mode, with this network admin password.
    pub admin_password: Option<String>,
    /// Timeouts, connection cap and login lockout of the listeners.
    pub limits: ServerLimits,
    /// The local (LMS) interface, where the host reaches the firmware and
    /// the local system account works; `None` leaves it closed.
    pub lms: Option<LmsConfig>,
    /// Port of the control API on `listen` (0 = any free port); `None`
    /// runs no control API.
    pub control_port: Option<u16>,
    /// The token the control API asks for (docs/dashboard.md); one is made
    /// when `listen` is not loopback and none is given.
    pub control_token: Option<String>,
    /// The call journal.
    pub journal: JournalConfig,
    /// Fault rules in force from the start.
    pub faults: Vec<FaultRule>,
    /// A scenario that shapes a new device (see [`scenario::Scenario`]).
    pub scenario: Option<scenario::Scenario>,
    /// Recorded replies for the classes the model lacks
    /// (`amt-emu serve --replay DIR`; docs/recording.md).
    pub replay: Option<Arc<amt_wsman::replay::Replay>>,
    /// The TLS stack; `None` takes the one the firmware profile needs
    /// (OpenSSL before CSME 16.1, rustls from 16.1).
    pub tls_backend: Option<tls::TlsBackendKind>,
}

/// Where the local interface listens.
#[derive(Clone, Copy, Debug)]
pub struct LmsConfig {
    pub listen: IpAddr,
    pub ports: Ports,
}

/// How the call journal is kept.
#[derive(Clone, Debug)]
pub struct JournalConfig {
    /// Entries kept in memory.
    pub capacity: usize,
    /// Keep request and response bodies (secrets redacted).
    pub keep_bodies: bool,
    /// Also append every entry to this file as a JSON line.
    pub file: Option<PathBuf>,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            capacity: journal::DEFAULT_CAPACITY,
            keep_bodies: true,
            file: None,
        }
    }
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            state_dir: None,
            listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ports: Ports::ephemeral(),
            firmware: None,
            bios_clock: None,
            seed: None,
            admin_password: None,
            limits: ServerLimits::default(),
            lms: None,
            control_port: None,
            control_token: None,
            journal: JournalConfig::default(),
            faults: Vec::new(),
            scenario: None,
            replay: None,
            tls_backend: None,
        }
    }
}

#[derive(Debug, Error)]
pub enum ServerError {
    #[error(transparent)]
    Flash(#[from] FlashStoreError),
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(transparent)]
    Device(#[from] amt_device::DeviceError),
    #[error(
        "the state directory {dir} holds a device with firmware {stored}, not {requested}; \
         use another --state-dir or remove that one"
    )]
    FirmwareMismatch {
        dir: PathBuf,
        stored: FirmwareVersion,
        requested: FirmwareVersion,
    },
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error("scenario: {0}")]
    Scenario(String),
    #[error("cannot open the journal file {path}: {source}")]
    JournalFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("port offset {0} is too large")]
    PortOffset(u16),
    #[error("the device could not start: {0}")]
    Start(String),
}

/// Entropy for a device: from the seed when given, else from the OS.
fn entropy(seed: Option<u64>) -> Entropy {
    match seed {
        Some(s) => Entropy::from_seed(s),
        None => {
            let mut e = [0u8; 32];
            rand::rng().fill_bytes(&mut e);
            Entropy(e)
        }
    }
}

/// Loads the device from `store`, or makes a new one; also says whether it
/// is new (and so must be written once).
fn load_or_create(
    config: &EmulatorConfig,
    store: Option<&FlashStore>,
) -> Result<(Device, bool), ServerError> {
    let now = OffsetDateTime::now_utc();
    if let Some(store) = store {
        if let Some(bytes) = store.read()? {
            let device = flash::decode(&bytes, entropy(None)).map_err(|source| {
                FlashStoreError::Corrupt {
                    path: store.image_path(),
                    source,
                }
            })?;
            if let Some(requested) = config.firmware {
                if requested != device.profile().version() {
                    return Err(ServerError::FirmwareMismatch {
                        dir: store.dir().to_path_buf(),
                        stored: device.profile().version(),
                        requested,
                    });
                }
            }
            if config.seed.is_some() {
                tracing::warn!("--seed only applies to a new device; the stored device is kept");
            }
            if config.scenario.is_some() {
                tracing::warn!(
                    "the scenario's device only shapes a new device; the stored device is kept (its faults apply)"
                );
            }
            return Ok((device, false));
        }
    }
    let device_config = DeviceConfig {
        profile: FirmwareProfile::new(config.firmware.unwrap_or(FirmwareVersion::DEFAULT)),
        bios_clock: config.bios_clock.unwrap_or_default(),
    };
    let mut device = Device::new(device_config, entropy(config.seed), now)?;
    if let Some(scenario) = &config.scenario {
        scenario
            .setup_new_device(&mut device)
            .map_err(ServerError::Scenario)?;
    }
    Ok((device, true))
}

/// Starts emulated devices.
pub struct Emulator;

impl Emulator {
    /// Loads or creates the device and opens its listeners.
    pub async fn start(config: EmulatorConfig) -> Result<RunningEmulator, ServerError> {
        Self::start_on(config, BoundSockets::default()).await
    }

    /// [`Emulator::start`], listening on network-interface sockets already
    /// bound (a fleet binds a dormant device's ports before the device
    /// exists); what the port policy does not want open is closed.
    pub async fn start_on(
        config: EmulatorConfig,
        sockets: BoundSockets,
    ) -> Result<RunningEmulator, ServerError> {
        // Reading flash and minting a new device's RSA key are CPU and disk
        // work: off the async threads, so other devices keep answering.
        let config = Arc::new(config);
        let (config, store, device, is_new) = tokio::task::spawn_blocking(move || {
            let store = match &config.state_dir {
                Some(dir) => Some(FlashStore::open(dir)?),
                None => None,
            };
            let (device, is_new) = load_or_create(&config, store.as_ref())?;
            Ok::<_, ServerError>((config, store, device, is_new))
        })
        .await
        .map_err(|e| ServerError::Start(e.to_string()))??;
        let mut listeners = vec![
            ListenerSet::new(config.listen, config.ports, Interface::Remote)
                .with_sockets(sockets.tcp)
                .with_rmcp_sockets(sockets.rmcp, sockets.rmcp_secure),
        ];
        if let Some(lms) = config.lms {
            listeners.push(ListenerSet::new(lms.listen, lms.ports, Interface::Local));
        }
        let journal_file = match &config.journal.file {
            None => None,
            Some(path) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| ServerError::JournalFile {
                        path: path.clone(),
                        source,
                    })?,
            ),
        };
        let journal = Journal::new(
            config.journal.capacity,
            config.journal.keep_bodies,
            journal_file,
        );
        let host = Arc::new(DeviceHost::new(
            device,
            store,
            listeners,
            config.limits,
            journal,
            config.replay.clone(),
            config.tls_backend,
        )?);
        for rule in config.faults.iter().cloned() {
            host.faults().add(rule);
        }
        let bios_clock = config.bios_clock;
        let admin_password = config.admin_password.clone();
        // Persist the device as it starts: a new device is written once
        // here, and start-up options (clock, password) land in flash. A
        // stored device started without options is already in flash.
        if is_new || bios_clock.is_some() || admin_password.is_some() {
            host.change_device(|d, now| {
                if let Some(clock) = bios_clock {
                    d.set_bios_clock(match clock {
                        BiosClock::Set { at, .. } => BiosClock::set(at, now),
                        other => other,
                    });
                }
                if let Some(pw) = &admin_password {
                    d.provision_client_for_testing(pw);
                }
                Ok(())
            })?;
        }
        host.reconcile_listeners().await?;
        // Before the CIRA driver: a tunnel takes the handlers it finds.
        redirection::register_cira_handlers(&host);
        cira::spawn(&host);
        pki_hello::spawn(&host);
        device_host::machine::spawn_ticker(&host);
        let control = match config.control_port {
            None => None,
            Some(port) => {
                let addr = SocketAddr::new(config.listen, port);
                Some(
                    ControlListener::start(addr, host.clone(), config.control_token.clone())
                        .await
                        .map_err(|source| ServerError::Listen(ListenError { addr, source }))?,
                )
            }
        };
        Ok(RunningEmulator { host, control })
    }
}

/// A device with its listeners open.
#[derive(Debug)]
pub struct RunningEmulator {
    host: Arc<DeviceHost>,
    control: Option<ControlListener>,
}

impl RunningEmulator {
    pub fn host(&self) -> &Arc<DeviceHost> {
        &self.host
    }

    /// Address of the control API, if it runs.
    pub fn control_addr(&self) -> Option<SocketAddr> {
        self.control.as_ref().map(ControlListener::local_addr)
    }

    /// The token the control API asks for, if any.
    pub fn control_token(&self) -> Option<&str> {
        self.control.as_ref().and_then(ControlListener::token)
    }

    /// Address of the plain HTTP listener, if the device has it open.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.host.listener_addrs().http
    }

    /// Address of the TLS listener, if the device has it open.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.host.listener_addrs().tls
    }

    /// Addresses of the local (LMS) interface listeners.
    pub fn lms_addrs(&self) -> ListenerAddrs {
        self.host.addrs_of(Interface::Local)
    }

    /// Unprovisions the device (as MEBx or a control API would); the
    /// listeners follow.
    pub async fn unprovision(&mut self) -> Result<(), ServerError> {
        self.host.change_device(|d, now| d.unprovision(now))?;
        self.host.reconcile_listeners().await?;
        Ok(())
    }

    /// `https://ADDR/wsman` of the TLS listener, if open.
    pub fn wsman_tls_url(&self) -> Option<String> {
        self.tls_addr().map(|a| format!("https://{a}/wsman"))
    }

    /// `http://ADDR/wsman` of the plain listener, if open.
    pub fn wsman_http_url(&self) -> Option<String> {
        self.http_addr().map(|a| format!("http://{a}/wsman"))
    }

    /// Stops the listeners and waits for their accept loops to end.
    /// Dropping a `RunningEmulator` stops them too, without waiting.
    pub async fn shutdown(mut self) {
        if let Some(c) = self.control.take() {
            c.stop().await;
        }
        self.host.shut_down_listeners().await;
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(c) = self.control.take() {
            c.signal_stop();
        }
        self.host.signal_stop_listeners();
    }
}

impl EmulatorConfig {
    /// A device in memory on ephemeral loopback ports: the start of a
    /// one-line test device, e.g.
    /// `EmulatorConfig::new().admin_password("P@ssw0rd").start().await?`.
    pub fn new() -> Self {
        Self::default()
    }

    pub fn admin_password(mut self, password: &str) -> Self {
        self.admin_password = Some(password.to_string());
        self
    }

    pub fn firmware(mut self, version: FirmwareVersion) -> Self {
        self.firmware = Some(version);
        self
    }

    pub fn bios_clock(mut self, clock: BiosClock) -> Self {
        self.bios_clock = Some(clock);
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// Also run the control API on an ephemeral port.
    pub fn with_control_api(mut self) -> Self {
        self.control_port = Some(0);
        self
    }

    /// Also open the local (LMS) interface on loopback, ephemeral ports.
    pub fn with_lms(mut self) -> Self {
        self.lms = Some(LmsConfig {
            listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ports: Ports::ephemeral(),
        });
        self
    }

    pub fn fault(mut self, rule: FaultRule) -> Self {
        self.faults.push(rule);
        self
    }

    /// Serves TLS with this stack instead of the profile's.
    pub fn tls_backend(mut self, kind: tls::TlsBackendKind) -> Self {
        self.tls_backend = Some(kind);
        self
    }

    /// Answers the classes the model lacks from a recording.
    pub fn replay(mut self, replay: amt_wsman::replay::Replay) -> Self {
        self.replay = Some(Arc::new(replay));
        self
    }

    /// Starts the device.
    pub async fn start(self) -> Result<RunningEmulator, ServerError> {
        Emulator::start(self).await
    }
}
