//! `amt-emu fleet` as the container and Kubernetes manifests run it: every
//! flag from the environment, `ports` addressing, the control API's
//! `/healthz` and `/api/devices`, and a fleet file with an error.
//!
//! Fixed ports: control on 16990 + 13000, device blocks from 30100
//! (16992 + 13108 rounded), loopback devices on 16993 + 13000.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{openssl_peer_certificate, run, Fleet, CLIENT_TIMEOUT};

/// Starts `amt-emu fleet` with `env` and waits for "fleet ready".
fn start(env: &[(&str, &str)]) -> Fleet {
    Fleet::start(&[], env)
}

fn get(url: &str) -> (String, serde_json::Value) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-w", "\n%{http_code}", "--max-time", "30", url]);
    let out = run(cmd, CLIENT_TIMEOUT);
    let (body, status) = out.stdout.rsplit_once('\n').unwrap_or(("", &out.stdout));
    (
        status.to_string(),
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn a_fleet_in_port_blocks_configured_from_the_environment() {
    let _fleet = start(&[
        ("AMT_EMU_COUNT", "3"),
        ("AMT_EMU_SEED", "5"),
        ("AMT_EMU_ADDRESSING", "ports"),
        ("AMT_EMU_LISTEN", "127.0.0.1"),
        ("AMT_EMU_PORT_BASE", "30100"),
        ("AMT_EMU_INDEX_BASE", "300"),
        ("AMT_EMU_CONTROL", "127.0.0.1:29990"),
        ("AMT_EMU_ADMIN_PASSWORD", "P@ssw0rd"),
    ]);
    let (status, _) = get("http://127.0.0.1:29990/healthz");
    assert_eq!(status, "200");
    let (_, devices) = get("http://127.0.0.1:29990/api/devices");
    let devices = devices.as_array().expect("a list").clone();
    let ids: Vec<_> = devices.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["dev-00300", "dev-00301", "dev-00302"]);
    let tls: Vec<_> = devices.iter().map(|d| d["tls"].as_str().unwrap()).collect();
    assert_eq!(
        tls,
        ["127.0.0.1:30101", "127.0.0.1:30111", "127.0.0.1:30121"]
    );
    // Device 1's block answers a real handshake with its own certificate.
    let a = openssl_peer_certificate("127.0.0.1:30111");
    let b = openssl_peer_certificate("127.0.0.1:30121");
    assert_ne!(a, b);
    let (status, device) = get("http://127.0.0.1:29990/api/devices/dev-00301");
    assert_eq!(status, "200");
    assert_eq!(device["control_mode"], "client");
}

#[test]
fn a_fleet_file_with_an_error_names_its_line_and_field_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fleet.toml");
    std::fs::write(
        &file,
        "[[group]]\ncount = 2\n\n[[group]]\ncount = 1\nprovisioning = \"acm\"\n",
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_amt-emu"));
    cmd.arg("fleet")
        .arg("--fleet-file")
        .arg(&file)
        .args(["--state-dir"])
        .arg(dir.path().join("state"))
        .args(["--control", "127.0.0.1:29991", "--port-offset", "13000"]);
    let out = run(cmd, Duration::from_secs(30));
    assert!(!out.success);
    assert!(
        out.stderr.contains("fleet.toml:6: provisioning:"),
        "{}",
        out.stderr
    );
    assert!(!dir.path().join("state").exists(), "nothing started");
}

#[test]
fn loopback_addressing_off_loopback_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_amt-emu"));
    cmd.args(["fleet", "--count", "2", "--listen", "192.0.2.10"])
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args(["--control", "127.0.0.1:29992", "--port-offset", "13000"]);
    let out = run(cmd, Duration::from_secs(30));
    assert!(!out.success);
    assert!(out.stderr.contains("192.0.2.1"), "{}", out.stderr);
    assert!(out.stderr.contains("127.0.0.0/8"), "{}", out.stderr);
}
