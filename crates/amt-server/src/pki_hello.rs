//! The PKI remote-configuration hello (amt_device::remote_configuration):
//! while the device is in provisioning on a firmware with PKI remote
//! configuration and no provisioning server has authenticated yet, one
//! TCP connection to the provisioning server per hello, the hello written,
//! the connection closed; at once, then every 60 s, for six hours.
//!
//! The target is the MEBx provisioning server setting (address or host
//! name, and port), else `provisionserver.<DNS suffix>`:9971. A name is
//! looked up in the emulated network's table (`PUT /api/network/hosts`)
//! first, then through the system resolver. Everything runs on tokio's
//! clock (crate::clock), so a paused-clock test drives the schedule.

use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use amt_device::remote_configuration::{hello_due, ProvisioningServer};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::device_host::DeviceHost;

/// How often the driver looks at the device's state.
const POLL: Duration = Duration::from_millis(500);
/// How long one hello may take (connect and write).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts the device's hello driver (a no-op loop on firmware without PKI
/// remote configuration).
pub fn spawn(host: &Arc<DeviceHost>) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(host);
    tokio::spawn(run(weak))
}

async fn run(weak: Weak<DeviceHost>) {
    // When the current provisioning started saying hello, and how many
    // hellos went out since.
    let mut started: Option<Instant> = None;
    let mut sent: u32 = 0;
    loop {
        let Some(host) = weak.upgrade() else {
            return;
        };
        if !host.with_device(|d| d.has_pki_remote_configuration()) {
            return;
        }
        let (armed, target) = host.with_device(|d| (d.pki_hello_armed(), d.pki_hello_target()));
        match (armed, target) {
            (true, Some(target)) => {
                let start = *started.get_or_insert_with(Instant::now);
                let elapsed = Instant::now().saturating_duration_since(start).as_secs();
                if hello_due(sent, elapsed) == Some(true) {
                    let packet = host.with_device(|d| d.hello_packet(sent));
                    let addr = resolve(&host, &target).await;
                    drop(host);
                    match addr {
                        Some(addr) => send(addr, &packet).await,
                        None => tracing::info!(
                            server = %target.address,
                            "provisioning server name does not resolve; hello not sent"
                        ),
                    }
                    sent = sent.saturating_add(1);
                }
            }
            (true, None) => {}
            (false, _) => {
                started = None;
                sent = 0;
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn resolve(host: &DeviceHost, target: &ProvisioningServer) -> Option<SocketAddr> {
    if let Ok(ip) = target.address.parse() {
        return Some(SocketAddr::new(ip, target.port));
    }
    if let Some(ip) = host.with_device(|d| d.resolve_network_host(&target.address)) {
        return Some(SocketAddr::new(ip, target.port));
    }
    tokio::net::lookup_host((target.address.as_str(), target.port))
        .await
        .ok()?
        .next()
}

async fn send(addr: SocketAddr, packet: &[u8]) {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.write_all(packet).await?;
        stream.shutdown().await
    };
    match tokio::time::timeout(SEND_TIMEOUT, attempt).await {
        Ok(Ok(())) => tracing::info!(%addr, "PKI hello sent"),
        Ok(Err(e)) => tracing::info!(%addr, error = %e, "PKI hello not delivered"),
        Err(_) => tracing::info!(%addr, "PKI hello timed out"),
    }
}
