//! The `amt-emu` binary as a user runs it.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::strip_ansi;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_amt-emu"))
}

/// Starts `amt-emu serve` and waits for its "listening" log line, returning
/// the child and the TLS address it logged.
fn serve(args: &[&str]) -> (Child, String) {
    let mut child = bin()
        .arg("serve")
        .args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            let plain = strip_ansi(&line);
            if plain.contains("listening") && plain.contains("Tls") {
                let addr = plain
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
                    .unwrap()
                    .to_string();
                return (child, addr);
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("amt-emu serve did not report a TLS listener");
}

fn interrupt_and_wait(mut child: Child) -> std::process::ExitStatus {
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("amt-emu did not stop on Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_then_show_state() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (child, addr) = serve(&[
        "--state-dir",
        state.to_str().unwrap(),
        "--port-offset",
        "9000",
        "--listen",
        "127.0.0.1",
        "--bios-time",
        "unset",
        "--seed",
        "7",
    ]);
    assert_eq!(addr, "127.0.0.1:25993", "16993 + offset");
    let s_client = Command::new("openssl")
        .args(["s_client", "-connect", &addr])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&s_client.stdout);
    assert!(
        out.contains("CN = Unknown") || out.contains("CN=Unknown"),
        "{out}"
    );
    let status = interrupt_and_wait(child);
    assert!(status.success(), "clean exit on Ctrl-C: {status:?}");

    let show = bin()
        .args(["state", "show", "--state-dir", state.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(show.status.success());
    let json: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(json["firmware_version"], "16.1.25.2128");
    assert_eq!(json["provisioning_state_value"], 0);
    assert!(json["digest_realm"]
        .as_str()
        .unwrap()
        .starts_with("Digest:"));
    let certs = json["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0]["read_only"], true);
    assert!(certs[0]["pem"]
        .as_str()
        .unwrap()
        .contains("BEGIN CERTIFICATE"));
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(!text.contains("PRIVATE KEY") && !text.contains("pkcs8"));
}

#[test]
fn state_show_names_a_corrupt_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("flash.img"),
        b"AMT-EMU-FLASH 1\nsha256 00\n\n{}",
    )
    .unwrap();
    let out = bin()
        .args(["state", "show", "--state-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("flash.img") && err.contains("checksum"),
        "{err}"
    );
}

#[test]
fn help_lists_every_serve_option() {
    let out = bin().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for opt in [
        "--state-dir",
        "--listen",
        "--port-offset",
        "--firmware",
        "--bios-time",
        "--seed",
        "--admin-password",
    ] {
        assert!(help.contains(opt), "missing {opt} in:\n{help}");
    }
}

#[test]
fn bad_arguments_are_refused() {
    for args in [
        &["serve", "--firmware", "banana"][..],
        &["serve", "--bios-time", "yesterday"],
    ] {
        let out = bin().args(args).output().unwrap();
        assert!(!out.status.success());
    }
}

#[test]
fn ctl_and_host_verbs_drive_a_running_device() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/scenarios/bios-clock-unset.toml"
    );
    let (child, _addr) = serve(&[
        "--state-dir",
        dir.path().join("s").to_str().unwrap(),
        "--port-offset",
        "9100",
        "--scenario",
        scenario,
    ]);
    let control = ["--control", "127.0.0.1:26090"];
    let run = |args: &[&str]| {
        let out = bin().args(args).args(control).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (ok, state) = run(&["ctl", "state"]);
    assert!(ok, "{state}");
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(
        state["bios_clock"]["mode"], "unset",
        "the scenario shaped the device"
    );
    let (ok, account) = run(&["host", "local-account"]);
    assert!(ok && account.contains("$$OsAdmin"));
    let (ok, _) = run(&["ctl", "mebx", "add-hash", &"ab".repeat(32), "Lab root"]);
    assert!(ok);
    let (ok, hashes) = run(&["host", "hashes"]);
    assert!(ok && hashes.contains("Lab root"));
    let (ok, _) = run(&[
        "ctl",
        "faults",
        "add",
        r#"{"operation":"Get","kind":"delay","ms":10}"#,
    ]);
    assert!(ok);
    let (ok, rules) = run(&["ctl", "faults", "list"]);
    assert!(ok && rules.contains("delay"));
    let (ok, network) = run(&[
        "ctl",
        "network",
        "lan",
        r#"{"wifi":true,"dhcp_server":false}"#,
    ]);
    assert!(ok, "{network}");
    let network: serde_json::Value = serde_json::from_str(&network).unwrap();
    assert_eq!(network["environment"]["wifi"], true);
    let (ok, network) = run(&["ctl", "network", "show"]);
    assert!(ok, "{network}");
    let network: serde_json::Value = serde_json::from_str(&network).unwrap();
    assert_eq!(network["environment"]["dhcp_server"], false);
    let (refused, _) = run(&["ctl", "network", "lan", r#"{"ip_address":"nope"}"#]);
    assert!(!refused, "an invalid LAN is a failing exit status");
    let (refused, _) = run(&["ctl", "mebx", "password", "weak"]);
    assert!(!refused, "a refusal is a failing exit status");
    let status = interrupt_and_wait(child);
    assert!(status.success());
}
