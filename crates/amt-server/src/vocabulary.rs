//! The server's shared vocabulary: which interface, which transport,
//! which ports, which device. A leaf module (it depends on nothing else in
//! the crate), so the request path (http, listener, device_host) and the
//! policy modules (ports, tls, fleet) all name the same things without
//! depending on each other.

/// WS-Man and web UI over plain HTTP.
pub const AMT_HTTP_PORT: u16 = 16992;
/// WS-Man and web UI over TLS.
pub const AMT_TLS_PORT: u16 = 16993;
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

/// The ports one device listens on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports {
    pub http: u16,
    pub tls: u16,
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
            rmcp: Some(AMT_RMCP_PORT.checked_add(offset)?),
            rmcp_secure: Some(AMT_RMCP_SECURE_PORT.checked_add(offset)?),
        })
    }

    /// Ports the OS picks (for tests and embedded use).
    pub fn ephemeral() -> Self {
        Ports {
            http: 0,
            tls: 0,
            rmcp: Some(0),
            rmcp_secure: Some(0),
        }
    }
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            http: AMT_HTTP_PORT,
            tls: AMT_TLS_PORT,
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
