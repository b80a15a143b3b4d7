//! Lockout and timeouts on a virtual clock: the runtime's clock is paused
//! and advanced by the test, so nothing sleeps (crate::clock).

mod support;

use std::time::Duration;

use amt_server::digest::DigestError;
use amt_server::{EmulatorConfig, Interface, RunningEmulator, ServerLimits};
use support::{digest_header, digest_response, parse_challenge};
use tokio::io::AsyncReadExt;

const PASSWORD: &str = "P@ssw0rd";

async fn start(limits: ServerLimits) -> RunningEmulator {
    EmulatorConfig {
        limits,
        ..EmulatorConfig::new().admin_password(PASSWORD)
    }
    .start()
    .await
    .unwrap()
}

/// One login attempt with `password` under a fresh nonce.
fn login(emu: &RunningEmulator, password: &str) -> Result<(), DigestError> {
    let host = emu.host();
    let challenge = format!("WWW-Authenticate: {}", host.challenge(false));
    let (realm, nonce) = parse_challenge(&challenge).expect("a challenge");
    let response = digest_response(
        "admin", &realm, password, &nonce, "00000001", "POST", "/wsman",
    );
    let header = digest_header("admin", &realm, &nonce, "/wsman", "00000001", &response);
    host.authenticate(&header, "POST", "/wsman", Interface::Remote)
        .map(|_| ())
}

#[tokio::test(start_paused = true)]
async fn lockout_ends_when_the_virtual_clock_passes_its_duration() {
    let limits = ServerLimits {
        lockout_threshold: 3,
        lockout_duration: Duration::from_secs(600),
        ..ServerLimits::default()
    };
    let emu = start(limits).await;
    assert!(login(&emu, PASSWORD).is_ok());
    for _ in 0..3 {
        assert!(matches!(
            login(&emu, "wrong"),
            Err(DigestError::BadResponse)
        ));
    }
    assert!(
        matches!(login(&emu, PASSWORD), Err(DigestError::LockedOut)),
        "the right password is refused while locked"
    );
    tokio::time::advance(Duration::from_secs(599)).await;
    assert!(matches!(login(&emu, PASSWORD), Err(DigestError::LockedOut)));
    tokio::time::advance(Duration::from_secs(2)).await;
    assert!(login(&emu, PASSWORD).is_ok(), "ten virtual minutes later");
    emu.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_silent_client_is_dropped_at_the_handshake_timeout_of_the_virtual_clock() {
    let limits = ServerLimits {
        handshake_timeout: Duration::from_secs(3600),
        ..ServerLimits::default()
    };
    let emu = start(limits).await;
    let addr = emu.tls_addr().unwrap();
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let connected = tokio::time::Instant::now();
    let mut buf = [0u8; 16];
    // The server closes the connection once the (virtual) hour is up; the
    // runtime's clock jumps there as soon as nothing else is runnable.
    let n = silent.read(&mut buf).await.unwrap_or(0);
    assert_eq!(n, 0, "closed without a byte");
    assert!(
        connected.elapsed() >= Duration::from_secs(3600),
        "closed by the handshake timeout, not before"
    );
    emu.shutdown().await;
}
