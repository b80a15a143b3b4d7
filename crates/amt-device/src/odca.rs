//! The On-Die CA (ODCA) chain an AMT 19+ device presents on 16993 before
//! it is provisioned, for mutual-TLS configuration.
//!
//! A real device's chain is signed by Intel's on-die keys, which we do not
//! have. This module builds a chain of the same shape (docs/firmware-versions.md,
//! "AMT 19+: the on-die CA chain"): six certificates, leaf `CN=AMT RCFG`, EC P-384 keys,
//! ecdsa-with-SHA384, the issuer names of a Lunar Lake / Panther Lake
//! device, the fourth certificate a `ROM CA` issued by an
//! `OU=ODCA 2 CSME P…` CA; the last one is issued by a test on-die root
//! that the emulator makes per device. A client must trust that root
//! ([`OdcaChain::root`], `GET /api/host/odca-chain`) or skip the check
//! (rpc-go `--skip-amt-cert-check`).
//!
//! The CA keys follow from the device's identity (a hash of its UUID), so
//! a device keeps its chain across restarts and a `--seed` device has the
//! same keys every time; the leaf key also depends on how many times
//! configuration was started (the leaf changes on every
//! `StartConfigurationHBased`, as real firmware does). The certificates
//! are signed with deterministic ECDSA (RFC 6979, the `p384` crate; ring
//! only signs with random nonces), so the chain, and the leaf hash
//! `StartConfigurationHBased` answers, are the same bytes on every run.

use rand::rngs::ChaCha20Rng;
use rand::{Rng, SeedableRng};
use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
    PKCS_ECDSA_P384_SHA384,
};
use rustls_pki_types::PrivatePkcs8KeyDer;
use sha2::{Digest, Sha256};
use time::macros::datetime;
use time::OffsetDateTime;

use crate::error::DeviceError;
use crate::provisioning_hashes::HashType;

/// The leaf's common name.
pub const LEAF_CN: &str = "AMT RCFG";
/// Where the captured leaf points for revocation.
pub const CRL_URL: &str = "https://tsci.intel.com/content/OnDieCA/crls/ODCA_CA2_CSME_Indirect.crl";
/// Start of every CA certificate's validity (the Intel root's, 2019-04-03).
const CA_NOT_BEFORE: OffsetDateTime = datetime!(2019-04-03 00:00:00 UTC);
/// End of every certificate's validity, as captured.
pub const NOT_AFTER: OffsetDateTime = datetime!(2049-12-31 23:59:59 UTC);

/// The platform code in the CA names (`LNL` Lunar Lake, `PTL` Panther Lake).
pub fn platform_code(major: u16) -> &'static str {
    if major >= 21 {
        "PTL"
    } else {
        "LNL"
    }
}

/// The presented chain and the root it ends at.
#[derive(Clone, PartialEq, Eq)]
pub struct OdcaChain {
    /// Leaf first, six certificates: what 16993 sends.
    pub certificates: Vec<Vec<u8>>,
    /// The emulator's test on-die root (self-signed, not sent).
    pub root: Vec<u8>,
    leaf_key: Vec<u8>,
    /// The issuing (AMT) CA's private scalar and common name, to sign a
    /// new leaf.
    amt_ca_key: Vec<u8>,
    amt_ca_cn: String,
}

impl std::fmt::Debug for OdcaChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OdcaChain")
            .field("certificates", &self.certificates.len())
            .finish_non_exhaustive()
    }
}

impl OdcaChain {
    /// The leaf (`CN=AMT RCFG`).
    pub fn leaf(&self) -> &[u8] {
        self.certificates.first().map_or(&[], Vec::as_slice)
    }

    /// The leaf's private key, PKCS#8 (for the TLS listener only).
    pub fn leaf_key_pkcs8(&self) -> &[u8] {
        &self.leaf_key
    }

    /// The leaf hash `StartConfigurationHBased` returns (`AMTCertHash`).
    pub fn leaf_hash(&self, hash: HashType) -> Vec<u8> {
        hash.digest(self.leaf())
    }
}

