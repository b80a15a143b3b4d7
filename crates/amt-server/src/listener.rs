//! Accept loops for the plain (16992) and TLS (16993) listeners, and the
//! per-device connection cap.
//!
//! Every limit here comes from the device's [`ServerLimits`]; the constants
//! below are the defaults, kept for callers that name them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::device_host::DeviceHost;
use crate::http::serve;
use crate::limits::{self, ServerLimits};
use crate::vocabulary::{Interface, Service, Via};

/// Default time a client may take to send its request headers.
pub const HEADER_TIMEOUT: Duration = limits::DEFAULT_HEADER_TIMEOUT;
/// Default time a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = limits::DEFAULT_HANDSHAKE_TIMEOUT;
/// Largest request head (request line and headers) accepted; hyper answers
/// 431 past it. (hyper's read buffer cannot be smaller than 8 KiB.)
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

pub use crate::vocabulary::Transport;

/// A running accept loop.
#[derive(Debug)]
pub struct Listener {
    addr: SocketAddr,
    transport: Transport,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Starts accepting on an already bound socket.
    pub fn start(
        socket: TcpListener,
        transport: Transport,
        interface: Interface,
        host: Arc<DeviceHost>,
    ) -> std::io::Result<Self> {
        Listener::start_service(socket, Service::Wsman, transport, interface, host)
    }

