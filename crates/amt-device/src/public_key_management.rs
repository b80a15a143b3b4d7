//! What `AMT_PublicKeyManagementService` does to the certificate and key
//! store, and the deletes of `AMT_PublicKeyCertificate` and
//! `AMT_PublicPrivateKeyPair`. Each refusal is the firmware's PT_STATUS.

use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::device::Device;
use crate::keys::DeviceKey;
use crate::profile::KeyAlgorithm;
use crate::status::PtStatus;

/// Certificates the store holds at most (our choice: the firmware's limit is
/// not published; consoles report "store full" around a few dozen).
pub const MAX_CERTIFICATES: usize = 32;
/// Key pairs the store holds at most (our choice, as above).
pub const MAX_KEYS: usize = 32;
/// Largest certificate blob accepted (AMT documents 4100 bytes for
/// `X509Certificate`).
pub const MAX_CERTIFICATE_BYTES: usize = 4100;
/// Largest private key blob accepted.
pub const MAX_KEY_BYTES: usize = 4096;
/// Largest certificate request accepted.
pub const MAX_CSR_BYTES: usize = 8192;

/// `SigningAlgorithm` of `GeneratePKCS10RequestEx`.
pub const SIGNING_SHA1_RSA: u32 = 0;
pub const SIGNING_SHA256_RSA: u32 = 1;

fn parse_certificate(der: &[u8]) -> Result<X509Certificate<'_>, PtStatus> {
    if der.is_empty() || der.len() > MAX_CERTIFICATE_BYTES {
        return Err(PtStatus::INVALID_CERT);
    }
    match X509Certificate::from_der(der) {
        Ok((&[], cert)) => Ok(cert),
        _ => Err(PtStatus::INVALID_CERT),
    }
}

/// Signature algorithms AMT 22 still accepts on management certificates:
/// SHA-384 or SHA-512, RSA or ECDSA.
const STRONG_SIGNATURES: &[&str] = &[
    "1.2.840.113549.1.1.12", // sha384WithRSAEncryption
    "1.2.840.113549.1.1.13", // sha512WithRSAEncryption
    "1.2.840.10045.4.3.3",   // ecdsa-with-SHA384
    "1.2.840.10045.4.3.4",   // ecdsa-with-SHA512
];
/// Curves AMT 22 still accepts: P-384 and P-521 (no ECC-256).
const STRONG_CURVES: &[&str] = &["1.3.132.0.34", "1.3.132.0.35"];

/// AMT 22's rule for certificates a console adds: SHA-256 and 2048-bit
/// keys are deprecated, SHA-384 and RSA-3072 required (Intel's AMT 22
/// notes, device-management-toolkit deployment#605; the ECC-256 ban is
/// from DMT's ADR notes). Older firmware takes what parses.
fn meets_strength_rules(profile: &crate::FirmwareProfile, cert: &X509Certificate<'_>) -> bool {
    use x509_parser::public_key::PublicKey;
    if profile.firmware_key_algorithm() != KeyAlgorithm::Rsa3072 {
        return true;
    }
    let signature = cert.signature_algorithm.algorithm.to_id_string();
    if !STRONG_SIGNATURES.contains(&signature.as_str()) {
        return false;
    }
    let spki = cert.public_key();
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => rsa.key_size() >= 3072,
        Ok(PublicKey::EC(_)) => spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .is_some_and(|oid| STRONG_CURVES.contains(&oid.to_id_string().as_str())),
        _ => false,
    }
}

impl Device {
    fn certificate_room(&self) -> Result<(), PtStatus> {
        if self.certs.certificates().len() >= MAX_CERTIFICATES {
            return Err(PtStatus::MAX_LIMIT_REACHED);
        }
        Ok(())
    }

    fn duplicate_certificate(&self, der: &[u8]) -> Result<(), PtStatus> {
        if self.certs.certificates().iter().any(|c| c.der == der) {
            return Err(PtStatus::DUPLICATE);
        }
        Ok(())
    }

