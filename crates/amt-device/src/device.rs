//! The device value and its transitions.

use rand::rngs::ChaCha20Rng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::accounts::Accounts;
use crate::audit_log::AuditLog;
use crate::cert_store::{CertStore, CertificateEntry, KeyEntry};
use crate::clock::BiosClock;
use crate::effects::Effects;
use crate::error::DeviceError;
use crate::hardware::Hardware;
use crate::host::HostMachine;
use crate::host_based_setup::ProvisioningChain;
use crate::host_console::HostConsole;
use crate::keys::DeviceKey;
use crate::message_log::MessageLog;
use crate::network::Network;
use crate::profile::FirmwareProfile;
use crate::provisioning::{ControlMode, ProvisioningState};
use crate::provisioning_hashes::{HashList, HashType, ProvisioningCertificateHash};
use crate::redirection::RedirectionSettings;
use crate::remote_access::RemoteAccess;
use crate::self_signed;
use crate::status::PtStatus;
use crate::subscriptions::Subscriptions;
use crate::tls_settings::{ActiveTls, TlsSettings};
use crate::user_consent::UserConsent;

/// 32 bytes that seed a device's random generator. The driver takes them
/// from the OS, or derives them from a user's `--seed` for a reproducible
/// device.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Entropy(pub [u8; 32]);

impl Entropy {
    /// Entropy derived from a small seed: the same seed always yields the
    /// same device (realm, UUID, keys, certificates).
    pub fn from_seed(seed: u64) -> Self {
        let mut h = Sha256::new();
        h.update(b"amt-emu device seed v1");
        h.update(seed.to_le_bytes());
        Entropy(h.finalize().into())
    }
}

impl std::fmt::Debug for Entropy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Entropy(..)")
    }
}

/// The device's own random generator. Cloning continues the same stream
/// in the copy (a snapshot for rolling back a change that could not be
/// persisted).
#[derive(Debug)]
pub(crate) struct DeviceRng(pub(crate) ChaCha20Rng);

impl Clone for DeviceRng {
    fn clone(&self) -> Self {
        let mut rng = ChaCha20Rng::from_seed(self.0.get_seed());
        rng.set_stream(self.0.get_stream());
        rng.set_word_pos(self.0.get_word_pos());
        DeviceRng(rng)
    }
}

/// What a new device is made from.
#[derive(Clone, Debug, Default)]
pub struct DeviceConfig {
    pub profile: FirmwareProfile,
    pub bios_clock: BiosClock,
}

