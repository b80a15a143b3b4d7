//! Many devices in one process (`amt-emu fleet`).
//!
//! Each member is an ordinary device ([`crate::Emulator`]) with its own
//! address or port block, its own state directory and an identity derived
//! from the fleet seed and its global index. What makes ten thousand of
//! them start in seconds is that a member without a stored flash image is
//! *dormant*: its ports are bound at start (so it is reachable and the
//! fleet is ready), but the device itself, and the RSA key of its
//! self-signed certificate (65–108 ms each), is made only when its first
//! connection arrives or the control API first touches it. A member whose
//! flash is stored is loaded at start (no key generation), so a restarted
//! fleet answers with the identities it had.
//!
//! Members are isolated: a member whose flash cannot be read is reported
//! as failed and the rest serve; a panic in one connection's task stays in
//! that task. Only what the operator must fix before anything can work
//! (an address that cannot be bound) stops the whole fleet from starting.
//!
//! The control API of a fleet is in [`crate::fleet_control`].

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use amt_device::network::GeneralNetworkSettings;
use amt_device::{BiosClock, FirmwareProfile, FirmwareVersion, ProvisioningState};
use serde::Serialize;
use thiserror::Error;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{watch, Notify, Semaphore};

use crate::control_server::{ControlListener, Target};
use crate::device_host::DeviceHost;
use crate::faults::FaultRule;
use crate::listener_set::{BoundSockets, ListenerAddrs};
use crate::ports::{PortPolicy, RemoteFacts};
use crate::rmcp::{PresenceSource, RmcpResponder};
use crate::scenario::Scenario;
use crate::vocabulary::{Interface, Ports, Transport};
use crate::{EmulatorConfig, JournalConfig, LmsConfig, RunningEmulator, ServerError, ServerLimits};

/// Ports a device takes in `ports` addressing: 16992 at `base + 10 * i`,
/// 16993 at `+ 1`, 16994 at `+ 2`, 16995 at `+ 3`, UDP 623 (RMCP) at
/// [`RMCP_BLOCK_OFFSET`] (`+ 4`) and 664 at `+ 5`, the local face at
/// [`LMS_BLOCK_OFFSET`] (`+ 8`, `+ 9`), the rest kept for the protocols to
/// come. (The redirection ports are bound when the device wakes and its
/// policy opens them, not while it is dormant.)
pub const PORT_BLOCK: u16 = 10;
/// Default first port of `ports` addressing.
pub const DEFAULT_PORT_BASE: u16 = 20000;
/// Default first address of `loopback` addressing.
pub const DEFAULT_LOOPBACK_BASE: Ipv4Addr = Ipv4Addr::new(127, 1, 0, 1);
/// Journal entries a fleet member keeps (a single device keeps 1000).
pub const MEMBER_JOURNAL_CAPACITY: usize = 100;

/// How members are reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Addressing {
    /// Member i on `listen + i`, on the standard AMT ports (+ offset).
    Loopback,
    /// Every member on `listen`, member i with its own block of
    /// [`PORT_BLOCK`] ports from `port_base + PORT_BLOCK * i`.
    Ports,
}

/// One group of alike members.
#[derive(Clone, Debug)]
pub struct GroupConfig {
    pub name: String,
    pub count: u32,
    pub firmware: Option<FirmwareVersion>,
    /// Shapes each new member of the group (its seed is ignored: every
    /// member's identity comes from the fleet seed and its index).
    pub scenario: Option<Scenario>,
    /// A new member starts in client control mode with this password.
    pub admin_password: Option<String>,
    pub bios_clock: Option<BiosClock>,
    /// First address of the group (loopback addressing); `None` continues
    /// after the previous group.
    pub address: Option<IpAddr>,
}

impl GroupConfig {
    pub fn new(name: &str, count: u32) -> Self {
        GroupConfig {
            name: name.to_string(),
            count,
            firmware: None,
            scenario: None,
            admin_password: None,
            bios_clock: None,
            address: None,
        }
    }
}

