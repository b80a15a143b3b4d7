//! The flash image: how a device is persisted.
//!
//! Format version 1 (docs/persistence.md):
//!
//! ```text
//! AMT-EMU-FLASH 1\n
//! sha256 <64 lower-case hex digits of the payload>\n
//! \n
//! <payload: one JSON object, UTF-8>
//! ```
//!
//! The header makes a torn or edited file detectable before any field is
//! believed; the JSON keeps the image readable and diffable. Binary values
//! (certificates, PKCS#8 keys, nonces) are standard base64 strings. The
//! image holds private keys: it is the only place they leave the device.

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::accounts::Accounts;
use crate::audit_log::AuditLog;
use crate::cert_store::{CertStore, CertStoreImage};
use crate::clock::BiosClock;
use crate::device::{Device, Entropy};
use crate::error::DeviceError;
use crate::hardware::Hardware;
use crate::host::HostMachine;
use crate::host_based_setup::ProvisioningChain;
use crate::message_log::MessageLog;
use crate::network::Network;
use crate::profile::{FirmwareProfile, FirmwareVersion};
use crate::provisioning::{ControlMode, ProvisioningState};
use crate::provisioning_hashes::HashList;
use crate::redirection::RedirectionSettings;
use crate::remote_access::RemoteAccess;
use crate::subscriptions::Subscriptions;
use crate::tls_settings::{ActiveTls, TlsSettings};
use crate::user_consent::UserConsent;
use rand::rngs::ChaCha20Rng;
use rand::SeedableRng;

/// First token of every image.
pub const MAGIC: &str = "AMT-EMU-FLASH";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Bytes stored as a base64 string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Base64(pub Vec<u8>);

impl Serialize for Base64 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Base64 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map(Base64)
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceImage {
    firmware_version: FirmwareVersion,
    uuid: String,
    digest_realm: String,
    provisioning_state: ProvisioningState,
    control_mode: ControlMode,
    bios_clock: BiosClock,
    admin_password_ha1: Option<String>,
    configuration_nonce: Base64,
    host_name: String,
    domain_name: String,
    tls_settings: TlsSettings,
    tls_credential_context: Option<u32>,
    active_tls: ActiveTls,
    provisioning_hashes: HashList,
    pki_dns_suffix: Option<String>,
    dhcp_dns_suffix: Option<String>,
    mebx_password_sha256: Option<String>,
    local_system_password: String,
    network_access_enabled: bool,
    cert_store: CertStoreImage,
    // Parts added after format 1 was first written: absent means factory.
    #[serde(default)]
    host: HostMachine,
    #[serde(default)]
    hardware: Hardware,
    #[serde(default)]
    message_log: MessageLog,
    #[serde(default)]
    network: Network,
    #[serde(default)]
    accounts: Accounts,
    #[serde(default)]
    user_consent: UserConsent,
    #[serde(default)]
    redirection: RedirectionSettings,
    #[serde(default)]
    remote_access: RemoteAccess,
    #[serde(default)]
    audit_log: AuditLog,
    #[serde(default)]
    subscriptions: Subscriptions,
    #[serde(default)]
    remote_configuration: crate::remote_configuration::RemoteConfiguration,
    #[serde(default, skip_serializing_if = "crate::psk_setup::PskSetup::is_unset")]
    psk_setup: crate::psk_setup::PskSetup,
}