/// One emulated AMT device.
#[derive(Clone, Debug)]
pub struct Device {
    pub(crate) profile: FirmwareProfile,
    pub(crate) uuid: [u8; 16],
    pub(crate) digest_realm: String,
    pub(crate) provisioning_state: ProvisioningState,
    pub(crate) control_mode: ControlMode,
    pub(crate) bios_clock: BiosClock,
    /// The network admin password, kept as HA1 = MD5(admin:realm:password)
    /// the way host-based setup hands it over.
    pub(crate) admin_password_ha1: Option<[u8; 16]>,
    pub(crate) configuration_nonce: [u8; 20],
    pub(crate) host_name: String,
    pub(crate) domain_name: String,
    pub(crate) certs: CertStore,
    pub(crate) tls: TlsSettings,
    /// `AMT_TLSCredentialContext` as configured: the certificate the TLS
    /// listener will serve after the next CommitChanges.
    pub(crate) tls_credential_context: Option<u32>,
    /// The TLS configuration in force (committed): what the listeners use.
    pub(crate) active_tls: ActiveTls,
    /// `AMT_ProvisioningCertificateHash` entries.
    pub(crate) hashes: HashList,
    /// MEBx "PKI DNS suffix" (`TrustedDNSSuffix`).
    pub(crate) pki_dns_suffix: Option<String>,
    /// The DNS suffix DHCP option 15 gave (`DhcpDNSSuffix`).
    pub(crate) dhcp_dns_suffix: Option<String>,
    /// SHA-256 of the MEBx password, once one is set.
    pub(crate) mebx_password_hash: Option<[u8; 32]>,
    /// The password of the local system account `$$OsAdmin`, which the
    /// host reads over HECI to call host-based setup through LMS.
    pub(crate) local_system_password: String,
    /// MEBx "network access": AMT answers on the network interface.
    pub(crate) network_access_enabled: bool,
    /// The provisioning chain being added (firmware RAM: not persisted).
    pub(crate) chain: ProvisioningChain,
    /// AMT 19+: the on-die CA chain 16993 presents before provisioning
    /// (rebuilt from the identity at every start; not persisted).
    pub(crate) odca: Option<std::sync::Arc<crate::odca::OdcaChain>>,
    /// How many times `StartConfigurationHBased` renewed the leaf.
    pub(crate) odca_leaf_index: u32,
    /// The last `StartConfigurationHBased` (firmware RAM).
    pub(crate) secure_configuration: Option<crate::odca::SecureConfigurationStart>,
    pub(crate) rng: DeviceRng,
    // The parts below each live in their own module, with their own image
    // type persisted as one field of the flash image.
    pub(crate) host: HostMachine,
    pub(crate) hardware: Hardware,
    pub(crate) message_log: MessageLog,
    pub(crate) network: Network,
    pub(crate) accounts: Accounts,
    pub(crate) user_consent: UserConsent,
    pub(crate) redirection: RedirectionSettings,
    pub(crate) remote_access: RemoteAccess,
    pub(crate) audit_log: AuditLog,
    pub(crate) subscriptions: Subscriptions,
    /// PKI remote configuration: the MEBx provisioning server setting and
    /// whether a provisioning server has authenticated.
    pub(crate) remote_configuration: crate::remote_configuration::RemoteConfiguration,
    pub(crate) psk_setup: crate::psk_setup::PskSetup,
    /// The host's serial port and screen (RAM: not persisted).
    pub(crate) console: HostConsole,
    /// Effects recorded since the driver last took them (not persisted).
    pub(crate) effects: Effects,
}

/// The user name of the built-in administrator.
pub const ADMIN_USER: &str = "admin";
/// The user name of the local system account.
pub const LOCAL_SYSTEM_USER: &str = "$$OsAdmin";

/// SHA-256 of a password, for secrets the device only compares.
pub fn password_hash(password: &str) -> [u8; 32] {
    Sha256::digest(password.as_bytes()).into()
}

impl Device {
    /// A device at INIT, its first start: fresh identity, factory
    /// settings and, on firmware that has one, the self-signed certificate.
    pub fn new(
        config: DeviceConfig,
        entropy: Entropy,
        now: OffsetDateTime,
    ) -> Result<Self, DeviceError> {
        let mut rng = ChaCha20Rng::from_seed(entropy.0);
        let mut realm_bytes = [0u8; 16];
        rng.fill_bytes(&mut realm_bytes);
        let mut uuid = [0u8; 16];
        rng.fill_bytes(&mut uuid);
        uuid[6] = (uuid[6] & 0x0f) | 0x40; // RFC 4122 version 4
        uuid[8] = (uuid[8] & 0x3f) | 0x80; // RFC 4122 variant
        let mut configuration_nonce = [0u8; 20];
        rng.fill_bytes(&mut configuration_nonce);
        let mut device = Device {
            profile: config.profile,
            uuid,
            digest_realm: format!("Digest:{}", hex::encode_upper(realm_bytes)),
            provisioning_state: ProvisioningState::PreProvisioning,
            control_mode: ControlMode::None,
            bios_clock: config.bios_clock,
            admin_password_ha1: None,
            configuration_nonce,
            host_name: String::new(),
            domain_name: String::new(),
            certs: CertStore::default(),
            tls: TlsSettings::factory(&config.profile),
            tls_credential_context: None,
            active_tls: ActiveTls {
                settings: TlsSettings::factory(&config.profile),
                credential_context: None,
            },
            hashes: HashList::default(),
            pki_dns_suffix: None,
            dhcp_dns_suffix: None,
            mebx_password_hash: None,
            local_system_password: String::new(),
            network_access_enabled: true,
            chain: ProvisioningChain::default(),
            odca: None,
            odca_leaf_index: 0,
            secure_configuration: None,
            rng: DeviceRng(rng),
            host: HostMachine::default(),
            hardware: Hardware::default(),
            message_log: MessageLog::default(),
            network: Network::default(),
            accounts: Accounts::default(),
            user_consent: UserConsent::default(),
            redirection: RedirectionSettings::default(),
            remote_access: RemoteAccess::default(),
            audit_log: AuditLog::default(),
            subscriptions: Subscriptions::default(),
            remote_configuration: Default::default(),
            psk_setup: Default::default(),
            console: HostConsole::default(),
            effects: Effects::default(),
        };
        device.local_system_password = device.new_local_system_password();
        if device.profile.mints_self_signed_certificate() {
            device.mint_self_signed_certificate(now)?;
        }
        device.build_odca_chain()?;
        Ok(device.with_console_restored())
    }