/// How to start a fleet.
#[derive(Clone, Debug)]
pub struct FleetConfig {
    /// Members' state lives in `state_dir/<device id>/`; `None` keeps the
    /// fleet in memory.
    pub state_dir: Option<PathBuf>,
    pub addressing: Addressing,
    /// First address (loopback) or the one address (ports).
    pub listen: IpAddr,
    /// Loopback addressing: the ports every member uses (standard + offset;
    /// ephemeral in tests).
    pub ports: Ports,
    /// Ports addressing: first port of member 0's block.
    pub port_base: u16,
    /// Global index of the first member (a slice of a larger fleet).
    pub index_base: u32,
    /// Seed of the fleet; `None` gives every member a random identity.
    pub seed: Option<u64>,
    pub groups: Vec<GroupConfig>,
    pub limits: ServerLimits,
    /// The fleet control API and dashboard (`None`: none).
    pub control: Option<SocketAddr>,
    /// Gives every member a local (LMS) face, where host-based setup and
    /// the local system account work (`None`: none). Loopback
    /// addressing: these ports on the member's own address (each emulated
    /// host has its own "localhost"); ports addressing: ports
    /// [`LMS_BLOCK_OFFSET`] and +1 of the member's block.
    pub lms: Option<Ports>,
    /// The token the control API asks for (docs/dashboard.md); one is made
    /// when `control` is not loopback and none is given.
    pub control_token: Option<String>,
}

/// Where a member's local face sits in its port block (ports addressing).
pub const LMS_BLOCK_OFFSET: u16 = 8;
/// Where a member's UDP 623 sits in its port block (ports addressing); 664
/// is the next port.
pub const RMCP_BLOCK_OFFSET: u16 = 4;

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig {
            state_dir: None,
            addressing: Addressing::Loopback,
            listen: IpAddr::V4(DEFAULT_LOOPBACK_BASE),
            ports: Ports::default(),
            port_base: DEFAULT_PORT_BASE,
            index_base: 0,
            seed: None,
            groups: Vec::new(),
            limits: ServerLimits::default(),
            control: None,
            lms: None,
            control_token: None,
        }
    }
}

