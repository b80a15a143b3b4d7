//! Console-side PKI for tests: what a provisioning server does with the
//! keys an AMT device holds. Dev-only; never a dependency of production
//! code.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SignatureAlgorithm, SigningKey,
    PKCS_RSA_SHA256,
};
use time::macros::datetime;

/// An RSA public key the test does not hold the private half of (a key
/// inside the emulated device), given as PKCS#1 `RSAPublicKey` DER, which
/// is what `AMT_PublicPrivateKeyPair.DERKey` carries.
pub struct DevicePublicKey {
    pkcs1: Vec<u8>,
}

impl DevicePublicKey {
    pub fn from_pkcs1(pkcs1: Vec<u8>) -> Self {
        DevicePublicKey { pkcs1 }
    }
}

impl PublicKeyData for DevicePublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.pkcs1
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_RSA_SHA256
    }
}

/// A "signer" that writes an all-zero signature: the null-signed request a
/// console hands to `GeneratePKCS10RequestEx`.
struct NullSigner<'a>(&'a DevicePublicKey);

impl PublicKeyData for NullSigner<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.0.der_bytes()
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.0.algorithm()
    }
}

impl SigningKey for NullSigner<'_> {
    fn sign(&self, _msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        Ok(vec![0u8; 256])
    }
}

/// A null-signed PKCS#10 request for `key` with subject `CN=<cn>`.
pub fn null_signed_csr(key: &DevicePublicKey, cn: &str) -> Vec<u8> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params
        .serialize_request(&NullSigner(key))
        .expect("request serialises")
        .der()
        .to_vec()
}

/// A certificate authority for tests.
pub struct TestCa {
    pub params: CertificateParams,
    pub key: KeyPair,
    pub der: Vec<u8>,
}

impl TestCa {
    /// A self-signed CA with an ECDSA P-256 key (fast to make).
    pub fn new(cn: &str) -> Self {
        let key = KeyPair::generate().expect("ECDSA key");
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "amt-emu tests");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = datetime!(2020-01-01 00:00:00 UTC);
        params.not_after = datetime!(2040-01-01 00:00:00 UTC);
        let der = params.self_signed(&key).expect("CA signs").der().to_vec();
        TestCa { params, key, der }
    }

    /// A TLS server certificate for a device-held key, `CN=<cn>`.
    pub fn sign_server_cert(&self, key: &DevicePublicKey, cn: &str) -> Vec<u8> {
        let mut params = CertificateParams::new(vec![cn.to_string()]).expect("SAN");
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = datetime!(2020-01-01 00:00:00 UTC);
        params.not_after = datetime!(2040-01-01 00:00:00 UTC);
        let issuer = Issuer::from_params(&self.params, &self.key);
        params
            .signed_by(key, &issuer)
            .expect("CA signs leaf")
            .der()
            .to_vec()
    }

    /// A client certificate and its PKCS#8 key (for mutual TLS tests).
    pub fn issue_client(&self, cn: &str) -> (Vec<u8>, Vec<u8>) {
        let key = KeyPair::generate().expect("ECDSA key");
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = datetime!(2020-01-01 00:00:00 UTC);
        params.not_after = datetime!(2040-01-01 00:00:00 UTC);
        let issuer = Issuer::from_params(&self.params, &self.key);
        let der = params
            .signed_by(&key, &issuer)
            .expect("CA signs client")
            .der()
            .to_vec();
        (der, key.serialize_der())
    }
}
