//! Provisioning through `IPS_HostBasedSetupService`: client control mode
//! (`Setup`), the provisioning certificate chain (`AddNextCertInChain`),
//! admin control mode (`AdminSetup`, `UpgradeClientToAdmin`), and the
//! related `AMT_SetupAndConfigurationService` / `AMT_AuthorizationService`
//! calls (`Unprovision`, `SetMEBxPassword`, `SetAdminAclEntryEx`).
//!
//! IPS_HostBasedSetupService methods answer with their own small status
//! table, not PT_STATUS ([`HbsStatus`]).

use std::fmt;

use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::device::Device;
use crate::provisioning::{ControlMode, ProvisioningState};
use crate::status::PtStatus;

/// Return values of `IPS_HostBasedSetupService` methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HbsStatus(pub u32);

impl HbsStatus {
    pub const SUCCESS: HbsStatus = HbsStatus(0);
    pub const INTERNAL_ERROR: HbsStatus = HbsStatus(1);
    pub const INVALID_STATE: HbsStatus = HbsStatus(2);
    pub const INVALID_PARAM: HbsStatus = HbsStatus(3);
    pub const METHOD_DISABLED: HbsStatus = HbsStatus(4);
    pub const AUTH_FAILED: HbsStatus = HbsStatus(5);
    pub const FLASH_WRITE_LIMIT_EXCEEDED: HbsStatus = HbsStatus(6);
}

/// Return values of `AddNextCertInChain`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainStatus(pub u32);

impl ChainStatus {
    pub const SUCCESS: ChainStatus = ChainStatus(0);
    pub const INVALID_PARAM: ChainStatus = ChainStatus(1);
    pub const INTERNAL_ERROR: ChainStatus = ChainStatus(2);
    pub const INVALID_STATE: ChainStatus = ChainStatus(3);
    pub const CERTIFICATE_VERIFICATION_FAILED: ChainStatus = ChainStatus(4);
    pub const CHAIN_LENGTH_EXCEEDED: ChainStatus = ChainStatus(5);
}

impl fmt::Display for HbsStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// `NetAdminPassEncryptionType` 2: the password comes as HTTP digest
/// MD5(A1) = MD5(`admin:<realm>:<password>`) in hex.
pub const ENCRYPTION_HTTP_DIGEST_MD5_A1: u32 = 2;
/// `SigningAlgorithm` 2: RSA PKCS#1 v1.5 with SHA-256.
pub const SIGNING_RSA_SHA256: u32 = 2;
/// The Intel AMT provisioning certificate OID (extended key usage).
pub const AMT_PROVISIONING_OID: &str = "2.16.840.1.113741.1.2.3";
/// The alternative marker: this organizational unit in the leaf subject.
pub const CLIENT_SETUP_OU: &str = "Intel(R) Client Setup Certificate";
/// Longest chain accepted: leaf, up to two intermediates, root.
pub const MAX_CHAIN: usize = 4;

/// `CertChainStatus` of `IPS_HostBasedSetupService`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProvisioningChain {
    /// Leaf first.
    pub certificates: Vec<Vec<u8>>,
    pub complete: bool,
}

impl ProvisioningChain {
    /// 0 not started, 1 in progress, 2 complete.
    pub fn status(&self) -> u8 {
        match (self.certificates.is_empty(), self.complete) {
            (true, _) => 0,
            (false, false) => 1,
            (false, true) => 2,
        }
    }
}

pub(crate) fn parse(der: &[u8]) -> Option<X509Certificate<'_>> {
    match X509Certificate::from_der(der) {
        Ok((&[], c)) => Some(c),
        _ => None,
    }
}

fn parse_ha1_hex(hex_password: &str) -> Option<[u8; 16]> {
    if hex_password.len() != 32 {
        return None;
    }
    hex::decode(hex_password).ok()?.try_into().ok()
}

/// Whether `leaf` is marked as an AMT provisioning certificate.
pub(crate) fn has_provisioning_marker(leaf: &X509Certificate<'_>) -> bool {
    let ou = leaf
        .subject()
        .iter_organizational_unit()
        .filter_map(|a| a.as_str().ok())
        .any(|ou| ou == CLIENT_SETUP_OU);
    let eku = leaf.extended_key_usage().ok().flatten().is_some_and(|e| {
        e.value
            .other
            .iter()
            .any(|oid| oid.to_id_string() == AMT_PROVISIONING_OID)
    });
    ou || eku
}

/// The leaf's domain: its CN (a host name).
pub(crate) fn leaf_domain(leaf: &X509Certificate<'_>) -> Option<String> {
    leaf.subject()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(|s| s.to_ascii_lowercase())
}

