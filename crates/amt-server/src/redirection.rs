//! The redirection listeners' connections (16994 plain, 16995 TLS): one
//! task per connection drives an [`amt_redir::Session`] with the device's
//! settings and accounts, feeds SOL with what the host writes to its serial
//! port and types what the console sends (docs/redirection.md).
//!
//! The protocol is all in `amt-redir`; this file owns the socket, the
//! timers, the TLS step, the journal, and the injected session faults
//! (refuse, drop mid-stream, stall). The device hears of every session's
//! start and end (consent IN SESSION, the audit records) through
//! [`DeviceSession`], whose drop reports the end on every way out.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amt_device::accounts::Realm;
use amt_device::device::ADMIN_USER;
use amt_device::redirection::{RedirectionKind, RedirectionUser};
use amt_device::remote_media::RemoteDrive;
use amt_redir::{CloseReason, Config, Event, Session, SessionKind, SessionPolicy, StartDecision};
use rand::Rng;
use time::OffsetDateTime;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::device_host::{DeviceHost, STALL_LIMIT};
use crate::faults::FaultKind;
use crate::journal::JournalEntry;
use crate::vocabulary::{Interface, Transport};

/// How often an open SOL session looks for new serial output.
pub const SERIAL_POLL: Duration = Duration::from_millis(40);

/// How long the device waits after a reply the console must read on its
/// own (amtterm 1.4 takes its whole receive buffer for 0x14, 0x21, 0x23)
/// before it writes the next message.
pub const ALONE_SETTLE: Duration = Duration::from_millis(150);

/// The redirection sessions of one device, by kind (one of each at a time:
/// a second one is answered "busy").
#[derive(Debug)]
pub struct OpenSessions {
    open: Mutex<HashMap<&'static str, u32>>,
    /// Bumped when the firmware goes down (shutdown, restart): every open
    /// session ends, as its TCP connection would.
    ending: tokio::sync::watch::Sender<u64>,
}

impl Default for OpenSessions {
    fn default() -> Self {
        OpenSessions {
            open: Mutex::default(),
            ending: tokio::sync::watch::channel(0).0,
        }
    }
}

