//! One device with its network-side state: the device value, its WS-Man
//! service state, its digest nonces, its flash store and its TLS face.
//!
//! Requests for a device are serialised through one mutex: the firmware
//! answers one request at a time, and a change is persisted before its
//! reply leaves, so an acknowledged change survives a crash.

use std::sync::{Arc, Mutex, MutexGuard};

use amt_device::device::{ADMIN_USER, LOCAL_SYSTEM_USER};
use amt_device::{flash, Device, DeviceEvent, Effects};
use amt_wsman::{CallContext, WsmanService};
use rand::Rng;
use time::OffsetDateTime;

use crate::digest::{DigestError, NonceTracker};
use crate::faults::{ConnectionFacts, FaultInjector, FaultKind, RequestFacts};
use crate::flash_store::{FlashStore, FlashStoreError};
use crate::journal::{Journal, JournalEntry};
use crate::limits::ServerLimits;
use crate::listener::ConnectionSlots;
use crate::listener_set::{ListenError, ListenerAddrs, ListenerSet};
use crate::lockout::{Lockout, LockoutPolicy};
use crate::ports::PortPolicy;
use crate::tls::{ClientAuth, PskKey, TlsBackend, TlsBackendKind, TlsError};
use crate::vocabulary::{Interface, Transport, Via};

pub mod machine;
mod web;

/// Who an authenticated request acts as.
pub use amt_wsman::Principal;

/// What the HTTP layer does with a WS-Man request's outcome.
#[derive(Debug)]
pub enum WsmanOutcome {
    /// An answer (a WS-Man reply, or an injected HTTP 500 / garbage).
    Reply {
        status: u16,
        body: Vec<u8>,
        content_type: &'static str,
    },
    /// Close the connection without answering (injected drop).
    Drop,
}

/// The media type of WS-Man replies.
pub const SOAP_CONTENT_TYPE: &str = "application/soap+xml; charset=UTF-8";
/// How long an injected stall holds a request before dropping it.
pub const STALL_LIMIT: std::time::Duration = std::time::Duration::from_secs(600);

/// The listeners of one interface.
struct Face {
    interface: Interface,
    set: tokio::sync::Mutex<ListenerSet>,
    addrs: Mutex<ListenerAddrs>,
}

struct HostState {
    device: Device,
    nonces: NonceTracker,
    wsman: WsmanService,
    /// Counts changes, so a flash write never replaces a newer image with
    /// an older one (writes run outside the lock).
    generation: u64,
    /// Recorded replies for unmodelled classes, kept across resets.
    replay: Option<Arc<amt_wsman::replay::Replay>>,
}

impl HostState {
    fn new_wsman(replay: &Option<Arc<amt_wsman::replay::Replay>>) -> WsmanService {
        match replay {
            Some(r) => WsmanService::new().with_replay(r.clone()),
            None => WsmanService::new(),
        }
    }

    /// Drops per-session protocol state (enumeration contexts).
    fn reset_volatile(&mut self) {
        self.wsman = HostState::new_wsman(&self.replay);
    }
}

/// A device and everything its listeners share.
pub struct DeviceHost {
    state: Mutex<HostState>,
    store: Option<FlashStore>,
    tls: Box<dyn TlsBackend>,
    server_header: String,
    /// Network interface listeners, then the local (LMS) ones if any.
    faces: Vec<Face>,
    // Front hardening (docs/reliability.md): limits, open connections,
    // login lockout.
    limits: ServerLimits,
    connections: Arc<ConnectionSlots>,
    lockout: Mutex<Lockout>,
    faults: FaultInjector,
    journal: Journal,
    cira: crate::cira::CiraShared,
    /// WS-Eventing delivery to the device's subscribers.
    delivery: crate::event_delivery::EventDelivery,
    /// WS-Man requests take turns, one at a time as on the firmware; the
    /// turn (not the device lock) is held across the flash write, so
    /// challenges and digest checks never wait behind the disk.
    turn: tokio::sync::Mutex<()>,
    /// The generation last written to flash.
    written: Mutex<u64>,
    /// What the device reports happening (provisioned, TLS changed ...),
    /// for subscribers (WS-Eventing delivery, tests, logs).
    events: tokio::sync::broadcast::Sender<DeviceEvent>,
    /// The redirection sessions open on 16994/16995 (redirection.rs).
    redirection: crate::redirection::OpenSessions,
    /// Whether the listeners may be open: not while an injected port
    /// stack restart lasts, nor after the device was stopped.
    port_stack: Mutex<PortStack>,
}