pub(crate) fn domain_matches(cn: &str, suffix: &str) -> bool {
    let suffix = suffix.trim_start_matches('.').to_ascii_lowercase();
    cn == suffix || cn.ends_with(&format!(".{suffix}"))
}

impl Device {
    /// `IPS_HostBasedSetupService.Setup`: host-based setup to client
    /// control mode.
    pub fn host_based_setup(
        &mut self,
        encryption_type: u32,
        network_admin_password: &str,
        now: OffsetDateTime,
    ) -> HbsStatus {
        if self.provisioning_state == ProvisioningState::PostProvisioning {
            return HbsStatus::INVALID_STATE;
        }
        if encryption_type != ENCRYPTION_HTTP_DIGEST_MD5_A1 {
            return HbsStatus::INVALID_PARAM;
        }
        let Some(ha1) = parse_ha1_hex(network_admin_password) else {
            return HbsStatus::INVALID_PARAM;
        };
        if self.enter_in_provisioning(now).is_err() {
            return HbsStatus::INTERNAL_ERROR;
        }
        self.complete_provisioning(ControlMode::Client, ha1);
        self.log_event(now, crate::message_log::LogEvent::Provisioned);
        HbsStatus::SUCCESS
    }

    /// `AddNextCertInChain`: the provisioning chain, leaf first, root last,
    /// checked as it grows.
    pub fn add_next_cert_in_chain(
        &mut self,
        der: &[u8],
        is_leaf: bool,
        is_root: bool,
    ) -> ChainStatus {
        let upgrading = self.provisioning_state == ProvisioningState::PostProvisioning
            && self.control_mode == ControlMode::Client;
        if self.provisioning_state == ProvisioningState::PostProvisioning && !upgrading {
            return ChainStatus::INVALID_STATE;
        }
        if der.is_empty() || der.len() > 8192 {
            return ChainStatus::INVALID_PARAM;
        }
        let Some(cert) = parse(der) else {
            return ChainStatus::INVALID_PARAM;
        };
        if is_leaf {
            // A leaf starts a new chain.
            self.chain = ProvisioningChain::default();
            if !has_provisioning_marker(&cert) {
                return ChainStatus::CERTIFICATE_VERIFICATION_FAILED;
            }
            if let Some(suffix) = self.provisioning_dns_suffix() {
                match leaf_domain(&cert) {
                    Some(cn) if domain_matches(&cn, &suffix) => {}
                    _ => return ChainStatus::CERTIFICATE_VERIFICATION_FAILED,
                }
            }
        } else {
            if self.chain.certificates.is_empty() || self.chain.complete {
                return ChainStatus::INVALID_STATE;
            }
            if self.chain.certificates.len() >= MAX_CHAIN {
                self.chain = ProvisioningChain::default();
                return ChainStatus::CHAIN_LENGTH_EXCEEDED;
            }
            // Each certificate must have signed the one before it.
            // A copy: the chain may be reset below while this is borrowed.
            let previous_der = self.chain.certificates.last().cloned().unwrap_or_default();
            let Some(previous) = parse(&previous_der) else {
                return ChainStatus::INTERNAL_ERROR;
            };
            if previous.issuer().as_raw() != cert.subject().as_raw()
                || previous.verify_signature(Some(cert.public_key())).is_err()
            {
                self.chain = ProvisioningChain::default();
                return ChainStatus::CERTIFICATE_VERIFICATION_FAILED;
            }
        }
        // SHA-1 signed certificates are refused from ME 16.
        if cert.signature_algorithm.algorithm.to_id_string() == "1.2.840.113549.1.1.5" {
            self.chain = ProvisioningChain::default();
            return ChainStatus::CERTIFICATE_VERIFICATION_FAILED;
        }
        if is_root {
            let self_signed = cert.subject().as_raw() == cert.issuer().as_raw()
                && cert.verify_signature(None).is_ok();
            if !self_signed || !self.hashes.trusts(der) {
                self.chain = ProvisioningChain::default();
                return ChainStatus::CERTIFICATE_VERIFICATION_FAILED;
            }
        }
        self.chain.certificates.push(der.to_vec());
        self.chain.complete = is_root;
        ChainStatus::SUCCESS
    }

    /// The DNS suffix the leaf must match: the PKI DNS suffix set in MEBx,
    /// else the one DHCP gave.
    pub fn provisioning_dns_suffix(&self) -> Option<String> {
        self.pki_dns_suffix
            .clone()
            .or_else(|| self.dhcp_dns_suffix.clone())
    }