    pub fn profile(&self) -> &FirmwareProfile {
        &self.profile
    }

    /// The UUID as AMT prints it (`8-4-4-4-12`, lower case).
    pub fn uuid(&self) -> String {
        let h = hex::encode(self.uuid);
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }

    /// `Digest:` followed by 32 upper-case hex digits; stable for the life
    /// of the device.
    pub fn digest_realm(&self) -> &str {
        &self.digest_realm
    }

    pub fn provisioning_state(&self) -> ProvisioningState {
        self.provisioning_state
    }

    pub fn control_mode(&self) -> ControlMode {
        self.control_mode
    }

    pub fn bios_clock(&self) -> BiosClock {
        self.bios_clock
    }

    pub fn set_bios_clock(&mut self, clock: BiosClock) {
        self.bios_clock = clock;
    }

    pub fn configuration_nonce(&self) -> &[u8; 20] {
        &self.configuration_nonce
    }

    pub fn host_name(&self) -> &str {
        &self.host_name
    }

    pub fn domain_name(&self) -> &str {
        &self.domain_name
    }

    pub fn cert_store(&self) -> &CertStore {
        &self.certs
    }

    pub fn tls_settings(&self) -> &TlsSettings {
        &self.tls
    }

    /// The configured TLS credential context (what WS-Man reads and writes).
    pub fn tls_credential_context(&self) -> Option<u32> {
        self.tls_credential_context
    }

    /// The TLS configuration in force (what the listeners use).
    pub fn active_tls(&self) -> &ActiveTls {
        &self.active_tls
    }

    /// HA1 of the network admin account, if a password is set.
    pub fn admin_password_ha1(&self) -> Option<[u8; 16]> {
        self.admin_password_ha1
    }

