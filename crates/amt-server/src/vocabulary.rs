//! The server's shared vocabulary: which interface, which transport,
//! which ports, which device. A leaf module (it depends on nothing else in
//! the crate), so the request path (http, listener, device_host) and the
//! policy modules (ports, tls, fleet) all name the same things without
//! depending on each other.

/// WS-Man and web UI over plain HTTP.
pub const AMT_HTTP_PORT: u16 = 16992;
/// WS-Man and web UI over TLS.
pub const AMT_TLS_PORT: u16 = 16993;
/// Redirection (SOL, IDE-R, KVM) in plain.
pub const AMT_REDIRECTION_PORT: u16 = 16994;
/// Redirection over TLS.
pub const AMT_REDIRECTION_TLS_PORT: u16 = 16995;
/// Standard RFB (VNC) for KVM, never TLS.
pub const RFB_PORT: u16 = 5900;
/// RMCP / ASF presence ping (UDP).
pub const AMT_RMCP_PORT: u16 = 623;
/// Secure RMCP (UDP).
pub const AMT_RMCP_SECURE_PORT: u16 = 664;

/// Which interface a request came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interface {
    /// The network (802.3) interface: ports 16992/16993.
    Remote,
    /// The local interface the host reaches through LMS (localhost
    /// 16992/16993 on a real machine).
    Local,
}

impl Interface {
    /// The interface as the journal and the control API name it.
    pub fn name(self) -> &'static str {
        match self {
            Interface::Remote => "remote",
            Interface::Local => "local",
        }
    }
}

/// What a listener serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// WS-Man and the web UI over HTTP (16992/16993).
    Wsman,
    /// The redirection protocol (16994/16995).
    Redirection,
    /// Standard RFB with VNC authentication (5900, never TLS).
    Rfb,
}

/// How a connection reached the device: straight to its listener, or
/// through a channel the MPS opened in the CIRA tunnel (docs/cira.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Via {
    #[default]
    Direct,
    Cira,
}

impl Via {
    /// The journal's `via` field: absent for a direct connection.
    pub fn journal_name(self) -> Option<&'static str> {
        match self {
            Via::Direct => None,
            Via::Cira => Some("cira"),
        }
    }
}

/// Plain HTTP or TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Plain,
    Tls,
}

impl Transport {
    /// The journal's `transport` field.
    pub fn journal_name(self) -> &'static str {
        match self {
            Transport::Plain => "plain",
            Transport::Tls => "tls",
        }
    }
}

/// The ports one device listens on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports {
    pub http: u16,
    pub tls: u16,
    /// 16994; `None`: this device has no redirection listeners (fleets).
    pub redirection: Option<u16>,
    /// 16995; `None` as for `redirection`.
    pub redirection_tls: Option<u16>,
    /// 5900; `None` as for `redirection`.
    pub rfb: Option<u16>,
    /// UDP 623; `None` opens no RMCP socket (a fleet's port blocks have
    /// no room for it).
    pub rmcp: Option<u16>,
    /// UDP 664; `None` opens none.
    pub rmcp_secure: Option<u16>,
}

impl Ports {
    /// The AMT ports plus `offset`, so several devices fit on one address.
    pub fn with_offset(offset: u16) -> Option<Self> {
        Some(Ports {
            http: AMT_HTTP_PORT.checked_add(offset)?,
            tls: AMT_TLS_PORT.checked_add(offset)?,
            redirection: Some(AMT_REDIRECTION_PORT.checked_add(offset)?),
            redirection_tls: Some(AMT_REDIRECTION_TLS_PORT.checked_add(offset)?),
            rfb: Some(RFB_PORT.checked_add(offset)?),
            rmcp: Some(AMT_RMCP_PORT.checked_add(offset)?),
            rmcp_secure: Some(AMT_RMCP_SECURE_PORT.checked_add(offset)?),
        })
    }

    /// Ports the OS picks (for tests and embedded use).
    pub fn ephemeral() -> Self {
        Ports {
            http: 0,
            tls: 0,
            redirection: Some(0),
            redirection_tls: Some(0),
            rfb: Some(0),
            rmcp: Some(0),
            rmcp_secure: Some(0),
        }
    }

    /// Only the WS-Man ports (16992/16993), as a fleet member has them.
    pub fn wsman_only(http: u16, tls: u16) -> Self {
        Ports {
            http,
            tls,
            redirection: None,
            redirection_tls: None,
            rfb: None,
            rmcp: None,
            rmcp_secure: None,
        }
    }
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            http: AMT_HTTP_PORT,
            tls: AMT_TLS_PORT,
            redirection: Some(AMT_REDIRECTION_PORT),
            redirection_tls: Some(AMT_REDIRECTION_TLS_PORT),
            rfb: Some(RFB_PORT),
            rmcp: Some(AMT_RMCP_PORT),
            rmcp_secure: Some(AMT_RMCP_SECURE_PORT),
        }
    }
}

/// The stable id of a fleet device with global index `index`
/// (`dev-00042`); a single device has none.
pub fn device_id(index: u32) -> String {
    format!("dev-{index:05}")
}