impl OpenSessions {
    /// Ends every open session (the firmware is going down).
    pub(crate) fn end_all(&self) {
        self.ending.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn ending(&self) -> tokio::sync::watch::Receiver<u64> {
        self.ending.subscribe()
    }

    /// How many sessions of `kind` (`SOL`, `IDER`, `KVM`) are open.
    pub fn count(&self, kind: &str) -> u32 {
        self.lock().get(kind).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, u32>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn try_open(&self, kind: SessionKind) -> bool {
        let mut open = self.lock();
        let n = open.entry(fault_name(kind)).or_insert(0);
        if *n > 0 {
            return false;
        }
        *n += 1;
        true
    }

    fn close(&self, kind: SessionKind) {
        if let Some(n) = self.lock().get_mut(fault_name(kind)) {
            *n = n.saturating_sub(1);
        }
    }
}

/// The names session fault rules and the journal use.
fn fault_name(kind: SessionKind) -> &'static str {
    match kind {
        SessionKind::Sol => "SOL",
        SessionKind::Ider => "IDER",
        SessionKind::Kvm => "KVM",
    }
}

fn device_kind(kind: SessionKind) -> RedirectionKind {
    match kind {
        SessionKind::Sol => RedirectionKind::Sol,
        SessionKind::Ider => RedirectionKind::Ider,
        SessionKind::Kvm => RedirectionKind::Kvm,
    }
}

/// A session the device was told opened (consent IN SESSION where it
/// applies, the start audit record); dropping it tells the device it
/// ended, so every exit — the console closing, an injected drop, a
/// timeout, the firmware going down, the task being dropped — writes the
/// end record and releases consent.
struct DeviceSession {
    host: Arc<DeviceHost>,
    kind: RedirectionKind,
    user: RedirectionUser,
}

impl DeviceSession {
    fn start(host: &Arc<DeviceHost>, kind: RedirectionKind, user: RedirectionUser) -> Self {
        let held = host.update_device(|d, now| d.redirection_session_started(kind, &user, now));
        tracing::debug!(?kind, held, "redirection session reported to the device");
        DeviceSession {
            host: host.clone(),
            kind,
            user,
        }
    }
}

impl Drop for DeviceSession {
    fn drop(&mut self) {
        let (kind, user) = (self.kind, &self.user);
        self.host
            .update_device(|d, now| d.redirection_session_ended(kind, user, now));
    }
}

/// Serves an accepted TCP connection in its own task.
pub(crate) fn admit(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    transport: Transport,
    host: Arc<DeviceHost>,
) {
    let _ = stream.set_nodelay(true);
    tokio::spawn(serve_redirection(stream, peer, transport, host));
}

/// Registers the redirection ports with the CIRA driver, so the channels
/// an MPS opens to 16994, 16995 and 5900 reach the same sessions as the
/// direct ports. The handlers hold the device weakly (the device owns
/// them).
pub(crate) fn register_cira_handlers(host: &Arc<DeviceHost>) {
    for (port, transport) in [
        (
            crate::vocabulary::AMT_REDIRECTION_PORT,
            Some(Transport::Plain),
        ),
        (
            crate::vocabulary::AMT_REDIRECTION_TLS_PORT,
            Some(Transport::Tls),
        ),
        (crate::vocabulary::RFB_PORT, None),
    ] {
        let weak = Arc::downgrade(host);
        let handler: crate::cira::ChannelHandler = Arc::new(move |stream, peer| {
            let weak = weak.clone();
            Box::pin(async move {
                let Some(host) = weak.upgrade() else {
                    return;
                };
                match transport {
                    Some(t) => serve_redirection(stream, peer, t, host).await,
                    None => {
                        // 5900 only while the port policy has it open.
                        let open = host.with_device(|d| crate::ports::PortPolicy::remote(d).rfb);
                        if open {
                            serve_rfb(stream, peer, host).await;
                        }
                    }
                }
            })
        });
        host.cira_shared().set_port_handler(port, handler);
    }
}

/// Serves an accepted connection on 5900 in its own task.
pub(crate) fn admit_rfb(stream: tokio::net::TcpStream, peer: SocketAddr, host: Arc<DeviceHost>) {
    let _ = stream.set_nodelay(true);
    tokio::spawn(serve_rfb(stream, peer, host));
}

/// Port 5900: standard RFB 3.8 with VNC authentication by `RFBPassword`
/// (never TLS); one KVM session at a time, shared with KVM over
/// 16994/16995.
pub async fn serve_rfb<S>(io: S, peer: SocketAddr, host: Arc<DeviceHost>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Some(password) = host.with_device(|d| d.rfb_password().map(str::to_string)) else {
        return;
    };
    if !host.redirection_sessions().try_open(SessionKind::Kvm) {
        tracing::info!(%peer, "5900 refused: a KVM session is open");
        return;
    }

    let mut challenge = [0u8; 16];
    rand::rng().fill_bytes(&mut challenge);
    let config = amt_rfb::ServerConfig {
        version_banner: amt_rfb::ProtocolVersion::V3_8,
        security: amt_rfb::Security::VncPassword {
            password,
            challenge,
        },
        name: "Intel(r) AMT KVM".to_string(),
    };
    // The VNC viewer has no user name: the records name the KVM default port.
    let registered = Registered {
        host: host.clone(),
        kind: SessionKind::Kvm,
    };
    // The session is the device's once the VNC password was right.
    let mut device_session = None;
    let (mut rd, mut wr) = tokio::io::split(io);
    let ending = host.redirection_sessions().ending();
    let mut authenticated = || {
        device_session = Some(DeviceSession::start(
            &host,
            RedirectionKind::Kvm,
            RedirectionUser::KvmDefaultPort,
        ));
        journal(&host, peer, None, "KVM session started (5900)");
    };
    let reason = run_rfb(
        &mut rd,
        &mut wr,
        config,
        (Vec::new(), Vec::new()),
        &host,
        ending,
        &mut authenticated,
    )
    .await;
    let started = device_session.take().is_some();
    drop(registered);
    if !started {
        journal(&host, peer, None, &format!("5900 login failed: {reason}"));
        return;
    }
    journal(
        &host,
        peer,
        None,
        &format!("KVM session ended (5900): {reason}"),
    );
}

/// Serves one redirection connection over any byte stream (TCP, a CIRA
/// channel): the TLS handshake with the device's active certificate when
/// `transport` is TLS, then the session until it ends.
pub async fn serve_redirection<S>(
    io: S,
    peer: SocketAddr,
    transport: Transport,
    host: Arc<DeviceHost>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    match transport {
        Transport::Plain => run(io, peer, transport, host).await,
        Transport::Tls => {
            if host.faults().tls_refused() {
                tracing::info!(%peer, "TLS handshake refused (injected fault)");
                return;
            }
            // The same TLS seam as 16993: the device's active certificate.
            let limit = host.limits().handshake_timeout;
            let accepting = host.tls().accept(Box::new(io), Interface::Remote);
            match tokio::time::timeout(limit, accepting).await {
                Ok(Ok((tls, _facts))) => run(tls, peer, transport, host).await,
                Ok(Err(e)) => tracing::info!(%peer, error = %e, "redirection TLS handshake failed"),
                Err(_) => tracing::info!(%peer, "redirection TLS handshake timed out"),
            }
        }
    }
}

/// The device's answers to the session: settings, accounts, faults.
struct HostPolicy<'a> {
    host: &'a DeviceHost,
    /// The session fault that fired at the start, if any.
    fault: Option<FaultKind>,
}

