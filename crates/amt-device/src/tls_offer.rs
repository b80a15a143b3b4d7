//! What each firmware generation's TLS listener offers: protocol versions,
//! cipher suites, TLS-PSK and renegotiation. Data only; the server turns it
//! into a TLS stack's configuration.
//!
//! Sources (docs/firmware-versions.md, "TLS per generation"):
//! - Intel AMT SDK, "Detailed description" of the TLS features: TLS 1.0
//!   and 1.1 up to AMT 11, TLS 1.2 from 12.0 where TLS 1.0 goes, TLS 1.1
//!   gone from CSME 15.0 (desktop) and 16.0.
//! - Open AMT console issue #445 and go-wsman-messages'
//!   `AllowInsecureCipherSuites`: AMT 11 and 12 are reached only with the
//!   static-RSA suites `TLS_RSA_WITH_AES_128_GCM_SHA256`,
//!   `TLS_RSA_WITH_AES_128_CBC_SHA`, `TLS_RSA_WITH_AES_256_CBC_SHA` (and
//!   `TLS_DHE_RSA_WITH_AES_256_GCM_SHA384`).
//! - MeshCommander issue #120: AMT 9 needs unsafe legacy renegotiation.
//! - Intel SCS / vendor setup guides: TLS-PSK setup (PID/PPS) exists from
//!   AMT 2 and is gone in 11.0.
//!
//! Where no source settles a detail the plainest reading is taken and
//! named so in docs/firmware-versions.md: AMT 13 to 16.0 offer ECDHE
//! beside the static-RSA suites (consoles reach them without their
//! "insecure suites" switch); the PSK suites are RFC 4279's plain AES-CBC
//! ones.

use crate::profile::FirmwareProfile;

/// A TLS protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    Tls1_0,
    Tls1_1,
    Tls1_2,
    Tls1_3,
}

impl TlsVersion {
    /// The name OpenSSL and Wireshark print (`TLSv1.2`).
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls1_0 => "TLSv1",
            TlsVersion::Tls1_1 => "TLSv1.1",
            TlsVersion::Tls1_2 => "TLSv1.2",
            TlsVersion::Tls1_3 => "TLSv1.3",
        }
    }
}

/// The TLS a firmware generation serves on 16993 (and 16995).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsOffer {
    /// Protocol versions, oldest first.
    pub versions: &'static [TlsVersion],
    /// Certificate-based TLS 1.0–1.2 suites (IANA names), in the
    /// firmware's order of preference.
    pub suites: &'static [&'static str],
    /// TLS 1.3 suites (IANA names), when TLS 1.3 is offered.
    pub tls13_suites: &'static [&'static str],
    /// TLS-PSK suites (IANA names), offered while a PSK setup is pending;
    /// empty where the firmware refuses PSK.
    pub psk_suites: &'static [&'static str],
    /// Renegotiation with clients that lack RFC 5746's secure
    /// renegotiation.
    pub legacy_renegotiation: bool,
}

impl TlsOffer {
    /// Whether the offer needs what only a full legacy TLS stack serves:
    /// TLS 1.0/1.1, suites without forward secrecy or AEAD, PSK, legacy
    /// renegotiation (rustls has none of these).
    pub fn needs_legacy_stack(&self) -> bool {
        self.versions.iter().any(|v| *v < TlsVersion::Tls1_2)
            || self.suites.iter().any(|s| !MODERN_SUITES.contains(s))
            || self.tls13_suites.iter().any(|s| !TLS13_SUITES.contains(s))
            || !self.psk_suites.is_empty()
            || self.legacy_renegotiation
    }
}

const TLS10_11: &[TlsVersion] = &[TlsVersion::Tls1_0, TlsVersion::Tls1_1];
const TLS11_12: &[TlsVersion] = &[TlsVersion::Tls1_1, TlsVersion::Tls1_2];
const TLS12: &[TlsVersion] = &[TlsVersion::Tls1_2];
const TLS12_13: &[TlsVersion] = &[TlsVersion::Tls1_2, TlsVersion::Tls1_3];

/// AMT up to 11: static RSA with AES-CBC and SHA-1, nothing else.
const CBC_SHA_SUITES: &[&str] = &[
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
];

/// AMT 12: the suites console #445 lists, with AES128-SHA256 that
/// consoles also offer for it.
const AMT12_SUITES: &[&str] = &[
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
];

/// AMT 13 to 16.0: ECDHE first, then AMT 12's.
const AMT13_SUITES: &[&str] = &[
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
];

/// CSME 16.1 and later: forward-secret AEAD suites only.
const MODERN_SUITES: &[&str] = &[
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
];

/// AMT 22: no AES-128 (its crypto hardening).
const AMT22_SUITES: &[&str] = &[
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
];