#[derive(Debug, Error)]
pub enum FleetError {
    #[error("device {id}: cannot listen on {addr}: {source}{hint}")]
    Bind {
        id: String,
        addr: SocketAddr,
        source: std::io::Error,
        hint: &'static str,
    },
    #[error("device {id}: {reason}")]
    Address { id: String, reason: String },
    #[error("no device {0}")]
    NoSuchDevice(String),
    #[error("cannot start the control API on {addr}: {source}")]
    Control {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Server(#[from] ServerError),
}

pub use crate::vocabulary::device_id;

/// The seed of member `index` in a fleet seeded with `seed`: a fixed mix,
/// so a seeded fleet is reproducible member by member and a member keeps
/// its identity whichever slice of the fleet it runs in.
pub fn member_seed(seed: u64, index: u32) -> u64 {
    // splitmix64 of the pair.
    let mut z = seed ^ (u64::from(index).wrapping_add(1)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Where a member is in its life.
#[derive(Clone, Debug)]
pub enum MemberState {
    /// Ports bound; the device is made on its first connection.
    Dormant,
    /// The device is being made or loaded.
    Starting,
    Ready(Arc<DeviceHost>),
    /// It cannot run (e.g. unreadable flash); the others are not affected.
    Failed(String),
    Removed,
}

impl MemberState {
    fn name(&self) -> &'static str {
        match self {
            MemberState::Dormant => "dormant",
            MemberState::Starting => "starting",
            MemberState::Ready(_) => "ready",
            MemberState::Failed(_) => "failed",
            MemberState::Removed => "removed",
        }
    }
}

/// One device of the fleet.
#[derive(Debug)]
pub struct Member {
    pub id: String,
    pub index: u32,
    pub group: String,
    config: Mutex<EmulatorConfig>,
    state: watch::Sender<MemberState>,
    /// Addresses bound while dormant.
    dormant_addrs: Mutex<ListenerAddrs>,
    wake: Notify,
    stop: watch::Sender<bool>,
    /// The dormant member's task, which owns its bound sockets until the
    /// device is made.
    dormant_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    running: Mutex<Option<RunningEmulator>>,
    /// Shared by the fleet: how many devices are made at once (each mints
    /// an RSA key), so a burst of first connections is served in arrival
    /// order instead of all slowing down together.
    makers: Arc<Semaphore>,
}

/// What `/api/devices` shows of a member.
#[derive(Debug, Serialize)]
pub struct MemberView {
    pub id: String,
    pub index: u32,
    pub group: String,
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub address: IpAddr,
    pub http: Option<SocketAddr>,
    pub tls: Option<SocketAddr>,
    /// UDP 623, where the member answers presence pings (dormant or not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rmcp: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_realm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<amt_device::ProvisioningState>,
}

impl Member {
    fn lock_config(&self) -> std::sync::MutexGuard<'_, EmulatorConfig> {
        self.config.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn state(&self) -> MemberState {
        self.state.borrow().clone()
    }

    /// Addresses of the member's open listeners.
    pub fn addrs(&self) -> ListenerAddrs {
        match &*self.state.borrow() {
            MemberState::Ready(host) => host.listener_addrs(),
            MemberState::Dormant | MemberState::Starting => {
                *self.dormant_addrs.lock().unwrap_or_else(|p| p.into_inner())
            }
            MemberState::Failed(_) | MemberState::Removed => ListenerAddrs::default(),
        }
    }

    /// The member's device, made now if it is dormant.
    pub async fn host(&self) -> Result<Arc<DeviceHost>, String> {
        let mut rx = self.state.subscribe();
        loop {
            let state = rx.borrow_and_update().clone();
            match state {
                MemberState::Ready(host) => return Ok(host),
                MemberState::Failed(e) => return Err(e),
                MemberState::Removed => return Err("the device was removed".into()),
                MemberState::Dormant => self.wake.notify_one(),
                MemberState::Starting => {}
            }
            if rx.changed().await.is_err() {
                return Err("the device was removed".into());
            }
        }
    }

    /// The device if it runs, without making it.
    pub fn ready_host(&self) -> Option<Arc<DeviceHost>> {
        match &*self.state.borrow() {
            MemberState::Ready(h) => Some(h.clone()),
            _ => None,
        }
    }

    /// Adds a fault rule: to the device if it runs, else to the rules it
    /// will start with.
    pub fn add_fault(&self, rule: FaultRule) {
        match self.ready_host() {
            Some(host) => {
                host.faults().add(rule);
            }
            None => self.lock_config().faults.push(rule),
        }
    }

    /// Drops the rules a dormant device would start with.
    pub fn clear_pending_faults(&self) {
        self.lock_config().faults.clear();
    }

    pub fn view(&self) -> MemberView {
        let state = self.state();
        let addrs = self.addrs();
        let address = self.lock_config().listen;
        let mut view = MemberView {
            id: self.id.clone(),
            index: self.index,
            group: self.group.clone(),
            state: state.name(),
            error: None,
            address,
            http: addrs.http,
            tls: addrs.tls,
            rmcp: addrs.rmcp,
            digest_realm: None,
            uuid: None,
            provisioning_state: None,
        };
        match state {
            MemberState::Ready(host) => host.with_device(|d| {
                view.digest_realm = Some(d.digest_realm().to_string());
                view.uuid = Some(d.uuid());
                view.provisioning_state = Some(d.provisioning_state());
            }),
            MemberState::Failed(e) => view.error = Some(e),
            _ => {}
        }
        view
    }

    /// Makes (or loads) the device, listening on `sockets`. A device that
    /// cannot start is marked failed; the error is also returned.
    async fn materialize(&self, sockets: BoundSockets) -> Result<Arc<DeviceHost>, ServerError> {
        let permit = self.makers.clone().acquire_owned().await;
        self.state.send_replace(MemberState::Starting);
        let config = self.lock_config().clone();
        let result = crate::Emulator::start_on(config, sockets).await;
        drop(permit);
        let (state, result) = match result {
            Ok(running) => {
                let host = running.host().clone();
                *self.running.lock().unwrap_or_else(|p| p.into_inner()) = Some(running);
                (MemberState::Ready(host.clone()), Ok(host))
            }
            Err(e) => {
                tracing::error!(device = %self.id, error = %e, "device failed to start");
                (MemberState::Failed(e.to_string()), Err(e))
            }
        };
        if *self.stop.borrow() {
            self.shutdown_running().await;
            self.state.send_replace(MemberState::Removed);
            return Err(ServerError::Start("the device was removed".into()));
        }
        self.state.send_replace(state);
        result
    }

    async fn shutdown_running(&self) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(r) = running {
            r.shutdown().await;
        }
    }

    /// Stops the member: listeners close, a dormant one never starts.
    pub async fn remove(&self) {
        self.stop.send_replace(true);
        // Its sockets are closed when this returns (a fleet started again
        // on the same addresses can bind them).
        let task = self
            .dormant_task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
        self.shutdown_running().await;
        self.state.send_replace(MemberState::Removed);
    }
}

/// A running fleet.
pub struct Fleet {
    inner: Arc<FleetInner>,
    control: Option<ControlListener>,
}

/// The fleet's shared state (the control API holds it too).
pub struct FleetInner {
    config: FleetConfig,
    members: RwLock<BTreeMap<String, Arc<Member>>>,
    /// Local position of the next member to add.
    next_position: Mutex<u32>,
    /// Where the next added member's address continues from.
    next_address: Mutex<Option<IpAddr>>,
    makers: Arc<Semaphore>,
}

impl std::fmt::Debug for FleetInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetInner").finish_non_exhaustive()
    }
}

