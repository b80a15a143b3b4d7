//! PKI remote configuration (AMT 2.2/2.6/3.0 to 18): while in
//! provisioning the device sends "hello" packets to the provisioning
//! server on TCP 9971; the server connects back to 16993 over TLS with its
//! provisioning certificate chain as the client certificate, and the
//! device accepts it only if the chain ends in an enabled provisioning
//! root hash, the leaf carries the provisioning OID or OU, and the leaf's
//! CN lies in the device's DNS suffix (the checks `AdminSetup` applies to
//! `AddNextCertInChain`, reused here). AMT 19 replaced it with the on-die
//! CA flow (`odca`).
//!
//! Where the hello goes: the MEBx provisioning server setting (address or
//! host name, and port), else `provisionserver.<DNS suffix>` (the PKI DNS
//! suffix from MEBx, else DHCP option 15) on 9971. Hellos are sent at
//! once when provisioning starts, then every [`HELLO_INTERVAL_SECS`], and
//! stop after [`HELLO_WINDOW_SECS`] (six hours, as the OEM setup guides
//! say) until provisioning starts again.
//!
//! The hello, as MeshCentral's provisioning server reads it: u16 LE
//! admin-credentials-set, u16 LE hello version 3, u32 LE retry count, the
//! 16-byte UUID in SMBIOS order, u8 hash count, then per hash u8 type,
//! u8 size and the hash bytes (the enabled provisioning certificate
//! hashes).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::device::Device;
use crate::host_based_setup::{domain_matches, has_provisioning_marker, leaf_domain, parse};
use crate::provisioning::ProvisioningState;
use crate::provisioning_hashes::HashList;

/// The provisioning server's hello port.
pub const HELLO_PORT: u16 = 9971;
/// The hello version the firmware writes.
pub const HELLO_VERSION: u16 = 3;
/// Seconds between two hellos.
pub const HELLO_INTERVAL_SECS: u64 = 60;
/// How long after provisioning starts the device keeps saying hello.
pub const HELLO_WINDOW_SECS: u64 = 6 * 60 * 60;
/// The host name the device looks up under its DNS suffix.
pub const PROVISION_SERVER_HOST: &str = "provisionserver";
/// Longest chain a provisioning server may present.
pub const MAX_CHAIN: usize = crate::host_based_setup::MAX_CHAIN;

/// The MEBx "provisioning server" setting: an address or host name, and a
/// port (9971 unless set).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisioningServer {
    pub address: String,
    pub port: u16,
}

/// The device's PKI remote-configuration state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteConfiguration {
    /// The MEBx provisioning server, if one is set.
    #[serde(default)]
    pub server: Option<ProvisioningServer>,
    /// The emulated network's name table (host name, lower case, to
    /// address): `provisionserver.<suffix>` resolves here first, then
    /// through the system resolver.
    #[serde(default)]
    pub hosts: std::collections::BTreeMap<String, std::net::IpAddr>,
    /// A provisioning server has passed the TLS client-chain checks since
    /// provisioning started (firmware RAM: not persisted).
    #[serde(skip)]
    pub server_authenticated: bool,
}

/// Why a provisioning server's TLS client chain is refused.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum PkiRefusal {
    #[error("no client certificate")]
    NoCertificate,
    #[error("the chain is longer than the firmware accepts")]
    ChainTooLong,
    #[error("a certificate does not parse")]
    Malformed,
    #[error("a certificate is not signed by the next one in the chain")]
    BrokenChain,
    #[error("the root is not self-signed or its hash is not an enabled provisioning hash")]
    UntrustedRoot,
    #[error("the leaf has neither the provisioning OID nor the Client Setup OU")]
    NoProvisioningMarker,
    #[error("the leaf CN is not in the device's DNS suffix")]
    DomainMismatch,
    #[error("the device is not in provisioning with PKI remote configuration")]
    NotInProvisioning,
}

/// A snapshot of what a provisioning server's chain is checked against:
/// the provisioning certificate hashes and the DNS suffix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PkiTrust {
    pub hashes: HashList,
    pub dns_suffix: Option<String>,
}