    /// `AddTrustedRootCertificate`: a CA the device will trust for client
    /// certificates (mutual TLS) and management servers.
    pub fn add_trusted_root_certificate(&mut self, der: &[u8]) -> Result<u32, PtStatus> {
        let cert = parse_certificate(der)?;
        let self_signed = cert.subject().as_raw() == cert.issuer().as_raw();
        // Before AMT 11.8 only self-signed roots were accepted.
        let version = self.profile.version();
        let intermediates_ok = (version.major, version.minor) >= (11, 8);
        if !self_signed && !intermediates_ok {
            return Err(PtStatus::INVALID_CERT);
        }
        if self_signed && cert.verify_signature(None).is_err() {
            return Err(PtStatus::INVALID_CERT);
        }
        if !meets_strength_rules(&self.profile, &cert) {
            return Err(PtStatus::INVALID_CERT);
        }
        // The firmware refuses new roots while mutual TLS is in force.
        let active = &self.active_tls.settings;
        if active.remote.mutual_authentication && active.remote.enabled {
            return Err(PtStatus::NOT_PERMITTED);
        }
        self.duplicate_certificate(der)?;
        self.certificate_room()?;
        let handle = self.certs.add_certificate(der.to_vec(), false, true, None);
        self.audit(None, crate::audit_log::AuditedEvent::TrustedRootAdded);
        Ok(handle)
    }

    /// `AddCertificate`: a certificate for a key the device already holds.
    pub fn add_certificate(&mut self, der: &[u8]) -> Result<u32, PtStatus> {
        let cert = parse_certificate(der)?;
        if !meets_strength_rules(&self.profile, &cert) {
            return Err(PtStatus::INVALID_CERT);
        }
        let spki = cert.public_key().raw;
        let key_handle = self
            .certs
            .keys()
            .iter()
            .find(|k| k.key.spki_der() == spki)
            .map(|k| k.handle)
            .ok_or(PtStatus::CERT_KEY_NOT_MATCH)?;
        self.duplicate_certificate(der)?;
        self.certificate_room()?;
        Ok(self
            .certs
            .add_certificate(der.to_vec(), false, false, Some(key_handle)))
    }

    /// `AddKey`: a private key (PKCS#8 or PKCS#1 DER).
    pub fn add_key(&mut self, blob: &[u8]) -> Result<u32, PtStatus> {
        if blob.is_empty() || blob.len() > MAX_KEY_BYTES {
            return Err(PtStatus::INVALID_KEY);
        }
        let key = DeviceKey::from_private_key_blob(blob).map_err(|_| PtStatus::INVALID_KEY)?;
        let bits = key.bits();
        if bits < 2048
            || (self.profile.firmware_key_algorithm() == KeyAlgorithm::Rsa3072 && bits < 3072)
        {
            return Err(PtStatus::INVALID_KEY);
        }
        if self
            .certs
            .keys()
            .iter()
            .any(|k| k.key.spki_der() == key.spki_der())
        {
            return Err(PtStatus::DUPLICATE);
        }
        if self.certs.keys().len() >= MAX_KEYS {
            return Err(PtStatus::MAX_LIMIT_REACHED);
        }
        Ok(self.certs.add_key(key))
    }

