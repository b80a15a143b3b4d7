//! The remote listeners of one device, opened and closed to follow its
//! port policy (TLS settings in force, firmware profile).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use thiserror::Error;
use tokio::net::{TcpListener, UdpSocket};

use crate::device_host::DeviceHost;
use crate::listener::Listener;
use crate::ports::PortPolicy;
use crate::rmcp::{PresenceSource, RmcpResponder};
use crate::vocabulary::{Interface, Ports, Service, Transport};

#[derive(Debug, Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct ListenError {
    pub addr: SocketAddr,
    pub source: std::io::Error,
}

/// Bound addresses, readable without waiting on a reconcile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListenerAddrs {
    pub http: Option<SocketAddr>,
    pub tls: Option<SocketAddr>,
    /// 16994.
    pub redirection: Option<SocketAddr>,
    /// 16995.
    pub redirection_tls: Option<SocketAddr>,
    /// 5900.
    pub rfb: Option<SocketAddr>,
    /// UDP 623 (+ offset).
    pub rmcp: Option<SocketAddr>,
    /// UDP 664 (+ offset).
    pub rmcp_secure: Option<SocketAddr>,
}

/// Sockets of a device's network face bound before the device existed (a
/// fleet binds a dormant member's ports at start).
#[derive(Debug, Default)]
pub struct BoundSockets {
    pub tcp: Vec<(Transport, TcpListener)>,
    /// UDP 623 (+ offset).
    pub rmcp: Option<UdpSocket>,
    /// UDP 664 (+ offset).
    pub rmcp_secure: Option<UdpSocket>,
}

/// The listeners a device has open.
#[derive(Debug)]
pub struct ListenerSet {
    listen: IpAddr,
    ports: Ports,
    interface: Interface,
    http: Option<Listener>,
    tls: Option<Listener>,
    redirection: Option<Listener>,
    redirection_tls: Option<Listener>,
    rfb: Option<Listener>,
    rmcp: Option<RmcpResponder>,
    rmcp_secure: Option<RmcpResponder>,
    /// Sockets bound before the device existed (a fleet binds a dormant
    /// device's ports at start and creates the device on its first
    /// connection); the first reconcile listens on them instead of binding.
    adopted: Vec<(Transport, TcpListener)>,
    /// UDP 623 and 664 handed over by a dormant fleet member's responders.
    adopted_rmcp: Option<UdpSocket>,
    adopted_rmcp_secure: Option<UdpSocket>,
}

impl ListenerSet {
    pub fn new(listen: IpAddr, ports: Ports, interface: Interface) -> Self {
        ListenerSet {
            listen,
            ports,
            interface,
            http: None,
            tls: None,
            redirection: None,
            redirection_tls: None,
            rfb: None,
            rmcp: None,
            rmcp_secure: None,
            adopted: Vec::new(),
            adopted_rmcp: None,
            adopted_rmcp_secure: None,
        }
    }

    /// Listens on these already-bound sockets where the port policy wants
    /// their transport open (the others are closed at the first reconcile).
    pub fn with_sockets(mut self, sockets: Vec<(Transport, TcpListener)>) -> Self {
        for (transport, socket) in &sockets {
            if let Ok(addr) = socket.local_addr() {
                match transport {
                    Transport::Plain => self.ports.http = addr.port(),
                    Transport::Tls => self.ports.tls = addr.port(),
                }
            }
        }
        self.adopted = sockets;
        self
    }

    /// Answers RMCP on these already-bound UDP sockets (623, 664) where
    /// the port policy wants them open; the first reconcile closes the
    /// others. Datagrams waiting in them are answered by this device.
    pub fn with_rmcp_sockets(
        mut self,
        rmcp: Option<UdpSocket>,
        rmcp_secure: Option<UdpSocket>,
    ) -> Self {
        for (socket, port) in [
            (&rmcp, &mut self.ports.rmcp),
            (&rmcp_secure, &mut self.ports.rmcp_secure),
        ] {
            if let Some(addr) = socket.as_ref().and_then(|s| s.local_addr().ok()) {
                *port = Some(addr.port());
            }
        }
        self.adopted_rmcp = rmcp;
        self.adopted_rmcp_secure = rmcp_secure;
        self
    }

    pub fn addrs(&self) -> ListenerAddrs {
        ListenerAddrs {
            http: self.http.as_ref().map(Listener::local_addr),
            tls: self.tls.as_ref().map(Listener::local_addr),
            redirection: self.redirection.as_ref().map(Listener::local_addr),
            redirection_tls: self.redirection_tls.as_ref().map(Listener::local_addr),
            rfb: self.rfb.as_ref().map(Listener::local_addr),
            rmcp: self.rmcp.as_ref().map(RmcpResponder::local_addr),
            rmcp_secure: self.rmcp_secure.as_ref().map(RmcpResponder::local_addr),
        }
    }

    pub fn interface(&self) -> Interface {
        self.interface
    }

