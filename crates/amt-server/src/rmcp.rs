//! UDP 623 (RMCP, ASF presence ping) and 664 (secure RMCP) of one
//! interface. The codec is `amt-rmcp`; this module owns the socket.
//!
//! 623 answers a presence ping with the firmware's pong while
//! `AMT_GeneralSettings.RmcpPingResponseEnabled` is true (read per
//! datagram, so a Put takes effect at once); it is open where the port
//! policy leaves non-TLS ports open. 664 is bound where TLS is open, as the
//! firmware's secure RMCP port, but the RMCP security extensions (RSP) are
//! not modelled: every datagram on it is dropped, as a ping is (ASF allows
//! the presence ping only on the unsecured port).

use std::net::SocketAddr;
use std::sync::Arc;

use amt_device::{FirmwareVersion, ProvisioningState};
use amt_rmcp::{AmtPresence, SetupState};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::device_host::DeviceHost;
use crate::listener_set::ListenerAddrs;
use crate::vocabulary::Interface;

/// The ASF RMCP port (presence ping).
pub const RMCP_PORT: u16 = 623;
/// The ASF secure RMCP port.
pub const RMCP_SECURE_PORT: u16 = 664;

/// Where a responder reads what its pongs say.
#[derive(Debug)]
pub enum PresenceSource {
    /// A live device, read per datagram.
    Device {
        host: Arc<DeviceHost>,
        interface: Interface,
    },
    /// A dormant fleet member: its factory device cannot change before it
    /// is made, so the pong is computed once (`None`: no pong).
    Fixed(Option<AmtPresence>),
}

impl PresenceSource {
    fn presence(&self) -> Option<AmtPresence> {
        match self {
            PresenceSource::Device { host, interface } => presence(host, *interface),
            PresenceSource::Fixed(p) => *p,
        }
    }
}

/// A running RMCP responder.
#[derive(Debug)]
pub struct RmcpResponder {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    /// Gives the socket back when stopped, so it can be handed on.
    task: JoinHandle<UdpSocket>,
}

impl RmcpResponder {
    /// Binds `addr` and answers on it; `secure` for 664.
    pub async fn start(
        addr: SocketAddr,
        secure: bool,
        interface: Interface,
        host: Arc<DeviceHost>,
    ) -> std::io::Result<Self> {
        let socket = UdpSocket::bind(addr).await?;
        Self::on_socket(socket, secure, PresenceSource::Device { host, interface })
    }

    /// Answers on a socket already bound.
    pub fn on_socket(
        socket: UdpSocket,
        secure: bool,
        source: PresenceSource,
    ) -> std::io::Result<Self> {
        let addr = socket.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    ready = socket.readable() => {
                        if let Err(e) = ready {
                            tracing::debug!(error = %e, "RMCP socket not readable");
                            tokio::task::yield_now().await;
                            continue;
                        }
                        // Drained in a plain function: the datagram buffer
                        // lives on the stack only while reading, not in the
                        // task (a fleet holds thousands of these sockets).
                        for (pong, peer) in drain(&socket, secure, &source) {
                            if let Err(e) = socket.send_to(&pong, peer).await {
                                tracing::debug!(%peer, error = %e, "RMCP pong not sent");
                            }
                        }
                    }
                }
            }
            socket
        });
        Ok(RmcpResponder { addr, stop, task })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub async fn stop(self) {
        let _ = self.into_socket().await;
    }

    /// Stops answering and gives the socket back (datagrams that arrive
    /// meanwhile wait in it for whoever answers next).
    pub async fn into_socket(self) -> Option<UdpSocket> {
        let _ = self.stop.send(true);
        self.task.await.ok()
    }

    pub fn signal_stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// Reads every datagram waiting on `socket`; the pongs to send.
fn drain(socket: &UdpSocket, secure: bool, source: &PresenceSource) -> Vec<(Vec<u8>, SocketAddr)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1500];
    // A bounded batch, so a flood cannot keep the task from its stop signal.
    for _ in 0..64 {
        match socket.try_recv_from(&mut buf) {
            Ok((n, peer)) => {
                if secure {
                    continue;
                }
                let Some(presence) = source.presence() else {
                    continue;
                };
                if let Some(pong) = buf.get(..n).and_then(|d| amt_rmcp::answer(d, &presence)) {
                    out.push((pong, peer));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => {
                // ICMP errors from an earlier send surface here on some
                // systems; they say nothing about the socket.
                tracing::debug!(error = %e, "RMCP receive failed");
                break;
            }
        }
    }
    out
}

/// What the pong says, or `None` when the ping response is disabled.
fn presence(host: &DeviceHost, interface: Interface) -> Option<AmtPresence> {
    let addrs = host.addrs_of(interface);
    host.with_device(|d| {
        presence_of(
            d.network().general.rmcp_ping_response_enabled,
            d.profile().version(),
            d.provisioning_state(),
            addrs,
        )
    })
}

/// The pong of a device in this state with these listeners bound; `None`
/// while `AMT_GeneralSettings.RmcpPingResponseEnabled` is false.
pub fn presence_of(
    ping_response_enabled: bool,
    version: FirmwareVersion,
    provisioning_state: ProvisioningState,
    addrs: ListenerAddrs,
) -> Option<AmtPresence> {
    if !ping_response_enabled {
        return None;
    }
    let setup_state = match provisioning_state {
        ProvisioningState::PreProvisioning => SetupState::NotConfigured,
        ProvisioningState::InProvisioning => SetupState::InProcess,
        ProvisioningState::PostProvisioning => SetupState::Completed,
    };
    // Port 0 until setup is done (AMT 6.1 and later); then the TLS
    // port if it answers, else the plain one, as bound (offset
    // included, so a console can connect to what it reads).
    let open_port = match setup_state {
        SetupState::Completed => addrs.tls.or(addrs.http).map_or(0, |a| a.port()),
        _ => 0,
    };
    Some(AmtPresence {
        major: u8::try_from(version.major).unwrap_or(u8::MAX),
        minor: u8::try_from(version.minor).unwrap_or(u8::MAX),
        open_port,
        dual_ports: setup_state == SetupState::Completed
            && addrs.http.is_some()
            && addrs.tls.is_some(),
        setup_state,
    })
}