/// The state of the device's port stack, which listeners follow.
#[derive(Debug, Default)]
struct PortStack {
    /// Down until then (an injected `restart_ports`).
    down_until: Option<std::time::Instant>,
    /// The device was shut down: nothing reopens.
    stopped: bool,
}

/// How many undelivered events a slow subscriber may lag behind before it
/// misses some (it is told how many).
pub const EVENT_BACKLOG: usize = 256;

impl std::fmt::Debug for DeviceHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceHost")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// Errors while changing a device from the host side.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error(transparent)]
    Device(#[from] amt_device::DeviceError),
    #[error(transparent)]
    Flash(#[from] FlashStoreError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Listen(#[from] ListenError),
}

impl DeviceHost {
    pub(crate) fn new(
        device: Device,
        store: Option<FlashStore>,
        listeners: Vec<ListenerSet>,
        limits: ServerLimits,
        journal: Journal,
        replay: Option<Arc<amt_wsman::replay::Replay>>,
        tls_backend: Option<TlsBackendKind>,
    ) -> Result<Self, HostError> {
        let profile = *device.profile();
        let tls = tls_backend
            .unwrap_or_else(|| TlsBackendKind::for_profile(&profile))
            .build(&profile)?;
        tracing::debug!(backend = tls.name(), firmware = %profile.version(), "TLS stack");
        let server_header = device.profile().server_header();
        let host = DeviceHost {
            state: Mutex::new(HostState {
                device,
                nonces: nonce_tracker(&limits),
                wsman: HostState::new_wsman(&replay),
                generation: 0,
                replay,
            }),
            store,
            tls,
            server_header,
            faces: listeners
                .into_iter()
                .map(|set| Face {
                    interface: set.interface(),
                    set: tokio::sync::Mutex::new(set),
                    addrs: Mutex::new(ListenerAddrs::default()),
                })
                .collect(),
            limits,
            connections: Arc::new(ConnectionSlots::new(limits.max_connections)),
            lockout: Mutex::new(Lockout::new(LockoutPolicy::from(&limits))),
            faults: FaultInjector::new(),
            journal,
            cira: crate::cira::CiraShared::default(),
            delivery: Default::default(),
            turn: tokio::sync::Mutex::new(()),
            written: Mutex::new(0),
            events: tokio::sync::broadcast::channel(EVENT_BACKLOG).0,
            redirection: Default::default(),
            port_stack: Default::default(),
        };
        host.refresh_tls()?;
        Ok(host)
    }

    fn lock(&self) -> MutexGuard<'_, HostState> {
        // A panic while holding the lock cannot leave a half-applied change
        // on disk (writes are atomic), so carry on with the value.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The CIRA tunnel's status and requests (cira.rs).
    pub fn cira_shared(&self) -> &crate::cira::CiraShared {
        &self.cira
    }

    pub fn server_header(&self) -> String {
        self.server_header.clone()
    }

    /// The redirection sessions open now.
    pub fn redirection_sessions(&self) -> &crate::redirection::OpenSessions {
        &self.redirection
    }

    /// Changes the device from a session in progress (the host reading
    /// from a remote drive): flash is written only when the change asks
    /// for it, and its events are published.
    pub(crate) fn update_device<R>(&self, f: impl FnOnce(&mut Device, OffsetDateTime) -> R) -> R {
        let mut st = self.lock();
        let now = OffsetDateTime::now_utc();
        let r = f(&mut st.device, now);
        let effects = st.device.take_effects();
        if effects.persist {
            st.generation += 1;
            if let Err(e) = self.write_flash(st.generation, &st.device) {
                tracing::error!(error = %e, "flash write failed during a redirection session");
            }
        }
        drop(st);
        self.publish(&effects);
        r
    }

    /// Whether logins are refused right now after repeated failures (the
    /// same lockout WS-Man digest logins count towards).
    pub(crate) fn login_locked(&self) -> bool {
        let lockout = self.lockout.lock().unwrap_or_else(|p| p.into_inner());
        lockout.is_locked(crate::clock::monotonic())
    }

    /// Counts a login made outside HTTP (the redirection protocol).
    pub(crate) fn record_login(&self, ok: bool) {
        let mut lockout = self.lockout.lock().unwrap_or_else(|p| p.into_inner());
        if ok {
            lockout.record_success();
        } else if lockout.record_failure(crate::clock::monotonic()) {
            tracing::warn!("repeated failed logins: every login is refused for a while");
        }
    }

    /// Bytes typed at the host's serial port (a SOL console, the control
    /// API). The serial console lives in RAM: nothing is written to flash.
    pub fn host_serial_input(&self, bytes: &[u8]) {
        let mut st = self.lock();
        st.device
            .host_serial_input(bytes, OffsetDateTime::now_utc());
    }

    pub(crate) fn tls(&self) -> &dyn TlsBackend {
        self.tls.as_ref()
    }

    /// Which TLS stack serves this device (`rustls` or `openssl`).
    pub fn tls_backend_name(&self) -> &'static str {
        self.tls.name()
    }

    /// The limits of this device's listeners.
    pub fn limits(&self) -> &ServerLimits {
        &self.limits
    }

    pub(crate) fn connections(&self) -> &Arc<ConnectionSlots> {
        &self.connections
    }

    /// Fault injection rules of this device.
    pub fn faults(&self) -> &FaultInjector {
        &self.faults
    }

    /// The call journal of this device.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Events of this device from now on (the seam WS-Eventing delivery
    /// subscribes to; see docs/architecture.md).
    pub fn subscribe_events(&self) -> tokio::sync::broadcast::Receiver<DeviceEvent> {
        self.events.subscribe()
    }

    fn publish(&self, effects: &Effects) {
        for event in &effects.events {
            // No subscriber is not an error.
            let _ = self.events.send(event.clone());
        }
    }

    /// Restarts the firmware: listeners go down, what the firmware keeps
    /// in RAM (digest nonces, enumeration contexts, the provisioning chain)
    /// is lost, and the listeners come back as flash says.
    pub async fn power_cycle(self: &Arc<Self>) -> Result<(), HostError> {
        self.close_listeners().await;
        {
            let mut st = self.lock();
            st.device.power_cycle();
            st.nonces = nonce_tracker(&self.limits);
            st.reset_volatile();
        }
        self.reconcile_listeners().await?;
        Ok(())
    }

    /// Replaces the device with a brand-new one of the same firmware and
    /// BIOS clock (new realm, UUID, keys), as a factory reset would.
    pub async fn factory_reset(self: &Arc<Self>) -> Result<(), HostError> {
        {
            let mut st = self.lock();
            let config = amt_device::DeviceConfig {
                profile: *st.device.profile(),
                bios_clock: st.device.bios_clock(),
            };
            let mut entropy = [0u8; 32];
            rand::rng().fill_bytes(&mut entropy);
            let fresh = Device::new(
                config,
                amt_device::Entropy(entropy),
                OffsetDateTime::now_utc(),
            )?;
            st.generation += 1;
            self.write_flash(st.generation, &fresh)?;
            self.present(&fresh)?;
            st.device = fresh;
            st.nonces = nonce_tracker(&self.limits);
            st.reset_volatile();
        }
        self.reconcile_listeners().await?;
        Ok(())
    }

    /// Reads the device.
    pub fn with_device<R>(&self, f: impl FnOnce(&Device) -> R) -> R {
        f(&self.lock().device)
    }

    /// Changes the device, persists it and updates the TLS face. The
    /// change is durable when this returns `Ok`.
    pub fn change_device<R>(
        &self,
        f: impl FnOnce(&mut Device, OffsetDateTime) -> Result<R, amt_device::DeviceError>,
    ) -> Result<R, HostError> {
        let (r, change) = self.apply_change(f)?;
        let written = self.write_flash(change.generation, &change.snapshot);
        self.finish_change(change, written)?;
        Ok(r)
    }

    /// [`DeviceHost::change_device`] with the flash write on a blocking
    /// thread, for callers on the runtime (the control API, CIRA): a
    /// worker never waits on an fsync.
    pub async fn change_device_async<R>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Device, OffsetDateTime) -> Result<R, amt_device::DeviceError>,
    ) -> Result<R, HostError> {
        let (r, change) = self.apply_change(f)?;
        let host = self.clone();
        let (generation, snapshot) = (change.generation, change.snapshot.clone());
        let written = tokio::task::spawn_blocking(move || host.write_flash(generation, &snapshot))
            .await
            .unwrap_or_else(|e| {
                Err(FlashStoreError::Write {
                    path: Default::default(),
                    source: std::io::Error::other(format!("flash writer failed: {e}")),
                })
            });
        self.finish_change(change, written)?;
        Ok(r)
    }

    /// Runs `f` on the device under the state lock, which is held only
    /// for that and for taking a snapshot: encoding and the flash write
    /// happen after it is released, so a digest check never waits on them.
    fn apply_change<R>(
        &self,
        f: impl FnOnce(&mut Device, OffsetDateTime) -> Result<R, amt_device::DeviceError>,
    ) -> Result<(R, PendingChange), HostError> {
        let mut st = self.lock();
        let now = OffsetDateTime::now_utc();
        let before = st.device.clone();
        // A change from the host side: the audit log names the platform.
        st.device
            .begin_audited_call(now, amt_device::audit_log::AuditInitiator::Local);
        let r = f(&mut st.device, now)?;
        let effects = st.device.take_effects();
        st.generation += 1;
        let change = PendingChange {
            generation: st.generation,
            snapshot: st.device.clone(),
            device_time: st.device.bios_clock().certificate_time(now),
            subscribers: before.subscriptions().clone(),
            before,
            effects,
        };
        Ok((r, change))
    }

    /// After the write: roll back if it failed, else present the TLS
    /// configuration, deliver and publish the events.
    fn finish_change(
        &self,
        change: PendingChange,
        written: Result<(), FlashStoreError>,
    ) -> Result<(), HostError> {
        if let Err(e) = written {
            tracing::error!(error = %e, "flash write failed; the change is rolled back");
            self.roll_back(change.generation, Some(change.before));
            return Err(e.into());
        }
        self.present(&change.snapshot)?;
        self.delivery.deliver(
            &change.subscribers,
            &change.effects.events,
            change.device_time,
        );
        if !change.effects.events.is_empty() {
            self.cira.raise_alert();
        }
        self.publish(&change.effects);
        Ok(())
    }

    /// [`DeviceHost::change_device`], then the listeners follow the port
    /// policy (a CommitChanges may open or close 16992).
    pub async fn change_device_and_listeners<R>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Device, OffsetDateTime) -> Result<R, amt_device::DeviceError>,
    ) -> Result<R, HostError> {
        let r = self.change_device_async(f).await?;
        self.reconcile_listeners().await?;
        Ok(r)
    }

    /// Writes generation `generation` of the device to flash, unless a
    /// newer one is already there (it includes this change).
    fn write_flash(&self, generation: u64, device: &Device) -> Result<(), FlashStoreError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        if generation <= *written {
            return Ok(());
        }
        store.write(&flash::encode(device))?;
        *written = generation;
        Ok(())
    }

    fn present(&self, device: &Device) -> Result<(), TlsError> {
        self.tls.present(
            device
                .active_tls_certificate()
                .map(|(c, k)| (c.der.as_slice(), k.key.pkcs8_der())),
        )?;
        let remote = &device.active_tls().settings.remote;
        let auth = (remote.enabled && remote.mutual_authentication).then(|| ClientAuth {
            trusted_roots: device
                .trusted_root_certificates()
                .into_iter()
                .map(<[u8]>::to_vec)
                .collect(),
            trusted_cn: remote.trusted_cn.clone(),
        });
        self.tls.set_client_auth(auth)?;
        self.tls.present_pki(device.pki_trust())?;
        self.tls.set_psk(device.tls_psk().map(|p| PskKey {
            identity: p.identity,
            key: p.key,
        }))?;
        self.tls.present_odca(device.odca_chain().map(|chain| {
            let expected = device
                .secure_configuration()
                .map(|s| (s.server_hash_algorithm, s.server_cert_hash.clone()));
            (chain, expected)
        }))
    }

    fn refresh_tls(&self) -> Result<(), TlsError> {
        let st = self.lock();
        self.present(&st.device)
    }

    /// Addresses of the open network-interface listeners.
    pub fn listener_addrs(&self) -> ListenerAddrs {
        self.addrs_of(Interface::Remote)
    }

    /// Addresses of the open listeners of `interface`.
    pub fn addrs_of(&self, interface: Interface) -> ListenerAddrs {
        self.faces
            .iter()
            .find(|f| f.interface == interface)
            .map(|f| *f.addrs.lock().unwrap_or_else(|p| p.into_inner()))
            .unwrap_or_default()
    }

    /// Opens and closes listeners to match the device's port policy
    /// (everything closed while the port stack is down).
    pub async fn reconcile_listeners(self: &Arc<Self>) -> Result<(), ListenError> {
        for face in &self.faces {
            let mut set = face.set.lock().await;
            let result = if self.ports_down() {
                set.close().await;
                Ok(())
            } else {
                let policy = self.with_device(|d| PortPolicy::of(d, face.interface));
                set.reconcile(policy, self).await
            };
            *face.addrs.lock().unwrap_or_else(|p| p.into_inner()) = set.addrs();
            result?;
        }
        Ok(())
    }

    fn port_stack(&self) -> MutexGuard<'_, PortStack> {
        self.port_stack.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the port stack is down (restarting, or the device stopped).
    fn ports_down(&self) -> bool {
        let st = self.port_stack();
        st.stopped
            || st
                .down_until
                .is_some_and(|until| crate::clock::monotonic() < until)
    }

    /// The firmware's port stack restart (an injected `restart_ports`):
    /// every listener of every interface closes now, and a task reopens
    /// them on the same ports once `seconds` have passed. A restart during
    /// a restart extends it.
    async fn restart_port_stack(self: &Arc<Self>, seconds: u64) {
        let until = crate::clock::monotonic() + std::time::Duration::from_secs(seconds);
        {
            let mut st = self.port_stack();
            st.down_until = Some(st.down_until.map_or(until, |u| u.max(until)));
        }
        tracing::info!(
            seconds,
            "port stack restarting (injected fault): every listener closed"
        );
        self.close_listeners().await;
        // Weak: a device dropped meanwhile is not kept alive to reopen.
        // Each restart has its own task; a later restart that extended the
        // window reopens at its own end.
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep_until(tokio::time::Instant::from_std(until)).await;
            let Some(host) = weak.upgrade() else {
                return;
            };
            {
                let mut st = host.port_stack();
                if st.down_until.is_some_and(|u| u > until) {
                    return;
                }
                st.down_until = None;
            }
            tracing::info!("port stack back up: listeners reopen");
            if let Err(e) = host.reconcile_listeners().await {
                tracing::error!(error = %e, "cannot reopen listeners after a port stack restart");
            }
        });
    }

    /// Stops every listener for good (the device shuts down): nothing
    /// reopens them afterwards, not even a port stack restart in progress.
    pub async fn shut_down_listeners(&self) {
        self.port_stack().stopped = true;
        self.close_listeners().await;
    }

    /// Stops every listener without waiting (for drop); a listener busy
    /// being reconciled at that moment is left to finish.
    pub fn signal_stop_listeners(&self) {
        self.port_stack().stopped = true;
        self.redirection.end_all();
        for face in &self.faces {
            if let Ok(mut set) = face.set.try_lock() {
                set.signal_stop();
                *face.addrs.lock().unwrap_or_else(|p| p.into_inner()) = set.addrs();
            }
        }
    }

    /// Closes every listener.
    pub async fn close_listeners(&self) {
        // The firmware going down ends its redirection sessions too.
        self.redirection.end_all();
        for face in &self.faces {
            let mut set = face.set.lock().await;
            set.close().await;
            *face.addrs.lock().unwrap_or_else(|p| p.into_inner()) = set.addrs();
        }
    }

    /// A fresh digest challenge (`WWW-Authenticate` value).
    pub fn challenge(&self, stale: bool) -> String {
        let mut random = [0u8; 24];
        rand::rng().fill_bytes(&mut random);
        let mut st = self.lock();
        let nonce = st.nonces.issue(random, OffsetDateTime::now_utc());
        crate::digest::challenge_header(st.device.digest_realm(), &nonce, stale)
    }

    /// A provisioning server's TLS client chain, after the handshake
    /// accepted it: whether the connection is a PKI provisioning session
    /// (`admin` with an empty password while in provisioning). The device
    /// stops saying hello once one is in.
    pub fn accept_pki_server(&self, chain: &[Vec<u8>]) -> bool {
        let mut st = self.lock();
        match st.device.accept_pki_provisioning_server(chain) {
            Ok(()) => {
                tracing::info!("PKI provisioning server authenticated");
                true
            }
            Err(refusal) => {
                tracing::info!(%refusal, "client certificate is no provisioning server's");
                false
            }
        }
    }

    /// Checks an `Authorization` header, refusing every login while the
    /// device is locked after repeated failures (crate::lockout).
    pub fn authenticate(
        &self,
        header: &str,
        method: &str,
        uri: &str,
        interface: Interface,
    ) -> Result<Principal, DigestError> {
        self.authenticate_on(header, method, uri, interface, false)
    }

    /// [`Self::authenticate`] on a connection that may be a PKI
    /// provisioning server's (`pki_session`).
    pub fn authenticate_on(
        &self,
        header: &str,
        method: &str,
        uri: &str,
        interface: Interface,
        pki_session: bool,
    ) -> Result<Principal, DigestError> {
        let now = crate::clock::monotonic();
        let mut lockout = self.lockout.lock().unwrap_or_else(|p| p.into_inner());
        if lockout.is_locked(now) {
            return Err(DigestError::LockedOut);
        }
        let result = self.verify_digest(header, method, uri, interface, pki_session);
        match &result {
            Ok(_) => lockout.record_success(),
            Err(e) if e.counts_as_failed_login() => {
                if lockout.record_failure(now) {
                    tracing::warn!(
                        failures = self.limits.lockout_threshold,
                        locked_for = ?self.limits.lockout_duration,
                        "repeated failed logins: every login is refused for a while"
                    );
                }
            }
            Err(_) => {}
        }
        result
    }

    fn verify_digest(
        &self,
        header: &str,
        method: &str,
        uri: &str,
        interface: Interface,
        pki_session: bool,
    ) -> Result<Principal, DigestError> {
        let mut st = self.lock();
        let HostState { device, nonces, .. } = &mut *st;
        // A PKI provisioning server logs in as `admin` with an empty
        // password over its mutual-TLS connection, until configuration
        // completes.
        let pki_login = pki_session
            && device.provisioning_state() == amt_device::ProvisioningState::InProvisioning;
        let admin_ha1 = if pki_login {
            Some(device.digest_ha1(ADMIN_USER, ""))
        } else {
            device.admin_password_ha1()
        };
        // The local system account exists only on the local interface.
        let local_ha1 = (interface == Interface::Local).then(|| {
            let (user, password) = device.local_system_account();
            device.digest_ha1(user, password)
        });
        let auth = nonces.verify(
            header,
            method,
            uri,
            device.digest_realm(),
            OffsetDateTime::now_utc(),
            |user| match user {
                ADMIN_USER => admin_ha1,
                LOCAL_SYSTEM_USER => local_ha1,
                // User ACL entries, where their AccessPermission allows.
                other => device
                    .digest_user_login(other, interface == Interface::Local)
                    .map(|(_, ha1)| ha1),
            },
        )?;
        match auth.username.as_str() {
            ADMIN_USER => Ok(Principal::Admin),
            LOCAL_SYSTEM_USER if interface == Interface::Local => Ok(Principal::LocalSystemAccount),
            other => device
                .digest_user_login(other, interface == Interface::Local)
                .map(|(handle, _)| Principal::AclUser { handle })
                .ok_or(DigestError::UnknownUser),
        }
    }

    /// Handles one WS-Man request body: fault injection, the WS-Man
    /// engine under the device lock, flash before the reply, listeners
    /// after a change, and the journal (which notes how the request
    /// arrived: `via`, and plain or TLS where the listener said). The
    /// listener describes the connection the request came on (its place on
    /// it, its TLS version), which fault rules may be scoped by.
    pub async fn wsman(
        self: &Arc<Self>,
        principal: Principal,
        interface: Interface,
        via: Via,
        transport: Option<Transport>,
        connection: ConnectionFacts,
        body: &[u8],
    ) -> WsmanOutcome {
        let started = crate::clock::monotonic();
        let arrived = OffsetDateTime::now_utc();
        // Parsed once: fault rules, the journal and the engine all read it.
        let parsed = amt_wsman::envelope::Request::parse(body);
        let facts = RequestFacts::of(parsed.as_ref()).on(connection);
        let injected = self.faults.take(&facts.fault_facts());
        let (outcome, fault, replayed) = match &injected {
            Some(FaultKind::Delay { ms }) => {
                tokio::time::sleep(std::time::Duration::from_millis(*ms)).await;
                self.run_wsman(principal, parsed.as_ref(), facts.reads_only())
                    .await
            }
            Some(FaultKind::DropBeforeResponse) => (WsmanOutcome::Drop, None, false),
            Some(FaultKind::DropAfterResponse) => {
                let (_, fault, replayed) = self
                    .run_wsman(principal, parsed.as_ref(), facts.reads_only())
                    .await;
                (WsmanOutcome::Drop, fault, replayed)
            }
            Some(FaultKind::RestartPorts { seconds }) => {
                let (_, fault, replayed) = self
                    .run_wsman(principal, parsed.as_ref(), facts.reads_only())
                    .await;
                // The listeners close before this connection does, so a
                // client that reconnects on the EOF is refused.
                self.restart_port_stack(*seconds).await;
                (WsmanOutcome::Drop, fault, replayed)
            }
            Some(FaultKind::SoapFault { subcode, reason }) => {
                let reply = self
                    .lock()
                    .wsman
                    .injected_fault(body, subcode, reason.as_deref());
                let fault = reply
                    .fault
                    .as_ref()
                    .and_then(fault_name)
                    .or_else(|| Some(subcode.clone()));
                (soap(reply.status, reply.body), fault, false)
            }
            Some(FaultKind::ReturnValue { value }) => {
                let reply = self.lock().wsman.injected_return_value(body, *value);
                (soap(reply.status, reply.body), None, false)
            }
            Some(FaultKind::Http500) => (internal_error(), None, false),
            Some(FaultKind::Garbage) => (
                WsmanOutcome::Reply {
                    status: 200,
                    body: b"\x00\x13\x37 this is not SOAP \xff\xfe".to_vec(),
                    content_type: SOAP_CONTENT_TYPE,
                },
                None,
                false,
            ),
            Some(FaultKind::Stall) => {
                tokio::time::sleep(STALL_LIMIT).await;
                (WsmanOutcome::Drop, None, false)
            }
            // Connection-level: not matched per request.
            Some(
                FaultKind::RefuseTls { .. }
                | FaultKind::RefuseSession
                | FaultKind::DropSession { .. }
                | FaultKind::StallSession,
            )
            | None => {
                self.run_wsman(principal, parsed.as_ref(), facts.reads_only())
                    .await
            }
        };
        if let (Some(kind), WsmanOutcome::Reply { .. }) = (&injected, &outcome) {
            tracing::info!(?kind, class = ?facts.class, operation = ?facts.operation, "injected fault");
        }
        let (status, reply) = match &outcome {
            WsmanOutcome::Reply { status, body, .. } => (*status, Some(body.as_slice())),
            WsmanOutcome::Drop => (0, None),
        };
        // Bodies are copied for the journal only when it keeps them.
        let keep = self.journal.keeps_bodies();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        self.journal.record(JournalEntry {
            seq: 0,
            time: crate::journal::timestamp(arrived),
            interface: interface.name().into(),
            user: Some(principal.user_name(&self.lock().device)),
            resource_uri: facts.resource_uri.clone(),
            class: facts.class.clone(),
            action: facts.action.clone(),
            selectors: facts.selectors.clone(),
            http_status: status,
            duration_ms: crate::clock::monotonic()
                .saturating_duration_since(started)
                .as_secs_f64()
                * 1000.0,
            fault,
            injected: injected.as_ref().map(|k| format!("{k:?}")),
            request_body: keep.then(|| text(body)),
            response_body: reply.filter(|_| keep).map(text),
            answered_by: replayed.then(|| "recording".to_string()),
            via: via.journal_name().map(str::to_string),
            transport: transport.map(|t| t.journal_name().to_string()),
            ..JournalEntry::default()
        });
        outcome
    }

    /// The WS-Man engine proper, acting on the effects the engine hands
    /// back: flash written (outside the device lock, on a blocking thread)
    /// before the reply is released, the TLS face refreshed, the listeners
    /// reconciled, events published. If flash cannot be written the change
    /// is rolled back and the caller gets an internal error, so memory and
    /// flash never disagree. Also returns the fault answered, for the
    /// journal.
    async fn run_wsman(
        self: &Arc<Self>,
        principal: Principal,
        request: Result<&amt_wsman::envelope::Request, &amt_wsman::fault::Fault>,
        reads_only: bool,
    ) -> (WsmanOutcome, Option<String>, bool) {
        let ctx = CallContext {
            now: OffsetDateTime::now_utc(),
            principal,
        };
        let _turn = self.turn.lock().await;
        let (reply, change, delivery) = {
            let mut st = self.lock();
            self.tick_device(&mut st, ctx.now);
            // A snapshot to roll back to if flash cannot be written; reads
            // (most of a console's traffic) never change the device.
            let before = (!reads_only).then(|| st.device.clone());
            let HostState { device, wsman, .. } = &mut *st;
            let reply = wsman.handle_parsed(device, request, &ctx);
            // Events go to the subscribers as they stood when the call began.
            let delivery = (!reply.effects.events.is_empty()).then(|| {
                let subscribers = before
                    .as_ref()
                    .unwrap_or(&st.device)
                    .subscriptions()
                    .clone();
                (
                    subscribers,
                    st.device.bios_clock().certificate_time(ctx.now),
                )
            });
            let change = if reply.effects.persist {
                st.generation += 1;
                Some((st.generation, st.device.clone(), before))
            } else {
                None
            };
            (reply, change, delivery)
        };
        let fault = reply.fault.as_ref().and_then(fault_name);
        if let Some((generation, snapshot, before)) = change {
            if self
                .persist_change(generation, snapshot, before)
                .await
                .is_err()
            {
                return (internal_error(), fault, false);
            }
        }
        self.after_change(&reply.effects, delivery).await;
        (soap(reply.status, reply.body), fault, reply.replayed)
    }

    /// Writes a changed device to flash on a blocking thread (outside the
    /// device lock), rolling the change back if the write fails, then
    /// refreshes the TLS face. `Err` means the change was rolled back.
    pub(crate) async fn persist_change(
        self: &Arc<Self>,
        generation: u64,
        snapshot: Device,
        before: Option<Device>,
    ) -> Result<(), ()> {
        let host = self.clone();
        let written = tokio::task::spawn_blocking(move || {
            host.write_flash(generation, &snapshot).map(|()| snapshot)
        })
        .await;
        let snapshot = match written {
            Ok(Ok(snapshot)) => snapshot,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "flash write failed; the change is rolled back");
                self.roll_back(generation, before);
                return Err(());
            }
            Err(e) => {
                tracing::error!(error = %e, "flash writer failed; the change is rolled back");
                self.roll_back(generation, before);
                return Err(());
            }
        };
        // Certificate-store edits (trusted roots for mutual TLS) are
        // not flagged as TLS changes, so any persisted change refreshes
        // the face; it rebuilds only what differs.
        if let Err(e) = self.present(&snapshot) {
            tracing::error!(error = %e, "cannot present the new TLS configuration");
        }
        Ok(())
    }

    /// What follows a durable change: listeners follow the port policy,
    /// events go to the WS-Eventing subscribers (as they stood when the
    /// call began) and to the device's event stream.
    pub(crate) async fn after_change(
        self: &Arc<Self>,
        effects: &Effects,
        delivery: Option<(amt_device::subscriptions::Subscriptions, OffsetDateTime)>,
    ) {
        if effects.ports_changed {
            if let Err(e) = self.reconcile_listeners().await {
                tracing::error!(error = %e, "cannot reopen listeners after a change");
            }
        }
        if let Some((subscribers, device_time)) = delivery {
            self.delivery
                .deliver(&subscribers, &effects.events, device_time);
        }
        if !effects.events.is_empty() {
            self.cira.raise_alert();
        }
        self.publish(effects);
    }

    /// Puts the device back as it was before generation `generation`,
    /// unless something newer has happened since.
    fn roll_back(&self, generation: u64, before: Option<Device>) {
        let mut st = self.lock();
        if let (true, Some(before)) = (st.generation == generation, before) {
            st.device = before;
            st.generation += 1;
        }
    }
}

