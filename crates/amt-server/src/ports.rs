//! The AMT port numbers and which of them a device opens.

use amt_device::provisioning::ProvisioningState;
use amt_device::Device;

use crate::vocabulary::Interface;
pub use crate::vocabulary::{
    Ports, AMT_HTTP_PORT, AMT_REDIRECTION_PORT, AMT_REDIRECTION_TLS_PORT, AMT_TLS_PORT, RFB_PORT,
};

/// Which remote listeners a device has open, from its TLS settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortPolicy {
    pub http: bool,
    pub tls: bool,
    /// 16994: the redirection protocol in plain.
    pub redirection: bool,
    /// 16995: the redirection protocol over TLS.
    pub redirection_tls: bool,
    /// 5900: plain RFB with VNC authentication.
    pub rfb: bool,
}

impl PortPolicy {
    /// The network interface: closed altogether when MEBx disabled network
    /// access.
    pub fn remote(device: &Device) -> Self {
        let tls = &device.active_tls().settings;
        let up = device.network_access_enabled();
        let http = up && tls.remote_plain_http_open();
        // TLS needs a certificate to present.
        let tls = up && tls.remote_tls_open() && device.active_tls_certificate().is_some();
        // The redirection ports follow the WS-Man ones (the same TLS
        // settings and firmware rules: no remote plain from CSME 16.1), and
        // exist only on a provisioned device whose redirection listener is
        // on (`AMT_RedirectionService.ListenerEnabled`).
        let redirection = device.provisioning_state() == ProvisioningState::PostProvisioning
            && device.redirection().listener_enabled();
        // 5900 never uses TLS; it needs KVM on, `Is5900PortEnabled` and an
        // RFB password (which `Is5900PortEnabled` already requires).
        let r = device.redirection_policy();
        let rfb = up
            && device.provisioning_state() == ProvisioningState::PostProvisioning
            && r.kvm_enabled
            && r.port_5900_enabled
            && r.rfb_password_set;
        PortPolicy {
            http,
            tls,
            redirection: redirection && http,
            redirection_tls: redirection && tls,
            rfb,
        }
    }

    /// The local (LMS) interface.
    pub fn local(device: &Device) -> Self {
        let tls = &device.active_tls().settings;
        PortPolicy {
            http: !tls.local.enabled || tls.local.accept_non_secure_connections,
            tls: tls.local.enabled && device.active_tls_certificate().is_some(),
            // LMS's forwarding of 16994/16995 is not modelled.
            redirection: false,
            redirection_tls: false,
            rfb: false,
        }
    }

    pub fn of(device: &Device, interface: Interface) -> Self {
        match interface {
            Interface::Remote => Self::remote(device),
            Interface::Local => Self::local(device),
        }
    }
}
