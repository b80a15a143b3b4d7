//! The firmware's self-signed certificate as a real TLS client sees it.

mod support;

use ::time::macros::datetime;
use amt_device::BiosClock;
use amt_server::{Emulator, EmulatorConfig};
use sha2::{Digest, Sha256};
use support::{openssl, openssl_fetch_certificate, openssl_handshake_ok};
use x509_parser::prelude::*;

fn config(dir: &std::path::Path, clock: BiosClock) -> EmulatorConfig {
    EmulatorConfig {
        state_dir: Some(dir.to_path_buf()),
        bios_clock: Some(clock),
        seed: None,
        ..EmulatorConfig::default()
    }
}

async fn fetch(addr: std::net::SocketAddr) -> Vec<u8> {
    tokio::task::spawn_blocking(move || openssl_fetch_certificate(addr))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn presented_certificate_follows_every_firmware_rule() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(config(dir.path(), BiosClock::Unset))
        .await
        .unwrap();
    assert!(emu.http_addr().is_none(), "CSME 16.1 closes 16992 remotely");
    let der = fetch(emu.tls_addr().expect("16993 is open")).await;
    let (_, cert) = X509Certificate::from_der(&der).unwrap();

    for name in [cert.subject(), cert.issuer()] {
        assert_eq!(
            name.to_string(),
            "C=Unknown, ST=Unknown, L=Unknown, O=Unknown, OU=Unknown, CN=Unknown"
        );
    }
    // Serial = SHA-256 of the SubjectPublicKeyInfo, first 20 octets, top bit
    // cleared; recomputed here from the key openssl extracts.
    let (ok, spki) = openssl(&["x509", "-inform", "DER", "-pubkey", "-noout"], &der);
    assert!(ok);
    let (ok, spki_der) = openssl(&["pkey", "-pubin", "-outform", "DER"], &spki);
    assert!(ok);
    let digest = Sha256::digest(&spki_der);
    let mut expected = digest[..20].to_vec();
    expected[0] &= 0x7f;
    let strip = |v: &[u8]| {
        v.iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(cert.raw_serial()), strip(&expected));

    assert_eq!(
        cert.validity().not_before.timestamp(),
        datetime!(2020-01-01 00:00:00 UTC).unix_timestamp()
    );
    cert.verify_signature(None).expect("signed by its own key");
    let mut pem = b"-----BEGIN CERTIFICATE-----\n".to_vec();
    use base64::Engine;
    pem.extend(
        base64::engine::general_purpose::STANDARD
            .encode(&der)
            .as_bytes(),
    );
    pem.extend(b"\n-----END CERTIFICATE-----\n");
    let path = dir.path().join("presented.pem");
    std::fs::write(&path, &pem).unwrap();
    let p = path.to_str().unwrap();
    let (ok, out) = openssl(&["verify", "-CAfile", p, p], b"");
    assert!(ok, "openssl verify: {}", String::from_utf8_lossy(&out));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn not_before_is_the_bios_time_when_set() {
    let dir = tempfile::tempdir().unwrap();
    let bios = datetime!(2024-02-29 13:37:00 UTC);
    let emu = Emulator::start(config(
        dir.path(),
        BiosClock::set(bios, ::time::OffsetDateTime::now_utc()),
    ))
    .await
    .unwrap();
    let der = fetch(emu.tls_addr().unwrap()).await;
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    assert_eq!(
        cert.validity().not_before.timestamp(),
        bios.unix_timestamp()
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_keeps_the_certificate_and_unprovision_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(config(dir.path(), BiosClock::Host))
        .await
        .unwrap();
    let first = fetch(emu.tls_addr().unwrap()).await;
    emu.shutdown().await;

    let mut emu = Emulator::start(config(dir.path(), BiosClock::Host))
        .await
        .unwrap();
    let again = fetch(emu.tls_addr().unwrap()).await;
    assert_eq!(first, again, "a restart serves the same certificate");

    emu.unprovision().await.unwrap();
    let fresh = fetch(emu.tls_addr().unwrap()).await;
    assert_ne!(fresh, first);
    let (_, old) = X509Certificate::from_der(&first).unwrap();
    let (_, new) = X509Certificate::from_der(&fresh).unwrap();
    assert_ne!(old.public_key().raw, new.public_key().raw, "a new key pair");
    let gone = emu
        .host()
        .with_device(|d| d.cert_store().certificates().iter().all(|c| c.der != first));
    assert!(gone, "the old certificate is gone from the store");
    emu.shutdown().await;

    // And the new one is what comes back after another restart.
    let emu = Emulator::start(config(dir.path(), BiosClock::Host))
        .await
        .unwrap();
    assert_eq!(fetch(emu.tls_addr().unwrap()).await, fresh);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn corrupt_state_is_a_clear_error_not_a_reset() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(config(dir.path(), BiosClock::Host))
        .await
        .unwrap();
    emu.shutdown().await;
    let image = dir.path().join("flash.img");
    let mut bytes = std::fs::read(&image).unwrap();
    let n = bytes.len();
    bytes.truncate(n / 2);
    std::fs::write(&image, &bytes).unwrap();
    let err = Emulator::start(config(dir.path(), BiosClock::Host))
        .await
        .expect_err("refused");
    let msg = err.to_string();
    assert!(msg.contains("flash.img"), "names the file: {msg}");
    assert_eq!(std::fs::read(&image).unwrap(), bytes, "left untouched");
}

#[tokio::test(flavor = "multi_thread")]
async fn older_firmware_serves_plain_http_and_no_tls() {
    let emu = Emulator::start(EmulatorConfig {
        firmware: Some("15.0.23".parse().unwrap()),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    assert!(
        emu.tls_addr().is_none(),
        "no TLS before a console configures it"
    );
    let addr = emu.http_addr().expect("16992 open on AMT 15");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-X",
                "POST",
                &format!("http://{addr}/wsman"),
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "401");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn seeded_devices_are_identical() {
    let a = Emulator::start(EmulatorConfig {
        seed: Some(42),
        bios_clock: Some(BiosClock::Unset),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let b = Emulator::start(EmulatorConfig {
        seed: Some(42),
        bios_clock: Some(BiosClock::Unset),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let ca = fetch(a.tls_addr().unwrap()).await;
    let cb = fetch(b.tls_addr().unwrap()).await;
    assert_eq!(ca, cb);
    let addr = a.tls_addr().unwrap();
    assert!(
        tokio::task::spawn_blocking(move || openssl_handshake_ok(addr))
            .await
            .unwrap()
    );
    a.shutdown().await;
    b.shutdown().await;
}
