//! TLS per firmware generation, as `openssl s_client` and curl see it: which
//! protocol versions and suites 16993 accepts and refuses once TLS is
//! configured. The expectations below are the table docs/firmware-versions.md
//! links ("TLS per generation"); the device profile's `TlsOffer`
//! (crates/amt-device/src/tls_offer.rs) holds the same facts as data.

mod support;

use std::net::SocketAddr;

use amt_device::{PtStatus, TlsInstance, TlsSettingDataPut};
use amt_server::{Emulator, EmulatorConfig, RunningEmulator};
use amt_testkit::{DevicePublicKey, TestCa};

const PASSWORD: &str = "P@ssw0rd";

/// One client probe: `s_client` version flag and OpenSSL cipher string
/// (`None`: TLS 1.3 with its default suites).
#[derive(Clone, Copy, Debug)]
struct Probe {
    version: &'static str,
    cipher: Option<&'static str>,
}

const fn probe(version: &'static str, cipher: &'static str) -> Probe {
    Probe {
        version,
        cipher: Some(cipher),
    }
}

const TLS10_AES128_SHA: Probe = probe("-tls1", "AES128-SHA");
const TLS10_AES256_SHA: Probe = probe("-tls1", "AES256-SHA");
const TLS11_AES128_SHA: Probe = probe("-tls1_1", "AES128-SHA");
const TLS12_AES128_SHA: Probe = probe("-tls1_2", "AES128-SHA");
const TLS12_AES128_SHA256: Probe = probe("-tls1_2", "AES128-SHA256");
const TLS12_AES128_GCM: Probe = probe("-tls1_2", "AES128-GCM-SHA256");
const TLS12_DHE_AES256_GCM: Probe = probe("-tls1_2", "DHE-RSA-AES256-GCM-SHA384");
const TLS12_ECDHE_AES128_GCM: Probe = probe("-tls1_2", "ECDHE-RSA-AES128-GCM-SHA256");
const TLS11_ECDHE_AES128_SHA: Probe = probe("-tls1_1", "ECDHE-RSA-AES128-SHA");
const TLS13: Probe = Probe {
    version: "-tls1_3",
    cipher: None,
};

/// (firmware, [(probe, accepted)]).
const TABLE: &[(&str, &[(Probe, bool)])] = &[
    (
        // AMT 8: TLS 1.0/1.1, static-RSA AES-CBC with SHA-1 only.
        "8.1.40",
        &[
            (TLS10_AES128_SHA, true),
            (TLS10_AES256_SHA, true),
            (TLS11_AES128_SHA, true),
            (TLS11_ECDHE_AES128_SHA, false),
            (TLS12_AES128_SHA, false),
            (TLS13, false),
        ],
    ),
    (
        // AMT 11: the last with TLS 1.0; still no TLS 1.2.
        "11.8.50",
        &[
            (TLS10_AES128_SHA, true),
            (TLS11_AES128_SHA, true),
            (TLS12_AES128_SHA, false),
            (TLS12_AES128_GCM, false),
            (TLS13, false),
        ],
    ),
    (
        // AMT 12: TLS 1.0 gone, TLS 1.2 in, static RSA and DHE, no ECDHE.
        "12.0.40",
        &[
            (TLS10_AES128_SHA, false),
            (TLS11_AES128_SHA, true),
            (TLS12_AES128_SHA, true),
            (TLS12_AES128_SHA256, true),
            (TLS12_AES128_GCM, true),
            (TLS12_DHE_AES256_GCM, true),
            (TLS12_ECDHE_AES128_GCM, false),
            (TLS13, false),
        ],
    ),
    (
        // CSME 15.0: TLS 1.2 only; ECDHE beside AMT 12's static-RSA suites.
        "15.0.23",
        &[
            (TLS10_AES128_SHA, false),
            (TLS11_AES128_SHA, false),
            (TLS12_AES128_SHA, true),
            (TLS12_AES128_GCM, true),
            (TLS12_ECDHE_AES128_GCM, true),
            (TLS13, false),
        ],
    ),
    (
        // CSME 16.1 (rustls): TLS 1.2 forward-secret AEAD and TLS 1.3.
        "16.1.25",
        &[
            (TLS10_AES128_SHA, false),
            (TLS11_AES128_SHA, false),
            (TLS12_AES128_SHA, false),
            (TLS12_AES128_GCM, false),
            (TLS12_ECDHE_AES128_GCM, true),
            (TLS13, true),
        ],
    ),
];

fn as_device_error(s: PtStatus) -> amt_device::DeviceError {
    amt_device::DeviceError::Refused(s)
}

