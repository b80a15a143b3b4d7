//! TLS-PSK setup (AMT 2 to 10): a PID and PPS entered in MEBx or read from
//! a USB setup file; the setup server then reaches the device over TLS-PSK
//! and configures it over WS-Man through that connection.
//!
//! Facts (docs/tls-psk.md): the PID has 8 characters and the PPS 32 (shown
//! with a dash every 4). The setup server "uses the PPS and PID to generate
//! the TLS pre-master secret" (Intel AMT SDK, PSK/PKI automatic
//! configuration; vendor setup guides), which is TLS-PSK (RFC 4279) with
//! the PID as PSK identity. No public source gives a key derivation beyond
//! that, so the plainest reading is taken: the PSK is the 32 PPS
//! characters themselves, as ASCII bytes (RFC 4279 §5.3 treats a PSK
//! entered as text that way). After setup the pair is spent: the device no
//! longer accepts it. AMT 11 refuses PSK; AMT 2.x knows no other setup and
//! starts none while the MEBx password is the factory default.

use serde::{Deserialize, Serialize};

use crate::device::Device;
use crate::provisioning::{ControlMode, ProvisioningState};
use crate::status::PtStatus;

/// The PID and PPS a PSK setup is waiting with (persisted).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PskSetup {
    /// Provisioning ID, 8 characters, dashes removed.
    pub pid: Option<String>,
    /// Provisioning pass phrase, 32 characters, dashes removed.
    pub pps: Option<String>,
}

impl PskSetup {
    /// No pair set (the flash image then leaves the part out).
    pub fn is_unset(&self) -> bool {
        self.pid.is_none() && self.pps.is_none()
    }
}

/// A TLS-PSK identity and key for the TLS listener.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsPsk {
    pub identity: String,
    pub key: Vec<u8>,
}

impl std::fmt::Debug for TlsPsk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsPsk")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// The characters of a PID or PPS without the dashes it is printed with;
/// `None` unless exactly `len` letters and digits remain.
fn normalize(text: &str, len: usize) -> Option<String> {
    let s: String = text.chars().filter(|c| *c != '-').collect();
    (s.len() == len && s.chars().all(|c| c.is_ascii_alphanumeric())).then_some(s)
}

impl Device {
    /// MEBx (or a USB setup file): sets the PID and PPS and starts a PSK
    /// setup, which puts the device in provisioning. Refused from AMT 11
    /// (`NOT_PERMITTED`), once provisioned (`INVALID_PROVISIONING_STATE`),
    /// on AMT 2.x while the MEBx password is the default
    /// (`NOT_PERMITTED`), and for a malformed pair (`INVALID_PARAMETER`).
    pub fn set_psk_pair(&mut self, pid: &str, pps: &str) -> Result<(), PtStatus> {
        if !self.profile.accepts_psk_setup() {
            return Err(PtStatus::NOT_PERMITTED);
        }
        if self.provisioning_state == ProvisioningState::PostProvisioning {
            return Err(PtStatus::INVALID_PROVISIONING_STATE);
        }
        if self.profile.psk_only_setup() && self.mebx_password_hash.is_none() {
            return Err(PtStatus::NOT_PERMITTED);
        }
        let (Some(pid), Some(pps)) = (normalize(pid, 8), normalize(pps, 32)) else {
            return Err(PtStatus::INVALID_PARAMETER);
        };
        self.psk_setup = PskSetup {
            pid: Some(pid),
            pps: Some(pps),
        };
        self.provisioning_state = ProvisioningState::InProvisioning;
        // The TLS listener arms PSK (and opens 16993 without a certificate).
        self.note_tls_changed();
        Ok(())
    }

    /// The pair a PSK setup waits with, if any.
    pub fn psk_setup(&self) -> &PskSetup {
        &self.psk_setup
    }

    /// The PSK the TLS listener accepts now: only while a PSK setup is
    /// in progress on firmware that has PSK.
    pub fn tls_psk(&self) -> Option<TlsPsk> {
        if !self.profile.accepts_psk_setup()
            || self.provisioning_state != ProvisioningState::InProvisioning
        {
            return None;
        }
        let (Some(pid), Some(pps)) = (&self.psk_setup.pid, &self.psk_setup.pps) else {
            return None;
        };
        Some(TlsPsk {
            identity: pid.clone(),
            key: pps.as_bytes().to_vec(),
        })
    }

