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

use amt_device::ProvisioningState;
use amt_rmcp::{AmtPresence, SetupState};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::device_host::DeviceHost;
use crate::vocabulary::Interface;

/// The ASF RMCP port (presence ping).
pub const RMCP_PORT: u16 = 623;
/// The ASF secure RMCP port.
pub const RMCP_SECURE_PORT: u16 = 664;

/// A running RMCP responder.
#[derive(Debug)]
pub struct RmcpResponder {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
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
        let addr = socket.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    got = socket.recv_from(&mut buf) => match got {
                        Ok((n, peer)) => {
                            if secure {
                                continue;
                            }
                            let Some(presence) = presence(&host, interface) else {
                                continue;
                            };
                            if let Some(pong) = amt_rmcp::answer(&buf[..n], &presence) {
                                if let Err(e) = socket.send_to(&pong, peer).await {
                                    tracing::debug!(%peer, error = %e, "RMCP pong not sent");
                                }
                            }
                        }
                        Err(e) => {
                            // ICMP errors from an earlier send surface here on
                            // some systems; they say nothing about the socket.
                            tracing::debug!(error = %e, "RMCP receive failed");
                            tokio::task::yield_now().await;
                        }
                    }
                }
            }
        });
        Ok(RmcpResponder { addr, stop, task })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    pub fn signal_stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// What the pong says, or `None` when the ping response is disabled.
fn presence(host: &DeviceHost, interface: Interface) -> Option<AmtPresence> {
    let addrs = host.addrs_of(interface);
    host.with_device(|d| {
        if !d.network().general.rmcp_ping_response_enabled {
            return None;
        }
        let version = d.profile().version();
        let setup_state = match d.provisioning_state() {
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
    })
}