/// A provisioned device of `firmware` with TLS configured the console way
/// (key in the firmware, CA-signed certificate, TLS on, CommitChanges).
async fn tls_device(firmware: &str) -> RunningEmulator {
    let emu = Emulator::start(EmulatorConfig {
        admin_password: Some(PASSWORD.into()),
        firmware: Some(firmware.parse().expect("firmware version")),
        seed: Some(7),
        ..EmulatorConfig::default()
    })
    .await
    .expect("device starts");
    let ca = TestCa::new("Console CA");
    emu.host()
        .change_device_and_listeners(|d, _| {
            let key = d.generate_key_pair(0, 2048).map_err(as_device_error)?;
            let public = DevicePublicKey::from_pkcs1(
                d.cert_store().key(key).unwrap().key.pkcs1_public_der()?,
            );
            let der = ca.sign_server_cert(&public, "amt.example.test");
            let cert = d.add_certificate(&der).map_err(as_device_error)?;
            // No context before 16.1 (no firmware certificate): Create;
            // from 16.1 the self-signed one's context exists: Put.
            if d.profile().mints_self_signed_certificate() {
                d.put_tls_credential_context(cert)
            } else {
                d.create_tls_credential_context(cert)
            }
            .map_err(as_device_error)?;
            d.put_tls_setting_data(
                TlsInstance::Remote,
                TlsSettingDataPut {
                    enabled: true,
                    accept_non_secure_connections: Some(false),
                    mutual_authentication: Some(false),
                    trusted_cn: Vec::new(),
                },
            )
            .map_err(as_device_error)?;
            d.commit_changes().map_err(as_device_error)?;
            Ok(())
        })
        .await
        .expect("TLS configured");
    emu
}

/// Whether `s_client` completes a handshake with `probe`, and what it
/// printed.
fn handshake(addr: SocketAddr, probe: Probe) -> (bool, String) {
    let connect = addr.to_string();
    let cipher;
    let mut args = vec!["s_client", "-connect", &connect, probe.version];
    if let Some(c) = probe.cipher {
        // OpenSSL 3 offers TLS 1.0/1.1, SHA-1 and static RSA only at
        // security level 0, as consoles for old AMT configure it.
        cipher = format!("{c}@SECLEVEL=0");
        args.extend(["-cipher", &cipher]);
    }
    let (_, out) = support::openssl(&args, b"");
    let out = String::from_utf8_lossy(&out).into_owned();
    let ok = out.contains("Cipher is ") && !out.contains("Cipher is (NONE)");
    (ok, out)
}

#[tokio::test(flavor = "multi_thread")]
async fn each_generation_accepts_its_versions_and_suites_and_refuses_the_rest() {
    let mut failures = Vec::new();
    for (firmware, probes) in TABLE {
        let emu = tls_device(firmware).await;
        let addr = emu.tls_addr().expect("16993 open once TLS is configured");
        let results = tokio::task::spawn_blocking(move || {
            probes
                .iter()
                .map(|(p, expected)| (*p, *expected, handshake(addr, *p)))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        for (p, expected, (ok, out)) in results {
            if ok != expected {
                let tail: String = out.lines().rev().take(12).collect::<Vec<_>>().join(" | ");
                failures.push(format!(
                    "{firmware} {} {:?}: expected {}, got {} ({tail})",
                    p.version,
                    p.cipher,
                    if expected { "accepted" } else { "refused" },
                    if ok { "accepted" } else { "refused" },
                ));
            }
        }
        emu.shutdown().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The negotiated protocol is the one the client asked for: AMT 8 speaks
/// TLS 1.0 with AES128-SHA, and WS-Man answers over it (curl, as a console
/// for old AMT runs it).
#[tokio::test(flavor = "multi_thread")]
async fn curl_reaches_amt_8_over_tls_1_0_with_a_static_rsa_cbc_suite() {
    let emu = tls_device("8.1.40").await;
    let addr = emu.tls_addr().unwrap();
    let url = format!("https://{addr}/wsman");
    let (tls10, modern) = tokio::task::spawn_blocking(move || {
        (
            support::curl(&[
                "-k",
                "--tlsv1.0",
                "--tls-max",
                "1.0",
                "--ciphers",
                "AES128-SHA@SECLEVEL=0",
                "-X",
                "POST",
                &url,
            ]),
            support::curl(&["-k", "--tlsv1.2", "-X", "POST", &url]),
        )
    })
    .await
    .unwrap();
    assert_eq!(tls10, (true, "401".to_string()), "WS-Man over TLS 1.0");
    assert!(
        !modern.0,
        "a client that insists on TLS 1.2 cannot reach AMT 8"
    );
    let (ok, out) = tokio::task::spawn_blocking(move || handshake(addr, TLS10_AES128_SHA))
        .await
        .unwrap();
    assert!(ok);
    assert!(
        out.contains("Protocol  : TLSv1\n") || out.contains("Protocol: TLSv1\n"),
        "{out}"
    );
    assert!(out.contains("Cipher is AES128-SHA"), "{out}");
    emu.shutdown().await;
}