impl SessionPolicy for HostPolicy<'_> {
    fn start(&mut self, kind: SessionKind) -> StartDecision {
        self.fault = self.host.faults().take_session(fault_name(kind));
        if self.fault == Some(FaultKind::RefuseSession) {
            tracing::info!(
                kind = kind.name(),
                "redirection session refused (injected fault)"
            );
            return StartDecision::Error;
        }
        let policy = self.host.with_device(|d| d.redirection_policy());
        let enabled = policy.listener_enabled
            && match kind {
                SessionKind::Sol => policy.sol_enabled,
                SessionKind::Ider => policy.ider_enabled,
                // `CIM_KVMRedirectionSAP` enabled; consent is asked for
                // inside the session (the firmware's form over RFB).
                SessionKind::Kvm => policy.kvm_enabled,
            };
        if !enabled {
            return StartDecision::Unsupported;
        }
        // Storage redirection needs the user's consent where the policy
        // asks for it (SOL never does).
        if kind == SessionKind::Ider {
            let allowed = self
                .host
                .with_device(|d| d.ider_session_allowed(OffsetDateTime::now_utc()));
            if let Err(refusal) = allowed {
                tracing::info!(%refusal, "IDE-R session refused");
                return StartDecision::Error;
            }
        }
        // Counted as open from authentication on (see `run`), so a console
        // that fails its login never makes the next one busy.
        if self.host.redirection_sessions().count(fault_name(kind)) > 0 {
            return StartDecision::Busy;
        }
        StartDecision::Accept
    }

    fn digest_realm(&mut self) -> String {
        self.host.with_device(|d| d.digest_realm().to_string())
    }

    fn redirection_ha1(&mut self, user: &str) -> Option<[u8; 16]> {
        if self.host.login_locked() {
            return None;
        }
        self.host.with_device(|d| {
            if user == ADMIN_USER {
                return d.admin_password_ha1();
            }
            // An ACL user needs the Redirection realm (network interface).
            let (handle, ha1) = d.digest_user_login(user, false)?;
            d.accounts()
                .entry(handle)
                .filter(|e| e.has_realm(Realm::Redirection))
                .map(|_| ha1)
        })
    }
}

/// A session that opened (for the closing journal entry; the device
/// hears of the end when `_device` drops).
struct Opened {
    kind: SessionKind,
    user: String,
    _device: DeviceSession,
}

/// A session counted in [`OpenSessions`]; released when dropped, so a
/// dropped task never leaves its kind busy.
struct Registered {
    host: Arc<DeviceHost>,
    kind: SessionKind,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.host.redirection_sessions().close(self.kind);
    }
}