    /// HA1 = MD5(`user:realm:password`) for this device's realm.
    pub fn digest_ha1(&self, user: &str, password: &str) -> [u8; 16] {
        use md5::Digest as _;
        let mut h = md5::Md5::new();
        h.update(user.as_bytes());
        h.update(b":");
        h.update(self.digest_realm.as_bytes());
        h.update(b":");
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// The certificate and key the TLS listener presents: the one the TLS
    /// credential context names, else the self-signed certificate.
    pub fn active_tls_certificate(&self) -> Option<(&CertificateEntry, &KeyEntry)> {
        let cert = match self.active_tls.credential_context {
            Some(h) => self.certs.certificate(h),
            None => self.certs.self_signed(),
        }?;
        let key = self.certs.key(cert.key_handle?)?;
        Some((cert, key))
    }

    /// Mints the firmware's self-signed certificate with a brand-new key,
    /// replacing the previous one (and its key) if any. This is what INIT,
    /// provisioning start and unprovision do.
    pub fn mint_self_signed_certificate(
        &mut self,
        now: OffsetDateTime,
    ) -> Result<u32, DeviceError> {
        let key = DeviceKey::generate(self.profile.firmware_key_algorithm(), &mut self.rng.0)?;
        let der = if self.profile.self_signed_is_intel_named() {
            self_signed::mint_intel_named(&key)?
        } else {
            self_signed::mint(&key, self.bios_clock.certificate_time(now))?
        };
        let old = self.certs.self_signed().map(|c| (c.handle, c.key_handle));
        if let Some((old_cert, old_key)) = old {
            self.certs.remove_certificate_as_firmware(old_cert);
            if let Some(k) = old_key {
                let still_used = self
                    .certs
                    .certificates()
                    .iter()
                    .any(|c| c.key_handle == Some(k));
                if !still_used {
                    self.certs.remove_key_as_firmware(k);
                }
            }
        }
        let key_handle = self.certs.add_key(key);
        let handle = self
            .certs
            .add_certificate(der, true, false, Some(key_handle));
        let points_at_old = |ctx: Option<u32>| match (ctx, old) {
            (Some(ctx), Some((old_cert, _))) => ctx == old_cert,
            // INIT or unprovision: nothing configured yet.
            (None, None) => true,
            _ => false,
        };
        if self.profile.mints_self_signed_certificate() {
            if points_at_old(self.tls_credential_context) {
                self.tls_credential_context = Some(handle);
            }
            if points_at_old(self.active_tls.credential_context) {
                self.active_tls.credential_context = Some(handle);
            }
        }
        Ok(handle)
    }

    /// Testing shortcut (`serve --admin-password`): a device already in
    /// post-provisioning, client control mode, with this admin password.
    pub fn provision_client_for_testing(&mut self, password: &str) {
        self.provision_for_testing(ControlMode::Client, password);
    }

    /// Testing shortcut for scenarios: post-provisioning in `mode` (client
    /// or admin) with this admin password, without a provisioning flow.
    pub fn provision_for_testing(&mut self, mode: ControlMode, password: &str) {
        self.admin_password_ha1 = Some(self.digest_ha1(ADMIN_USER, password));
        self.provisioning_state = ProvisioningState::PostProvisioning;
        self.control_mode = if mode == ControlMode::None {
            ControlMode::Client
        } else {
            mode
        };
    }

    /// Scenario files may pin the realm (`Digest:` + 32 upper-case hex).
    /// Refused once an admin password (whose HA1 includes the realm) is set.
    pub fn set_digest_realm(&mut self, realm: &str) -> Result<(), PtStatus> {
        let ok = realm.strip_prefix("Digest:").is_some_and(|h| {
            h.len() == 32
                && h.chars()
                    .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c))
        });
        if !ok {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        if self.admin_password_ha1.is_some() {
            return Err(PtStatus::NOT_PERMITTED);
        }
        self.digest_realm = realm.to_string();
        Ok(())
    }

    /// Host name and domain name (`AMT_GeneralSettings`).
    pub fn set_host_and_domain_name(&mut self, host_name: &str, domain_name: &str) {
        self.host_name = host_name.to_string();
        self.domain_name = domain_name.to_string();
    }

    /// Full unprovision: back to pre-provisioning with factory settings,
    /// the admin password cleared, every user certificate and key removed,
    /// and a brand-new self-signed certificate on a brand-new key.
    pub fn unprovision(&mut self, now: OffsetDateTime) -> Result<(), DeviceError> {
        self.note_tls_changed();
        self.note_event(crate::DeviceEvent::Unprovisioned);
        self.log_event(now, crate::message_log::LogEvent::Unprovisioned);
        self.audit(
            Some(now),
            crate::audit_log::AuditedEvent::UnprovisioningStarted,
        );
        self.clear_subscriptions();
        self.provisioning_state = ProvisioningState::PreProvisioning;
        self.control_mode = ControlMode::None;
        self.admin_password_ha1 = None;
        self.remote_configuration.server_authenticated = false;
        self.psk_setup = Default::default();
        self.accounts.clear();
        self.tls = TlsSettings::factory(&self.profile);
        self.tls_credential_context = None;
        self.active_tls = ActiveTls {
            settings: TlsSettings::factory(&self.profile),
            credential_context: None,
        };
        self.host_name.clear();
        self.domain_name.clear();
        self.network.reset_to_factory();
        self.rng.0.fill_bytes(&mut self.configuration_nonce);
        self.certs.clear();
        self.hashes.reset();
        self.remote_access = RemoteAccess::default();
        self.chain = ProvisioningChain::default();
        self.secure_configuration = None;
        self.reset_user_consent();
        self.reset_redirection();
        self.local_system_password = self.new_local_system_password();
        if self.profile.mints_self_signed_certificate() {
            self.mint_self_signed_certificate(now)?;
        }
        Ok(())
    }

    fn new_local_system_password(&mut self) -> String {
        use base64::Engine;
        let mut raw = [0u8; 24];
        self.rng.0.fill_bytes(&mut raw);
        base64::engine::general_purpose::STANDARD.encode(raw)
    }