/// A P-384 key of the emulated on-die CAs: rcgen's key pair for the
/// public half and the PKCS#8 export, and the same scalar for RFC 6979
/// signatures.
struct OdcaKey {
    pair: KeyPair,
    signer: p384::ecdsa::SigningKey,
    scalar: Vec<u8>,
}

impl OdcaKey {
    /// The key whose private scalar is `scalar` (48 bytes, big-endian);
    /// `None` if it is not a valid scalar.
    fn from_scalar(scalar: &[u8]) -> Option<OdcaKey> {
        use ring::signature::{EcdsaKeyPair, ECDSA_P384_SHA384_ASN1_SIGNING};
        let signer = p384::ecdsa::SigningKey::from_slice(scalar).ok()?;
        // ring takes key material only through its own random trait; this
        // fixed-bytes source is how a caller hands it the scalar.
        #[allow(deprecated)]
        let fixed = ring::test::rand::FixedSliceRandom { bytes: scalar };
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, &fixed).ok()?;
        let der = PrivatePkcs8KeyDer::from(doc.as_ref().to_vec());
        let pair = KeyPair::from_pkcs8_der_and_sign_algo(&der, &PKCS_ECDSA_P384_SHA384).ok()?;
        Some(OdcaKey {
            pair,
            signer,
            scalar: scalar.to_vec(),
        })
    }
}

impl rcgen::PublicKeyData for OdcaKey {
    fn der_bytes(&self) -> &[u8] {
        self.pair.der_bytes()
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &PKCS_ECDSA_P384_SHA384
    }
}

impl rcgen::SigningKey for OdcaKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        use p384::ecdsa::signature::Signer;
        let signature: p384::ecdsa::Signature = self.signer.sign(msg);
        Ok(signature.to_der().as_bytes().to_vec())
    }
}

/// A P-384 key from 48 bytes of `rng` (drawn again in the unlikely case
/// they are not a valid scalar).
fn p384_key(rng: &mut ChaCha20Rng) -> Result<OdcaKey, DeviceError> {
    for _ in 0..8 {
        let mut scalar = [0u8; 48];
        rng.fill_bytes(&mut scalar);
        if let Some(key) = OdcaKey::from_scalar(&scalar) {
            return Ok(key);
        }
    }
    Err(DeviceError::KeyGeneration(
        "no P-384 key from the seed".into(),
    ))
}

fn dn(pairs: &[(DnType, &str)]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for (ty, value) in pairs {
        dn.push(ty.clone(), *value);
    }
    dn
}

fn serial(rng: &mut ChaCha20Rng) -> SerialNumber {
    let mut s = [0u8; 16];
    rng.fill_bytes(&mut s);
    s[0] &= 0x7f;
    s[0] |= 0x01;
    SerialNumber::from_slice(&s)
}

fn ca_params(name: DistinguishedName, rng: &mut ChaCha20Rng) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = name;
    p.not_before = CA_NOT_BEFORE;
    p.not_after = NOT_AFTER;
    p.serial_number = Some(serial(rng));
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.use_authority_key_identifier_extension = true;
    p
}

fn cert_err(e: rcgen::Error) -> DeviceError {
    DeviceError::CertificateGeneration(e.to_string())
}

