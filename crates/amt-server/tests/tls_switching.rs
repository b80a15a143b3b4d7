//! Run-time TLS changes as a real client sees them: a committed credential
//! context switches the certificate for new handshakes without a restart
//! and without dropping open connections; mutual authentication demands a
//! client certificate from a trusted root (and TrustedCN).
//!
//! Every test runs against both TLS backends (rustls and OpenSSL) on the
//! reference profile: the behaviour is the firmware's, not the stack's.

mod support;

use amt_device::{PtStatus, TlsInstance, TlsSettingDataPut};
use amt_server::tls::TlsBackendKind;
use amt_server::{Emulator, EmulatorConfig, RunningEmulator};
use amt_testkit::{DevicePublicKey, TestCa};
use support::{curl, openssl_fetch_certificate, pem, write_file};

const PASSWORD: &str = "P@ssw0rd";

async fn start(backend: TlsBackendKind) -> RunningEmulator {
    Emulator::start(EmulatorConfig {
        admin_password: Some(PASSWORD.into()),
        tls_backend: Some(backend),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

fn as_device_error(s: PtStatus) -> amt_device::DeviceError {
    amt_device::DeviceError::Refused(s)
}

/// Console flow on the device: key in the firmware, CA-signed certificate,
/// credential context, CommitChanges. Returns the certificate DER.
async fn enroll(emu: &RunningEmulator, ca: &TestCa, mutual: Option<Vec<String>>) -> Vec<u8> {
    emu.host()
        .change_device_and_listeners(|d, _| {
            let key = d.generate_key_pair(0, 2048).map_err(as_device_error)?;
            let public = DevicePublicKey::from_pkcs1(
                d.cert_store().key(key).unwrap().key.pkcs1_public_der()?,
            );
            let der = ca.sign_server_cert(&public, "amt.example.test");
            let cert = d.add_certificate(&der).map_err(as_device_error)?;
            if let Some(cns) = &mutual {
                d.add_trusted_root_certificate(&ca.der)
                    .map_err(as_device_error)?;
                d.put_tls_setting_data(
                    TlsInstance::Remote,
                    TlsSettingDataPut {
                        enabled: true,
                        accept_non_secure_connections: Some(false),
                        mutual_authentication: Some(true),
                        trusted_cn: cns.clone(),
                    },
                )
                .map_err(as_device_error)?;
            }
            d.put_tls_credential_context(cert)
                .map_err(as_device_error)?;
            d.commit_changes().map_err(as_device_error)?;
            Ok(der)
        })
        .await
        .unwrap()
}

async fn fetch(addr: std::net::SocketAddr) -> Vec<u8> {
    tokio::task::spawn_blocking(move || openssl_fetch_certificate(addr))
        .await
        .unwrap()
}

async fn commit_switches_the_certificate_of_new_handshakes(backend: TlsBackendKind) {
    let emu = start(backend).await;
    let addr = emu.tls_addr().unwrap();
    let self_signed = fetch(addr).await;
    let ca = TestCa::new("Console CA");
    let enrolled = enroll(&emu, &ca, None).await;
    assert_eq!(emu.tls_addr(), Some(addr), "same listener, no restart");
    let now_served = fetch(addr).await;
    assert_ne!(now_served, self_signed);
    assert_eq!(now_served, enrolled);

    // It verifies against the console's CA with a strict client.
    let dir = tempfile::tempdir().unwrap();
    let ca_pem = write_file(dir.path(), "ca.pem", pem("CERTIFICATE", &ca.der).as_bytes());
    let url = format!("https://amt.example.test:{}/wsman", addr.port());
    let resolve = format!("amt.example.test:{}:127.0.0.1", addr.port());
    let (ok, code) = tokio::task::spawn_blocking(move || {
        curl(&[
            "--cacert",
            &ca_pem,
            "--resolve",
            &resolve,
            "-X",
            "POST",
            &url,
        ])
    })
    .await
    .unwrap();
    assert!(ok, "curl verified the CA-signed certificate");
    assert_eq!(code, "401");
    emu.shutdown().await;
}

async fn open_connections_survive_a_switch(backend: TlsBackendKind) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let emu = start(backend).await;
    let addr = emu.tls_addr().unwrap();
    let connector = tokio_rustls::TlsConnector::from(support::no_verify_tls_client());
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut tls = connector
        .connect(rustls::pki_types::ServerName::try_from("amt").unwrap(), tcp)
        .await
        .unwrap();
    let before = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();

    let ca = TestCa::new("Console CA");
    let enrolled = enroll(&emu, &ca, None).await;
    assert_ne!(before, enrolled);

    tls.write_all(b"POST /wsman HTTP/1.1\r\nHost: amt\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    tls.read_to_end(&mut reply).await.unwrap();
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        reply.starts_with("HTTP/1.1 401"),
        "the old connection still answers: {reply}"
    );
    emu.shutdown().await;
}

async fn mutual_authentication_requires_a_trusted_client_certificate(backend: TlsBackendKind) {
    let emu = start(backend).await;
    let addr = emu.tls_addr().unwrap();
    let ca = TestCa::new("Console CA");
    enroll(&emu, &ca, Some(Vec::new())).await;

    let dir = tempfile::tempdir().unwrap();
    let (good_cert, good_key) = ca.issue_client("console");
    let rogue = TestCa::new("Rogue CA");
    let (rogue_cert, rogue_key) = rogue.issue_client("console");
    let files = |name: &str, cert: &[u8], key: &[u8]| {
        (
            write_file(
                dir.path(),
                &format!("{name}.crt"),
                pem("CERTIFICATE", cert).as_bytes(),
            ),
            write_file(
                dir.path(),
                &format!("{name}.key"),
                pem("PRIVATE KEY", key).as_bytes(),
            ),
        )
    };
    let good = files("good", &good_cert, &good_key);
    let bad = files("rogue", &rogue_cert, &rogue_key);
    let url = format!("https://{addr}/wsman");
    let results = tokio::task::spawn_blocking(move || {
        (
            curl(&["-k", "-X", "POST", &url]),
            curl(&["-k", "--cert", &bad.0, "--key", &bad.1, "-X", "POST", &url]),
            curl(&[
                "-k", "--cert", &good.0, "--key", &good.1, "-X", "POST", &url,
            ]),
        )
    })
    .await
    .unwrap();
    assert!(!results.0 .0, "no client certificate: refused");
    assert!(
        !results.1 .0,
        "a certificate from an untrusted root: refused"
    );
    assert_eq!(
        results.2,
        (true, "401".to_string()),
        "a trusted client gets through TLS"
    );
    emu.shutdown().await;
}

async fn trusted_cn_limits_client_certificates(backend: TlsBackendKind) {
    let emu = start(backend).await;
    let addr = emu.tls_addr().unwrap();
    let ca = TestCa::new("Console CA");
    enroll(&emu, &ca, Some(vec!["console.example".into()])).await;
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for cn in ["console.example", "intruder.example"] {
        let (cert, key) = ca.issue_client(cn);
        paths.push((
            write_file(
                dir.path(),
                &format!("{cn}.crt"),
                pem("CERTIFICATE", &cert).as_bytes(),
            ),
            write_file(
                dir.path(),
                &format!("{cn}.key"),
                pem("PRIVATE KEY", &key).as_bytes(),
            ),
        ));
    }
    let url = format!("https://{addr}/wsman");
    let (allowed, refused) = tokio::task::spawn_blocking(move || {
        (
            curl(&[
                "-k",
                "--cert",
                &paths[0].0,
                "--key",
                &paths[0].1,
                "-X",
                "POST",
                &url,
            ]),
            curl(&[
                "-k",
                "--cert",
                &paths[1].0,
                "--key",
                &paths[1].1,
                "-X",
                "POST",
                &url,
            ]),
        )
    })
    .await
    .unwrap();
    assert_eq!(allowed, (true, "401".to_string()));
    assert!(!refused.0, "CN not in TrustedCN: refused");
    emu.shutdown().await;
}

/// Neither a session ID (TLS 1.2) nor a ticket (TLS 1.3) is handed out:
/// `openssl s_client -sess_out` finds no resumable session to save, so
/// every handshake is a full one and shows the certificate the device has
/// now.
async fn sessions_are_never_resumable(backend: TlsBackendKind) {
    let emu = start(backend).await;
    let addr = emu.tls_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let outcomes = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        move || {
            let connect = addr.to_string();
            let mut outcomes = Vec::new();
            for version in ["-tls1_2", "-tls1_3"] {
                let session = dir.join(format!("session{version}.pem"));
                let (_, out) = support::openssl(
                    &[
                        "s_client",
                        "-connect",
                        &connect,
                        version,
                        "-sess_out",
                        session.to_str().unwrap(),
                    ],
                    b"",
                );
                outcomes.push((
                    version,
                    String::from_utf8_lossy(&out).into_owned(),
                    session.exists(),
                ));
            }
            outcomes
        }
    })
    .await
    .unwrap();
    for (version, out, saved) in outcomes {
        assert!(out.contains("New, TLSv1"), "{version}: a handshake: {out}");
        assert!(
            !saved,
            "{version}: the server offered a session to resume: {out}"
        );
    }
    emu.shutdown().await;
}

/// One test per backend for each behaviour above.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod rustls_backend {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $name() {
                    super::$name(super::TlsBackendKind::Rustls).await
                }
            )*
        }
        mod openssl_backend {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $name() {
                    super::$name(super::TlsBackendKind::Openssl).await
                }
            )*
        }
    };
}

on_both_backends!(
    sessions_are_never_resumable,
    commit_switches_the_certificate_of_new_handshakes,
    open_connections_survive_a_switch,
    mutual_authentication_requires_a_trusted_client_certificate,
    trusted_cn_limits_client_certificates
);