    /// On PSK firmware the MEBx password is the network `admin` password
    /// until setup replaces it: the setup server logs in with it.
    pub(crate) fn mebx_password_is_admin_password(&mut self, password: &str) {
        if self.profile.accepts_psk_setup()
            && self.provisioning_state != ProvisioningState::PostProvisioning
        {
            self.admin_password_ha1 = Some(self.digest_ha1(crate::device::ADMIN_USER, password));
        }
    }

    /// CommitChanges at the end of a PSK setup: the device is provisioned
    /// (admin control mode, the only mode of PSK and PKI remote setup) and
    /// the PID/PPS are spent. `false` when no PSK setup is in progress.
    pub(crate) fn complete_psk_setup(&mut self) -> Result<bool, PtStatus> {
        if self.tls_psk().is_none() {
            return Ok(false);
        }
        let Some(ha1) = self.admin_password_ha1 else {
            return Err(PtStatus::NOT_PERMITTED);
        };
        self.psk_setup = PskSetup::default();
        self.complete_provisioning(ControlMode::Admin, ha1);
        self.note_tls_changed();
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{DeviceConfig, Entropy};
    use crate::profile::FirmwareProfile;
    use time::macros::datetime;

    const PID: &str = "AB12-CD34";
    const PPS: &str = "QW12-ER34-TY56-UI78-OP90-AS12-DF34-GH56";

    fn device(version: &str) -> Device {
        Device::new(
            DeviceConfig {
                profile: FirmwareProfile::new(version.parse().unwrap()),
                bios_clock: Default::default(),
            },
            Entropy([3; 32]),
            datetime!(2026-01-01 00:00 UTC),
        )
        .unwrap()
    }

    #[test]
    fn amt_8_arms_psk_with_the_pid_and_the_pps_text() {
        let mut d = device("8.1.40");
        d.set_psk_pair(PID, PPS).unwrap();
        assert_eq!(d.provisioning_state(), ProvisioningState::InProvisioning);
        let psk = d.tls_psk().unwrap();
        assert_eq!(psk.identity, "AB12CD34");
        assert_eq!(psk.key, b"QW12ER34TY56UI78OP90AS12DF34GH56");
        assert!(d.take_effects().tls_changed);
    }

    #[test]
    fn malformed_pairs_are_refused() {
        let mut d = device("8.1.40");
        for (pid, pps) in [("AB12CD3", PPS), (PID, "short"), ("AB12CD3!", PPS)] {
            assert_eq!(
                d.set_psk_pair(pid, pps),
                Err(PtStatus::INVALID_PARAMETER),
                "{pid} {pps}"
            );
        }
        assert!(d.tls_psk().is_none());
    }

    #[test]
    fn the_pair_survives_a_restart() {
        let mut d = device("8.1.40");
        d.set_psk_pair(PID, PPS).unwrap();
        let back = crate::flash::decode(&crate::flash::encode(&d), Entropy([4; 32])).unwrap();
        assert_eq!(back.tls_psk(), d.tls_psk());
        // A device without a pair writes no PSK part at all.
        let plain = device("8.1.40");
        assert!(!String::from_utf8_lossy(&crate::flash::encode(&plain)).contains("psk_setup"));
    }

    #[test]
    fn amt_11_refuses_psk() {
        let mut d = device("11.8.50");
        assert_eq!(d.set_psk_pair(PID, PPS), Err(PtStatus::NOT_PERMITTED));
        assert!(d.tls_psk().is_none());
    }

    #[test]
    fn amt_2_waits_for_a_changed_mebx_password() {
        let mut d = device("2.1.0");
        assert_eq!(d.set_psk_pair(PID, PPS), Err(PtStatus::NOT_PERMITTED));
        d.set_mebx_password("Chang3d!pw").unwrap();
        d.set_psk_pair(PID, PPS).unwrap();
        assert!(d.tls_psk().is_some());
    }

    #[test]
    fn commit_completes_the_setup_and_spends_the_pair() {
        let mut d = device("8.1.40");
        d.set_mebx_password("Chang3d!pw").unwrap();
        d.set_psk_pair(PID, PPS).unwrap();
        d.commit_changes().unwrap();
        assert_eq!(d.provisioning_state(), ProvisioningState::PostProvisioning);
        assert_eq!(d.control_mode(), ControlMode::Admin);
        assert!(d.tls_psk().is_none());
        assert_eq!(d.psk_setup(), &PskSetup::default());
        assert_eq!(
            d.set_psk_pair(PID, PPS),
            Err(PtStatus::INVALID_PROVISIONING_STATE)
        );
    }
}
