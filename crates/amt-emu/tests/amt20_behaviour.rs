//! The AMT 20/21 scenario through the real binary: `amt-emu serve
//! --scenario fixtures/scenarios/amt-20-21-behaviour.toml`, driven with curl
//! and `amt-emu ctl` as a QA engineer would (docs/testing-with-amt-emu.md,
//! "AMT 20/21 behaviour"). Port offsets 15400..15440.

mod support;

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{run, Emu, CLIENT_TIMEOUT, PASSWORD};

const OFFSET: u16 = 15400;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// curl --digest posting a request fixture: (exit code, HTTP status, what
/// curl said on stderr).
fn curl(url: &str, request: &str, extra: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-sSk", "--max-time", "20", "--digest", "-u"])
        .arg(format!("admin:{PASSWORD}"))
        .args(["-H", "Content-Type: application/soap+xml;charset=UTF-8"])
        .args(extra)
        .arg("--data-binary")
        .arg(format!(
            "@{}",
            repo(&format!("fixtures/requests/{request}")).display()
        ))
        .args(["-o", "/dev/null", "-w", "%{http_code}", url]);
    let out = run(cmd, CLIENT_TIMEOUT);
    // `run` reports success only; curl's exit code is in its message.
    let exit = if out.success {
        0
    } else {
        out.stderr
            .split("curl: (")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(-1)
    };
    (exit, out.stdout.trim().to_string(), out.stderr)
}

fn refused(addr: SocketAddr) -> bool {
    match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionRefused,
    }
}

const GET_GENERAL: &str = "AMT_GeneralSettings/Get.request.xml";
const COMMIT: &str = "AMT_SetupAndConfigurationService/CommitChanges.request.xml";

#[test]
fn the_amt_20_21_scenario_drops_the_first_tls_1_3_request_and_restarts_the_ports_on_commit() {
    let scenario = repo("fixtures/scenarios/amt-20-21-behaviour.toml");
    let emu = Emu::start_with_control_api(OFFSET, &["--scenario", scenario.to_str().unwrap()]);
    let tls: SocketAddr = emu.addr("Tls", "Remote").parse().unwrap();
    let url = format!("https://{tls}/wsman");

    // The first request over TLS 1.3 gets no answer; the retry does.
    let (exit, _, said) = curl(&url, GET_GENERAL, &["--tlsv1.3"]);
    assert_eq!(exit, 52, "curl: empty reply from server: {said}");
    let (exit, code, said) = curl(&url, GET_GENERAL, &["--tlsv1.3"]);
    assert_eq!((exit, code.as_str()), (0, "200"), "{said}");

    // What is left is the port stack restart, as `amt-emu ctl` lists it.
    let control = format!("127.0.0.1:{}", 16990 + OFFSET);
    let mut ctl = Command::new(env!("CARGO_BIN_EXE_amt-emu"));
    ctl.args(["ctl", "--control", &control, "faults", "list"]);
    let listed = run(ctl, CLIENT_TIMEOUT);
    assert!(listed.success, "{}", listed.stderr);
    let rules: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(rules.as_array().map(Vec::len), Some(1), "{rules}");
    assert_eq!(rules[0]["kind"], "restart_ports");
    assert_eq!(rules[0]["seconds"], 5);

    // CommitChanges: the connection closes, then the port refuses.
    let (exit, _, said) = curl(&url, COMMIT, &[]);
    assert_eq!(exit, 52, "{said}");
    assert!(refused(tls), "16993 refuses right after CommitChanges");

    // It comes back on the same port (bound generous, not timed).
    let deadline = Instant::now() + Duration::from_secs(90);
    while refused(tls) {
        assert!(Instant::now() < deadline, "16993 never reopened");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (exit, code, said) = curl(&url, GET_GENERAL, &[]);
    assert_eq!((exit, code.as_str()), (0, "200"), "{said}");
}
