//! The firmware's self-signed TLS certificate.
//!
//! Rules (CSME 16.1, as Intel documents them; docs/certificate.md maps each
//! rule to the code):
//! - every subject and issuer DN field is `Unknown`;
//! - the serial number is a hash of the public key: the first 20 bytes of
//!   SHA-256 over the `SubjectPublicKeyInfo` DER, top bit cleared so the
//!   X.509 INTEGER is positive;
//! - notBefore is the BIOS time, or 2020-01-01 when the BIOS time is unset;
//! - notAfter is [`not_after`] of notBefore;
//! - the key is the device's own and signs the certificate (SHA-256 RSA).

use rcgen::string::PrintableString;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa,
    KeyUsagePurpose, SerialNumber,
};
use sha2::{Digest, Sha256};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::error::DeviceError;
use crate::keys::DeviceKey;

/// The value of every DN attribute.
pub const UNKNOWN: &str = "Unknown";

/// Latest notAfter: the end of 2037, which is what the self-signed
/// certificate of a real AMT 19 firmware carries.
pub const NOT_AFTER_CEILING: OffsetDateTime = datetime!(2037-12-31 23:59:59 UTC);

/// notAfter for a certificate minted at `not_before`: the end of 2037, or
/// ten years on when the BIOS clock is already past 2027 (so the
/// certificate is always valid for a long time from its start).
pub fn not_after(not_before: OffsetDateTime) -> OffsetDateTime {
    let ten_years = not_before + Duration::days(3652);
    if ten_years > NOT_AFTER_CEILING {
        ten_years
    } else {
        NOT_AFTER_CEILING
    }
}

/// The serial number for a public key: SHA-256 of the SPKI DER, first 20
/// octets, most significant bit cleared.
pub fn serial_number(spki_der: &[u8]) -> [u8; 20] {
    let digest = Sha256::digest(spki_der);
    let mut serial = [0u8; 20];
    serial.copy_from_slice(&digest[..20]);
    serial[0] &= 0x7f;
    serial
}

/// The DN with every field `Unknown`, in the order C, ST, L, O, OU, CN.
fn unknown_dn() -> Result<DistinguishedName, DeviceError> {
    let mut dn = DistinguishedName::new();
    for ty in [
        DnType::CountryName,
        DnType::StateOrProvinceName,
        DnType::LocalityName,
        DnType::OrganizationName,
        DnType::OrganizationalUnitName,
        DnType::CommonName,
    ] {
        let value = PrintableString::try_from(UNKNOWN)
            .map_err(|e| DeviceError::CertificateGeneration(e.to_string()))?;
        dn.push(ty, DnValue::PrintableString(value));
    }
    Ok(dn)
}

/// Mints the self-signed certificate for `key`, valid from `not_before`.
/// Returns the DER. Deterministic: the same key and time give the same
/// bytes (RSA PKCS#1 v1.5 signatures are deterministic).
pub fn mint(key: &DeviceKey, not_before: OffsetDateTime) -> Result<Vec<u8>, DeviceError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = unknown_dn()?;
    params.not_before = not_before;
    params.not_after = not_after(not_before);
    params.serial_number = Some(SerialNumber::from_slice(&serial_number(key.spki_der())));
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let signer = key.signer()?;
    let cert = params
        .self_signed(&signer)
        .map_err(|e| DeviceError::CertificateGeneration(e.to_string()))?;
    Ok(cert.der().to_vec())
}

/// The subject CN of the CSME 19 self-signed certificate.
pub const INTEL_NAMED_CN: &str = "Intel\u{ae} AMT self-signed certificate";
/// Its issuer.
pub const INTEL_NAMED_ISSUER_O: &str = "Intel Corporation";
/// Its fixed validity, as captured on CSME 19.0.5 (rpc-go#1163).
pub const INTEL_NAMED_NOT_BEFORE: OffsetDateTime = datetime!(2022-01-01 00:00:00 UTC);
pub const INTEL_NAMED_NOT_AFTER: OffsetDateTime = datetime!(2037-12-31 23:59:59 UTC);

