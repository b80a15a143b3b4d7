//! Scenario files: a whole device described in TOML, so a QA engineer can
//! hand a reproducible device to someone else (`serve --scenario FILE`).
//! The format is documented in docs/testing-with-amt-emu.md; examples are
//! in fixtures/scenarios/.

use std::path::Path;

use amt_device::{BiosClock, ControlMode, Device, FirmwareVersion, HashType};
use serde::Deserialize;
use thiserror::Error;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::faults::FaultRule;
use crate::EmulatorConfig;

#[derive(Debug, Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("scenario {path} is not valid: {message}")]
    Invalid { path: String, message: String },
}

/// A scenario file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the scenario reproduces, for people.
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub device: DeviceSpec,
    #[serde(default)]
    pub faults: Vec<FaultRule>,
    /// The `[hardware]` table: overrides of the default machine.
    #[serde(default)]
    pub hardware: amt_device::hardware::HardwareSpec,
}

/// The device part of a scenario. Everything is optional; what is left out
/// is as a new device has it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSpec {
    pub firmware: Option<String>,
    pub seed: Option<u64>,
    /// `host`, `unset` or an RFC 3339 time.
    pub bios_time: Option<String>,
    /// `Digest:` + 32 upper-case hex digits.
    pub digest_realm: Option<String>,
    /// `none` (default), `client` or `admin`; client and admin need
    /// `admin_password`.
    pub control_mode: Option<String>,
    pub admin_password: Option<String>,
    pub mebx_password: Option<String>,
    pub pki_dns_suffix: Option<String>,
    pub dhcp_dns_suffix: Option<String>,
    pub host_name: Option<String>,
    pub domain_name: Option<String>,
    #[serde(default)]
    pub network_access: Option<bool>,
    /// The LAN and the network settings held (docs/testing-with-amt-emu.md).
    pub network: Option<amt_device::network::NetworkSpec>,
    #[serde(default)]
    pub custom_hashes: Vec<CustomHash>,
    /// PEM certificates added as trusted roots.
    #[serde(default)]
    pub trusted_root_certificates: Vec<String>,
    /// The host's power state: `on` (default), `sleep`, `hibernate`,
    /// `soft-off` or `mechanical-off`.
    pub host_power: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomHash {
    /// `sha1`, `sha256` (default) or `sha384`.
    #[serde(default)]
    pub hash_type: Option<String>,
    /// Hex.
    pub hash: String,
    pub description: String,
}

impl Scenario {
    /// Reads a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ScenarioError::Invalid {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses and checks a scenario text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let s: Scenario = toml::from_str(text).map_err(|e| e.to_string())?;
        s.firmware()?;
        s.bios_clock(OffsetDateTime::now_utc())?;
        s.control_mode()?;
        if s.control_mode()? != ControlMode::None && s.device.admin_password.is_none() {
            return Err("control_mode client or admin needs admin_password".into());
        }
        for h in &s.device.custom_hashes {
            parse_hash(h)?;
        }
        s.host_power()?;
        s.hardware.validate().map_err(|e| e.to_string())?;
        if let Some(network) = &s.device.network {
            amt_device::network::Network::default()
                .apply_spec(network)
                .map_err(|e| format!("network: {e}"))?;
        }
        Ok(s)
    }

    fn firmware(&self) -> Result<Option<FirmwareVersion>, String> {
        self.device
            .firmware
            .as_deref()
            .map(|v| {
                v.parse()
                    .map_err(|e: amt_device::DeviceError| e.to_string())
            })
            .transpose()
    }

    fn bios_clock(&self, now: OffsetDateTime) -> Result<Option<BiosClock>, String> {
        match self.device.bios_time.as_deref() {
            None => Ok(None),
            Some("host") => Ok(Some(BiosClock::Host)),
            Some("unset") => Ok(Some(BiosClock::Unset)),
            Some(t) => OffsetDateTime::parse(t, &Rfc3339)
                .map(|at| Some(BiosClock::set(at, now)))
                .map_err(|e| format!("bios_time: {e}")),
        }
    }

    fn control_mode(&self) -> Result<ControlMode, String> {
        match self.device.control_mode.as_deref() {
            None | Some("none") => Ok(ControlMode::None),
            Some("client") => Ok(ControlMode::Client),
            Some("admin") => Ok(ControlMode::Admin),
            Some(other) => Err(format!(
                "control_mode {other:?}: expected none, client or admin"
            )),
        }
    }

    fn host_power(&self) -> Result<Option<amt_device::PowerState>, String> {
        self.device
            .host_power
            .as_deref()
            .map(|p| {
                amt_device::PowerState::from_name(p).ok_or_else(|| {
                    format!(
                        "host_power {p:?}: expected on, sleep, hibernate, soft-off or mechanical-off"
                    )
                })
            })
            .transpose()
    }

    /// Puts the scenario's start-up options into `config`, where the
    /// config does not already set them (command-line options win).
    pub fn configure(&self, config: &mut EmulatorConfig) -> Result<(), String> {
        if config.firmware.is_none() {
            config.firmware = self.firmware()?;
        }
        if config.seed.is_none() {
            config.seed = self.device.seed;
        }
        if config.bios_clock.is_none() {
            config.bios_clock = self.bios_clock(OffsetDateTime::now_utc())?;
        }
        config.faults.extend(self.faults.iter().cloned());
        config.scenario = Some(self.clone());
        Ok(())
    }

    /// Shapes a brand-new device as the scenario describes.
    pub fn setup_new_device(&self, device: &mut Device) -> Result<(), String> {
        let d = &self.device;
        device.set_hardware(self.hardware.clone());
        if let Some(realm) = &d.digest_realm {
            device.set_digest_realm(realm).map_err(|_| {
                format!("digest_realm {realm:?} must be Digest: and 32 upper-case hex digits")
            })?;
        }
        if let Some(suffix) = &d.pki_dns_suffix {
            device.set_pki_dns_suffix(Some(suffix.clone()));
        }
        if let Some(suffix) = &d.dhcp_dns_suffix {
            device.set_dhcp_dns_suffix(Some(suffix.clone()));
        }
        if d.host_name.is_some() || d.domain_name.is_some() {
            device.set_host_and_domain_name(
                d.host_name.as_deref().unwrap_or(""),
                d.domain_name.as_deref().unwrap_or(""),
            );
        }
        if let Some(enabled) = d.network_access {
            device.set_network_access(enabled);
        }
        if let Some(network) = &d.network {
            device
                .set_network(network)
                .map_err(|e| format!("network: {e}"))?;
        }
        for h in &d.custom_hashes {
            let (ty, bytes) = parse_hash(h)?;
            device
                .add_custom_provisioning_hash(ty, bytes, &h.description)
                .map_err(|s| format!("custom hash {:?}: {s}", h.description))?;
        }
        for (i, pem) in d.trusted_root_certificates.iter().enumerate() {
            let der = pem_to_der(pem).ok_or_else(|| {
                format!("trusted_root_certificates[{i}] is not a PEM certificate")
            })?;
            device
                .add_trusted_root_certificate(&der)
                .map_err(|s| format!("trusted_root_certificates[{i}]: {s}"))?;
        }
        if let Some(pw) = &d.mebx_password {
            device
                .set_mebx_password(pw)
                .map_err(|s| format!("mebx_password: {s}"))?;
        }
        if let Some(state) = self.host_power()? {
            device.set_initial_power_state(state);
        }
        let mode = self.control_mode()?;
        if let (true, Some(pw)) = (mode != ControlMode::None, &d.admin_password) {
            device.provision_for_testing(mode, pw);
        }
        Ok(())
    }
}