    /// Starts accepting `service` on an already bound socket.
    pub fn start_service(
        socket: TcpListener,
        service: Service,
        transport: Transport,
        interface: Interface,
        host: Arc<DeviceHost>,
    ) -> std::io::Result<Self> {
        let addr = socket.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    accepted = socket.accept() => match accepted {
                        Ok((stream, peer)) => match service {
                            Service::Wsman => admit(stream, peer, transport, interface, host.clone()),
                            Service::Redirection => crate::redirection::admit(stream, peer, transport, host.clone()),
                            Service::Rfb => crate::redirection::admit_rfb(stream, peer, host.clone()),
                        },
                        Err(e) => {
                            // Out of file descriptors and the like: back off
                            // instead of spinning.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            }
        });
        Ok(Listener {
            addr,
            transport,
            stop,
            task,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Stops accepting; connections already open finish on their own.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Tells the accept loop to stop, without waiting for it (for drop).
    pub fn signal_stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// Serves an accepted TCP connection in its own task (see
/// [`serve_connection`]).
pub(crate) fn admit(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    transport: Transport,
    interface: Interface,
    host: Arc<DeviceHost>,
) {
    let _ = stream.set_nodelay(true);
    // The slot is taken here, in accept order, so the oldest idle
    // connection is the one shed.
    let Some(admitted) = take_slot(&host, peer) else {
        return;
    };
    tokio::spawn(serve_admitted(
        stream,
        peer,
        transport,
        interface,
        Via::Direct,
        host,
        admitted,
    ));
}

type Admitted = (Arc<SlotGuard>, oneshot::Receiver<()>);

fn take_slot(host: &Arc<DeviceHost>, peer: SocketAddr) -> Option<Admitted> {
    let admitted = ConnectionSlots::admit(host.connections());
    if admitted.is_none() {
        // Every slot is busy with a request in progress: dropping the
        // stream closes it at once, which a console retries.
        tracing::warn!(%peer, "connection refused: every connection slot is busy");
    }
    admitted
}

/// Serves one connection to `host` on `interface` over any byte stream (a
/// TCP socket, a CIRA channel, an in-memory pipe): a connection slot
/// (shedding an idle connection if the device is full), the TLS handshake
/// when `transport` is TLS, then HTTP until the connection ends.
pub async fn serve_connection<S>(
    io: S,
    peer: SocketAddr,
    transport: Transport,
    interface: Interface,
    host: Arc<DeviceHost>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    serve_connection_via(io, peer, transport, interface, Via::Direct, host).await
}

/// [`serve_connection`] for a connection that came another way (a CIRA
/// channel): the journal marks its calls with `via`.
pub async fn serve_connection_via<S>(
    io: S,
    peer: SocketAddr,
    transport: Transport,
    interface: Interface,
    via: Via,
    host: Arc<DeviceHost>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    if let Some(admitted) = take_slot(&host, peer) {
        serve_admitted(io, peer, transport, interface, via, host, admitted).await;
    }
}

async fn serve_admitted<S>(
    io: S,
    peer: SocketAddr,
    transport: Transport,
    interface: Interface,
    via: Via,
    host: Arc<DeviceHost>,
    (slot, shed): Admitted,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::select! {
        biased;
        Ok(()) = shed => {
            tracing::info!(%peer, "closed an idle connection to make room for a new one");
        }
        () = connection(io, peer, transport, interface, via, host, slot.clone()) => {}
    }
    drop(slot);
}

async fn connection<S>(
    stream: S,
    peer: SocketAddr,
    transport: Transport,
    interface: Interface,
    via: Via,
    host: Arc<DeviceHost>,
    slot: Arc<SlotGuard>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let limits = *host.limits();
    match transport {
        Transport::Plain => {
            let marks = Marks {
                via,
                transport,
                pki_session: false,
                tls_version: None,
            };
            serve_http(
                TokioIo::new(stream),
                peer,
                interface,
                marks,
                host,
                slot,
                &limits,
            )
            .await
        }
        Transport::Tls => {
            if host.faults().tls_refused() {
                // Injected: the firmware's TLS re-initialisation window.
                tracing::info!(%peer, "TLS handshake refused (injected fault)");
                return;
            }
            let accepting = host.tls().accept(Box::new(stream), interface);
            match tokio::time::timeout(limits.handshake_timeout, accepting).await {
                Ok(Ok((tls, facts))) => {
                    tracing::debug!(%peer, ?facts, "TLS handshake done");
                    // A client chain the handshake let through on the
                    // network face is a PKI provisioning server's.
                    let pki_session = interface == Interface::Remote
                        && !facts.peer_certificates.is_empty()
                        && host.with_device(|d| d.awaits_pki_server())
                        && host.accept_pki_server(&facts.peer_certificates);
                    let marks = Marks {
                        via,
                        transport,
                        pki_session,
                        tls_version: facts.version,
                    };
                    serve_http(
                        TokioIo::new(tls),
                        peer,
                        interface,
                        marks,
                        host,
                        slot,
                        &limits,
                    )
                    .await
                }
                Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
            }
        }
    }
}

/// What a connection's requests carry for the handlers: how it arrived
/// (directly or through CIRA, plain or TLS, for the journal), whether it
/// is a PKI provisioning server's, and the TLS version its handshake
/// settled (for fault rules scoped by it).
#[derive(Clone, Copy, Debug)]
struct Marks {
    via: Via,
    transport: Transport,
    pki_session: bool,
    tls_version: Option<crate::tls::TlsVersion>,
}

async fn serve_http<I>(
    io: I,
    peer: SocketAddr,
    interface: Interface,
    marks: Marks,
    host: Arc<DeviceHost>,
    slot: Arc<SlotGuard>,
    limits: &ServerLimits,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let Marks {
        via,
        transport,
        pki_session,
        tls_version,
    } = marks;
    // Requests served so far on this connection, for rules scoped to its
    // first request.
    let served = std::sync::atomic::AtomicU32::new(0);
    let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(via);
        req.extensions_mut().insert(transport);
        let request_index = served.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        req.extensions_mut().insert(crate::faults::ConnectionFacts {
            request_index,
            tls_version,
        });
        if pki_session {
            req.extensions_mut().insert(crate::http::PkiSession);
        }
        serve(req, host.clone(), interface, Some(slot.clone()))
    });
    let mut builder = http1::Builder::new();
    builder
        .title_case_headers(true)
        .timer(TokioTimer::new())
        // hyper starts this clock when it begins waiting for a head, so it
        // also closes a connection that never sends a byte.
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    if let Err(e) = builder.serve_connection(io, service).await {
        if e.is_parse() || e.is_parse_too_large() || e.is_timeout() {
            // hyper has already answered 400/431 where HTTP allows it.
            tracing::info!(%peer, error = %e, "bad or slow request; connection closed");
        } else {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
        }
    }
}

/// The open connections of one device, capped.
///
/// A connection is *idle* until its first request has been read in full
/// (TLS handshake, head, body), and *busy* from then until it closes. When
/// the cap is reached, the oldest idle connection is closed to make room;
/// a busy one never is, so a request that has started to act on the device
/// always gets its reply. Only when every slot is busy is the new
/// connection refused. Shedding the oldest idle connection rather than
/// refusing the newest keeps a real console working while sockets are
/// hoarded: a console sends its request as soon as it connects, so it is
/// busy long before 64 newer connections arrive, while the hoarded ones
/// are the oldest and get closed first.
#[derive(Debug)]
pub struct ConnectionSlots {
    cap: usize,
    inner: Mutex<SlotsInner>,
}

#[derive(Debug, Default)]
struct SlotsInner {
    next_id: u64,
    /// By id, so the first idle entry is the oldest.
    open: BTreeMap<u64, SlotEntry>,
}

#[derive(Debug)]
struct SlotEntry {
    /// Fired to close an idle connection. Kept (not dropped) while busy so
    /// the connection's receiver never wakes by mistake.
    shed: oneshot::Sender<()>,
    busy: bool,
}

impl ConnectionSlots {
    pub fn new(cap: usize) -> Self {
        ConnectionSlots {
            cap: cap.max(1),
            inner: Mutex::new(SlotsInner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SlotsInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Open connections.
    pub fn open(&self) -> usize {
        self.lock().open.len()
    }

    /// Takes a slot for a new connection, closing the oldest idle one if
    /// the device is full. `None` if every slot is busy.
    pub fn admit(this: &Arc<Self>) -> Option<(Arc<SlotGuard>, oneshot::Receiver<()>)> {
        let mut inner = this.lock();
        if inner.open.len() >= this.cap {
            let oldest_idle = inner
                .open
                .iter()
                .find(|(_, e)| !e.busy)
                .map(|(id, _)| *id)?;
            if let Some(entry) = inner.open.remove(&oldest_idle) {
                let _ = entry.shed.send(());
            }
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let (tx, rx) = oneshot::channel();
        inner.open.insert(
            id,
            SlotEntry {
                shed: tx,
                busy: false,
            },
        );
        Some((
            Arc::new(SlotGuard {
                slots: this.clone(),
                id,
            }),
            rx,
        ))
    }
}

/// A connection's slot; freed when dropped.
#[derive(Debug)]
pub struct SlotGuard {
    slots: Arc<ConnectionSlots>,
    id: u64,
}

impl SlotGuard {
    /// Marks the connection busy: it will not be shed from now on. Returns
    /// false if it has already been chosen for shedding, in which case the
    /// request must not act on the device.
    pub fn mark_busy(&self) -> bool {
        match self.slots.lock().open.get_mut(&self.id) {
            Some(e) => {
                e.busy = true;
                true
            }
            None => false,
        }
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.slots.lock().open.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_device_sheds_the_oldest_idle_connection() {
        let slots = Arc::new(ConnectionSlots::new(3));
        let (a, mut shed_a) = ConnectionSlots::admit(&slots).unwrap();
        let (b, mut shed_b) = ConnectionSlots::admit(&slots).unwrap();
        let (_c, mut shed_c) = ConnectionSlots::admit(&slots).unwrap();
        assert!(a.mark_busy());
        let (_d, _) = ConnectionSlots::admit(&slots).unwrap();
        // a is busy, so b (the oldest idle one) goes.
        assert!(shed_a.try_recv().is_err());
        assert_eq!(shed_b.try_recv(), Ok(()));
        assert!(shed_c.try_recv().is_err());
        assert!(!b.mark_busy(), "a shed connection may not start a request");
        assert_eq!(slots.open(), 3);
        drop(b);
        assert_eq!(slots.open(), 3);
    }

    #[test]
    fn all_busy_refuses_and_a_closed_connection_frees_its_slot() {
        let slots = Arc::new(ConnectionSlots::new(2));
        let (a, _sa) = ConnectionSlots::admit(&slots).unwrap();
        let (b, _sb) = ConnectionSlots::admit(&slots).unwrap();
        assert!(a.mark_busy() && b.mark_busy());
        assert!(ConnectionSlots::admit(&slots).is_none());
        drop(a);
        assert_eq!(slots.open(), 1);
        assert!(ConnectionSlots::admit(&slots).is_some());
    }
}
