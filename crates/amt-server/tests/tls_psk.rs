//! TLS-PSK setup as a setup server sees it (docs/tls-psk.md): PID and PPS
//! entered in MEBx (control API), a TLS-PSK handshake with `openssl
//! s_client -psk_identity PID -psk KEY`, WS-Man over that connection
//! (digest with the MEBx password), CommitChanges ending the setup and
//! spending the pair; AMT 11 refuses PSK; AMT 2.1 sets up nothing while the
//! MEBx password is the default.

mod support;

use std::net::SocketAddr;

use amt_server::{EmulatorConfig, RunningEmulator};
use serde_json::Value;

const PID: &str = "AB12-CD34";
const PPS: &str = "QW12-ER34-TY56-UI78-OP90-AS12-DF34-GH56";
const MEBX_PASSWORD: &str = "Chang3d!pw";

/// `-psk` takes the key in hex: the PPS characters as ASCII.
fn psk_hex() -> String {
    hex::encode(PPS.replace('-', ""))
}

async fn device(firmware: &str) -> RunningEmulator {
    EmulatorConfig::new()
        .firmware(firmware.parse().expect("firmware"))
        .with_control_api()
        .start()
        .await
        .expect("device starts")
}

/// A control API POST with curl: (HTTP status, JSON body).
async fn control(emu: &RunningEmulator, path: &str, body: &str) -> (u16, Value) {
    support::control(emu, "POST", path, Some(body)).await
}

/// One request over a TLS-PSK connection made by `openssl s_client`;
/// returns (the device answered HTTP over a PSK suite, everything s_client
/// printed). s_client prints the suite from the ServerHello even when the
/// handshake fails later (the PSK identity is checked after it), so an
/// answer is the proof.
fn psk_exchange(addr: SocketAddr, identity: &str, request: &[u8]) -> (bool, String) {
    let (_, out) = support::openssl(
        &[
            "s_client",
            "-connect",
            &addr.to_string(),
            "-tls1",
            "-psk_identity",
            identity,
            "-psk",
            &psk_hex(),
            "-cipher",
            "PSK-AES128-CBC-SHA@SECLEVEL=0",
            "-ign_eof",
        ],
        request,
    );
    let out = String::from_utf8_lossy(&out).into_owned();
    let answered = out.contains("Cipher is PSK-AES128-CBC-SHA") && out.contains("HTTP/1.1 ");
    (answered, out)
}

fn post(body: &str, authorization: Option<&str>) -> Vec<u8> {
    let mut r = format!(
        "POST /wsman HTTP/1.1\r\nHost: amt\r\nContent-Type: application/soap+xml;charset=UTF-8\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(a) = authorization {
        r.push_str(&format!("Authorization: {a}\r\n"));
    }
    r.push_str("\r\n");
    r.push_str(body);
    r.into_bytes()
}

/// A digest-authenticated WS-Man call over TLS-PSK: a 401 for the
/// challenge, then the call (each on its own connection, as the firmware
/// closes after every reply).
fn psk_wsman(addr: SocketAddr, body: &str, nc: &str) -> String {
    let (ok, challenge) = psk_exchange(addr, "AB12CD34", &post("", None));
    assert!(ok, "PSK handshake: {challenge}");
    let (realm, nonce) = support::parse_challenge(&challenge).expect("a challenge");
    let response =
        support::digest_response("admin", &realm, MEBX_PASSWORD, &nonce, nc, "POST", "/wsman");
    let header = support::digest_header("admin", &realm, &nonce, "/wsman", nc, &response);
    let (ok, reply) = psk_exchange(addr, "AB12CD34", &post(body, Some(&header)));
    assert!(ok, "PSK handshake: {reply}");
    reply
}

#[tokio::test(flavor = "multi_thread")]
async fn amt_8_sets_up_over_tls_psk_with_the_mebx_pid_and_pps() {
    let emu = device("8.1.40").await;
    assert_eq!(emu.tls_addr(), None, "no TLS before a certificate or a PSK");
    let (status, _) = control(
        &emu,
        "/api/mebx/password",
        &format!(r#"{{"password":"{MEBX_PASSWORD}"}}"#),
    )
    .await;
    assert_eq!(status, 200);
    let (status, device) = control(
        &emu,
        "/api/mebx/psk",
        &format!(r#"{{"pid":"{PID}","pps":"{PPS}"}}"#),
    )
    .await;
    assert_eq!(status, 200, "{device}");
    let addr = emu.tls_addr().expect("16993 opens for the setup server");

    // A wrong identity gets no handshake.
    let (ok, out) =
        tokio::task::spawn_blocking(move || psk_exchange(addr, "ZZ99ZZ99", &post("", None)))
            .await
            .unwrap();
    assert!(!ok, "unknown PSK identity accepted: {out}");

    // WS-Man through the PSK connection, as the setup server configures.
    let get = support::wsman_messages_request("AMT", "GeneralSettings", "Get", "");
    let commit =
        support::wsman_messages_request("AMT", "SetupAndConfigurationService", "CommitChanges", "");
    let (settings, committed) = tokio::task::spawn_blocking(move || {
        (
            psk_wsman(addr, &get, "00000001"),
            psk_wsman(addr, &commit, "00000001"),
        )
    })
    .await
    .unwrap();
    assert!(settings.contains("HTTP/1.1 200"), "{settings}");
    assert!(settings.contains("AMT_GeneralSettings"), "{settings}");
    assert!(committed.contains("HTTP/1.1 200"), "{committed}");
    assert!(
        committed.contains("<g:ReturnValue>0</g:ReturnValue>"),
        "{committed}"
    );

    // Set up: admin control mode, and the pair is spent.
    let (state, mode) = emu
        .host()
        .with_device(|d| (d.provisioning_state(), d.control_mode()));
    assert_eq!(state, amt_device::ProvisioningState::PostProvisioning);
    assert_eq!(mode, amt_device::ControlMode::Admin);
    if let Some(addr) = emu.tls_addr() {
        let (ok, out) =
            tokio::task::spawn_blocking(move || psk_exchange(addr, "AB12CD34", &post("", None)))
                .await
                .unwrap();
        assert!(!ok, "the spent PSK still works: {out}");
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn amt_11_refuses_psk() {
    let emu = device("11.8.50").await;
    let (status, body) = control(
        &emu,
        "/api/mebx/psk",
        &format!(r#"{{"pid":"{PID}","pps":"{PPS}"}}"#),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .starts_with("NOT_PERMITTED"),
        "{body}"
    );
    assert_eq!(emu.tls_addr(), None, "no PSK listener");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn amt_2_1_refuses_setup_until_the_mebx_password_changed() {
    let emu = device("2.1.0").await;
    let psk = format!(r#"{{"pid":"{PID}","pps":"{PPS}"}}"#);
    let (status, body) = control(&emu, "/api/mebx/psk", &psk).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(emu.tls_addr(), None);
    let (status, _) = control(
        &emu,
        "/api/mebx/password",
        &format!(r#"{{"password":"{MEBX_PASSWORD}"}}"#),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = control(&emu, "/api/mebx/psk", &psk).await;
    assert_eq!(status, 200, "{body}");
    let addr = emu.tls_addr().expect("PSK listener");
    let (ok, out) =
        tokio::task::spawn_blocking(move || psk_exchange(addr, "AB12CD34", &post("", None)))
            .await
            .unwrap();
    assert!(ok, "{out}");
    assert!(out.contains("HTTP/1.1 401"), "{out}");
    emu.shutdown().await;
}
