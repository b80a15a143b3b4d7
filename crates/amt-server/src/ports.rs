//! The AMT port numbers and which of them a device opens.

use amt_device::provisioning::ProvisioningState;
use amt_device::Device;

use crate::vocabulary::Interface;
pub use crate::vocabulary::{
    Ports, AMT_HTTP_PORT, AMT_REDIRECTION_PORT, AMT_REDIRECTION_TLS_PORT, AMT_RMCP_PORT,
    AMT_RMCP_SECURE_PORT, AMT_TLS_PORT, RFB_PORT,
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
        // TLS needs a certificate to present, or a PSK setup waiting for
        // its setup server. A device in provisioning with PKI remote
        // configuration listens for its provisioning server even where TLS
        // is off (before CSME 16.1).
        let tls = up
            && ((tls.remote_tls_open() && presents_certificate(device))
                || device.tls_psk().is_some()
                || (device.pki_trust().is_some() && presents_certificate(device)));
        let mut policy = PortPolicy::with_rmcp(device, http, tls);
        // The redirection ports follow the WS-Man ones (the same TLS
        // settings and firmware rules: no remote plain from CSME 16.1), and
        // exist only on a provisioned device whose redirection listener is
        // on (`AMT_RedirectionService.ListenerEnabled`).
        let provisioned = device.provisioning_state() == ProvisioningState::PostProvisioning;
        let redirection = provisioned && device.redirection().listener_enabled();
        policy.redirection = redirection && http;
        policy.redirection_tls = redirection && tls;
        // 5900 never uses TLS; it needs KVM on, `Is5900PortEnabled` and an
        // RFB password (which `Is5900PortEnabled` already requires).
        let r = device.redirection_policy();
        policy.rfb =
            up && provisioned && r.kvm_enabled && r.port_5900_enabled && r.rfb_password_set;
        policy
    }

    fn with_rmcp(device: &Device, http: bool, tls: bool) -> Self {
        let rmcp_era = device.profile().version().at_least(4, 0);
        PortPolicy {
            http,
            tls,
            rmcp: http && rmcp_era,
            rmcp_secure: tls && rmcp_era,
            // The remote interface sets these; LMS's forwarding of
            // 16994/16995 and 5900 is not modelled.
            redirection: false,
            redirection_tls: false,
            rfb: false,
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