/// A member's place, computed before anything is bound.
struct Placement {
    position: u32,
    group: GroupConfig,
    address: IpAddr,
    ports: Ports,
}

impl Fleet {
    /// Starts every member of `config`'s groups; `progress(started, total)`
    /// is called as they come up.
    pub async fn start(
        config: FleetConfig,
        progress: impl Fn(usize, usize) + Send + Sync + 'static,
    ) -> Result<Fleet, FleetError> {
        let inner = Arc::new(FleetInner {
            config: config.clone(),
            members: RwLock::new(BTreeMap::new()),
            next_position: Mutex::new(0),
            next_address: Mutex::new(None),
            makers: Arc::new(Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
        });
        let placements = inner.place_groups(&config.groups)?;
        let total = placements.len();
        let progress = Arc::new(progress);
        // Loading stored members reads and decodes flash: a few at a time.
        let loads = Arc::new(Semaphore::new(8));
        let mut tasks = tokio::task::JoinSet::new();
        for placement in placements {
            let member = inner.new_member(&placement);
            let loads = loads.clone();
            tasks.spawn(async move {
                let _permit = loads.acquire_owned().await;
                open_member(member).await
            });
        }
        let mut started = 0;
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(member)) => {
                    inner.insert(member);
                }
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(e) => {
                    first_error
                        .get_or_insert(FleetError::Server(ServerError::Start(e.to_string())));
                }
            }
            started += 1;
            progress(started, total);
        }
        if let Some(e) = first_error {
            for m in inner.members() {
                m.remove().await;
            }
            return Err(e);
        }
        let control = match config.control {
            None => None,
            Some(addr) => Some(
                ControlListener::start_target(
                    addr,
                    Target::Fleet(inner.clone()),
                    config.control_token.clone(),
                )
                .await
                .map_err(|source| FleetError::Control { addr, source })?,
            ),
        };
        Ok(Fleet { inner, control })
    }

    pub fn inner(&self) -> &Arc<FleetInner> {
        &self.inner
    }

    /// Every member, by id.
    pub fn members(&self) -> Vec<Arc<Member>> {
        self.inner.members()
    }

    pub fn member(&self, id: &str) -> Option<Arc<Member>> {
        self.inner.member(id)
    }

    pub fn control_addr(&self) -> Option<SocketAddr> {
        self.control.as_ref().map(ControlListener::local_addr)
    }

    /// The token the control API asks for, if any.
    pub fn control_token(&self) -> Option<&str> {
        self.control.as_ref().and_then(ControlListener::token)
    }

    /// Stops every member and the control API.
    pub async fn shutdown(mut self) {
        if let Some(c) = self.control.take() {
            c.stop().await;
        }
        for m in self.inner.members() {
            m.remove().await;
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if let Some(c) = self.control.take() {
            c.signal_stop();
        }
        for m in self.inner.members() {
            m.stop.send_replace(true);
        }
    }
}

