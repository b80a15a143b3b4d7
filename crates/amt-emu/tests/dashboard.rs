//! The dashboard in a real browser: `amt-emu fleet --count 20`, then
//! Debian's chromium (headless) driven by selenium through Debian's
//! chromedriver (`tests/clients/dashboard-browser.py`) filters the list,
//! opens a device, watches a curl WS-Man call arrive in its live journal,
//! adds a fault rule with the page's form and sees the next call fail.
//! Screenshots land in `target/screenshots/dashboard-*.png`
//! (docs/dashboard.md shows them).
//!
//! Fixed ports: control on 16990 + 14300, loopback devices on
//! 127.1.43.1… at 16992/16993 + 14300; `serve` with a token on offset
//! 14310.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{clients_dir, run, wsman_messages, Emu, Fleet, CLIENT_TIMEOUT, PASSWORD};

const CONTROL: &str = "127.0.0.1:31290";
/// Device 7 of the fleet (loopback addressing: first address + 7).
const DEVICE: &str = "dev-00007";
const DEVICE_TLS: &str = "127.1.43.8:31293";

fn start_fleet() -> Fleet {
    #[rustfmt::skip]
    let fleet_args = [
        "--count", "20", "--seed", "16", "--listen", "127.1.43.1",
        "--port-offset", "14300", "--control", CONTROL, "--admin-password", PASSWORD,
    ];
    Fleet::start(&fleet_args, &[])
}

#[test]
fn the_dashboard_in_chromium_filters_opens_a_device_follows_its_journal_and_adds_a_fault() {
    let python = clients_dir().join(".venv/bin/python");
    assert!(
        python.exists(),
        "the Python clients are not installed: run .ci/install-clients"
    );
    let _fleet = start_fleet();
    let work = tempfile::tempdir().expect("temp dir");
    let body = work.path().join("general-settings-get.xml");
    std::fs::write(&body, wsman_messages("AMT", "GeneralSettings", "Get", None))
        .expect("write the request");
    let screenshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    let mut cmd = Command::new(python);
    cmd.arg(clients_dir().join("dashboard-browser.py"))
        .arg(format!("http://{CONTROL}"))
        .arg(DEVICE)
        .arg(format!("https://{DEVICE_TLS}/wsman"))
        .arg(&body)
        .arg(PASSWORD)
        .arg(&screenshots)
        .arg(work.path().join("chromium-profile"));
    let out = run(cmd, Duration::from_secs(300));
    assert!(
        out.success && out.stdout.contains("\nok\n"),
        "the browser script failed:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    for name in [
        "fleet", "filtered", "device", "console", "journal", "faults",
    ] {
        let png = screenshots.join(format!("dashboard-{name}.png"));
        assert!(png.exists(), "no screenshot {}", png.display());
    }
}

/// `amt-emu ctl --control 127.0.0.1:31300 [--token T] state`.
fn ctl_state(token: Option<&str>) -> support::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_amt-emu"));
    cmd.args(["ctl", "--control", "127.0.0.1:31300"]);
    if let Some(t) = token {
        cmd.args(["--token", t]);
    }
    cmd.arg("state");
    run(cmd, CLIENT_TIMEOUT)
}

#[test]
fn a_control_token_given_to_serve_is_asked_of_ctl_and_the_dashboard() {
    let _emu = Emu::start_with(
        14310,
        &[
            "--admin-password",
            PASSWORD,
            "--control-token",
            "t0ken-for-tests",
        ],
        &[],
    );
    let refused = ctl_state(None);
    assert!(!refused.success, "{}", refused.stdout);
    assert!(refused.stderr.contains("401"), "{}", refused.stderr);
    let wrong = ctl_state(Some("not-it"));
    assert!(!wrong.success);
    let state = ctl_state(Some("t0ken-for-tests"));
    assert!(state.success, "{}", state.stderr);
    assert!(
        state.stdout.contains("\"control_mode\": \"client\""),
        "{}",
        state.stdout
    );

    let mut curl = Command::new("curl");
    curl.args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "30",
    ])
    .arg("http://127.0.0.1:31300/devices/device");
    assert_eq!(run(curl, CLIENT_TIMEOUT).stdout, "401");
    let mut curl = Command::new("curl");
    curl.args([
        "-s",
        "-L",
        "-c",
        "-",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "30",
    ])
    .arg("http://127.0.0.1:31300/devices/device?token=t0ken-for-tests");
    let out = run(curl, CLIENT_TIMEOUT);
    assert!(out.stdout.starts_with("200"), "{}", out.stdout);
    assert!(
        out.stdout.contains("amt_emu_token\tt0ken-for-tests"),
        "{}",
        out.stdout
    );
}