async fn run<S>(io: S, peer: SocketAddr, transport: Transport, host: Arc<DeviceHost>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(io);
    let mut nonce = [0u8; 16];
    rand::rng().fill_bytes(&mut nonce);
    let config = Config {
        nonce,
        ..Config::default()
    };
    let mut session = Session::new(config, crate::clock::monotonic());
    let mut policy = HostPolicy {
        host: &host,
        fault: None,
    };
    let mut registered: Option<Registered> = None;
    let mut ending = host.redirection_sessions().ending();
    let mut opened: Option<Opened> = None;
    let mut cursor: Option<u64> = None;
    let mut sent_host_bytes: u64 = 0;
    let mut poll = tokio::time::interval(SERIAL_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut buf = vec![0u8; 4096];
    let mut handover: Option<(SessionKind, String, Vec<u8>)> = None;
    let mut reason = 'conn: loop {
        // Events first: a SOL session's serial cursor is set before its
        // 0x21 leaves, so nothing the host writes after is missed; the
        // replies of a closing session still go out before it closes.
        let mut closing: Option<String> = None;
        let mut stall = false;
        while let Some(event) = session.poll_event() {
            match event {
                Event::Refused { kind, status } => {
                    journal(
                        &host,
                        peer,
                        None,
                        &format!("{} session refused ({status:?})", kind.name()),
                    );
                }
                Event::Authenticated { kind, user } => {
                    if !host.redirection_sessions().try_open(kind) {
                        // Another console got there between our start and
                        // its login.
                        session.abort(CloseReason::Refused);
                        break 'conn format!("{} busy", kind.name());
                    }
                    host.record_login(true);
                    registered = Some(Registered {
                        host: host.clone(),
                        kind,
                    });
                    tracing::info!(%peer, kind = kind.name(), %user, "redirection session authenticated");
                }
                Event::AuthenticationFailed { user } => {
                    host.record_login(false);
                    journal(
                        &host,
                        peer,
                        Some(&user),
                        "redirection authentication failed",
                    );
                }
                Event::SolOpened { user, .. } => {
                    cursor = Some(host.with_device(|d| d.host_console().serial_end()));
                    let device = DeviceSession::start(
                        &host,
                        RedirectionKind::Sol,
                        RedirectionUser::Digest(user.clone()),
                    );
                    journal(&host, peer, Some(&user), "SOL session opened");
                    tracing::info!(%peer, %user, ?transport, "SOL session opened");
                    opened = Some(Opened {
                        kind: SessionKind::Sol,
                        user,
                        _device: device,
                    });
                    stall = policy.fault == Some(FaultKind::StallSession);
                }
                Event::SolDataToHost(bytes) => host.host_serial_input(&bytes),
                Event::Handover { kind, user, bytes } => {
                    handover = Some((kind, user, bytes));
                    closing = Some(String::new());
                }
                Event::Closed(reason) => {
                    closing = Some(match reason {
                        CloseReason::Ended => "ended by the console".to_string(),
                        other => format!("{other:?}"),
                    });
                }
            }
        }
        while let Some(t) = session.poll_transmit() {
            if t.bytes.first() == Some(&amt_redir::wire::SOL_DATA_FROM_HOST) {
                sent_host_bytes += t.bytes.len().saturating_sub(10) as u64;
            }
            if wr.write_all(&t.bytes).await.is_err() || wr.flush().await.is_err() {
                break 'conn "write failed".to_string();
            }
            if let Some(FaultKind::DropSession { after_bytes }) = policy.fault {
                if opened.is_some() && sent_host_bytes >= after_bytes {
                    tracing::info!(%peer, "redirection session dropped mid-stream (injected fault)");
                    break 'conn "dropped (injected fault)".to_string();
                }
            }
            if t.alone {
                tokio::time::sleep(ALONE_SETTLE).await;
            }
        }
        if stall {
            tracing::info!(%peer, "redirection session stalled (injected fault)");
            tokio::time::sleep(STALL_LIMIT).await;
            break 'conn "stalled (injected fault)".to_string();
        }
        if let Some(reason) = closing {
            break 'conn reason;
        }
        let deadline = session
            .next_timeout()
            .map(tokio::time::Instant::from_std)
            .unwrap_or_else(|| tokio::time::Instant::now() + STALL_LIMIT);
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) => break "closed by the console".to_string(),
                Err(e) => break format!("read failed: {e}"),
                Ok(n) => session.receive(&buf[..n], crate::clock::monotonic(), &mut policy),
            },
            _ = tokio::time::sleep_until(deadline) => {
                session.handle_timeout(crate::clock::monotonic());
            }
            _ = ending.changed() => break "the firmware went down".to_string(),
            _ = poll.tick(), if cursor.is_some() && session.is_sol_open() => {
                let from = cursor.unwrap_or(0);
                let (bytes, next) = host.with_device(|d| d.host_console().serial_since(from));
                cursor = Some(next);
                if !bytes.is_empty() {
                    session.send_to_console(&bytes);
                }
            }
        }
    };
    if let Some((kind, user, bytes)) = handover {
        if kind != SessionKind::Sol {
            let device = DeviceSession::start(
                &host,
                device_kind(kind),
                RedirectionUser::Digest(user.clone()),
            );
            let what = match kind {
                SessionKind::Ider => "IDE-R session opened",
                _ => "KVM session started",
            };
            journal(&host, peer, Some(&user), what);
            opened = Some(Opened {
                kind,
                user,
                _device: device,
            });
        }
        reason = match kind {
            SessionKind::Ider => run_ider(&mut rd, &mut wr, bytes, &host, peer, ending).await,
            SessionKind::Kvm => run_kvm_redirection(&mut rd, &mut wr, bytes, &host, ending).await,
            // Not reached: SOL is never handed over.
            SessionKind::Sol => "SOL handover".to_string(),
        };
    }
    drop(registered);
    if let Some(Opened {
        kind,
        user,
        _device,
    }) = opened
    {
        // The device hears of the end before the journal does.
        drop(_device);
        journal(
            &host,
            peer,
            Some(&user),
            &format!("{} session closed: {reason}", kind.name()),
        );
        tracing::info!(%peer, kind = kind.name(), %reason, "redirection session closed");
    } else {
        tracing::info!(%peer, %reason, "redirection connection closed");
    }
}

