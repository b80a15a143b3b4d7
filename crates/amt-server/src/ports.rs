//! The AMT port numbers and which of them a device opens.

use amt_device::Device;

/// WS-Man and web UI over plain HTTP.
pub const AMT_HTTP_PORT: u16 = 16992;
/// WS-Man and web UI over TLS.
pub const AMT_TLS_PORT: u16 = 16993;

/// The ports one device listens on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports {
    pub http: u16,
    pub tls: u16,
}

impl Ports {
    /// The AMT ports plus `offset`, so several devices fit on one address.
    pub fn with_offset(offset: u16) -> Option<Self> {
        Some(Ports {
            http: AMT_HTTP_PORT.checked_add(offset)?,
            tls: AMT_TLS_PORT.checked_add(offset)?,
        })
    }

    /// Ports the OS picks (for tests and embedded use).
    pub fn ephemeral() -> Self {
        Ports { http: 0, tls: 0 }
    }
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            http: AMT_HTTP_PORT,
            tls: AMT_TLS_PORT,
        }
    }
}

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
            // TLS needs a certificate to present.
            tls: up && tls.remote_tls_open() && device.active_tls_certificate().is_some(),
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

    pub fn of(device: &Device, interface: crate::http::Interface) -> Self {
        match interface {
            crate::http::Interface::Remote => Self::remote(device),
            crate::http::Interface::Local => Self::local(device),
        }
    }
}