fn parse_hash(h: &CustomHash) -> Result<(HashType, Vec<u8>), String> {
    let ty = match h.hash_type.as_deref().unwrap_or("sha256") {
        "sha1" => HashType::Sha1,
        "sha256" => HashType::Sha256,
        "sha384" => HashType::Sha384,
        other => {
            return Err(format!(
                "hash_type {other:?}: expected sha1, sha256 or sha384"
            ))
        }
    };
    let bytes = hex::decode(h.hash.trim()).map_err(|e| format!("hash {:?}: {e}", h.description))?;
    if bytes.len() != ty.digest_len() {
        return Err(format!(
            "hash {:?} has {} bytes, not {}",
            h.description,
            bytes.len(),
            ty.digest_len()
        ));
    }
    Ok((ty, bytes))
}

fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let start = pem.find("-----BEGIN CERTIFICATE-----")? + "-----BEGIN CERTIFICATE-----".len();
    let end = pem[start..].find("-----END CERTIFICATE-----")? + start;
    let b64: String = pem[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_scenario_parses() {
        let s = Scenario::parse(
            r#"
description = "CCM device with a custom root hash and a dropped CommitChanges"
[device]
firmware = "16.1.25"
seed = 7
bios_time = "unset"
control_mode = "client"
admin_password = "P@ssw0rd"
pki_dns_suffix = "vpro.example.test"
[[device.custom_hashes]]
hash = "0000000000000000000000000000000000000000000000000000000000000001"
description = "Lab root"
[[faults]]
operation = "CommitChanges"
kind = "drop_after_response"
times = 1
"#,
        )
        .unwrap();
        assert_eq!(s.device.seed, Some(7));
        assert_eq!(s.faults.len(), 1);
    }

    #[test]
    fn connection_scoped_and_port_restart_rules_parse() {
        let s = Scenario::parse(
            r#"
[[faults]]
kind = "drop_before_response"
first_on_connection = true
tls_version = "1.3"
times = 1
[[faults]]
operation = "CommitChanges"
kind = "restart_ports"
seconds = 5
"#,
        )
        .unwrap();
        let scope = &s.faults[0].scope;
        assert!(scope.first_on_connection);
        assert_eq!(scope.tls_version, Some(crate::tls::TlsVersion::Tls1_3));
        assert_eq!(
            s.faults[1].kind,
            crate::faults::FaultKind::RestartPorts { seconds: 5 }
        );
        let e = Scenario::parse("[[faults]]\nkind = \"stall\"\ntls_version = \"1.4\"").unwrap_err();
        assert!(e.contains("tls_version"), "{e}");
    }

    #[test]
    fn mistakes_are_named() {
        for (text, needle) in [
            ("[device]\nfirmware = \"banana\"", "banana"),
            ("[device]\nbios_time = \"yesterday\"", "bios_time"),
            ("[device]\ncontrol_mode = \"client\"", "admin_password"),
            ("[device]\nunknown_key = 1", "unknown"),
            (
                "[[device.custom_hashes]]\nhash = \"00\"\ndescription = \"x\"",
                "bytes",
            ),
            ("[hardware.chassis]\ncolour = \"red\"", "colour"),
            (
                "[hardware.bios]\nrelease_date = \"May 2023\"",
                "release_date",
            ),
        ] {
            let e = Scenario::parse(text).unwrap_err();
            assert!(e.contains(needle), "{e}");
        }
    }
}