/// The chain of the device whose identity is `uuid`, on a firmware of
/// `major`, with leaf number `leaf_index`, leaf valid from `leaf_not_before`.
pub fn generate(
    uuid: &[u8; 16],
    major: u16,
    leaf_index: u32,
    leaf_not_before: OffsetDateTime,
) -> Result<OdcaChain, DeviceError> {
    let mut h = Sha256::new();
    h.update(b"amt-emu on-die CA v1");
    h.update(uuid);
    let mut ca_rng = ChaCha20Rng::from_seed(h.finalize().into());
    let p = platform_code(major);

    let root_name = dn(&[
        (DnType::CountryName, "US"),
        (DnType::StateOrProvinceName, "CA"),
        (DnType::LocalityName, "Santa Clara"),
        (DnType::OrganizationName, "amt-emu"),
        (
            DnType::OrganizationalUnitName,
            "OnDie CA Root Cert Signing (emulated, not Intel)",
        ),
        (DnType::CommonName, "amt-emu test on-die root"),
    ]);
    // Top-down: root, then each CA under the previous, ending at the AMT CA.
    let names = [
        dn(&[
            (DnType::CommonName, "www.intel.com"),
            (
                DnType::OrganizationalUnitName,
                "ODCA CA2 CSME Intermediate CA",
            ),
        ]),
        dn(&[
            (DnType::CommonName, "www.intel.com"),
            (
                DnType::OrganizationalUnitName,
                &format!("ODCA 2 CSME P_{p} SOC 00003648 ZE Issuing CA"),
            ),
        ]),
        dn(&[(DnType::CommonName, &format!("ODCA 2 CSME {p} SOC ROM CA"))]),
        dn(&[(
            DnType::CommonName,
            &format!("ODCA 2 CSME {p} SOC SVN 01 Kernel CA"),
        )]),
        // Three spaces before "CA", verbatim from the capture.
        dn(&[(
            DnType::CommonName,
            &format!("ODCA 2 CSME {p} SOC SVN 01 AMT   CA"),
        )]),
    ];

    let root_key = p384_key(&mut ca_rng)?;
    let root_params = ca_params(root_name, &mut ca_rng);
    let root = root_params.self_signed(&root_key).map_err(cert_err)?;
    let mut issuer = Issuer::new(root_params, root_key);
    let mut cas = Vec::new();
    let mut issuer_key_der = Vec::new();
    for name in names {
        let key = p384_key(&mut ca_rng)?;
        let params = ca_params(name, &mut ca_rng);
        let cert = params.signed_by(&key, &issuer).map_err(cert_err)?;
        cas.push(cert.der().to_vec());
        issuer_key_der = key.scalar.clone();
        issuer = Issuer::new(params, key);
    }
    drop(issuer);
    let amt_ca_cn = format!("ODCA 2 CSME {p} SOC SVN 01 AMT   CA");

    let mut chain = OdcaChain {
        certificates: cas.into_iter().rev().collect(),
        root: root.der().to_vec(),
        leaf_key: Vec::new(),
        amt_ca_key: issuer_key_der,
        amt_ca_cn,
    };
    chain.certificates.insert(0, Vec::new());
    chain.renew_leaf(uuid, leaf_index, leaf_not_before)?;
    Ok(chain)
}