    /// Checks `DigitalSignature` over ConfigurationNonce ‖ McNonce with the
    /// leaf of a complete chain.
    fn verify_setup_signature(
        &self,
        mc_nonce: &[u8],
        signing_algorithm: u32,
        signature: &[u8],
    ) -> HbsStatus {
        if !self.chain.complete {
            return HbsStatus::INVALID_STATE;
        }
        if mc_nonce.len() != 20 || signing_algorithm != SIGNING_RSA_SHA256 {
            return HbsStatus::INVALID_PARAM;
        }
        let Some(leaf) = self.chain.certificates.first().and_then(|d| parse(d)) else {
            return HbsStatus::INTERNAL_ERROR;
        };
        let mut message = self.configuration_nonce.to_vec();
        message.extend_from_slice(mc_nonce);
        let key = UnparsedPublicKey::new(
            &RSA_PKCS1_2048_8192_SHA256,
            leaf.public_key().subject_public_key.data.as_ref(),
        );
        if key.verify(&message, signature).is_err() {
            return HbsStatus::AUTH_FAILED;
        }
        HbsStatus::SUCCESS
    }

    /// `AdminSetup`: provisioning to admin control mode with a
    /// provisioning certificate. Removed in CSME 19 (see
    /// [`crate::FirmwareProfile::has_admin_setup`]).
    pub fn admin_setup(
        &mut self,
        encryption_type: u32,
        network_admin_password: &str,
        mc_nonce: &[u8],
        signing_algorithm: u32,
        signature: &[u8],
        now: OffsetDateTime,
    ) -> HbsStatus {
        if !self.profile.has_admin_setup() {
            return HbsStatus::METHOD_DISABLED;
        }
        if self.provisioning_state == ProvisioningState::PostProvisioning {
            return HbsStatus::INVALID_STATE;
        }
        if encryption_type != ENCRYPTION_HTTP_DIGEST_MD5_A1 {
            return HbsStatus::INVALID_PARAM;
        }
        let Some(ha1) = parse_ha1_hex(network_admin_password) else {
            return HbsStatus::INVALID_PARAM;
        };
        let verdict = self.verify_setup_signature(mc_nonce, signing_algorithm, signature);
        if verdict != HbsStatus::SUCCESS {
            return verdict;
        }
        if self.enter_in_provisioning(now).is_err() {
            return HbsStatus::INTERNAL_ERROR;
        }
        self.complete_provisioning(ControlMode::Admin, ha1);
        self.log_event(now, crate::message_log::LogEvent::Provisioned);
        HbsStatus::SUCCESS
    }

    /// `UpgradeClientToAdmin`: client control mode to admin control mode.
    pub fn upgrade_client_to_admin(
        &mut self,
        mc_nonce: &[u8],
        signing_algorithm: u32,
        signature: &[u8],
    ) -> HbsStatus {
        if self.provisioning_state != ProvisioningState::PostProvisioning
            || self.control_mode != ControlMode::Client
        {
            return HbsStatus::INVALID_STATE;
        }
        let verdict = self.verify_setup_signature(mc_nonce, signing_algorithm, signature);
        if verdict != HbsStatus::SUCCESS {
            return verdict;
        }
        self.control_mode = ControlMode::Admin;
        self.chain = ProvisioningChain::default();
        self.rng_fill_configuration_nonce();
        self.audit(None, crate::audit_log::AuditedEvent::UpgradeClientToAdmin);
        HbsStatus::SUCCESS
    }

    /// Provisioning starts and waits for a setup server (MEBx, or the
    /// host's start-configuration call): in-provisioning, and a fresh
    /// self-signed certificate on a fresh key. Before CSME 16.1 that
    /// certificate exists only for PKI remote configuration: the TLS
    /// session a provisioning server opens needs one ("AMT presents its
    /// self-signed certificate", Intel's remote setup flow), and nothing
    /// else uses it until a console configures TLS.
    pub fn begin_provisioning(&mut self, now: OffsetDateTime) -> Result<(), crate::DeviceError> {
        let was_pre = self.provisioning_state == ProvisioningState::PreProvisioning;
        self.enter_in_provisioning(now)?;
        if was_pre
            && !self.profile.mints_self_signed_certificate()
            && self.has_pki_remote_configuration()
        {
            self.mint_self_signed_certificate(now)?;
        }
        Ok(())
    }

    /// Pre- to in-provisioning, minting the self-signed certificate where
    /// the firmware mints it at provisioning start (CSME 16.1+). Host-based
    /// setup passes through here and completes in the same call, so it
    /// needs no setup-session certificate on older firmware.
    fn enter_in_provisioning(&mut self, now: OffsetDateTime) -> Result<(), crate::DeviceError> {
        if self.provisioning_state == ProvisioningState::PreProvisioning {
            self.provisioning_state = ProvisioningState::InProvisioning;
            if self.profile.mints_self_signed_certificate() {
                self.mint_self_signed_certificate(now)?;
            }
        }
        Ok(())
    }

