//! Firmware versions and the rules each one brings.
//!
//! CSME 16.1 is the reference profile: TLS-only on the remote interface, a
//! firmware-minted self-signed certificate, RSA-2048 keys. Older and newer
//! firmware differ; `docs/firmware-versions.md` holds the table this module
//! implements.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DeviceError;

/// `MAJOR.MINOR.HOTFIX.BUILD`, as `CIM_SoftwareIdentity` and the HTTP
/// `Server` header report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FirmwareVersion {
    pub major: u16,
    pub minor: u16,
    pub hotfix: u16,
    pub build: u16,
}

impl FirmwareVersion {
    /// `16.1.25.2128`: the default profile, a CSME 16.1 (Raptor Lake) build.
    pub const DEFAULT: FirmwareVersion = FirmwareVersion {
        major: 16,
        minor: 1,
        hotfix: 25,
        build: 2128,
    };

    /// Whether this version is at least `major.minor`.
    pub fn at_least(&self, major: u16, minor: u16) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// `MAJOR.MINOR.HOTFIX`, the form `CIM_SoftwareIdentity` uses for `AMT`.
    pub fn short(&self) -> String {
        format!("{}.{}.{}", self.major, self.minor, self.hotfix)
    }
}

impl fmt::Display for FirmwareVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}.{}",
            self.major, self.minor, self.hotfix, self.build
        )
    }
}

impl FromStr for FirmwareVersion {
    type Err = DeviceError;

    /// Accepts `MAJOR.MINOR.HOTFIX` or `MAJOR.MINOR.HOTFIX.BUILD`; a missing
    /// build number defaults to one typical of that major version.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || DeviceError::InvalidFirmwareVersion(s.to_string());
        let parts: Vec<&str> = s.trim().split('.').collect();
        if !(3..=4).contains(&parts.len()) {
            return Err(bad());
        }
        let mut n = [0u16; 4];
        for (slot, part) in n.iter_mut().zip(&parts) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            *slot = part.parse().map_err(|_| bad())?;
        }
        let major = n[0];
        if !(1..=30).contains(&major) {
            return Err(bad());
        }
        let build = if parts.len() == 4 {
            n[3]
        } else {
            default_build(major)
        };
        Ok(FirmwareVersion {
            major,
            minor: n[1],
            hotfix: n[2],
            build,
        })
    }
}

/// Build numbers seen on real devices of each generation (or close to them).
fn default_build(major: u16) -> u16 {
    match major {
        0..=11 => 3425,
        12 => 1579,
        13..=15 => 1706,
        16..=18 => 2128,
        _ => 2175,
    }
}

impl Serialize for FirmwareVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FirmwareVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Key algorithms the firmware generates for itself and for `GenerateKeyPair`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    Rsa2048,
    Rsa3072,
}

impl KeyAlgorithm {
    pub fn bits(self) -> usize {
        match self {
            KeyAlgorithm::Rsa2048 => 2048,
            KeyAlgorithm::Rsa3072 => 3072,
        }
    }
}

/// What a firmware version allows. Derived from the version alone, so it is
/// never persisted separately from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FirmwareProfile {
    version: FirmwareVersion,
}

impl Default for FirmwareProfile {
    fn default() -> Self {
        FirmwareProfile::new(FirmwareVersion::DEFAULT)
    }
}

impl FirmwareProfile {
    pub fn new(version: FirmwareVersion) -> Self {
        FirmwareProfile { version }
    }

    pub fn version(&self) -> FirmwareVersion {
        self.version
    }

    /// CSME 16.1 and later mint a self-signed TLS certificate at INIT and
    /// ship with TLS on; older firmware has no certificate until a console
    /// configures TLS.
    pub fn mints_self_signed_certificate(&self) -> bool {
        self.version.at_least(16, 1)
    }

    /// CSME 16.1 and later refuse non-TLS connections on the remote
    /// interface (`NonSecureConnectionsSupported=false` on the 802.3
    /// instance of `AMT_TLSSettingData`).
    pub fn remote_tls_only(&self) -> bool {
        self.version.at_least(16, 1)
    }

    /// `AdminSetup` exists until CSME 19, which replaced it with secure
    /// host-based configuration (`StartConfigurationHBased` over HECI).
    pub fn has_admin_setup(&self) -> bool {
        self.version.major < 19
    }

    /// CSME 19 and later present the on-die CA chain on 16993 before
    /// provisioning, ask for a client certificate there, and have no
    /// non-TLS port even on the local interface.
    pub fn presents_odca_chain(&self) -> bool {
        self.version.major >= 19
    }

    /// CSME 19 and later: LMS serves TLS (16993) only.
    pub fn local_tls_only(&self) -> bool {
        self.version.major >= 19
    }

    /// The self-signed certificate has the shape of the CSME 19.0.5
    /// capture (`CN=Intel® AMT self-signed certificate`) from 19; before,
    /// every DN field is `Unknown`.
    pub fn self_signed_is_intel_named(&self) -> bool {
        self.version.major >= 19
    }

    /// AMT 22 refuses the AES-128 TLS suites.
    pub fn refuses_aes_128_suites(&self) -> bool {
        self.version.major >= 22
    }

    /// The key the firmware generates for itself. AMT 22 refuses RSA-2048.
    pub fn firmware_key_algorithm(&self) -> KeyAlgorithm {
        if self.version.major >= 22 {
            KeyAlgorithm::Rsa3072
        } else {
            KeyAlgorithm::Rsa2048
        }
    }

    /// The value of the HTTP `Server` header, which consoles (MeshCommander)
    /// parse to learn the version.
    pub fn server_header(&self) -> String {
        format!("Intel(R) Active Management Technology {}", self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_three_and_four_part_versions() {
        let v: FirmwareVersion = "16.1.25".parse().unwrap();
        assert_eq!((v.major, v.minor, v.hotfix, v.build), (16, 1, 25, 2128));
        let v: FirmwareVersion = "15.0.23.1706".parse().unwrap();
        assert_eq!(v.to_string(), "15.0.23.1706");
        assert_eq!(v.short(), "15.0.23");
    }

    #[test]
    fn rejects_malformed_versions() {
        for bad in [
            "",
            "16",
            "16.1",
            "16.1.x",
            "16..1",
            "0.1.1",
            "99.1.1",
            "16.1.25.1.1",
            "+16.1.1",
        ] {
            assert!(bad.parse::<FirmwareVersion>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn default_profile_is_csme_16_1() {
        let p = FirmwareProfile::default();
        assert_eq!(p.version().short(), "16.1.25");
        assert!(p.mints_self_signed_certificate());
        assert!(p.remote_tls_only());
        assert_eq!(p.firmware_key_algorithm(), KeyAlgorithm::Rsa2048);
        assert_eq!(
            p.server_header(),
            "Intel(R) Active Management Technology 16.1.25.2128"
        );
    }

    #[test]
    fn older_and_newer_profiles_differ() {
        let p15 = FirmwareProfile::new("15.0.23".parse().unwrap());
        assert!(!p15.mints_self_signed_certificate());
        assert!(!p15.remote_tls_only());
        let p16_0 = FirmwareProfile::new("16.0.15".parse().unwrap());
        assert!(!p16_0.remote_tls_only());
        let p22 = FirmwareProfile::new("22.0.1".parse().unwrap());
        assert_eq!(p22.firmware_key_algorithm(), KeyAlgorithm::Rsa3072);
    }
}