impl OdcaChain {
    /// Replaces the leaf with leaf number `leaf_index`, signed by the same
    /// AMT CA (the CAs do not change).
    pub fn renew_leaf(
        &mut self,
        uuid: &[u8; 16],
        leaf_index: u32,
        not_before: OffsetDateTime,
    ) -> Result<(), DeviceError> {
        let ca_key = OdcaKey::from_scalar(&self.amt_ca_key)
            .ok_or_else(|| DeviceError::InvalidKey("the AMT CA scalar".into()))?;
        let mut ca_params = CertificateParams::default();
        ca_params.distinguished_name = dn(&[(DnType::CommonName, &self.amt_ca_cn)]);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = Issuer::new(ca_params, ca_key);

        let mut lh = Sha256::new();
        lh.update(b"amt-emu AMT RCFG leaf v1");
        lh.update(uuid);
        lh.update(leaf_index.to_le_bytes());
        let mut leaf_rng = ChaCha20Rng::from_seed(lh.finalize().into());
        let leaf_key = p384_key(&mut leaf_rng)?;
        let mut leaf = CertificateParams::default();
        leaf.distinguished_name = dn(&[(DnType::CommonName, LEAF_CN)]);
        leaf.not_before = not_before;
        leaf.not_after = NOT_AFTER;
        leaf.serial_number = Some(serial(&mut leaf_rng));
        leaf.is_ca = IsCa::ExplicitNoCa;
        leaf.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec![CRL_URL.to_string()],
        }];
        leaf.use_authority_key_identifier_extension = true;
        let der = leaf.signed_by(&leaf_key, &issuer).map_err(cert_err)?;
        match self.certificates.first_mut() {
            Some(first) => *first = der.der().to_vec(),
            None => self.certificates.push(der.der().to_vec()),
        }
        self.leaf_key = leaf_key.pair.serialize_der();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::{FromDer, X509Certificate};

    fn cn(c: &X509Certificate<'_>) -> String {
        c.subject()
            .iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn shaped_like_the_captured_chain() {
        let chain = generate(&[7; 16], 19, 0, datetime!(2025-08-12 00:00:00 UTC)).unwrap();
        assert_eq!(chain.certificates.len(), 6);
        let parsed: Vec<_> = chain
            .certificates
            .iter()
            .map(|d| X509Certificate::from_der(d).unwrap().1)
            .collect();
        let leaf = &parsed[0];
        assert_eq!(cn(leaf), LEAF_CN);
        assert_eq!(
            leaf.signature_algorithm.algorithm.to_id_string(),
            "1.2.840.10045.4.3.3",
            "ecdsa-with-SHA384"
        );
        assert_eq!(
            leaf.public_key()
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string()),
            Some("1.3.132.0.34".to_string()),
            "P-384"
        );
        assert!(leaf.subject_alternative_name().unwrap().is_none(), "no SAN");
        assert_eq!(
            leaf.validity().not_after.timestamp(),
            NOT_AFTER.unix_timestamp()
        );
        assert_eq!(
            parsed[0].issuer().to_string(),
            "CN=ODCA 2 CSME LNL SOC SVN 01 AMT   CA"
        );
        assert!(cn(&parsed[3]).contains("ROM CA"));
        assert!(parsed[3]
            .issuer()
            .iter_organizational_unit()
            .any(|ou| ou.as_str().unwrap().starts_with("ODCA 2 CSME P")));
        // Each certificate is signed by the next, the last by the root.
        let root = X509Certificate::from_der(&chain.root).unwrap().1;
        for (i, cert) in parsed.iter().enumerate() {
            let signer = parsed.get(i + 1).unwrap_or(&root);
            assert_eq!(cert.issuer(), signer.subject());
            cert.verify_signature(Some(signer.public_key())).unwrap();
        }
        root.verify_signature(None).unwrap();
    }

    #[test]
    fn the_cas_follow_the_identity_and_the_leaf_its_index() {
        let t = datetime!(2025-08-12 00:00:00 UTC);
        let a = generate(&[1; 16], 19, 0, t).unwrap();
        let b = generate(&[1; 16], 19, 0, t).unwrap();
        let c = generate(&[1; 16], 19, 1, t).unwrap();
        let spki = |d: &[u8]| {
            X509Certificate::from_der(d)
                .unwrap()
                .1
                .public_key()
                .raw
                .to_vec()
        };
        assert_eq!(spki(&a.root), spki(&b.root));
        assert_eq!(spki(a.leaf()), spki(b.leaf()));
        assert_eq!(spki(&a.root), spki(&c.root));
        assert_ne!(spki(a.leaf()), spki(c.leaf()));
        // Deterministic signatures: the same identity gives the same bytes.
        assert_eq!(a, b, "byte-identical chains");
        let mut renewed = a.clone();
        renewed.renew_leaf(&[1; 16], 1, t).unwrap();
        assert_eq!(renewed, c, "a renewed leaf is the leaf of that index");
        assert_eq!(renewed.certificates[1..], a.certificates[1..], "same CAs");
        assert_eq!(spki(renewed.leaf()), spki(c.leaf()));
        let (_, leaf) = X509Certificate::from_der(renewed.leaf()).unwrap();
        let (_, ca) = X509Certificate::from_der(&renewed.certificates[1]).unwrap();
        leaf.verify_signature(Some(ca.public_key())).unwrap();
        let other = generate(&[2; 16], 21, 0, t).unwrap();
        assert_ne!(spki(&a.root), spki(&other.root));
        let issuer = X509Certificate::from_der(other.leaf())
            .unwrap()
            .1
            .issuer()
            .to_string();
        assert!(issuer.contains("PTL"), "{issuer}");
    }
}

/// Start of the leaf's validity (the captured Panther Lake leaf's).
pub const LEAF_NOT_BEFORE: OffsetDateTime = datetime!(2025-08-12 00:00:00 UTC);