    /// `GenerateKeyPair(KeyAlgorithm, KeyLength)`: RSA only (algorithm 0),
    /// 2048 bits (3072 on AMT 22). The private key never leaves the device.
    pub fn generate_key_pair(&mut self, algorithm: u32, length: u32) -> Result<u32, PtStatus> {
        if algorithm != 0 {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        let alg = self.profile.firmware_key_algorithm();
        if length as usize != alg.bits() {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        if self.certs.keys().len() >= MAX_KEYS {
            return Err(PtStatus::MAX_LIMIT_REACHED);
        }
        let key =
            DeviceKey::generate(alg, &mut self.rng.0).map_err(|_| PtStatus::INTERNAL_ERROR)?;
        Ok(self.certs.add_key(key))
    }

    /// `GeneratePKCS10RequestEx`: signs the console's null-signed request
    /// with a device-held key. The request's public key must be that key's.
    pub fn generate_pkcs10_request(
        &self,
        key_handle: u32,
        signing_algorithm: u32,
        null_signed_request: &[u8],
    ) -> Result<Vec<u8>, PtStatus> {
        let key = self.certs.key(key_handle).ok_or(PtStatus::NOT_FOUND)?;
        match signing_algorithm {
            SIGNING_SHA256_RSA => {}
            // SHA-1 signing is gone from CSME 18; ring cannot sign with it,
            // so the emulator refuses it on every profile.
            SIGNING_SHA1_RSA => return Err(PtStatus::UNSUPPORTED),
            _ => return Err(PtStatus::INVALID_PARAMETER),
        }
        if null_signed_request.is_empty() || null_signed_request.len() > MAX_CSR_BYTES {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        let csr = match X509CertificationRequest::from_der(null_signed_request) {
            Ok((&[], csr)) => csr,
            _ => return Err(PtStatus::INVALID_PARAMETER),
        };
        let info = &csr.certification_request_info;
        if info.subject_pki.raw != key.key.spki_der() {
            return Err(PtStatus::CERT_KEY_NOT_MATCH);
        }
        let signer = key.key.signer().map_err(|_| PtStatus::INTERNAL_ERROR)?;
        let signature =
            rcgen::SigningKey::sign(&signer, info.raw).map_err(|_| PtStatus::INTERNAL_ERROR)?;
        Ok(der_csr(info.raw, &signature))
    }

    /// Deletes a certificate on a console's request. The read-only
    /// self-signed certificate and a certificate a TLS credential context
    /// or the 802.1x profile uses are refused.
    pub fn delete_certificate(&mut self, handle: u32) -> Result<(), PtStatus> {
        let cert = self.certs.certificate(handle).ok_or(PtStatus::NOT_FOUND)?;
        if cert.read_only {
            return Err(PtStatus::NOT_PERMITTED);
        }
        if self.tls_credential_context == Some(handle)
            || self.active_tls.credential_context == Some(handle)
            || self.ieee8021x_uses_certificate(handle)
        {
            return Err(PtStatus::NOT_PERMITTED);
        }
        let removed = self
            .certs
            .delete_certificate(handle)
            .map_err(|_| PtStatus::NOT_PERMITTED)?;
        if removed.trusted_root {
            self.audit(None, crate::audit_log::AuditedEvent::TrustedRootRemoved);
        }
        Ok(())
    }

    /// Deletes a key pair. A key that a stored certificate carries is
    /// refused (delete the certificate first).
    pub fn delete_key(&mut self, handle: u32) -> Result<(), PtStatus> {
        self.certs.key(handle).ok_or(PtStatus::NOT_FOUND)?;
        if self
            .certs
            .certificates()
            .iter()
            .any(|c| c.key_handle == Some(handle))
        {
            return Err(PtStatus::NOT_PERMITTED);
        }
        self.certs.remove_key_as_firmware(handle);
        Ok(())
    }
}

/// `CertificationRequest ::= SEQUENCE { info, sha256WithRSAEncryption, BIT STRING sig }`.
fn der_csr(info: &[u8], signature: &[u8]) -> Vec<u8> {
    // AlgorithmIdentifier sha256WithRSAEncryption with NULL parameters.
    const SHA256_WITH_RSA: [u8; 15] = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
    ];
    let mut bit_string = vec![0u8]; // no unused bits
    bit_string.extend_from_slice(signature);
    let mut body = info.to_vec();
    body.extend_from_slice(&SHA256_WITH_RSA);
    body.extend(der_tlv(0x03, &bit_string));
    der_tlv(0x30, &body)
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}