    /// Stops a provisioning that has started but not completed (MEBx).
    pub fn stop_provisioning(&mut self) -> Result<(), PtStatus> {
        if self.provisioning_state != ProvisioningState::InProvisioning {
            return Err(PtStatus::INVALID_PROVISIONING_STATE);
        }
        self.provisioning_state = ProvisioningState::PreProvisioning;
        self.chain = ProvisioningChain::default();
        if self.psk_setup.pid.is_some() {
            // The TLS listener disarms PSK.
            self.note_tls_changed();
        }
        self.secure_configuration = None;
        self.remote_configuration.server_authenticated = false;
        Ok(())
    }

    /// `CommitChanges` ends a remote configuration once the admin password
    /// is set: provisioning completes in admin control mode when a PKI
    /// provisioning server authenticated with its chain, or a secure
    /// host-based configuration (19+) named the certificate of the mutual
    /// TLS session (rpc-go's `activate --acm`: the local system account
    /// sets the password there, then `admin` commits). The certificate
    /// proves the server, as AdminSetup's signed nonce does. Returns
    /// whether it did.
    pub fn complete_admin_configuration(&mut self, now: OffsetDateTime) -> bool {
        let server_proven =
            self.remote_configuration.server_authenticated || self.secure_configuration.is_some();
        if self.provisioning_state != ProvisioningState::InProvisioning || !server_proven {
            return false;
        }
        let Some(ha1) = self.admin_password_ha1 else {
            return false;
        };
        self.complete_provisioning(ControlMode::Admin, ha1);
        self.log_event(now, crate::message_log::LogEvent::Provisioned);
        self.note_tls_changed();
        true
    }

    pub(crate) fn complete_provisioning(&mut self, mode: ControlMode, ha1: [u8; 16]) {
        self.admin_password_ha1 = Some(ha1);
        self.remote_configuration.server_authenticated = false;
        self.provisioning_state = ProvisioningState::PostProvisioning;
        self.control_mode = mode;
        self.chain = ProvisioningChain::default();
        self.secure_configuration = None;
        self.rng_fill_configuration_nonce();
        self.retire_self_signed_if_key_reused();
        self.note_persist();
        self.note_event(crate::DeviceEvent::Provisioned);
        self.audit(None, crate::audit_log::AuditedEvent::ProvisioningCompleted);
    }

    fn rng_fill_configuration_nonce(&mut self) {
        use rand::Rng;
        self.rng.0.fill_bytes(&mut self.configuration_nonce);
    }

    /// `AMT_SetupAndConfigurationService.Unprovision(ProvisioningMode)`.
    pub fn unprovision_request(
        &mut self,
        provisioning_mode: u32,
        now: OffsetDateTime,
    ) -> Result<(), PtStatus> {
        if provisioning_mode > 3 {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        if self.provisioning_state == ProvisioningState::PreProvisioning {
            return Err(PtStatus::INVALID_PROVISIONING_STATE);
        }
        self.unprovision(now).map_err(|_| PtStatus::INTERNAL_ERROR)
    }

    /// `SetMEBxPassword`: 8–32 characters with upper case, lower case, a
    /// digit and a symbol; refused in client control mode.
    pub fn set_mebx_password(&mut self, password: &str) -> Result<(), PtStatus> {
        if self.control_mode == ControlMode::Client {
            return Err(PtStatus::NOT_PERMITTED);
        }
        let n = password.chars().count();
        let strong = (8..=32).contains(&n)
            && password.chars().any(|c| c.is_ascii_uppercase())
            && password.chars().any(|c| c.is_ascii_lowercase())
            && password.chars().any(|c| c.is_ascii_digit())
            && password.chars().any(|c| c.is_ascii_punctuation());
        if !strong {
            return Err(PtStatus::INVALID_PASSWORD);
        }
        self.mebx_password_hash = Some(crate::device::password_hash(password));
        self.mebx_password_is_admin_password(password);
        Ok(())
    }

    /// `AMT_AuthorizationService.SetAdminAclEntryEx(Username, DigestPassword)`
    /// with DigestPassword the 16 raw bytes of MD5(`admin:<realm>:<pw>`).
    pub fn set_admin_acl_entry(
        &mut self,
        username: &str,
        digest_password: &[u8],
    ) -> Result<(), PtStatus> {
        if username != crate::device::ADMIN_USER {
            return Err(PtStatus(12));
        }
        let ha1: [u8; 16] = digest_password
            .try_into()
            .map_err(|_| PtStatus::INVALID_PARAMETER)?;
        self.admin_password_ha1 = Some(ha1);
        self.audit(None, crate::audit_log::AuditedEvent::AclEntryModified);
        Ok(())
    }

    /// `CertChainStatus`.
    pub fn cert_chain_status(&self) -> u8 {
        self.chain.status()
    }
}