impl PkiTrust {
    /// The verdict on a TLS client chain (DER, leaf first, root last),
    /// with the rule that failed.
    pub fn verdict(&self, chain: &[Vec<u8>]) -> Result<(), PkiRefusal> {
        let leaf_der = chain.first().ok_or(PkiRefusal::NoCertificate)?;
        if chain.len() > MAX_CHAIN {
            return Err(PkiRefusal::ChainTooLong);
        }
        let parsed = chain
            .iter()
            .map(|der| parse(der))
            .collect::<Option<Vec<_>>>()
            .ok_or(PkiRefusal::Malformed)?;
        for pair in parsed.windows(2) {
            if let [child, issuer] = pair {
                if child.issuer().as_raw() != issuer.subject().as_raw()
                    || child.verify_signature(Some(issuer.public_key())).is_err()
                {
                    return Err(PkiRefusal::BrokenChain);
                }
            }
        }
        let (Some(root), Some(root_der)) = (parsed.last(), chain.last()) else {
            return Err(PkiRefusal::NoCertificate);
        };
        let self_signed = root.subject().as_raw() == root.issuer().as_raw()
            && root.verify_signature(None).is_ok();
        if !self_signed || !self.hashes.trusts(root_der) {
            return Err(PkiRefusal::UntrustedRoot);
        }
        let leaf = parse(leaf_der).ok_or(PkiRefusal::Malformed)?;
        if !has_provisioning_marker(&leaf) {
            return Err(PkiRefusal::NoProvisioningMarker);
        }
        // As for AddNextCertInChain: no suffix, no domain check.
        let Some(suffix) = self.dns_suffix.as_deref() else {
            return Ok(());
        };
        match leaf_domain(&leaf) {
            Some(cn) if domain_matches(&cn, suffix) => Ok(()),
            _ => Err(PkiRefusal::DomainMismatch),
        }
    }
}

/// The wire bytes of one hello.
pub fn encode_hello(
    admin_credentials_set: bool,
    retry_count: u32,
    uuid_smbios: [u8; 16],
    hashes: &[(u8, &[u8])],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(25 + hashes.len() * 50);
    out.extend_from_slice(&u16::from(admin_credentials_set).to_le_bytes());
    out.extend_from_slice(&HELLO_VERSION.to_le_bytes());
    out.extend_from_slice(&retry_count.to_le_bytes());
    out.extend_from_slice(&uuid_smbios);
    // A u8 count: at most 255 hashes fit (the firmware holds far fewer).
    let hashes = &hashes[..hashes.len().min(255)];
    out.push(hashes.len() as u8);
    for (kind, hash) in hashes {
        out.push(*kind);
        out.push(hash.len().min(255) as u8);
        out.extend_from_slice(&hash[..hash.len().min(255)]);
    }
    out
}

/// Whether hello number `sent` (0 for the first) is due `elapsed_secs`
/// after provisioning started; `None` once the window has closed.
pub fn hello_due(sent: u32, elapsed_secs: u64) -> Option<bool> {
    if elapsed_secs >= HELLO_WINDOW_SECS {
        return None;
    }
    Some(elapsed_secs >= u64::from(sent) * HELLO_INTERVAL_SECS)
}

/// The 16 UUID bytes in SMBIOS order (the first three fields little-endian).
fn smbios_order(uuid: [u8; 16]) -> [u8; 16] {
    let mut out = uuid;
    out[0..4].reverse();
    out[4..6].reverse();
    out[6..8].reverse();
    out
}

impl Device {
    /// Whether this firmware has PKI remote configuration (2.2, 2.6 and
    /// later up to 18; AMT 19 replaced it with the on-die CA flow).
    pub fn has_pki_remote_configuration(&self) -> bool {
        self.profile.pki_remote_configuration_era()
    }

    /// Whether the device is saying hello: in provisioning, on a firmware
    /// with PKI remote configuration, not yet contacted by a server.
    pub fn pki_hello_armed(&self) -> bool {
        self.has_pki_remote_configuration()
            && self.provisioning_state == ProvisioningState::InProvisioning
            && !self.remote_configuration.server_authenticated
    }

    /// Where hellos go: the MEBx provisioning server, else
    /// `provisionserver.<DNS suffix>` on 9971; `None` without either.
    pub fn pki_hello_target(&self) -> Option<ProvisioningServer> {
        if let Some(server) = &self.remote_configuration.server {
            return Some(server.clone());
        }
        let suffix = self.provisioning_dns_suffix()?;
        let suffix = suffix.trim_matches('.');
        if suffix.is_empty() {
            return None;
        }
        Some(ProvisioningServer {
            address: format!("{PROVISION_SERVER_HOST}.{suffix}"),
            port: HELLO_PORT,
        })
    }

    /// The MEBx provisioning server setting.
    pub fn provisioning_server(&self) -> Option<&ProvisioningServer> {
        self.remote_configuration.server.as_ref()
    }

    /// Sets (or clears) the MEBx provisioning server.
    pub fn set_provisioning_server(&mut self, server: Option<ProvisioningServer>) {
        self.remote_configuration.server = server;
        self.note_persist();
    }

