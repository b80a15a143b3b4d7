//! The AMT port numbers and which of them a device opens.

use amt_device::Device;

use crate::vocabulary::Interface;
pub use crate::vocabulary::{Ports, AMT_HTTP_PORT, AMT_TLS_PORT};

/// Which remote listeners a device has open, from its TLS settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortPolicy {
    pub http: bool,
    pub tls: bool,
}

impl PortPolicy {
    /// The network interface: closed altogether when MEBx disabled network
    /// access.
    pub fn remote(device: &Device) -> Self {
        let tls = &device.active_tls().settings;
        let up = device.network_access_enabled();
        PortPolicy {
            http: up && tls.remote_plain_http_open(),
            // TLS needs a certificate to present, or a PSK setup waiting
            // for its setup server.
            tls: up
                && ((tls.remote_tls_open() && device.active_tls_certificate().is_some())
                    || device.tls_psk().is_some()),
        }
    }

    /// The local (LMS) interface.
    pub fn local(device: &Device) -> Self {
        let tls = &device.active_tls().settings;
        PortPolicy {
            http: !tls.local.enabled || tls.local.accept_non_secure_connections,
            tls: tls.local.enabled && device.active_tls_certificate().is_some(),
        }
    }

    pub fn of(device: &Device, interface: Interface) -> Self {
        match interface {
            Interface::Remote => Self::remote(device),
            Interface::Local => Self::local(device),
        }
    }
}
