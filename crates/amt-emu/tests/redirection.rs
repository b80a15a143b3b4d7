//! Issue 14: Serial-over-LAN on 16994 with Debian's `amtterm` (1.4: type-1
//! user/password authentication, plain TCP) against the real `amt-emu
//! serve` on an AMT 15 device. The console enables SOL with the requests
//! Intel's wsman-messages builds; amtterm is refused before that, refused
//! for a user without the Redirection realm and by an injected fault; then
//! it sees the boot messages after a reset, logs in at the prompt and the
//! shell answers. The journal, the transcript (`ctl machine serial`) and
//! ^] ending the session follow.
//!
//! Port offsets 14000–14090 are this file's.

mod support;

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use md5::{Digest, Md5};
use serde_json::Value;
use support::*;

const OFFSET: u16 = 14000;
/// 16994 + OFFSET.
const SOL_PORT: u16 = 16994 + OFFSET;

/// A running amtterm with its stdin a pipe we type into.
struct Amtterm {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Drop for Amtterm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(mut r: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let out = buf.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 1024];
        while let Ok(n) = r.read(&mut chunk) {
            if n == 0 {
                break;
            }
            out.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    buf
}

impl Amtterm {
    fn start(user: &str, password: &str) -> Amtterm {
        let mut child = Command::new("amtterm")
            .args(["-u", user, "-p", password, "127.0.0.1"])
            .arg(SOL_PORT.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run amtterm (see .ci/install-clients)");
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        Amtterm {
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
        }
    }

    fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Waits until stdout (`on_stdout`) or stderr contains `needle` after
    /// byte `from`.
    fn wait_for(&self, on_stdout: bool, from: usize, needle: &str) {
        let deadline = Instant::now() + CLIENT_TIMEOUT;
        loop {
            let text = if on_stdout { self.out() } else { self.err() };
            if text.get(from..).is_some_and(|t| t.contains(needle)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "amtterm never printed {needle:?}\nstdout: {:?}\nstderr: {:?}",
                self.out(),
                self.err()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types `text` and waits for `answer` on the screen after it.
    fn type_and_see(&mut self, text: &str, answer: &str) {
        let from = self.out().len();
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
        self.wait_for(true, from, answer);
    }

    /// Waits for amtterm to exit.
    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + CLIENT_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "amtterm did not exit: {}",
                self.err()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// amtterm run to its end with stdin closed: what it printed on stderr.
fn amtterm_refused(user: &str, password: &str) -> String {
    let mut cmd = Command::new("amtterm");
    cmd.args(["-u", user, "-p", password, "127.0.0.1"])
        .arg(SOL_PORT.to_string());
    run(cmd, CLIENT_TIMEOUT).stderr
}

/// The journal's redirection entries (their actions).
fn redirection_journal(control: &str) -> Vec<String> {
    let journal = ctl(control, &["journal"]);
    journal
        .as_array()
        .expect("journal entries")
        .iter()
        .filter(|e| e["class"] == "redirection")
        .map(|e| e["action"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Waits until `count` SOL sessions have closed (the device releases a
/// session just before it journals the close, so the next one is not
/// answered "busy").
fn wait_closed(control: &str, count: usize) {
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    loop {
        let actions = redirection_journal(control);
        let closed = actions
            .iter()
            .filter(|a| a.starts_with("SOL session closed"))
            .count();
        if closed >= count {
            return;
        }
        assert!(Instant::now() < deadline, "{actions:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ctl(control: &str, args: &[&str]) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_amt-emu"));
    cmd.args(["ctl", "--control", control]).args(args);
    let out = run(cmd, CLIENT_TIMEOUT);
    assert!(out.success, "ctl {args:?}: {}", out.stderr);
    serde_json::from_str(&out.stdout).expect("ctl prints JSON")
}

#[test]
fn amtterm_opens_sol_sees_the_boot_and_logs_in() {
    let emu = Emu::start_with_control_api(OFFSET, &["--firmware", "15.0.23"]);
    let url = format!("http://{}/wsman", emu.addr("Plain", "Remote"));
    let control = format!("127.0.0.1:{}", 16990 + OFFSET);
    let dir = tempfile::tempdir().unwrap();
    let call = |ns: &str, class: &str, method: &str, args: Option<&str>| {
        let reply = post(&url, &wsman_messages(ns, class, method, args), dir.path());
        assert_eq!(reply.status, 200, "{ns}.{class}.{method}: {}", reply.body);
        reply.body
    };

    // SOL is off on a device nobody configured: the session start fails.
    let err = amtterm_refused("admin", PASSWORD);
    assert!(err.contains("redirection session start failed"), "{err}");

    // The console enables SOL and IDE-R and the listener, as RPS does.
    let r = call(
        "AMT",
        "RedirectionService",
        "RequestStateChange",
        Some("[32771]"),
    );
    assert_eq!(text(&r, "g:ReturnValue").as_deref(), Some("0"), "{r}");
    let service = r#"[{"CreationClassName":"AMT_RedirectionService","ElementName":"Intel(r) AMT Redirection Service","EnabledState":32771,"ListenerEnabled":true,"Name":"Intel(r) AMT Redirection Service","SystemCreationClassName":"CIM_ComputerSystem","SystemName":"Intel(r) AMT"}]"#;
    let r = call("AMT", "RedirectionService", "Put", Some(service));
    assert_eq!(
        text(&r, "g:ListenerEnabled").as_deref(),
        Some("true"),
        "{r}"
    );

    // Two ACL users: one with the Redirection realm (2), one without.
    let realm = text(
        &call("AMT", "GeneralSettings", "Get", None),
        "g:DigestRealm",
    )
    .expect("the realm");
    let add_user = |name: &str, password: &str, realms: &str| {
        let ha1: [u8; 16] = Md5::digest(format!("{name}:{realm}:{password}")).into();
        let digest = base64::engine::general_purpose::STANDARD.encode(ha1);
        let r = call(
            "AMT",
            "AuthorizationService",
            "AddUserAclEntryEx",
            Some(&format!(r#"[2,{realms},"{name}","{digest}"]"#)),
        );
        assert_eq!(text(&r, "g:ReturnValue").as_deref(), Some("0"), "{r}");
    };
    add_user("viewer", "V1ewer!pw", "[13]");
    add_user("operator", "0perator!pw", "[2,13]");

    let err = amtterm_refused("viewer", "V1ewer!pw");
    assert!(err.contains("session authentication failed"), "{err}");
    let err = amtterm_refused("admin", "wrong-password");
    assert!(err.contains("session authentication failed"), "{err}");

    // An injected fault refuses the next SOL session only.
    ctl(
        &control,
        &[
            "faults",
            "add",
            r#"{"kind":"refuse_session","class":"SOL","times":1}"#,
        ],
    );
    let err = amtterm_refused("admin", PASSWORD);
    assert!(err.contains("redirection session start failed"), "{err}");

    // The Redirection-realm user opens SOL; a second session is busy
    // while it is open; closing stdin ends amtterm.
    let mut op = Amtterm::start("operator", "0perator!pw");
    op.wait_for(false, 0, "serial-over-lan redirection ok");
    let err = amtterm_refused("admin", PASSWORD);
    assert!(
        err.contains("redirection session start failed"),
        "busy: {err}"
    );
    drop(op.stdin.take());
    op.wait_exit();
    drop(op);
    wait_closed(&control, 1);

    // The admin opens SOL; a reset shows the BIOS banner and the boot,
    // then the login prompt.
    let mut sol = Amtterm::start("admin", PASSWORD);
    sol.wait_for(false, 0, "serial-over-lan redirection ok");
    let r = call(
        "CIM",
        "PowerManagementService",
        "RequestPowerStateChange",
        Some("[10]"),
    );
    assert_eq!(text(&r, "g:ReturnValue").as_deref(), Some("0"), "{r}");
    sol.wait_for(true, 0, "Booting from hard drive...");
    sol.wait_for(true, 0, "login: ");
    assert!(sol.out().contains("BIOS "), "{}", sol.out());

    // Log in and talk to the shell (amtterm sends Enter as \r).
    sol.type_and_see("tester\n", "Password: ");
    sol.type_and_see("s3cret\n", "tester@");
    sol.type_and_see("whoami\n", "\r\ntester\r\n");
    sol.type_and_see("uname -a\n", "GNU/Linux");
    sol.type_and_see("frobnicate\n", "frobnicate: command not found");
    assert!(!sol.out().contains("s3cret"), "the password echoed");

    // The owner's view: the transcript holds the session, and the journal
    // the session's steps.
    let serial = ctl(&control, &["machine", "serial"]);
    let transcript = serial["transcript"].as_str().unwrap();
    assert!(transcript.contains("whoami\r\ntester\r\n"), "{transcript}");
    // Typed from the control API, seen on the SOL console.
    ctl(&control, &["machine", "serial", "hostname\r"]);
    sol.wait_for(true, 0, "hostname\r\namt-emu-host\r\n");

    // ^] ends the session (EndSOLRedirection, then EndRedirectionSession).
    let stdin = sol.stdin.as_mut().unwrap();
    stdin.write_all(b"\x1d").unwrap();
    stdin.flush().unwrap();
    assert!(sol.wait_exit().success(), "{}", sol.err());

    wait_closed(&control, 2);
    let actions = redirection_journal(&control);
    assert!(
        actions.iter().any(|a| a == "SOL session opened"),
        "{actions:?}"
    );
    assert!(
        actions
            .iter()
            .any(|a| a.starts_with("SOL session closed: ended by the console")),
        "{actions:?}"
    );
    assert!(
        actions
            .iter()
            .any(|a| a == "redirection authentication failed"),
        "{actions:?}"
    );

    // SOL off again: refused.
    let r = call(
        "AMT",
        "RedirectionService",
        "RequestStateChange",
        Some("[32769]"),
    );
    assert_eq!(text(&r, "g:ReturnValue").as_deref(), Some("0"), "{r}");
    let err = amtterm_refused("admin", PASSWORD);
    assert!(err.contains("redirection session start failed"), "{err}");
}