/// Drives the IDE-R session (`amt-ider`) from the handover on, as
/// docs/ider.md ("Wiring") lays out: the console's open and enable, pings,
/// its close; while the drives are enabled, the reads the booting host
/// wants (`remote_media_next_read`) go to the console and what comes back
/// to the host (`remote_media_attached`, `remote_media_read`,
/// `remote_media_failed`); a host reset tells the console (0x46).
async fn run_ider<R, W>(
    rd: &mut R,
    wr: &mut W,
    first: Vec<u8>,
    host: &DeviceHost,
    peer: SocketAddr,
    mut ending: tokio::sync::watch::Receiver<u64>,
) -> String
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut ider = amt_ider::Session::new(amt_ider::Config::default(), crate::clock::monotonic());
    ider.receive(&first, crate::clock::monotonic());
    let mut buf = vec![0u8; 16 * 1024];
    // What the host last booted: when it changes, the host was reset and
    // the console hears of it (0x46) before any read of the new boot.
    let boot_marker = |d: &amt_device::Device| {
        (
            d.last_boot().map(|b| (b.at, b.target)),
            d.remote_media_wanted(),
        )
    };
    let mut seen_boot = host.with_device(boot_marker);
    let mut wants = tokio::time::interval(SERIAL_POLL);
    wants.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let to_device = |d: amt_ider::Drive| match d {
        amt_ider::Drive::Floppy => RemoteDrive::Floppy,
        amt_ider::Drive::Cd => RemoteDrive::Cd,
    };
    loop {
        // The host's next read, while the console's drives are enabled.
        while ider.phase() == amt_ider::Phase::Enabled {
            let (boot, want) = host.update_device(|d, _| {
                let boot = boot_marker(d);
                let want = (boot == seen_boot)
                    .then(|| d.remote_media_next_read())
                    .flatten();
                (boot, want)
            });
            if boot != seen_boot {
                seen_boot = boot;
                ider.host_reset(crate::clock::monotonic());
                continue;
            }
            let Some(want) = want else {
                break;
            };
            let drive = match want.drive {
                RemoteDrive::Floppy => amt_ider::Drive::Floppy,
                RemoteDrive::Cd => amt_ider::Drive::Cd,
            };
            if ider
                .read(drive, want.lba, want.count, crate::clock::monotonic())
                .is_err()
            {
                host.update_device(|d, _| d.remote_media_failed());
            }
        }
        while let Some(bytes) = ider.poll_transmit() {
            if wr.write_all(&bytes).await.is_err() || wr.flush().await.is_err() {
                ider.connection_lost();
                return "write failed".to_string();
            }
        }
        while let Some(event) = ider.poll_event() {
            match event {
                amt_ider::Event::Opened { start } => {
                    journal(
                        host,
                        peer,
                        None,
                        &format!("IDE-R drives enabled ({start:?})"),
                    );
                }
                amt_ider::Event::Disabled => journal(host, peer, None, "IDE-R drives disabled"),
                amt_ider::Event::MediaInfo {
                    drive,
                    blocks,
                    block_size,
                } => host.update_device(|d, now| {
                    d.remote_media_attached(to_device(drive), blocks, block_size, now)
                }),
                amt_ider::Event::SectorsRead { drive, lba, data } => host
                    .update_device(|d, now| d.remote_media_read(to_device(drive), lba, &data, now)),
                amt_ider::Event::ReadFailed { .. } => {
                    host.update_device(|d, _| d.remote_media_failed())
                }
                amt_ider::Event::Closed { reason } => {
                    host.update_device(|d, _| d.remote_media_failed());
                    return format!("{reason:?}");
                }
            }
        }
        if ider.is_closed() {
            return "closed".to_string();
        }
        let deadline = ider
            .next_timeout()
            .map(tokio::time::Instant::from_std)
            .unwrap_or_else(|| tokio::time::Instant::now() + STALL_LIMIT);
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => ider.connection_lost(),
                Ok(n) => ider.receive(&buf[..n], crate::clock::monotonic()),
            },
            _ = tokio::time::sleep_until(deadline) => ider.handle_timeout(crate::clock::monotonic()),
            _ = ending.changed() => {
                ider.connection_lost();
                host.update_device(|d, _| d.remote_media_failed());
                return "the firmware went down".to_string();
            }
            // A reset, or a boot that started after the enable asks for its first block.
            _ = wants.tick() => {}
        }
    }
}