    /// The local system account (`$$OsAdmin`, password) for WS-Man over
    /// the local interface, as HECI hands it to the host.
    pub fn local_system_account(&self) -> (&'static str, &str) {
        (LOCAL_SYSTEM_USER, &self.local_system_password)
    }

    /// `AMT_ProvisioningCertificateHash` entries.
    pub fn provisioning_hashes(&self) -> &HashList {
        &self.hashes
    }

    /// MEBx: adds a custom root-certificate hash.
    pub fn add_custom_provisioning_hash(
        &mut self,
        hash_type: HashType,
        hash: Vec<u8>,
        description: &str,
    ) -> Result<u32, PtStatus> {
        self.hashes.add_custom(hash_type, hash, description)
    }

    /// `AMT_ProvisioningCertificateHash` Put: enables or disables an entry
    /// (a disabled root no longer completes a provisioning chain).
    pub fn set_provisioning_hash_enabled(
        &mut self,
        handle: u32,
        enabled: bool,
    ) -> Result<(), PtStatus> {
        self.hashes.set_enabled(handle, enabled)
    }

    /// `AMT_ProvisioningCertificateHash` Delete: custom entries only.
    pub fn delete_provisioning_hash(&mut self, handle: u32) -> Result<(), PtStatus> {
        self.hashes.delete(handle)
    }

    /// MEBx: the PKI DNS suffix.
    pub fn pki_dns_suffix(&self) -> Option<&str> {
        self.pki_dns_suffix.as_deref()
    }

    pub fn set_pki_dns_suffix(&mut self, suffix: Option<String>) {
        self.pki_dns_suffix = suffix.filter(|s| !s.is_empty());
    }

    /// The DNS suffix from DHCP option 15.
    pub fn dhcp_dns_suffix(&self) -> Option<&str> {
        self.dhcp_dns_suffix.as_deref()
    }

    pub fn set_dhcp_dns_suffix(&mut self, suffix: Option<String>) {
        self.dhcp_dns_suffix = suffix.filter(|s| !s.is_empty());
    }

    /// Whether a MEBx password has been set.
    pub fn mebx_password_set(&self) -> bool {
        self.mebx_password_hash.is_some()
    }

    /// MEBx: enables or disables AMT on the network.
    pub fn set_network_access(&mut self, enabled: bool) {
        self.network_access_enabled = enabled;
    }

    pub fn network_access_enabled(&self) -> bool {
        self.network_access_enabled
    }

    /// A firmware restart: what lives only in RAM is lost (the
    /// provisioning chain being added); flash is kept.
    pub fn power_cycle(&mut self) {
        self.chain = ProvisioningChain::default();
        self.user_consent.session = Default::default();
    }

    /// The device as a user may see it: everything but private keys.
    pub fn public_view(&self) -> DeviceView {
        DeviceView {
            firmware_version: self.profile.version().to_string(),
            uuid: self.uuid(),
            digest_realm: self.digest_realm.clone(),
            provisioning_state: self.provisioning_state,
            provisioning_state_value: self.provisioning_state.as_u8(),
            control_mode: self.control_mode,
            control_mode_value: self.control_mode.as_u8(),
            bios_clock: self.bios_clock,
            admin_password_set: self.admin_password_ha1.is_some(),
            mebx_password_set: self.mebx_password_hash.is_some(),
            network_access_enabled: self.network_access_enabled,
            pki_dns_suffix: self.pki_dns_suffix.clone(),
            cert_chain_status: self.chain.status(),
            provisioning_hashes: self.hashes.entries.clone(),
            tls_settings: self.tls.clone(),
            tls_credential_context: self.tls_credential_context,
            active_tls: self.active_tls.clone(),
            active_tls_certificate: self.active_tls_certificate().map(|(c, _)| c.handle),
            certificates: self
                .certs
                .certificates()
                .iter()
                .map(|c| CertificateView {
                    handle: c.handle,
                    instance_id: format!("Intel(r) AMT Certificate: Handle: {}", c.handle),
                    read_only: c.read_only,
                    trusted_root: c.trusted_root,
                    key_handle: c.key_handle,
                    pem: pem_encode("CERTIFICATE", &c.der),
                })
                .collect(),
            keys: self
                .certs
                .keys()
                .iter()
                .map(|k| KeyView {
                    handle: k.handle,
                    instance_id: format!("Intel(r) AMT Key: Handle: {}", k.handle),
                    bits: k.key.bits(),
                    public_key_pem: pem_encode("PUBLIC KEY", k.key.spki_der()),
                })
                .collect(),
        }
    }
}