impl FleetInner {
    pub fn config(&self) -> &FleetConfig {
        &self.config
    }

    pub fn members(&self) -> Vec<Arc<Member>> {
        self.members
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    pub fn member(&self, id: &str) -> Option<Arc<Member>> {
        self.members
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    fn insert(&self, member: Arc<Member>) {
        self.members
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(member.id.clone(), member);
    }

    pub(crate) fn forget(&self, id: &str) -> Option<Arc<Member>> {
        self.members
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)
    }

    /// Whether every member is serving or ready to (dormant counts: its
    /// ports answer).
    pub fn all_ready(&self) -> bool {
        self.members().iter().all(|m| {
            matches!(
                m.state(),
                MemberState::Ready(_) | MemberState::Dormant | MemberState::Starting
            )
        })
    }

    /// Places the members of `groups` after those already placed.
    fn place_groups(&self, groups: &[GroupConfig]) -> Result<Vec<Placement>, FleetError> {
        let mut out = Vec::new();
        let mut position = self.next_position.lock().unwrap_or_else(|p| p.into_inner());
        let mut next_address = self.next_address.lock().unwrap_or_else(|p| p.into_inner());
        for group in groups {
            let mut address = group
                .address
                .or(*next_address)
                .unwrap_or(self.config.listen);
            for _ in 0..group.count {
                let index = self.config.index_base.saturating_add(*position);
                let id = device_id(index);
                let (addr, ports) = match self.config.addressing {
                    Addressing::Loopback => (address, self.config.ports),
                    Addressing::Ports => {
                        let http =
                            u32::from(self.config.port_base) + u32::from(PORT_BLOCK) * *position;
                        let last = http + u32::from(PORT_BLOCK) - 1;
                        if last > u32::from(u16::MAX) {
                            return Err(FleetError::Address {
                                id,
                                reason: format!(
                                    "its port block {http}..={last} is past 65535: \
                                     fewer devices, a lower --port-base, or loopback addressing"
                                ),
                            });
                        }
                        (
                            self.config.listen,
                            Ports {
                                redirection: Some(http as u16 + 2),
                                redirection_tls: Some(http as u16 + 3),
                                rmcp: Some(http as u16 + RMCP_BLOCK_OFFSET),
                                rmcp_secure: Some(http as u16 + RMCP_BLOCK_OFFSET + 1),
                                ..Ports::wsman_only(http as u16, http as u16 + 1)
                            },
                        )
                    }
                };
                out.push(Placement {
                    position: *position,
                    group: group.clone(),
                    address: addr,
                    ports,
                });
                *position += 1;
                if self.config.addressing == Addressing::Loopback {
                    address = next_ip(address).ok_or_else(|| FleetError::Address {
                        id: device_id(index.saturating_add(1)),
                        reason: format!("no address after {address}"),
                    })?;
                }
            }
            *next_address = Some(address);
        }
        Ok(out)
    }

    fn new_member(&self, p: &Placement) -> Arc<Member> {
        let index = self.config.index_base.saturating_add(p.position);
        let id = device_id(index);
        let mut config = EmulatorConfig {
            state_dir: self.config.state_dir.as_ref().map(|d| d.join(&id)),
            listen: p.address,
            ports: p.ports,
            firmware: p.group.firmware,
            bios_clock: p.group.bios_clock,
            seed: self.config.seed.map(|s| member_seed(s, index)),
            admin_password: p.group.admin_password.clone(),
            limits: self.config.limits,
            lms: self.config.lms.map(|lms| LmsConfig {
                listen: p.address,
                // RMCP is a network face: none on the local one.
                ports: match self.config.addressing {
                    Addressing::Loopback => Ports {
                        rmcp: None,
                        rmcp_secure: None,
                        ..lms
                    },
                    // The block is checked to fit below 65536.
                    Addressing::Ports => Ports::wsman_only(
                        p.ports.http.saturating_add(LMS_BLOCK_OFFSET),
                        p.ports.http.saturating_add(LMS_BLOCK_OFFSET + 1),
                    ),
                },
            }),
            control_port: None,
            control_token: None,
            journal: JournalConfig {
                capacity: MEMBER_JOURNAL_CAPACITY,
                ..JournalConfig::default()
            },
            faults: Vec::new(),
            scenario: None,
            replay: None,
            tls_backend: None,
        };
        if let Some(scenario) = &p.group.scenario {
            // The member's own seed wins over the scenario's.
            let _ = scenario.configure(&mut config);
        }
        let (stop, _) = watch::channel(false);
        Arc::new(Member {
            id,
            index,
            group: p.group.name.clone(),
            config: Mutex::new(config),
            state: watch::channel(MemberState::Dormant).0,
            dormant_addrs: Mutex::new(ListenerAddrs::default()),
            wake: Notify::new(),
            stop,
            dormant_task: Mutex::new(None),
            running: Mutex::new(None),
            makers: self.makers.clone(),
        })
    }

    /// Adds members (fleet operation); they start dormant or loaded like
    /// the first ones.
    pub async fn add(&self, group: GroupConfig) -> Result<Vec<Arc<Member>>, FleetError> {
        let placements = self.place_groups(std::slice::from_ref(&group))?;
        let mut added = Vec::new();
        for p in placements {
            let member = open_member(self.new_member(&p)).await?;
            self.insert(member.clone());
            added.push(member);
        }
        Ok(added)
    }
}

fn next_ip(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(v4) => u32::from(v4).checked_add(1).map(|n| IpAddr::V4(n.into())),
        IpAddr::V6(v6) => u128::from(v6).checked_add(1).map(|n| IpAddr::V6(n.into())),
    }
}