/// A change applied in memory whose flash write is still to come.
struct PendingChange {
    generation: u64,
    snapshot: Device,
    /// The device before the change, to roll back to.
    before: Device,
    effects: amt_device::Effects,
    subscribers: amt_device::subscriptions::Subscriptions,
    device_time: OffsetDateTime,
}

/// An empty nonce store with the device's nonce lifetime.
fn nonce_tracker(limits: &ServerLimits) -> NonceTracker {
    NonceTracker::with_lifetime(
        time::Duration::try_from(limits.nonce_lifetime).unwrap_or(crate::digest::NONCE_LIFETIME),
    )
}

fn soap(status: u16, body: Vec<u8>) -> WsmanOutcome {
    WsmanOutcome::Reply {
        status,
        body,
        content_type: SOAP_CONTENT_TYPE,
    }
}

fn internal_error() -> WsmanOutcome {
    WsmanOutcome::Reply {
        status: 500,
        body: Vec::new(),
        content_type: "text/html",
    }
}

/// The fault's subcode as the reply writes it (`e:AccessDenied`), for the
/// journal: from the fault the engine answered, not from the reply text.
fn fault_name(fault: &amt_wsman::fault::Fault) -> Option<String> {
    use amt_wsman::namespaces as ns;
    let (uri, local) = fault.subcode()?;
    let prefix = match uri {
        ns::ADDRESSING => "b",
        ns::ENUMERATION => "c",
        _ => "e",
    };
    Some(format!("{prefix}:{local}"))
}
