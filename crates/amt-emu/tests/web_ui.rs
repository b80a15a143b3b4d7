//! Issue 16: the firmware web UI in a real browser. Debian's headless
//! chromium, driven by chromedriver through selenium
//! (`tests/clients/web-ui-browser.py`), logs into the real `amt-emu serve`
//! over TLS with its self-signed certificate accepted, reads the system
//! status and the event log, and turns the host off from the remote
//! control page; the host's power state is then read back through WS-Man
//! (Intel's wsman-messages posted with curl), and the call journal
//! (`/api/journal` and `--journal FILE`) shows the browser's page views and
//! its form post, and never the password of a form curl posts. Screenshots
//! of the pages go to `target/screenshots/web-ui-*.png` (docs/web-ui.md
//! shows copies).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::*;

const OFFSET: u16 = 15600;

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

/// The web UI entries of the journal, oldest first, from the control API.
fn web_journal(journal: &serde_json::Value) -> Vec<serde_json::Value> {
    journal
        .as_array()
        .map(|a| a.iter().filter(|e| e["kind"] == "web").cloned().collect())
        .unwrap_or_default()
}

/// `curl -s URL` plus `args`: (status, body).
fn curl(args: &[&str], url: &str) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-k", "--max-time", "20", "-w", "\n%{http_code}"])
        .args(args)
        .arg(url);
    let out = run(cmd, CLIENT_TIMEOUT);
    let (body, code) = out.stdout.rsplit_once('\n').unwrap_or(("", ""));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

#[test]
fn a_browser_logs_in_over_tls_reads_status_and_log_and_powers_the_host_off() {
    let dir = tempfile::tempdir().unwrap();
    let journal_file = dir.path().join("journal.jsonl");
    let journal_arg = journal_file.to_string_lossy().into_owned();
    let emu = Emu::start_with_control_api(OFFSET, &["--journal", &journal_arg]);
    let control = format!("127.0.0.1:{}", 16990 + OFFSET);
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

    // The journal has what the browser did, marked as web requests: page
    // views (the logon page before the login, then as admin) and the form
    // post with its action, all over TLS.
    let (status, body) = curl(&[], &format!("http://{control}/api/journal"));
    assert_eq!(status, 200, "{body}");
    let journal: serde_json::Value = serde_json::from_str(&body).expect("journal JSON");
    let web = web_journal(&journal);
    let find = |method: &str, path: &str| {
        web.iter()
            .find(|e| e["method"] == method && e["path"] == path && e["http_status"] == 200)
            .unwrap_or_else(|| panic!("no {method} {path} 200 in {journal:#}"))
            .clone()
    };
    let logon = find("GET", "/logon.htm");
    assert!(logon["user"].is_null(), "{logon}");
    for path in ["/index.htm", "/events.htm", "/hw-sys.htm", "/remote.htm"] {
        let view = find("GET", path);
        assert_eq!(view["user"], "admin", "{view}");
        assert_eq!(view["interface"], "remote", "{view}");
        assert_eq!(view["transport"], "tls", "{view}");
    }
    let off = find("POST", "/RemoteForm");
    assert_eq!(off["user"], "admin", "{off}");
    assert_eq!(off["form_action"], "power: off", "{off}");
    assert_eq!(off["form_result"], "done", "{off}");
    assert_eq!(off["transport"], "tls", "{off}");
    // The style sheet is not journaled (every page fetches it), nor are the
    // digest challenges (401) the login starts with.
    assert!(
        web.iter()
            .all(|e| e["path"] != "/styles.css" && e["http_status"] != 401),
        "{journal:#}"
    );
    // WS-Man calls keep their shape, with the transport added.
    let wsman = journal
        .as_array()
        .and_then(|a| a.iter().find(|e| e.get("kind").is_none()))
        .expect("the WS-Man calls are journaled");
    assert_eq!(wsman["class"], "CIM_PowerManagementService", "{wsman}");
    assert_eq!(wsman["transport"], "tls", "{wsman}");

    // A password posted in a form is masked in the journal and its file.
    const SECRET: &str = "N0t-in-the-journal!";
    let (status, page) = curl(
        &[
            "--digest",
            "-u",
            &format!("admin:{PASSWORD}"),
            "--data",
            &format!("power=2&password={SECRET}"),
        ],
        &format!("https://{tls}/RemoteForm"),
    );
    assert_eq!(status, 400, "{page}");
    let (_, body) = curl(&[], &format!("http://{control}/api/journal"));
    let journal: serde_json::Value = serde_json::from_str(&body).expect("journal JSON");
    let refused = web_journal(&journal)
        .into_iter()
        .rev()
        .find(|e| e["http_status"] == 400)
        .unwrap_or_else(|| panic!("the refused form is journaled: {journal:#}"));
    assert_eq!(refused["request_body"], "power=2&password=***", "{refused}");
    assert_eq!(refused["transport"], "tls", "{refused}");
    let file = std::fs::read_to_string(&journal_file).expect("journal file");
    assert!(
        file.lines().count() >= web_journal(&journal).len(),
        "{file}"
    );
    for text in [&body, &file] {
        assert!(!text.contains(SECRET), "the form's password leaked: {text}");
        assert!(!text.contains(PASSWORD), "{text}");
    }
}