/// PEM with 64-column lines.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// JSON view of a device, without private keys (`amt-emu state show`).
#[derive(Debug, Serialize)]
pub struct DeviceView {
    pub firmware_version: String,
    pub uuid: String,
    pub digest_realm: String,
    pub provisioning_state: ProvisioningState,
    pub provisioning_state_value: u8,
    pub control_mode: ControlMode,
    pub control_mode_value: u8,
    pub bios_clock: BiosClock,
    pub admin_password_set: bool,
    pub mebx_password_set: bool,
    pub network_access_enabled: bool,
    pub pki_dns_suffix: Option<String>,
    pub cert_chain_status: u8,
    pub provisioning_hashes: Vec<ProvisioningCertificateHash>,
    pub tls_settings: TlsSettings,
    pub tls_credential_context: Option<u32>,
    pub active_tls: ActiveTls,
    pub active_tls_certificate: Option<u32>,
    pub certificates: Vec<CertificateView>,
    pub keys: Vec<KeyView>,
}

#[derive(Debug, Serialize)]
pub struct CertificateView {
    pub handle: u32,
    pub instance_id: String,
    pub read_only: bool,
    pub trusted_root: bool,
    pub key_handle: Option<u32>,
    pub pem: String,
}

#[derive(Debug, Serialize)]
pub struct KeyView {
    pub handle: u32,
    pub instance_id: String,
    pub bits: usize,
    pub public_key_pem: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-29 10:00:00 UTC);

    fn device(seed: u64, clock: BiosClock) -> Device {
        let config = DeviceConfig {
            profile: FirmwareProfile::default(),
            bios_clock: clock,
        };
        Device::new(config, Entropy::from_seed(seed), NOW).unwrap()
    }

    #[test]
    fn init_mints_a_read_only_self_signed_certificate_that_tls_serves() {
        let d = device(1, BiosClock::Host);
        assert_eq!(d.provisioning_state(), ProvisioningState::PreProvisioning);
        assert_eq!(d.control_mode(), ControlMode::None);
        let ss = d.cert_store().self_signed().expect("minted at INIT");
        assert!(ss.read_only);
        let (active, key) = d.active_tls_certificate().unwrap();
        assert_eq!(active.handle, ss.handle);
        assert_eq!(Some(key.handle), ss.key_handle);
        assert_eq!(d.tls_credential_context(), Some(ss.handle));
    }

    #[test]
    fn realm_and_uuid_have_amt_shapes_and_follow_the_seed() {
        let a = device(5, BiosClock::Host);
        let b = device(5, BiosClock::Host);
        let c = device(6, BiosClock::Host);
        let realm = a.digest_realm();
        assert!(realm.starts_with("Digest:"));
        let hexpart = &realm["Digest:".len()..];
        assert_eq!(hexpart.len(), 32);
        assert!(hexpart
            .chars()
            .all(|ch| ch.is_ascii_digit() || ('A'..='F').contains(&ch)));
        assert_eq!(a.digest_realm(), b.digest_realm());
        assert_eq!(a.uuid(), b.uuid());
        assert_ne!(a.digest_realm(), c.digest_realm());
        assert_eq!(a.uuid().len(), 36);
        let a_cert = &a.cert_store().self_signed().unwrap().der;
        assert_eq!(a_cert, &b.cert_store().self_signed().unwrap().der);
    }

    #[test]
    fn not_before_follows_the_bios_clock() {
        use x509_parser::prelude::*;
        let unset = device(1, BiosClock::Unset);
        let der = &unset.cert_store().self_signed().unwrap().der;
        let (_, cert) = X509Certificate::from_der(der).unwrap();
        assert_eq!(
            cert.validity().not_before.timestamp(),
            datetime!(2020-01-01 00:00:00 UTC).unix_timestamp()
        );
        let bios = datetime!(2022-07-04 09:30:00 UTC);
        let set = device(1, BiosClock::set(bios, NOW));
        let der = &set.cert_store().self_signed().unwrap().der;
        let (_, cert) = X509Certificate::from_der(der).unwrap();
        assert_eq!(
            cert.validity().not_before.timestamp(),
            bios.unix_timestamp()
        );
    }

    #[test]
    fn read_only_certificate_cannot_be_deleted() {
        let mut d = device(2, BiosClock::Host);
        let h = d.cert_store().self_signed().unwrap().handle;
        assert!(
            matches!(d.certs.delete_certificate(h), Err(DeviceError::ReadOnlyCertificate(x)) if x == h)
        );
        assert!(d.cert_store().self_signed().is_some());
    }

    #[test]
    fn unprovision_replaces_key_and_certificate() {
        let mut d = device(3, BiosClock::Host);
        d.provision_client_for_testing("P@ssw0rd");
        let before = d.cert_store().self_signed().unwrap().clone();
        let before_key = d
            .cert_store()
            .key(before.key_handle.unwrap())
            .unwrap()
            .key
            .clone();
        let nonce = *d.configuration_nonce();
        d.unprovision(NOW).unwrap();
        assert_eq!(d.provisioning_state(), ProvisioningState::PreProvisioning);
        assert_eq!(d.control_mode(), ControlMode::None);
        assert!(d.admin_password_ha1().is_none());
        let after = d.cert_store().self_signed().unwrap();
        let after_key = &d.cert_store().key(after.key_handle.unwrap()).unwrap().key;
        assert_ne!(after.der, before.der);
        assert_ne!(after_key.spki_der(), before_key.spki_der());
        assert_ne!(after.handle, before.handle, "handles are not reused");
        assert!(
            d.cert_store().certificate(before.handle).is_none(),
            "old certificate is gone"
        );
        assert_eq!(d.cert_store().certificates().len(), 1);
        assert_eq!(d.cert_store().keys().len(), 1);
        assert_eq!(d.active_tls_certificate().unwrap().0.handle, after.handle);
        assert_ne!(*d.configuration_nonce(), nonce);
    }

    #[test]
    fn realm_survives_unprovision() {
        let mut d = device(4, BiosClock::Host);
        let realm = d.digest_realm().to_string();
        d.unprovision(NOW).unwrap();
        assert_eq!(d.digest_realm(), realm);
    }

    #[test]
    fn pre_16_1_firmware_has_no_certificate_at_init() {
        let config = DeviceConfig {
            profile: FirmwareProfile::new("15.0.23".parse().unwrap()),
            bios_clock: BiosClock::Host,
        };
        let d = Device::new(config, Entropy::from_seed(1), NOW).unwrap();
        assert!(d.cert_store().certificates().is_empty());
        assert!(d.active_tls_certificate().is_none());
    }

    #[test]
    fn testing_shortcut_sets_admin_password() {
        let mut d = device(9, BiosClock::Host);
        d.provision_client_for_testing("secret");
        assert_eq!(d.provisioning_state(), ProvisioningState::PostProvisioning);
        assert_eq!(d.control_mode(), ControlMode::Client);
        assert_eq!(
            d.admin_password_ha1(),
            Some(d.digest_ha1("admin", "secret"))
        );
    }

    #[test]
    fn public_view_has_no_private_key() {
        let d = device(1, BiosClock::Host);
        let json = serde_json::to_string(&d.public_view()).unwrap();
        assert!(json.contains("BEGIN CERTIFICATE"));
        assert!(!json.contains("PRIVATE KEY"));
        use base64::Engine;
        let pkcs8 = base64::engine::general_purpose::STANDARD
            .encode(d.cert_store().keys()[0].key.pkcs8_der());
        assert!(!json.contains(&pkcs8[..40]));
    }
}

#[cfg(test)]
mod clone_tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_clone_continues_the_same_random_stream() {
        let mut a = Device::new(
            DeviceConfig::default(),
            Entropy::from_seed(3),
            datetime!(2026-11-29 10:00:00 UTC),
        )
        .unwrap();
        let mut b = a.clone();
        assert_eq!(a.generate_key_pair(0, 2048), b.generate_key_pair(0, 2048));
        assert_eq!(a.cert_store(), b.cert_store());
    }
}