    /// The emulated network's name table.
    pub fn network_hosts(&self) -> &std::collections::BTreeMap<String, std::net::IpAddr> {
        &self.remote_configuration.hosts
    }

    /// Replaces the emulated network's name table.
    pub fn set_network_hosts(
        &mut self,
        hosts: std::collections::BTreeMap<String, std::net::IpAddr>,
    ) {
        self.remote_configuration.hosts = hosts
            .into_iter()
            .map(|(k, v)| (k.trim_end_matches('.').to_ascii_lowercase(), v))
            .collect();
        self.note_persist();
    }

    /// A name from the emulated network's table.
    pub fn resolve_network_host(&self, name: &str) -> Option<std::net::IpAddr> {
        self.remote_configuration
            .hosts
            .get(&name.trim_end_matches('.').to_ascii_lowercase())
            .copied()
    }

    /// Hello number `retry_count` (0 for the first) as the device sends it.
    pub fn hello_packet(&self, retry_count: u32) -> Vec<u8> {
        let hashes: Vec<(u8, &[u8])> = self
            .hashes
            .entries
            .iter()
            .filter(|e| e.enabled)
            .map(|e| (e.hash_type.as_u8(), e.hash.as_slice()))
            .collect();
        encode_hello(
            self.admin_password_ha1.is_some(),
            retry_count,
            smbios_order(self.uuid),
            &hashes,
        )
    }

    /// The verdict on a provisioning server's TLS client chain (DER, leaf
    /// first, root last), with the rule that failed.
    pub fn pki_client_chain_verdict(&self, chain: &[Vec<u8>]) -> Result<(), PkiRefusal> {
        self.pki_trust_snapshot().verdict(chain)
    }

    fn pki_trust_snapshot(&self) -> PkiTrust {
        PkiTrust {
            hashes: self.hashes.clone(),
            dns_suffix: self.provisioning_dns_suffix(),
        }
    }

    /// What the TLS stack checks a provisioning server's client chain
    /// against, while the device is in provisioning on a firmware with PKI
    /// remote configuration; `None` otherwise (no client certificate is
    /// asked for).
    pub fn pki_trust(&self) -> Option<PkiTrust> {
        self.awaits_pki_server().then(|| self.pki_trust_snapshot())
    }

    /// Whether the TLS stack asks network clients for a provisioning
    /// chain now: in provisioning, on a firmware with PKI remote
    /// configuration ([`Device::pki_trust`] without the snapshot).
    pub fn awaits_pki_server(&self) -> bool {
        self.has_pki_remote_configuration()
            && self.provisioning_state == ProvisioningState::InProvisioning
    }

    /// A provisioning server connected with `chain`: if it passes, it may
    /// log in as `admin` with an empty password over that connection, and
    /// the device stops saying hello.
    pub fn accept_pki_provisioning_server(&mut self, chain: &[Vec<u8>]) -> Result<(), PkiRefusal> {
        if !self.has_pki_remote_configuration()
            || self.provisioning_state != ProvisioningState::InProvisioning
        {
            return Err(PkiRefusal::NotInProvisioning);
        }
        self.pki_client_chain_verdict(chain)?;
        self.remote_configuration.server_authenticated = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hello_is_laid_out_as_the_provisioning_server_reads_it() {
        let uuid = [
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ];
        let sha256 = [7u8; 32];
        let bytes = encode_hello(false, 2, smbios_order(uuid), &[(2, &sha256)]);
        assert_eq!(&bytes[0..2], &[0, 0]);
        assert_eq!(&bytes[2..4], &[3, 0]);
        assert_eq!(&bytes[4..8], &[2, 0, 0, 0]);
        assert_eq!(
            &bytes[8..24],
            &[
                0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
                0xee, 0xff
            ]
        );
        assert_eq!(bytes[24], 1);
        assert_eq!(&bytes[25..27], &[2, 32]);
        assert_eq!(&bytes[27..], &sha256);
        assert_eq!(encode_hello(true, 0, uuid, &[])[0..2], [1, 0]);
    }

    #[test]
    fn hellos_repeat_every_interval_and_stop_after_the_window() {
        assert_eq!(hello_due(0, 0), Some(true));
        assert_eq!(hello_due(1, 0), Some(false));
        assert_eq!(hello_due(1, HELLO_INTERVAL_SECS), Some(true));
        assert_eq!(hello_due(2, HELLO_INTERVAL_SECS + 1), Some(false));
        assert_eq!(hello_due(3, HELLO_WINDOW_SECS), None);
    }
}
