//! The console flows of Intel's TLS guidance, on the device value alone:
//! every step and every refusal, with the firmware's status codes.

use ::time::macros::datetime;
use amt_device::{
    BiosClock, Device, DeviceConfig, Entropy, FirmwareProfile, PtStatus, TlsInstance,
    TlsSettingDataPut,
};
use amt_testkit::{null_signed_csr, DevicePublicKey, TestCa};
use x509_parser::prelude::*;

fn device(seed: u64) -> Device {
    let config = DeviceConfig {
        profile: FirmwareProfile::default(),
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

fn public_key(d: &Device, key: u32) -> DevicePublicKey {
    DevicePublicKey::from_pkcs1(
        d.cert_store()
            .key(key)
            .unwrap()
            .key
            .pkcs1_public_der()
            .unwrap(),
    )
}

fn remote_put(enabled: bool, accept: bool, mutual: bool) -> TlsSettingDataPut {
    TlsSettingDataPut {
        enabled,
        accept_non_secure_connections: Some(accept),
        mutual_authentication: Some(mutual),
        trusted_cn: Vec::new(),
    }
}

#[test]
fn enrollment_with_a_firmware_generated_key_and_csr() {
    let mut d = device(1);
    let ca = TestCa::new("Test Root");
    let root = d.add_trusted_root_certificate(&ca.der).unwrap();
    assert!(d.cert_store().certificate(root).unwrap().trusted_root);

    let key = d.generate_key_pair(0, 2048).unwrap();
    let csr = null_signed_csr(&public_key(&d, key), "amt.example.test");
    let signed = d.generate_pkcs10_request(key, 1, &csr).unwrap();
    let (_, req) = X509CertificationRequest::from_der(&signed).unwrap();
    req.verify_signature()
        .expect("the device signed the request with its key");
    assert_eq!(
        req.certification_request_info.subject.to_string(),
        "CN=amt.example.test"
    );

    let leaf = ca.sign_server_cert(&public_key(&d, key), "amt.example.test");
    let cert = d.add_certificate(&leaf).unwrap();
    assert_eq!(
        d.cert_store().certificate(cert).unwrap().key_handle,
        Some(key)
    );

    // 16.1 ships a context (the self-signed certificate): Create is refused,
    // Put switches it.
    assert_eq!(
        d.create_tls_credential_context(cert),
        Err(PtStatus::DUPLICATE)
    );
    d.put_tls_credential_context(cert).unwrap();
    d.put_tls_setting_data(TlsInstance::Remote, remote_put(true, false, false))
        .unwrap();
    assert!(d.tls_changes_pending());
    let before = d.active_tls_certificate().unwrap().0.handle;
    assert_ne!(before, cert, "nothing changes before CommitChanges");

    let outcome = d.commit_changes().unwrap();
    assert!(outcome.tls_changed);
    assert!(!d.tls_changes_pending());
    assert_eq!(d.active_tls_certificate().unwrap().0.handle, cert);
    assert!(
        d.cert_store().self_signed().is_some(),
        "self-signed stays, read-only"
    );
}

#[test]
fn enrollment_with_an_imported_key() {
    use rsa::pkcs8::EncodePrivateKey;
    let mut d = device(2);
    let mut rng = rand::rngs::ChaCha20Rng::from_seed([9; 32]);
    let private = rsa::PrivateKey::new(&mut rng, 2048).unwrap();
    let pkcs8 = private.to_pkcs8_der().unwrap();
    let key = d.add_key(pkcs8.as_bytes()).unwrap();
    assert_eq!(d.add_key(pkcs8.as_bytes()), Err(PtStatus::DUPLICATE));
    let ca = TestCa::new("Import CA");
    let leaf = ca.sign_server_cert(&public_key(&d, key), "imported");
    let cert = d.add_certificate(&leaf).unwrap();
    assert_eq!(d.add_certificate(&leaf), Err(PtStatus::DUPLICATE));
    d.put_tls_credential_context(cert).unwrap();
    d.commit_changes().unwrap();
    assert_eq!(d.active_tls_certificate().unwrap().0.handle, cert);
}

use rand::SeedableRng;

#[test]
fn refusals() {
    let mut d = device(3);
    let ss = d.cert_store().self_signed().unwrap().handle;
    assert_eq!(
        d.delete_certificate(ss),
        Err(PtStatus::NOT_PERMITTED),
        "read-only"
    );
    let ss_key = d.cert_store().self_signed().unwrap().key_handle.unwrap();
    assert_eq!(
        d.delete_key(ss_key),
        Err(PtStatus::NOT_PERMITTED),
        "its certificate uses it"
    );

    // A certificate in use by the credential context.
    let key = d.generate_key_pair(0, 2048).unwrap();
    let ca = TestCa::new("CA");
    let cert = d
        .add_certificate(&ca.sign_server_cert(&public_key(&d, key), "x"))
        .unwrap();
    d.put_tls_credential_context(cert).unwrap();
    assert_eq!(d.delete_certificate(cert), Err(PtStatus::NOT_PERMITTED));

    // A certificate for a key the device does not hold.
    let other = TestCa::new("Other");
    assert_eq!(
        d.add_certificate(&other.der),
        Err(PtStatus::CERT_KEY_NOT_MATCH)
    );

    // Garbage blobs.
    for junk in [
        &b""[..],
        b"\x30\x03\x02\x01\x00",
        b"not a certificate at all",
    ] {
        assert_eq!(d.add_certificate(junk), Err(PtStatus::INVALID_CERT));
        assert_eq!(
            d.add_trusted_root_certificate(junk),
            Err(PtStatus::INVALID_CERT)
        );
        assert_eq!(d.add_key(junk), Err(PtStatus::INVALID_KEY));
    }
    assert_eq!(
        d.add_trusted_root_certificate(&vec![0x30; 5000]),
        Err(PtStatus::INVALID_CERT)
    );

    // Key generation parameters.
    assert_eq!(
        d.generate_key_pair(1, 2048),
        Err(PtStatus::INVALID_PARAMETER)
    );
    assert_eq!(
        d.generate_key_pair(0, 1024),
        Err(PtStatus::INVALID_PARAMETER)
    );

    // A CSR for another key, an unknown key handle, SHA-1.
    let csr_other = null_signed_csr(&public_key(&d, ss_key), "x");
    assert_eq!(
        d.generate_pkcs10_request(key, 1, &csr_other),
        Err(PtStatus::CERT_KEY_NOT_MATCH)
    );
    assert_eq!(
        d.generate_pkcs10_request(999, 1, &csr_other),
        Err(PtStatus::NOT_FOUND)
    );
    assert_eq!(
        d.generate_pkcs10_request(ss_key, 0, &csr_other),
        Err(PtStatus::UNSUPPORTED)
    );
    assert_eq!(
        d.generate_pkcs10_request(ss_key, 1, b"junk"),
        Err(PtStatus::INVALID_PARAMETER)
    );

    // CSME 16.1: the remote interface stays TLS-only.
    assert_eq!(
        d.put_tls_setting_data(TlsInstance::Remote, remote_put(true, true, false)),
        Err(PtStatus::NOT_PERMITTED)
    );
    assert_eq!(
        d.put_tls_setting_data(TlsInstance::Remote, remote_put(false, false, false)),
        Err(PtStatus::NOT_PERMITTED)
    );
    // The local interface may still accept non-TLS.
    d.put_tls_setting_data(TlsInstance::Local, remote_put(true, true, false))
        .unwrap();

    // Mutual authentication needs a trusted root before it can be committed.
    d.put_tls_setting_data(TlsInstance::Remote, remote_put(true, false, true))
        .unwrap();
    assert_eq!(d.commit_changes(), Err(PtStatus::DATA_MISSING));
}

#[test]
fn trusted_roots_are_refused_while_mutual_tls_is_on() {
    let mut d = device(4);
    let ca = TestCa::new("Root A");
    d.add_trusted_root_certificate(&ca.der).unwrap();
    d.put_tls_setting_data(TlsInstance::Remote, remote_put(true, false, true))
        .unwrap();
    d.commit_changes().unwrap();
    let other = TestCa::new("Root B");
    assert_eq!(
        d.add_trusted_root_certificate(&other.der),
        Err(PtStatus::NOT_PERMITTED)
    );
}

#[test]
fn self_signed_retires_when_its_key_backs_a_real_certificate() {
    let mut d = device(5);
    let ss = d.cert_store().self_signed().unwrap().clone();
    let key = ss.key_handle.unwrap();
    let ca = TestCa::new("CA");
    let csr = null_signed_csr(&public_key(&d, key), "amt");
    d.generate_pkcs10_request(key, 1, &csr).unwrap();
    let real = d
        .add_certificate(&ca.sign_server_cert(&public_key(&d, key), "amt"))
        .unwrap();
    assert!(d.retire_self_signed_if_key_reused());
    assert!(d.cert_store().self_signed().is_none());
    assert!(d.cert_store().certificate(ss.handle).is_none());
    assert_eq!(d.tls_credential_context(), Some(real));
    assert_eq!(d.active_tls_certificate().unwrap().0.handle, real);
    assert!(
        !d.retire_self_signed_if_key_reused(),
        "nothing left to retire"
    );
}

#[test]
fn self_signed_is_kept_when_its_key_was_not_reused() {
    let mut d = device(6);
    assert!(!d.retire_self_signed_if_key_reused());
    assert!(d.cert_store().self_signed().is_some());
}

#[test]
fn store_capacity_is_enforced() {
    let mut d = device(7);
    let mut added = 0;
    loop {
        let ca = TestCa::new(&format!("Root {added}"));
        match d.add_trusted_root_certificate(&ca.der) {
            Ok(_) => added += 1,
            Err(e) => {
                assert_eq!(e, PtStatus::MAX_LIMIT_REACHED);
                break;
            }
        }
        assert!(added < 100, "a limit exists");
    }
    assert_eq!(
        d.cert_store().certificates().len(),
        amt_device::public_key_management::MAX_CERTIFICATES
    );
}

#[test]
fn staged_tls_survives_a_flash_round_trip() {
    let mut d = device(8);
    d.put_tls_setting_data(TlsInstance::Local, remote_put(true, true, false))
        .unwrap();
    let image = amt_device::flash::encode(&d);
    let back = amt_device::flash::decode(&image, Entropy::from_seed(1)).unwrap();
    assert!(back.tls_changes_pending());
    assert_eq!(back.tls_settings(), d.tls_settings());
    assert_eq!(back.active_tls(), d.active_tls());
}
