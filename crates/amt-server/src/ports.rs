//! The AMT port numbers and which of them a device opens.

use amt_device::Device;

use crate::vocabulary::Interface;
pub use crate::vocabulary::{
    Ports, AMT_HTTP_PORT, AMT_RMCP_PORT, AMT_RMCP_SECURE_PORT, AMT_TLS_PORT,
};

/// Which listeners of an interface a device has open, from its TLS
/// settings and firmware profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortPolicy {
    pub http: bool,
    pub tls: bool,
    /// UDP 623: a non-TLS port, so it closes with 16992 ("non-secure
    /// EOI/WS-Man on 16992 and 623", `AcceptNonSecureConnections`); the
    /// firmware answers RMCP pings from AMT 4.0.
    pub rmcp: bool,
    /// UDP 664, the secure RMCP port: open with 16993.
    pub rmcp_secure: bool,
}

impl PortPolicy {
    /// The network interface: closed altogether when MEBx disabled network
    /// access.
    pub fn remote(device: &Device) -> Self {
        let tls = &device.active_tls().settings;
        let up = device.network_access_enabled();
        let http = up && tls.remote_plain_http_open();
        // TLS needs a certificate to present.
        let tls = up && tls.remote_tls_open() && presents_certificate(device);
        PortPolicy::with_rmcp(device, http, tls)
    }

    fn with_rmcp(device: &Device, http: bool, tls: bool) -> Self {
        let rmcp_era = device.profile().version().at_least(4, 0);
        PortPolicy {
            http,
            tls,
            rmcp: http && rmcp_era,
            rmcp_secure: tls && rmcp_era,
        }
    }

    /// The local (LMS) interface.
    pub fn local(device: &Device) -> Self {
        let tls = &device.active_tls().settings;
        if device.profile().local_tls_only() {
            // CSME 19: no non-TLS port even locally; LMS 16993 always.
            return PortPolicy::with_rmcp(device, false, presents_certificate(device));
        }
        let http = !tls.local.enabled || tls.local.accept_non_secure_connections;
        let tls = tls.local.enabled && presents_certificate(device);
        PortPolicy::with_rmcp(device, http, tls)
    }

    pub fn of(device: &Device, interface: Interface) -> Self {
        match interface {
            Interface::Remote => Self::remote(device),
            Interface::Local => Self::local(device),
        }
    }
}

/// Whether the TLS face has a certificate for this device: the active one,
/// or the on-die CA chain an AMT 19+ device presents before provisioning.
fn presents_certificate(device: &Device) -> bool {
    device.active_tls_certificate().is_some() || device.presents_odca_chain()
}
