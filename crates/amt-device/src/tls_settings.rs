//! `AMT_TLSSettingData`: TLS on the remote (802.3) and local (LMS)
//! interfaces.

use serde::{Deserialize, Serialize};

use crate::profile::FirmwareProfile;

/// One instance of `AMT_TLSSettingData`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsSettingData {
    pub enabled: bool,
    pub accept_non_secure_connections: bool,
    pub mutual_authentication: bool,
    #[serde(default)]
    pub trusted_cn: Vec<String>,
    /// Read-only; present from CSME 16.1. `Some(false)` on the remote
    /// instance makes that interface TLS-only.
    pub non_secure_connections_supported: Option<bool>,
}

/// Both instances, remote first (the order consoles rely on).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsSettings {
    pub remote: TlsSettingData,
    pub local: TlsSettingData,
}

/// The TLS configuration in force: settings and credential context as of
/// the last CommitChanges (or INIT / unprovision).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveTls {
    pub settings: TlsSettings,
    pub credential_context: Option<u32>,
}

impl TlsSettings {
    /// `InstanceID` of the remote instance.
    pub const REMOTE_INSTANCE_ID: &'static str = "Intel(r) AMT 802.3 TLS Settings";
    /// `InstanceID` of the local instance.
    pub const LOCAL_INSTANCE_ID: &'static str = "Intel(r) AMT LMS TLS Settings";

    /// The settings a device leaves the factory (or an unprovision) with.
    pub fn factory(profile: &FirmwareProfile) -> Self {
        if profile.remote_tls_only() {
            // CSME 16.1+: TLS on from the start with the self-signed
            // certificate; plain HTTP refused remotely, allowed locally.
            TlsSettings {
                remote: TlsSettingData {
                    enabled: true,
                    accept_non_secure_connections: false,
                    mutual_authentication: false,
                    trusted_cn: Vec::new(),
                    non_secure_connections_supported: Some(false),
                },
                local: TlsSettingData {
                    enabled: false,
                    accept_non_secure_connections: true,
                    mutual_authentication: false,
                    trusted_cn: Vec::new(),
                    non_secure_connections_supported: Some(true),
                },
            }
        } else {
            TlsSettings {
                remote: TlsSettingData {
                    enabled: false,
                    accept_non_secure_connections: false,
                    mutual_authentication: false,
                    trusted_cn: Vec::new(),
                    non_secure_connections_supported: None,
                },
                local: TlsSettingData {
                    enabled: false,
                    accept_non_secure_connections: true,
                    mutual_authentication: false,
                    trusted_cn: Vec::new(),
                    non_secure_connections_supported: None,
                },
            }
        }
    }

    /// Whether plain HTTP (16992) answers on the remote interface.
    pub fn remote_plain_http_open(&self) -> bool {
        let r = &self.remote;
        r.non_secure_connections_supported != Some(false)
            && (!r.enabled || r.accept_non_secure_connections)
    }

    /// Whether TLS (16993) answers on the remote interface.
    pub fn remote_tls_open(&self) -> bool {
        self.remote.enabled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csme_16_1_remote_is_tls_only_from_the_factory() {
        let s = TlsSettings::factory(&FirmwareProfile::default());
        assert!(s.remote_tls_open());
        assert!(!s.remote_plain_http_open());
        assert_eq!(s.remote.non_secure_connections_supported, Some(false));
        assert_eq!(s.local.non_secure_connections_supported, Some(true));
    }

    #[test]
    fn older_firmware_starts_plain() {
        let p = FirmwareProfile::new("15.0.23".parse().unwrap());
        let s = TlsSettings::factory(&p);
        assert!(!s.remote_tls_open());
        assert!(s.remote_plain_http_open());
        assert_eq!(s.remote.non_secure_connections_supported, None);
    }
}