/// Mints the CSME 19 self-signed certificate for `key`: subject
/// `CN=Intel® AMT self-signed certificate`, issuer `O=Intel Corporation`
/// (the capture names only these; the certificate still verifies with
/// its own key), 2022-01-01 to 2037-12-31, CA:TRUE, serverAuth,
/// digitalSignature + keyEncipherment + keyCertSign.
pub fn mint_intel_named(key: &DeviceKey) -> Result<Vec<u8>, DeviceError> {
    use rcgen::{BasicConstraints, Issuer};
    let mut params = CertificateParams::default();
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, INTEL_NAMED_CN);
    params.distinguished_name = subject;
    params.not_before = INTEL_NAMED_NOT_BEFORE;
    params.not_after = INTEL_NAMED_NOT_AFTER;
    params.serial_number = Some(SerialNumber::from_slice(&serial_number(key.spki_der())));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let signer = key.signer()?;
    let mut issuer_params = CertificateParams::default();
    let mut issuer_dn = DistinguishedName::new();
    issuer_dn.push(DnType::OrganizationName, INTEL_NAMED_ISSUER_O);
    issuer_params.distinguished_name = issuer_dn;
    let issuer = Issuer::new(issuer_params, &signer);
    let cert = params
        .signed_by(&signer, &issuer)
        .map_err(|e| DeviceError::CertificateGeneration(e.to_string()))?;
    Ok(cert.der().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::KeyAlgorithm;
    use rand::rngs::ChaCha20Rng;
    use rand::SeedableRng;
    use x509_parser::prelude::*;

    fn key(seed: u64) -> DeviceKey {
        DeviceKey::generate(KeyAlgorithm::Rsa2048, &mut ChaCha20Rng::seed_from_u64(seed)).unwrap()
    }

    #[test]
    fn every_dn_field_is_unknown_in_subject_and_issuer() {
        let der = mint(&key(1), datetime!(2024-03-01 08:00:00 UTC)).unwrap();
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        for name in [cert.subject(), cert.issuer()] {
            let attrs: Vec<_> = name.iter_attributes().collect();
            assert_eq!(attrs.len(), 6);
            for a in attrs {
                assert_eq!(a.as_str().unwrap(), UNKNOWN);
            }
            assert_eq!(
                name.to_string(),
                "C=Unknown, ST=Unknown, L=Unknown, O=Unknown, OU=Unknown, CN=Unknown"
            );
        }
    }

    #[test]
    fn serial_is_the_hash_of_the_public_key() {
        let k = key(2);
        let der = mint(&k, datetime!(2024-03-01 08:00:00 UTC)).unwrap();
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        // The SPKI inside the certificate is the one hashed.
        assert_eq!(cert.public_key().raw, k.spki_der());
        let expected = serial_number(cert.public_key().raw);
        let got = cert.raw_serial();
        // DER drops leading zero octets; compare as integers.
        let trimmed: Vec<u8> = expected.iter().copied().skip_while(|b| *b == 0).collect();
        assert_eq!(
            got.iter()
                .copied()
                .skip_while(|b| *b == 0)
                .collect::<Vec<_>>(),
            trimmed
        );
        assert!(got.len() <= 20);
        assert!(got[0] & 0x80 == 0, "serial must be positive");
    }

    #[test]
    fn validity_follows_the_bios_time() {
        let nb = datetime!(2023-05-01 12:00:00 UTC);
        let der = mint(&key(3), nb).unwrap();
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        assert_eq!(cert.validity().not_before.timestamp(), nb.unix_timestamp());
        assert_eq!(
            cert.validity().not_after.timestamp(),
            NOT_AFTER_CEILING.unix_timestamp()
        );
        let late = datetime!(2031-01-01 00:00:00 UTC);
        assert_eq!(not_after(late), late + Duration::days(3652));
    }

    #[test]
    fn signed_by_its_own_key_and_deterministic() {
        let k = key(4);
        let nb = datetime!(2020-01-01 00:00:00 UTC);
        let der = mint(&k, nb).unwrap();
        assert_eq!(der, mint(&k, nb).unwrap());
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        cert.verify_signature(None)
            .expect("self-signature verifies with its own key");
        assert_eq!(
            cert.signature_algorithm.algorithm.to_id_string(),
            "1.2.840.113549.1.1.11",
            "sha256WithRSAEncryption"
        );
    }

    #[test]
    fn csme_19_certificate_is_intel_named() {
        let k = key(5);
        let der = mint_intel_named(&k).unwrap();
        assert_eq!(der, mint_intel_named(&k).unwrap(), "deterministic");
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        assert_eq!(
            cert.subject().to_string(),
            "CN=Intel\u{ae} AMT self-signed certificate"
        );
        assert_eq!(cert.issuer().to_string(), "O=Intel Corporation");
        assert_eq!(
            cert.validity().not_before.timestamp(),
            INTEL_NAMED_NOT_BEFORE.unix_timestamp()
        );
        assert_eq!(
            cert.validity().not_after.timestamp(),
            INTEL_NAMED_NOT_AFTER.unix_timestamp()
        );
        assert!(cert.basic_constraints().unwrap().unwrap().value.ca);
        let ku = cert.key_usage().unwrap().unwrap().value;
        assert!(ku.digital_signature() && ku.key_encipherment() && ku.key_cert_sign());
        cert.verify_signature(Some(cert.public_key())).unwrap();
    }
}