/// Serialises a device into a flash image.
pub fn encode(device: &Device) -> Vec<u8> {
    let image = DeviceImage {
        firmware_version: device.profile.version(),
        uuid: device.uuid(),
        digest_realm: device.digest_realm.clone(),
        provisioning_state: device.provisioning_state,
        control_mode: device.control_mode,
        bios_clock: device.bios_clock,
        admin_password_ha1: device.admin_password_ha1.map(hex::encode),
        configuration_nonce: Base64(device.configuration_nonce.to_vec()),
        host_name: device.host_name.clone(),
        domain_name: device.domain_name.clone(),
        tls_settings: device.tls.clone(),
        tls_credential_context: device.tls_credential_context,
        active_tls: device.active_tls.clone(),
        provisioning_hashes: device.hashes.clone(),
        pki_dns_suffix: device.pki_dns_suffix.clone(),
        dhcp_dns_suffix: device.dhcp_dns_suffix.clone(),
        mebx_password_sha256: device.mebx_password_hash.map(hex::encode),
        local_system_password: device.local_system_password.clone(),
        network_access_enabled: device.network_access_enabled,
        cert_store: device.certs.to_image(),
        host: device.host.clone(),
        hardware: device.hardware.clone(),
        message_log: device.message_log.clone(),
        network: device.network.clone(),
        accounts: device.accounts.clone(),
        user_consent: device.user_consent.clone(),
        redirection: device.redirection.clone(),
        remote_access: device.remote_access.clone(),
        audit_log: device.audit_log.clone(),
        subscriptions: device.subscriptions.clone(),
        remote_configuration: device.remote_configuration.clone(),
        psk_setup: device.psk_setup.clone(),
    };
    // Serialising plain data into a Vec cannot fail.
    let payload = serde_json::to_vec_pretty(&image).unwrap_or_default();
    let mut out = format!(
        "{MAGIC} {FORMAT_VERSION}\nsha256 {}\n\n",
        hex::encode(Sha256::digest(&payload))
    )
    .into_bytes();
    out.extend_from_slice(&payload);
    out.push(b'\n');
    out
}

