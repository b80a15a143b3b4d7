//! The AMT port numbers and which of them a device opens.

use amt_device::provisioning::ProvisioningState;
use amt_device::redirection::RedirectionSettings;
use amt_device::{Device, FirmwareProfile, FirmwareVersion, TlsSettings};

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
        Self::remote_of(&RemoteFacts::of(device))
    }

    /// The network interface of a device described by `facts` (a live
    /// device's, or a factory one's that a dormant fleet member has not
    /// made yet).
    pub fn remote_of(f: &RemoteFacts) -> Self {
        let up = f.network_access_enabled;
        let http = up && f.plain_http_open;
        // TLS needs a certificate to present, or a PSK setup waiting for
        // its setup server. A device in provisioning with PKI remote
        // configuration listens for its provisioning server even where TLS
        // is off (before CSME 16.1).
        let tls = up
            && ((f.tls_enabled && f.presents_certificate)
                || f.psk_setup_waiting
                || (f.awaits_pki_server && f.presents_certificate));
        let mut policy = PortPolicy::with_rmcp(f.version, http, tls);
        // The redirection ports follow the WS-Man ones (the same TLS
        // settings and firmware rules: no remote plain from CSME 16.1), and
        // exist only on a provisioned device whose redirection listener is
        // on (`AMT_RedirectionService.ListenerEnabled`).
        let redirection = f.provisioned && f.redirection_listener_enabled;
        policy.redirection = redirection && http;
        policy.redirection_tls = redirection && tls;
        // 5900 never uses TLS; it needs KVM on, `Is5900PortEnabled` and an
        // RFB password (which `Is5900PortEnabled` already requires).
        policy.rfb = up && f.provisioned && f.rfb_ready;
        policy
    }

    fn with_rmcp(version: FirmwareVersion, http: bool, tls: bool) -> Self {
        let rmcp_era = version.at_least(4, 0);
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
            return PortPolicy::with_rmcp(
                device.profile().version(),
                false,
                presents_certificate(device),
            );
        }
        let http = !tls.local.enabled || tls.local.accept_non_secure_connections;
        let tls = tls.local.enabled && presents_certificate(device);
        PortPolicy::with_rmcp(device.profile().version(), http, tls)
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

/// What the network interface's port policy reads of a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteFacts {
    pub version: FirmwareVersion,
    /// MEBx left network access on.
    pub network_access_enabled: bool,
    /// The TLS settings in force leave 16992 open remotely.
    pub plain_http_open: bool,
    /// The TLS settings in force turn TLS on remotely.
    pub tls_enabled: bool,
    pub presents_certificate: bool,
    /// A PSK setup waits for its setup server.
    pub psk_setup_waiting: bool,
    /// PKI remote configuration is under way.
    pub awaits_pki_server: bool,
    pub provisioned: bool,
    pub redirection_listener_enabled: bool,
    /// KVM on, `Is5900PortEnabled` and an RFB password set.
    pub rfb_ready: bool,
}

impl RemoteFacts {
    pub fn of(device: &Device) -> Self {
        let tls = &device.active_tls().settings;
        let r = device.redirection_policy();
        RemoteFacts {
            version: device.profile().version(),
            network_access_enabled: device.network_access_enabled(),
            plain_http_open: tls.remote_plain_http_open(),
            tls_enabled: tls.remote_tls_open(),
            presents_certificate: presents_certificate(device),
            psk_setup_waiting: device.tls_psk().is_some(),
            awaits_pki_server: device.awaits_pki_server(),
            provisioned: device.provisioning_state() == ProvisioningState::PostProvisioning,
            redirection_listener_enabled: device.redirection().listener_enabled(),
            rfb_ready: r.kvm_enabled && r.port_5900_enabled && r.rfb_password_set,
        }
    }

    /// A device as `Device::new` makes it on `profile`, without making it
    /// (no key is minted): factory TLS settings, network access on, no
    /// setup under way; `provisioned` for one a fleet starts in client
    /// control mode (which changes none of the TLS settings).
    pub fn factory(profile: &FirmwareProfile, provisioned: bool) -> Self {
        let tls = TlsSettings::factory(profile);
        RemoteFacts {
            version: profile.version(),
            network_access_enabled: true,
            plain_http_open: tls.remote_plain_http_open(),
            tls_enabled: tls.remote_tls_open(),
            // The self-signed certificate (16.1+) or the on-die CA chain
            // (19+) is there from the first start.
            presents_certificate: profile.mints_self_signed_certificate()
                || profile.presents_odca_chain(),
            psk_setup_waiting: false,
            awaits_pki_server: false,
            provisioned,
            redirection_listener_enabled: RedirectionSettings::default().listener_enabled(),
            // No RFB password at the factory.
            rfb_ready: false,
        }
    }
}