/// KVM over the redirection port: the console's 8-byte 0x40 is answered
/// with 0x41 (status 0) and, in the same write, the RFB banner (4.0); RFB
/// then runs with security None (the digest exchange authenticated the
/// viewer).
async fn run_kvm_redirection<R, W>(
    rd: &mut R,
    wr: &mut W,
    mut first: Vec<u8>,
    host: &DeviceHost,
    ending: tokio::sync::watch::Receiver<u64>,
) -> String
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 4096];
    while first.len() < 8 {
        match rd.read(&mut buf).await {
            Ok(0) | Err(_) => return "closed before the KVM start".to_string(),
            Ok(n) => first.extend_from_slice(&buf[..n]),
        }
    }
    let rest = first.split_off(8);
    let config = amt_rfb::ServerConfig {
        version_banner: amt_rfb::ProtocolVersion::V4_0,
        security: amt_rfb::Security::Redirection,
        name: "Intel(r) AMT KVM".to_string(),
    };
    let reply = vec![0x41, 0, 0, 0, 0, 0, 0, 0];
    // The digest login already made the session the device's.
    run_rfb(rd, wr, config, (reply, rest), host, ending, &mut || {}).await
}

/// Drives one RFB session (`amt-rfb`) over `rd`/`wr`: keys and pointer to
/// the device (`kvm_key`, `host_pointer`), the KVM picture
/// (`kvm_frame`: the consent form until consent allows, then the host's
/// screen) whenever its generation changes. Of `(prefix, first)`, `prefix`
/// goes out in the same write as the first bytes (the 0x41 before the
/// banner) and `first` is what the viewer already sent;
/// `authenticated` runs when the RFB security handshake succeeds.
async fn run_rfb<R, W>(
    rd: &mut R,
    wr: &mut W,
    config: amt_rfb::ServerConfig,
    (mut prefix, first): (Vec<u8>, Vec<u8>),
    host: &DeviceHost,
    mut ending: tokio::sync::watch::Receiver<u64>,
    authenticated: &mut (dyn FnMut() + Send),
) -> String
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let now = OffsetDateTime::now_utc;
    // A 1920x1080 frame takes milliseconds to draw: it is drawn from a copy
    // of the device, so the state lock (digest checks, WS-Man) never waits
    // on it.
    let picture = |host: &DeviceHost| {
        let device = host.with_device(amt_device::Device::clone);
        rfb_frame(device.kvm_frame(now()))
    };
    let mut generation = host.with_device(|d| d.kvm_generation(now()));
    let frame = picture(host);
    let Some(frame) = frame else {
        return "the screen has no valid frame".to_string();
    };
    let mut rfb = amt_rfb::RfbServer::new(config, frame);
    if !first.is_empty() {
        rfb.receive(&first);
    }
    let mut frames = tokio::time::interval(Duration::from_millis(100));
    frames.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let mut closing = None;
        while let Some(event) = rfb.poll_event() {
            match event {
                amt_rfb::RfbEvent::Key { keysym, down } => {
                    host.update_device(|d, now| {
                        d.kvm_key(keysym, down, now);
                    });
                }
                amt_rfb::RfbEvent::Pointer { x, y, buttons } => {
                    host.update_device(|d, _| d.host_pointer(x, y, buttons));
                }
                amt_rfb::RfbEvent::Authenticated => authenticated(),
                amt_rfb::RfbEvent::Closed(reason) => closing = Some(reason.to_string()),
                other => tracing::debug!(?other, "RFB event"),
            }
        }
        // Keys may have changed the picture before the reply is taken.
        let g = host.with_device(|d| d.kvm_generation(now()));
        if g != generation {
            generation = g;
            if let Some(frame) = picture(host) {
                rfb.frame_changed(&frame);
            }
        }
        while let Some(bytes) = rfb.poll_transmit() {
            let out = if prefix.is_empty() {
                bytes
            } else {
                let mut p = std::mem::take(&mut prefix);
                p.extend_from_slice(&bytes);
                p
            };
            if wr.write_all(&out).await.is_err() || wr.flush().await.is_err() {
                return "write failed".to_string();
            }
        }
        if let Some(reason) = closing {
            return reason;
        }
        if rfb.is_closed() {
            return "closed".to_string();
        }
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => return "closed by the viewer".to_string(),
                Ok(n) => rfb.receive(&buf[..n]),
            },
            _ = frames.tick() => {}
            _ = ending.changed() => return "the firmware went down".to_string(),
        }
    }
}

/// The device's picture as the RFB server takes it (both RGB888).
fn rfb_frame(f: amt_device::screen::Frame) -> Option<amt_rfb::Frame> {
    amt_rfb::Frame::new(f.width, f.height, f.pixels).ok()
}

/// A journal entry for a session step (the journal is WS-Man shaped: the
/// class is `redirection`, the action says what happened).
fn journal(host: &DeviceHost, peer: SocketAddr, user: Option<&str>, what: &str) {
    host.journal().record(JournalEntry {
        seq: 0,
        time: crate::journal::timestamp(OffsetDateTime::now_utc()),
        interface: Interface::Remote.name().into(),
        user: user.map(str::to_string),
        resource_uri: None,
        class: Some("redirection".into()),
        action: Some(what.to_string()),
        selectors: vec![("peer".into(), peer.to_string())],
        http_status: 0,
        duration_ms: 0.0,
        fault: None,
        injected: None,
        request_body: None,
        response_body: None,
        answered_by: None,
        via: None,
        ..JournalEntry::default()
    });
}