const AMT22_TLS13_SUITES: &[&str] = &["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"];

const TLS13_SUITES: &[&str] = &[
    "TLS_AES_256_GCM_SHA384",
    "TLS_AES_128_GCM_SHA256",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// RFC 4279's PSK suites with AES-CBC.
const PSK_SUITES: &[&str] = &[
    "TLS_PSK_WITH_AES_128_CBC_SHA",
    "TLS_PSK_WITH_AES_256_CBC_SHA",
];

impl FirmwareProfile {
    /// The TLS this firmware serves.
    pub fn tls_offer(&self) -> TlsOffer {
        let v = self.version();
        let psk_suites: &'static [&'static str] = if self.accepts_psk_setup() {
            PSK_SUITES
        } else {
            &[]
        };
        let (versions, suites, tls13_suites) = if v.major <= 11 {
            (TLS10_11, CBC_SHA_SUITES, &[][..])
        } else if v.major == 12 {
            (TLS11_12, AMT12_SUITES, &[][..])
        } else if v.major <= 14 {
            (TLS11_12, AMT13_SUITES, &[][..])
        } else if !v.at_least(16, 1) {
            (TLS12, AMT13_SUITES, &[][..])
        } else if self.refuses_aes_128_suites() {
            (TLS12_13, AMT22_SUITES, AMT22_TLS13_SUITES)
        } else {
            (TLS12_13, MODERN_SUITES, TLS13_SUITES)
        };
        TlsOffer {
            versions,
            suites,
            tls13_suites,
            psk_suites,
            legacy_renegotiation: v.major == 9,
        }
    }

    /// TLS-PSK setup (PID/PPS from MEBx or a USB setup file) exists up to
    /// AMT 10; 11.0 removed it.
    pub fn accepts_psk_setup(&self) -> bool {
        self.version().major < 11
    }

    /// AMT 2.0, 2.1 and 2.5 know no other setup than PSK, and set up
    /// nothing while the MEBx password is still the factory default.
    pub fn psk_only_setup(&self) -> bool {
        self.version().major == 2 && !self.pki_remote_configuration_era()
    }

    /// TLS-PKI remote configuration came with AMT 2.2 and 2.6 (the 2.5
    /// line kept PSK only) and is in every release from 3.0; AMT 19
    /// replaced it with the on-die CA flow. 2.3 and 2.4, of which nothing
    /// is known, are taken as PSK-only like their neighbours.
    pub fn pki_remote_configuration_era(&self) -> bool {
        let v = self.version();
        match v.major {
            0..=1 => false,
            2 => v.minor == 2 || v.minor >= 6,
            _ => !self.presents_odca_chain(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(v: &str) -> TlsOffer {
        FirmwareProfile::new(v.parse().expect("version")).tls_offer()
    }

    #[test]
    fn pki_remote_configuration_on_2_2_2_6_and_3_to_18() {
        let pki = |v: &str| FirmwareProfile::new(v.parse().expect("version"));
        for v in ["2.2.10", "2.6.0", "3.2.1", "8.1.71", "18.0.5"] {
            assert!(pki(v).pki_remote_configuration_era(), "{v}");
            assert!(!pki(v).psk_only_setup(), "{v}");
        }
        for v in ["2.0.0", "2.1.0", "2.5.3", "19.0.5"] {
            assert!(!pki(v).pki_remote_configuration_era(), "{v}");
        }
        for v in ["2.0.0", "2.1.0", "2.5.3"] {
            assert!(pki(v).psk_only_setup(), "{v}");
        }
    }

    #[test]
    fn only_16_1_and_later_fit_a_modern_stack() {
        for v in [
            "2.1.0", "8.1.0", "9.5.0", "11.8.50", "12.0.40", "15.0.23", "16.0.15",
        ] {
            assert!(offer(v).needs_legacy_stack(), "{v}");
        }
        for v in ["16.1.25", "19.0.5", "22.0.1"] {
            assert!(!offer(v).needs_legacy_stack(), "{v}");
        }
    }

    #[test]
    fn versions_follow_the_sdk() {
        assert_eq!(offer("11.8.50").versions, TLS10_11);
        assert_eq!(offer("12.0.40").versions, TLS11_12);
        assert_eq!(offer("15.0.23").versions, TLS12);
        assert_eq!(offer("16.1.25").versions, TLS12_13);
    }

    #[test]
    fn psk_up_to_10_and_renegotiation_on_9() {
        assert!(!offer("10.0.50").psk_suites.is_empty());
        assert!(offer("11.0.0").psk_suites.is_empty());
        assert!(offer("9.1.30").legacy_renegotiation);
        assert!(!offer("8.1.0").legacy_renegotiation);
    }
}
