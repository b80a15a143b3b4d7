//! Issue 16: the firmware web UI in a real browser. Debian's headless
//! chromium, driven by chromedriver through selenium
//! (`tests/clients/web-ui-browser.py`), logs into the real `amt-emu serve`
//! over TLS with its self-signed certificate accepted, reads the system
//! status and the event log, and turns the host off from the remote
//! control page; the host's power state is then read back through WS-Man
//! (Intel's wsman-messages posted with curl). Screenshots of the pages go
//! to `target/screenshots/web-ui-*.png` (docs/web-ui.md shows copies).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::*;

const OFFSET: u16 = 14200;

/// How long the browser run may take on a slow, busy machine.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(240);

fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots")
}

/// The host's CIM power state through the console's poll
/// (CIM_ServiceAvailableToElement Enumerate + Pull).
fn wsman_power_state(url: &str, dir: &Path) -> String {
    let e = post(
        url,
        &wsman_messages("CIM", "ServiceAvailableToElement", "Enumerate", None),
        dir,
    );
    assert_eq!(e.status, 200, "{}", e.body);
    let ctx = text(&e.body, "g:EnumerationContext").expect("context");
    let p = post(
        url,
        &wsman_messages(
            "CIM",
            "ServiceAvailableToElement",
            "Pull",
            Some(&format!("[\"{ctx}\"]")),
        ),
        dir,
    );
    assert_eq!(p.status, 200, "{}", p.body);
    text(&p.body, "h:PowerState").expect("PowerState")
}

#[test]
fn a_browser_logs_in_over_tls_reads_status_and_log_and_powers_the_host_off() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emu::start(OFFSET, &[]);
    let tls = emu.addr("Tls", "Remote");
    let wsman = format!("https://{tls}/wsman");

    // A console turns the host off and on first, so the log has records.
    for code in [8, 2] {
        let change = post(
            &wsman,
            &wsman_messages(
                "CIM",
                "PowerManagementService",
                "RequestPowerStateChange",
                Some(&format!("[{code}]")),
            ),
            dir.path(),
        );
        assert_eq!(text(&change.body, "g:ReturnValue").as_deref(), Some("0"));
    }
    assert_eq!(wsman_power_state(&wsman, dir.path()), "2");

    let shots = screenshot_dir();
    let mut cmd = Command::new(clients_dir().join(".venv/bin/python"));
    cmd.arg(clients_dir().join("web-ui-browser.py"))
        .arg(format!("https://{tls}"))
        .args(["admin", PASSWORD])
        .arg(&shots);
    let out = run(cmd, BROWSER_TIMEOUT);
    assert!(out.success, "browser run failed:\n{}", out.stderr);
    let seen: serde_json::Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));

    // `/` led to the logon page; its button led through the digest login.
    assert!(
        seen["landed_on"]
            .as_str()
            .unwrap_or("")
            .ends_with("/logon.htm"),
        "{seen}"
    );
    assert!(seen["challenges"].as_u64().unwrap_or(0) >= 1, "{seen}");
    assert_eq!(seen["status_power"], "On", "{seen}");
    let uuid = seen["system_id"].as_str().unwrap_or("");
    assert_eq!(uuid.len(), 36, "{seen}");
    // The console's off and on, newest first.
    let events: Vec<&str> = seen["events"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e.as_str()).collect())
        .unwrap_or_default();
    assert!(
        events.iter().any(|e| e.contains("boot: operating-system")),
        "{seen}"
    );
    assert!(
        events.iter().any(|e| e.contains("power: S0 (on)")),
        "{seen}"
    );
    assert!(
        events.iter().any(|e| e.contains("power: S5 (soft off)")),
        "{seen}"
    );
    assert_eq!(seen["model"], "NUC12WSKi7", "{seen}");
    assert_eq!(seen["result"], "Command sent successfully.", "{seen}");
    assert_eq!(seen["power_after"], "Off (S5)", "{seen}");

    // WS-Man sees what the browser did.
    assert_eq!(wsman_power_state(&wsman, dir.path()), "8");

    for page in ["logon", "status", "events", "hardware", "remote"] {
        let png = shots.join(format!("web-ui-{page}.png"));
        let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
        assert!(bytes.starts_with(b"\x89PNG"), "{}", png.display());
    }
}