/// What `StartConfigurationHBased` was given (firmware RAM).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecureConfigurationStart {
    /// The hash of the provisioning certificate (leaf) the configuring
    /// client will present over mutual TLS.
    pub server_hash_algorithm: HashType,
    pub server_cert_hash: Vec<u8>,
    pub host_vpn_enable: bool,
    pub dns_suffixes: Vec<String>,
}

/// `StartConfigurationHBased`'s answer: `HashAlgorithm` and `AMTCertHash`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecureConfigurationAnswer {
    pub hash_algorithm: HashType,
    pub amt_cert_hash: Vec<u8>,
}

/// The longest DNS suffix list the command carries (5 × 64 bytes).
pub const MAX_SUFFIX_LIST: usize = 320;

impl crate::device::Device {
    /// (Re)builds the on-die chain on firmware that presents one.
    pub(crate) fn build_odca_chain(&mut self) -> Result<(), DeviceError> {
        if self.profile.presents_odca_chain() {
            self.odca = Some(std::sync::Arc::new(generate(
                &self.uuid,
                self.profile.version().major,
                self.odca_leaf_index,
                LEAF_NOT_BEFORE,
            )?));
        }
        Ok(())
    }

    /// The chain 16993 presents now: on AMT 19+ until provisioning
    /// completes (control mode 0), else none.
    pub fn odca_chain(&self) -> Option<&OdcaChain> {
        if self.provisioning_state == crate::ProvisioningState::PostProvisioning {
            return None;
        }
        self.odca.as_deref()
    }

    /// Whether 16993 presents the on-die chain (and asks for a client
    /// certificate) right now.
    pub fn presents_odca_chain(&self) -> bool {
        self.odca_chain().is_some()
    }

    /// What the last `StartConfigurationHBased` asked for, while
    /// configuration is in progress.
    pub fn secure_configuration(&self) -> Option<&SecureConfigurationStart> {
        self.secure_configuration.as_ref()
    }

    /// HECI `StartConfigurationHBased` (AMT 19+, control API): the host
    /// hands over the hash of the provisioning certificate it will present
    /// and gets the hash of the on-die leaf the device will present. The
    /// leaf is new on every call; the device enters in-provisioning.
    pub fn start_configuration_hbased(
        &mut self,
        start: SecureConfigurationStart,
        now: OffsetDateTime,
    ) -> Result<SecureConfigurationAnswer, crate::PtStatus> {
        use crate::PtStatus;
        if !self.profile.presents_odca_chain() {
            return Err(PtStatus::UNSUPPORTED);
        }
        if self.provisioning_state == crate::ProvisioningState::PostProvisioning {
            return Err(PtStatus::INVALID_PROVISIONING_STATE);
        }
        if !matches!(
            start.server_hash_algorithm,
            HashType::Sha256 | HashType::Sha384
        ) || start.server_cert_hash.len() != start.server_hash_algorithm.digest_len()
            || start
                .dns_suffixes
                .iter()
                .map(|s| s.len() + 1)
                .sum::<usize>()
                > MAX_SUFFIX_LIST
        {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        self.odca_leaf_index = self.odca_leaf_index.wrapping_add(1);
        let mut chain = self
            .odca
            .as_deref()
            .cloned()
            .ok_or(PtStatus::INTERNAL_ERROR)?;
        chain
            .renew_leaf(&self.uuid, self.odca_leaf_index, LEAF_NOT_BEFORE)
            .map_err(|_| PtStatus::INTERNAL_ERROR)?;
        self.odca = Some(std::sync::Arc::new(chain));
        self.begin_provisioning(now)
            .map_err(|_| PtStatus::INTERNAL_ERROR)?;
        self.secure_configuration = Some(start);
        self.note_persist();
        self.note_tls_changed();
        let leaf = self.odca.as_deref().ok_or(PtStatus::INTERNAL_ERROR)?;
        Ok(SecureConfigurationAnswer {
            hash_algorithm: HashType::Sha384,
            amt_cert_hash: leaf.leaf_hash(HashType::Sha384),
        })
    }
}