/// Reads a flash image back into a device. `entropy` reseeds the
/// device's random generator (it is not part of the image).
pub fn decode(bytes: &[u8], entropy: Entropy) -> Result<Device, DeviceError> {
    let corrupt = |m: &str| DeviceError::CorruptFlash(m.to_string());
    let (line1, rest) = split_line(bytes).ok_or_else(|| corrupt("missing header line"))?;
    let line1 = std::str::from_utf8(line1).map_err(|_| corrupt("header is not UTF-8"))?;
    let version = line1
        .strip_prefix(MAGIC)
        .and_then(|v| v.strip_prefix(' '))
        .ok_or_else(|| corrupt("not an amt-emu flash image (bad magic)"))?;
    let version: u32 = version.parse().map_err(|_| corrupt("bad format version"))?;
    if version != FORMAT_VERSION {
        return Err(DeviceError::UnsupportedFlashVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let (line2, rest) = split_line(rest).ok_or_else(|| corrupt("missing checksum line"))?;
    let sum = std::str::from_utf8(line2)
        .ok()
        .and_then(|l| l.strip_prefix("sha256 "))
        .ok_or_else(|| corrupt("bad checksum line"))?;
    let (blank, payload) = split_line(rest).ok_or_else(|| corrupt("missing payload"))?;
    if !blank.is_empty() {
        return Err(corrupt("missing blank line after header"));
    }
    let payload = payload.strip_suffix(b"\n").unwrap_or(payload);
    if hex::encode(Sha256::digest(payload)) != sum {
        return Err(corrupt(
            "checksum mismatch: the image is torn or was edited",
        ));
    }
    let image: DeviceImage = serde_json::from_slice(payload)
        .map_err(|e| DeviceError::CorruptFlash(format!("payload: {e}")))?;
    from_image(image, entropy)
}

fn split_line(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = b.iter().position(|c| *c == b'\n')?;
    Some((&b[..i], &b[i + 1..]))
}

fn from_image(image: DeviceImage, entropy: Entropy) -> Result<Device, DeviceError> {
    let corrupt = |m: String| DeviceError::CorruptFlash(m);
    let uuid_hex: String = image.uuid.chars().filter(|c| *c != '-').collect();
    let uuid_bytes =
        hex::decode(&uuid_hex).map_err(|_| corrupt(format!("bad uuid {:?}", image.uuid)))?;
    let uuid: [u8; 16] = uuid_bytes
        .try_into()
        .map_err(|_| corrupt(format!("bad uuid {:?}", image.uuid)))?;
    let realm_ok = image.digest_realm.strip_prefix("Digest:").is_some_and(|h| {
        h.len() == 32
            && h.chars()
                .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c))
    });
    if !realm_ok {
        return Err(corrupt(format!(
            "bad digest realm {:?}",
            image.digest_realm
        )));
    }
    let admin_password_ha1 = match image.admin_password_ha1 {
        None => None,
        Some(h) => Some(
            hex::decode(&h)
                .ok()
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
                .ok_or_else(|| corrupt("bad admin_password_ha1".into()))?,
        ),
    };
    let configuration_nonce: [u8; 20] = image
        .configuration_nonce
        .0
        .try_into()
        .map_err(|_| corrupt("configuration_nonce must be 20 bytes".into()))?;
    let mebx_password_hash = match image.mebx_password_sha256 {
        None => None,
        Some(h) => Some(
            hex::decode(&h)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| corrupt("bad mebx_password_sha256".into()))?,
        ),
    };
    if image.local_system_password.len() != 32 {
        return Err(corrupt(
            "local_system_password must be 32 characters".into(),
        ));
    }
    let certs = CertStore::from_image(image.cert_store)?;
    if let Some(ctx) = image.tls_credential_context {
        if certs.certificate(ctx).is_none() {
            return Err(corrupt(format!(
                "tls_credential_context names missing certificate {ctx}"
            )));
        }
    }
    image.accounts.check().map_err(corrupt)?;
    let mut device = Device {
        profile: FirmwareProfile::new(image.firmware_version),
        uuid,
        digest_realm: image.digest_realm,
        provisioning_state: image.provisioning_state,
        control_mode: image.control_mode,
        bios_clock: image.bios_clock,
        admin_password_ha1,
        configuration_nonce,
        host_name: image.host_name,
        domain_name: image.domain_name,
        certs,
        tls: image.tls_settings,
        tls_credential_context: image.tls_credential_context,
        active_tls: image.active_tls,
        hashes: image.provisioning_hashes,
        pki_dns_suffix: image.pki_dns_suffix,
        dhcp_dns_suffix: image.dhcp_dns_suffix,
        mebx_password_hash,
        local_system_password: image.local_system_password,
        network_access_enabled: image.network_access_enabled,
        chain: ProvisioningChain::default(),
        odca: None,
        odca_leaf_index: 0,
        secure_configuration: None,
        rng: crate::device::DeviceRng(ChaCha20Rng::from_seed(entropy.0)),
        host: image.host,
        hardware: image.hardware,
        message_log: image.message_log,
        network: image.network,
        accounts: image.accounts,
        user_consent: image.user_consent,
        redirection: image.redirection,
        remote_access: image.remote_access,
        audit_log: image.audit_log,
        subscriptions: image.subscriptions,
        remote_configuration: image.remote_configuration,
        psk_setup: image.psk_setup,
        console: Default::default(),
        effects: crate::effects::Effects::default(),
    };
    device.build_odca_chain()?;
    Ok(device.with_console_restored())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::DeviceConfig;
    use time::macros::datetime;

    fn device() -> Device {
        let mut d = Device::new(
            DeviceConfig::default(),
            Entropy::from_seed(11),
            datetime!(2026-11-29 10:00:00 UTC),
        )
        .unwrap();
        d.provision_client_for_testing("pw");
        d
    }

    #[test]
    fn round_trip_keeps_everything() {
        let d = device();
        let image = encode(&d);
        let back = decode(&image, Entropy::from_seed(99)).unwrap();
        assert_eq!(encode(&back), image);
        assert_eq!(back.digest_realm(), d.digest_realm());
        assert_eq!(back.cert_store(), d.cert_store());
        assert_eq!(back.admin_password_ha1(), d.admin_password_ha1());
    }

    #[test]
    fn torn_images_are_refused() {
        let image = encode(&device());
        for cut in [0, 5, 20, 90, image.len() / 2, image.len() - 3] {
            let err = decode(&image[..cut], Entropy::from_seed(1)).unwrap_err();
            assert!(
                matches!(err, DeviceError::CorruptFlash(_)),
                "cut at {cut}: {err}"
            );
        }
    }

    #[test]
    fn flipped_bytes_are_refused() {
        let mut image = encode(&device());
        let n = image.len();
        image[n - 40] ^= 0x01;
        assert!(matches!(
            decode(&image, Entropy::from_seed(1)),
            Err(DeviceError::CorruptFlash(_))
        ));
    }

    #[test]
    fn other_versions_are_named() {
        let image = encode(&device());
        let s = String::from_utf8(image)
            .unwrap()
            .replacen("AMT-EMU-FLASH 1", "AMT-EMU-FLASH 7", 1);
        assert!(matches!(
            decode(s.as_bytes(), Entropy::from_seed(1)),
            Err(DeviceError::UnsupportedFlashVersion {
                found: 7,
                supported: 1
            })
        ));
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        for junk in [
            &b""[..],
            b"\n\n\n",
            b"AMT-EMU-FLASH 1\nsha256 00\n\n{}",
            b"\xff\xfe\n",
        ] {
            assert!(decode(junk, Entropy::from_seed(1)).is_err());
        }
    }
}