/// Binds a member's ports and starts it: loaded now if its flash is
/// stored, else dormant until first used.
async fn open_member(member: Arc<Member>) -> Result<Arc<Member>, FleetError> {
    let (listen, ports, state_dir, firmware, admin_password, shaped) = {
        let c = member.lock_config();
        (
            c.listen,
            c.ports,
            c.state_dir.clone(),
            c.firmware,
            c.admin_password.is_some(),
            c.scenario.is_some(),
        )
    };
    let stored = state_dir
        .as_ref()
        .is_some_and(|d| d.join(crate::flash_store::IMAGE_FILE).exists());
    if stored {
        // Decoding needs no key generation; a bad image fails this member
        // only, but an address that cannot be bound is the operator's to fix.
        return match member.materialize(BoundSockets::default()).await {
            Err(ServerError::Listen(e)) => Err(bind_error(&member.id, e.addr, e.source)),
            _ => Ok(member),
        };
    }
    // A new device opens what the port policy opens for its factory
    // state (a group's admin password only provisions it, which moves no
    // port of the network face's WS-Man or RMCP).
    let profile = FirmwareProfile::new(firmware.unwrap_or(FirmwareVersion::DEFAULT));
    let provisioned = admin_password;
    let policy = PortPolicy::remote_of(&RemoteFacts::factory(&profile, provisioned));
    let mut sockets = BoundSockets::default();
    let mut addrs = ListenerAddrs::default();
    if policy.http {
        let socket = bind(&member.id, SocketAddr::new(listen, ports.http)).await?;
        addrs.http = socket.local_addr().ok();
        sockets.tcp.push((Transport::Plain, socket));
    }
    if policy.tls {
        let socket = bind(&member.id, SocketAddr::new(listen, ports.tls)).await?;
        addrs.tls = socket.local_addr().ok();
        sockets.tcp.push((Transport::Tls, socket));
    }
    // A scenario may change what the pong says (network settings,
    // provisioning): such a member answers pings once it is made, never
    // with a guess.
    //
    // Only 623 is bound while dormant. 664 opens with 16993 (on every
    // factory CSME 16.1+ device), but the emulator's 664 drops every
    // datagram (RSP is not modelled), so a dormant socket there would
    // change nothing a console sees but the ICMP "port unreachable" while
    // doubling the descriptors of a default 10,000-device fleet (one per
    // member today, docs/decisions.md). The live device binds it on wake.
    let mut responder = None;
    if let Some(port) = ports.rmcp.filter(|_| policy.rmcp && !shaped) {
        let presence = crate::rmcp::presence_of(
            GeneralNetworkSettings::default().rmcp_ping_response_enabled,
            profile.version(),
            if provisioned {
                ProvisioningState::PostProvisioning
            } else {
                ProvisioningState::PreProvisioning
            },
            addrs,
        );
        let addr = SocketAddr::new(listen, port);
        let started = match UdpSocket::bind(addr).await {
            Ok(socket) => RmcpResponder::on_socket(socket, false, PresenceSource::Fixed(presence)),
            Err(e) => Err(e),
        };
        // As a live device: discovery never stops a member from serving.
        match started {
            Ok(r) => {
                addrs.rmcp = Some(r.local_addr());
                responder = Some(r);
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                tracing::debug!(device = %member.id, %addr, "RMCP port not opened (privileged; use a port offset)");
            }
            Err(e) => {
                tracing::warn!(device = %member.id, %addr, error = %e, "RMCP port not opened")
            }
        }
    }
    *member
        .dormant_addrs
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = addrs;
    let task = tokio::spawn(dormant(member.clone(), sockets, responder));
    *member
        .dormant_task
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some(task);
    Ok(member)
}

