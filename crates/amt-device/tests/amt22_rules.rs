//! AMT 22's key and certificate rules on the device value: RSA-3072 keys
//! (GenerateKeyPair, AddKey), and SHA-384 signatures with RSA-3072 or
//! P-384 keys on the certificates a console adds (AddTrustedRootCertificate,
//! AddCertificate); SHA-256, RSA-2048 and P-256 refused with
//! PT_STATUS_INVALID_CERT (2063). The same blobs pass on CSME 16.1.

use ::time::macros::datetime;
use amt_device::{BiosClock, Device, DeviceConfig, Entropy, FirmwareProfile, PtStatus};
use amt_testkit::{DevicePublicKey, TestCa};
use rand::SeedableRng;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SignatureAlgorithm, PKCS_ECDSA_P384_SHA384, PKCS_RSA_SHA256, PKCS_RSA_SHA384,
};

fn device(version: &str, seed: u64) -> Device {
    let config = DeviceConfig {
        profile: FirmwareProfile::new(version.parse().unwrap()),
        bios_clock: BiosClock::Host,
    };
    let mut d = Device::new(
        config,
        Entropy::from_seed(seed),
        datetime!(2026-11-29 10:00:00 UTC),
    )
    .unwrap();
    d.provision_client_for_testing("P@ssw0rd");
    d
}

fn rsa_pkcs8(bits: usize, seed: u64) -> Vec<u8> {
    use rsa::pkcs8::EncodePrivateKey;
    let mut rng = rand::rngs::ChaCha20Rng::seed_from_u64(seed);
    rsa::PrivateKey::new(&mut rng, bits)
        .unwrap()
        .to_pkcs8_der()
        .unwrap()
        .as_bytes()
        .to_vec()
}

/// A self-signed root with this key and signature algorithm.
fn root(key: &KeyPair) -> (Vec<u8>, CertificateParams) {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "AMT 22 root");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    params.not_before = datetime!(2020-01-01 00:00:00 UTC);
    params.not_after = datetime!(2040-01-01 00:00:00 UTC);
    (params.self_signed(key).unwrap().der().to_vec(), params)
}

fn rsa_key(bits: usize, seed: u64, alg: &'static SignatureAlgorithm) -> KeyPair {
    let der = rsa_pkcs8(bits, seed);
    KeyPair::from_pkcs8_der_and_sign_algo(&der.as_slice().into(), alg).unwrap()
}

#[test]
fn amt_22_makes_and_takes_only_rsa_3072_keys() {
    let mut d = device("22.0.1", 1);
    assert_eq!(
        d.generate_key_pair(0, 2048),
        Err(PtStatus::INVALID_PARAMETER)
    );
    let key = d.generate_key_pair(0, 3072).unwrap();
    assert_eq!(d.cert_store().key(key).unwrap().key.bits(), 3072);
    assert_eq!(d.add_key(&rsa_pkcs8(2048, 2)), Err(PtStatus::INVALID_KEY));
    d.add_key(&rsa_pkcs8(3072, 3)).unwrap();

    let mut old = device("16.1.25", 1);
    assert_eq!(
        old.generate_key_pair(0, 3072),
        Err(PtStatus::INVALID_PARAMETER)
    );
    old.add_key(&rsa_pkcs8(2048, 2)).unwrap();
}

#[test]
fn amt_22_refuses_sha_256_rsa_2048_and_p_256_roots() {
    let mut d = device("22.0.1", 4);
    let mut old = device("16.1.25", 4);
    let p256_sha256 = TestCa::new("P-256 root").der;
    let rsa3072_sha256 = root(&rsa_key(3072, 5, &PKCS_RSA_SHA256)).0;
    let rsa2048_sha384 = root(&rsa_key(2048, 6, &PKCS_RSA_SHA384)).0;
    for weak in [&p256_sha256, &rsa3072_sha256, &rsa2048_sha384] {
        assert_eq!(
            d.add_trusted_root_certificate(weak),
            Err(PtStatus::INVALID_CERT)
        );
        old.add_trusted_root_certificate(weak).unwrap();
    }
    let p384 = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).unwrap();
    d.add_trusted_root_certificate(&root(&p384).0).unwrap();
    d.add_trusted_root_certificate(&root(&rsa_key(3072, 7, &PKCS_RSA_SHA384)).0)
        .unwrap();
}

#[test]
fn amt_22_refuses_a_device_certificate_signed_with_sha_256() {
    let mut d = device("22.0.1", 8);
    let key = d.generate_key_pair(0, 3072).unwrap();
    let public = DevicePublicKey::from_pkcs1(
        d.cert_store()
            .key(key)
            .unwrap()
            .key
            .pkcs1_public_der()
            .unwrap(),
    );
    let leaf = |issuer_key: &KeyPair, issuer_params: &CertificateParams| {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "amt22.example.test");
        params.not_before = datetime!(2020-01-01 00:00:00 UTC);
        params.not_after = datetime!(2040-01-01 00:00:00 UTC);
        params
            .signed_by(&public, &Issuer::from_params(issuer_params, issuer_key))
            .unwrap()
            .der()
            .to_vec()
    };
    let weak = TestCa::new("P-256 CA");
    assert_eq!(
        d.add_certificate(&leaf(&weak.key, &weak.params)),
        Err(PtStatus::INVALID_CERT)
    );
    let strong_key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).unwrap();
    let (_, strong_params) = root(&strong_key);
    d.add_certificate(&leaf(&strong_key, &strong_params))
        .unwrap();
}