    /// Opens what `policy` wants open and closes the rest.
    pub async fn reconcile(
        &mut self,
        policy: PortPolicy,
        host: &Arc<DeviceHost>,
    ) -> Result<(), ListenError> {
        let face = (self.listen, self.interface);
        let mut adopted = std::mem::take(&mut self.adopted);
        let mut take = |t: Transport| {
            adopted
                .iter()
                .position(|(a, _)| *a == t)
                .map(|i| adopted.swap_remove(i).1)
        };
        let (plain, tls) = (take(Transport::Plain), take(Transport::Tls));
        reconcile_one(
            &mut self.http,
            policy.http,
            face,
            &mut self.ports.http,
            (Service::Wsman, Transport::Plain, plain),
            host,
        )
        .await?;
        reconcile_one(
            &mut self.tls,
            policy.tls,
            face,
            &mut self.ports.tls,
            (Service::Wsman, Transport::Tls, tls),
            host,
        )
        .await?;
        // A device without redirection ports (a fleet member) never opens them.
        for (slot, want, port, service, transport) in [
            (
                &mut self.redirection,
                policy.redirection,
                &mut self.ports.redirection,
                Service::Redirection,
                Transport::Plain,
            ),
            (
                &mut self.redirection_tls,
                policy.redirection_tls,
                &mut self.ports.redirection_tls,
                Service::Redirection,
                Transport::Tls,
            ),
            (
                &mut self.rfb,
                policy.rfb,
                &mut self.ports.rfb,
                Service::Rfb,
                Transport::Plain,
            ),
        ] {
            let mut p = port.unwrap_or(0);
            reconcile_one(
                slot,
                want && port.is_some(),
                face,
                &mut p,
                (service, transport, None),
                host,
            )
            .await?;
            if port.is_some() {
                *port = Some(p);
            }
        }
        for (slot, want, port, secure, adopted) in [
            (
                &mut self.rmcp,
                policy.rmcp,
                &mut self.ports.rmcp,
                false,
                self.adopted_rmcp.take(),
            ),
            (
                &mut self.rmcp_secure,
                policy.rmcp_secure,
                &mut self.ports.rmcp_secure,
                true,
                self.adopted_rmcp_secure.take(),
            ),
        ] {
            reconcile_rmcp(slot, want, face, port, (secure, adopted), host).await;
        }
        Ok(())
    }

    /// Signals every accept loop to stop without waiting (for drop).
    pub fn signal_stop(&mut self) {
        for slot in [
            &mut self.http,
            &mut self.tls,
            &mut self.redirection,
            &mut self.redirection_tls,
            &mut self.rfb,
        ] {
            if let Some(l) = slot.take() {
                l.signal_stop();
            }
        }
        for slot in [&mut self.rmcp, &mut self.rmcp_secure] {
            if let Some(r) = slot.take() {
                r.signal_stop();
            }
        }
    }

    /// Closes every listener (connections already open finish on their own).
    pub async fn close(&mut self) {
        for slot in [
            &mut self.http,
            &mut self.tls,
            &mut self.redirection,
            &mut self.redirection_tls,
            &mut self.rfb,
        ] {
            if let Some(l) = slot.take() {
                l.stop().await;
            }
        }
        for slot in [&mut self.rmcp, &mut self.rmcp_secure] {
            if let Some(r) = slot.take() {
                r.stop().await;
            }
        }
    }
}

/// Opens or closes one RMCP socket. A port that cannot be bound (623 and
/// 664 are privileged without an offset) is logged and left closed: the
/// WS-Man ports matter more than discovery.
async fn reconcile_rmcp(
    slot: &mut Option<RmcpResponder>,
    want: bool,
    (ip, interface): (IpAddr, Interface),
    port: &mut Option<u16>,
    (secure, adopted): (bool, Option<UdpSocket>),
    host: &Arc<DeviceHost>,
) {
    let Some(number) = *port else {
        return;
    };
    match (slot.is_some(), want) {
        (false, true) => {
            let addr = SocketAddr::new(ip, number);
            let started = match adopted {
                Some(socket) => RmcpResponder::on_socket(
                    socket,
                    secure,
                    PresenceSource::Device {
                        host: host.clone(),
                        interface,
                    },
                ),
                None => RmcpResponder::start(addr, secure, interface, host.clone()).await,
            };
            match started {
                Ok(r) => {
                    *port = Some(r.local_addr().port());
                    tracing::info!(addr = %r.local_addr(), secure, ?interface, "RMCP listening");
                    *slot = Some(r);
                }
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    tracing::info!(%addr, "RMCP port not opened (privileged; use a port offset)");
                }
                Err(e) => tracing::warn!(%addr, error = %e, "RMCP port not opened"),
            }
        }
        (true, false) => {
            if let Some(r) = slot.take() {
                tracing::info!(addr = %r.local_addr(), secure, ?interface, "closing RMCP");
                r.stop().await;
            }
        }
        _ => {}
    }
}

async fn reconcile_one(
    slot: &mut Option<Listener>,
    want: bool,
    (ip, interface): (IpAddr, Interface),
    port: &mut u16,
    (service, transport, adopted): (Service, Transport, Option<TcpListener>),
    host: &Arc<DeviceHost>,
) -> Result<(), ListenError> {
    match (slot.is_some(), want) {
        (false, true) => {
            let addr = SocketAddr::new(ip, *port);
            let socket = match adopted {
                Some(socket) => socket,
                None => TcpListener::bind(addr)
                    .await
                    .map_err(|source| ListenError { addr, source })?,
            };
            let listener =
                Listener::start_service(socket, service, transport, interface, host.clone())
                    .map_err(|source| ListenError { addr, source })?;
            // An ephemeral port is kept, so a listener that closes and
            // reopens (TLS settings changed) comes back at the same address.
            *port = listener.local_addr().port();
            match service {
                Service::Wsman => {
                    tracing::info!(addr = %listener.local_addr(), ?transport, ?interface, "listening")
                }
                // Worded apart from "listening" so log readers that look
                // for the WS-Man ports never pick these.
                Service::Redirection | Service::Rfb => {
                    tracing::info!(addr = %listener.local_addr(), ?transport, ?interface, "redirection port open")
                }
            }
            *slot = Some(listener);
        }
        (true, false) => {
            if let Some(l) = slot.take() {
                tracing::info!(addr = %l.local_addr(), ?service, ?transport, ?interface, "closing listener");
                l.stop().await;
            }
        }
        _ => {}
    }
    Ok(())
}