async fn bind(id: &str, addr: SocketAddr) -> Result<TcpListener, FleetError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| bind_error(id, addr, source))
}

fn bind_error(id: &str, addr: SocketAddr, source: std::io::Error) -> FleetError {
    let hint = match (source.kind(), addr.ip()) {
        (std::io::ErrorKind::AddrNotAvailable, IpAddr::V4(v4)) if !v4.is_loopback() => {
            " (loopback addressing needs addresses in 127.0.0.0/8; \
             use --addressing ports for another address)"
        }
        (std::io::ErrorKind::AddrInUse, _) => {
            " (taken by another process: choose another --listen, --port-offset or --port-base)"
        }
        _ => "",
    };
    FleetError::Bind {
        id: id.to_string(),
        addr,
        source,
        hint,
    }
}

/// A dormant member: answers RMCP pings with its factory pong, waits for
/// its first connection (or a wake-up from the control API), then makes
/// the device and serves that connection.
///
/// The UDP 623 socket is handed over to the live device rather than closed
/// and bound again: between the dormant responder's stop and the live
/// one's start no ping is answered, but none is lost either (it waits in
/// the socket and the live device answers it), no pong ever comes from the
/// factory guess once the device can have changed, and no other process
/// can take the port in between.
async fn dormant(member: Arc<Member>, mut sockets: BoundSockets, rmcp: Option<RmcpResponder>) {
    let mut stop = member.stop.subscribe();
    let first = tokio::select! {
        _ = stop.wait_for(|s| *s) => None,
        _ = member.wake.notified() => Some(None),
        accepted = accept_any(&sockets.tcp) => Some(Some(accepted)),
    };
    if let Some(responder) = rmcp {
        sockets.rmcp = responder.into_socket().await;
    }
    let Some(first) = first else {
        return;
    };
    let made = member.materialize(sockets).await;
    if let (Some((stream, peer, transport)), Ok(host)) = (first, made) {
        crate::listener::admit(stream, peer, transport, Interface::Remote, host);
    }
}

async fn accept_any(sockets: &[(Transport, TcpListener)]) -> (TcpStream, SocketAddr, Transport) {
    loop {
        let accepted = match sockets {
            [] => std::future::pending().await,
            [(t, a)] => a.accept().await.map(|(s, p)| (s, p, *t)),
            [(t1, a), (t2, b), ..] => tokio::select! {
                r = a.accept() => r.map(|(s, p)| (s, p, *t1)),
                r = b.accept() => r.map(|(s, p)| (s, p, *t2)),
            },
        };
        match accepted {
            Ok(a) => return a,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}
