//! Console-side PKI for tests: what a provisioning server does with the
//! keys an AMT device holds. Dev-only; never a dependency of production
//! code. Also an IDE-R console ([`ider`]) and the boot media it lends
//! ([`media`]).

pub mod ider;
pub mod media;

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

    /// A TLS server certificate (`CN` and DNS SAN `cn`) and its PKCS#8
    /// key: a server the device connects to (a test MPS).
    pub fn issue_server(&self, cn: &str) -> (Vec<u8>, Vec<u8>) {
        let params = CertificateParams::new(vec![cn.to_string()]).expect("SAN");
        self.issue(params, cn, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate and its PKCS#8 key (for mutual TLS tests).
    pub fn issue_client(&self, cn: &str) -> (Vec<u8>, Vec<u8>) {
        self.issue(
            CertificateParams::default(),
            cn,
            ExtendedKeyUsagePurpose::ClientAuth,
        )
    }

    /// A certificate for a new ECDSA key, `CN` `cn`, for `purpose`, valid
    /// 2020–2040, signed by this CA; and the key (PKCS#8).
    fn issue(
        &self,
        mut params: CertificateParams,
        cn: &str,
        purpose: ExtendedKeyUsagePurpose,
    ) -> (Vec<u8>, Vec<u8>) {
        let key = KeyPair::generate().expect("ECDSA key");
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![purpose];
        params.not_before = datetime!(2020-01-01 00:00:00 UTC);
        params.not_after = datetime!(2040-01-01 00:00:00 UTC);
        let issuer = Issuer::from_params(&self.params, &self.key);
        let der = params
            .signed_by(&key, &issuer)
            .expect("the CA signs")
            .der()
            .to_vec();
        (der, key.serialize_der())
    }
}

/// The Intel AMT provisioning certificate OID, 2.16.840.1.113741.1.2.3.
pub const AMT_PROVISIONING_OID: [u64; 8] = [2, 16, 840, 1, 113741, 1, 2, 3];

/// How the test provisioning leaf is marked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafMarker {
    /// Extended key usage with the AMT provisioning OID (and serverAuth).
    Oid,
    /// OU `Intel(R) Client Setup Certificate`.
    Ou,
    /// Neither (the firmware must refuse it).
    None,
}

/// A provisioning certificate chain as a vPro CA would issue it: root,
/// intermediate, leaf with an RSA key (AdminSetup signatures are RSA).
pub struct ProvisioningPki {
    pub root: Vec<u8>,
    pub intermediate: Vec<u8>,
    pub leaf: Vec<u8>,
    leaf_key: KeyPair,
}

impl ProvisioningPki {
    /// `seed` makes the leaf's RSA key reproducible.
    pub fn new(leaf_cn: &str, marker: LeafMarker, seed: u64) -> Self {
        use rand::SeedableRng;
        use rsa::pkcs8::EncodePrivateKey;
        let root = TestCa::new("Test vPro Root");
        let inter_key = KeyPair::generate().expect("ECDSA key");
        let mut inter_params = CertificateParams::default();
        inter_params.distinguished_name = DistinguishedName::new();
        inter_params
            .distinguished_name
            .push(DnType::CommonName, "Test vPro Issuing CA");
        inter_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        inter_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        inter_params.not_before = datetime!(2020-01-01 00:00:00 UTC);
        inter_params.not_after = datetime!(2040-01-01 00:00:00 UTC);
        let root_issuer = Issuer::from_params(&root.params, &root.key);
        let intermediate = inter_params
            .signed_by(&inter_key, &root_issuer)
            .expect("root signs intermediate")
            .der()
            .to_vec();

        let mut rng = rand::rngs::ChaCha20Rng::seed_from_u64(seed);
        let rsa_key = rsa::PrivateKey::new(&mut rng, 2048).expect("RSA key");
        let pkcs8 = rsa_key.to_pkcs8_der().expect("PKCS#8");
        let leaf_key = KeyPair::from_pkcs8_der_and_sign_algo(
            &pkcs8.as_bytes().to_vec().into(),
            &PKCS_RSA_SHA256,
        )
        .expect("RSA key pair");
        let mut leaf_params = CertificateParams::new(vec![leaf_cn.to_string()]).expect("SAN");
        leaf_params.distinguished_name = DistinguishedName::new();
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, leaf_cn);
        match marker {
            LeafMarker::Oid => {
                leaf_params.extended_key_usages = vec![
                    ExtendedKeyUsagePurpose::ServerAuth,
                    ExtendedKeyUsagePurpose::Other(AMT_PROVISIONING_OID.to_vec()),
                ];
            }
            LeafMarker::Ou => {
                leaf_params.distinguished_name.push(
                    DnType::OrganizationalUnitName,
                    "Intel(R) Client Setup Certificate",
                );
                leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            }
            LeafMarker::None => {
                leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            }
        }
        leaf_params.not_before = datetime!(2020-01-01 00:00:00 UTC);
        leaf_params.not_after = datetime!(2040-01-01 00:00:00 UTC);
        let inter_issuer = Issuer::from_params(&inter_params, &inter_key);
        let leaf = leaf_params
            .signed_by(&leaf_key, &inter_issuer)
            .expect("intermediate signs leaf")
            .der()
            .to_vec();
        ProvisioningPki {
            root: root.der,
            intermediate,
            leaf,
            leaf_key,
        }
    }

    /// SHA-256 of the root certificate: what MEBx adds as a custom hash.
    pub fn root_sha256(&self) -> Vec<u8> {
        use sha2::Digest;
        sha2::Sha256::digest(&self.root).to_vec()
    }

    /// The leaf's private key as PKCS#8 DER (for a TLS client certificate).
    pub fn leaf_key_pkcs8(&self) -> Vec<u8> {
        self.leaf_key.serialize_der()
    }

    /// RSA PKCS#1 v1.5 SHA-256 signature with the leaf key (what a console
    /// sends as `DigitalSignature`).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.leaf_key.sign(message).expect("RSA signs")
    }
}
