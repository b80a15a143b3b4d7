//! Shared helpers for the tests that run the real `amt-emu` binary and
//! drive it with real clients (curl, openssl, Debian's `wsl`, Intel's
//! wsman-messages through node): a server child that is killed on drop,
//! subprocesses bounded by a timeout, and a little XML picking.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The admin password every test device is provisioned with.
pub const PASSWORD: &str = "P@ssw0rd";

/// How long any client subprocess may run.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// One listener the server reported on stderr.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listening {
    pub addr: String,
    /// `Tls` or `Plain`.
    pub transport: String,
    /// `Remote` or `Local`.
    pub interface: String,
}

/// A running `amt-emu serve`; the child is killed when this is dropped,
/// so a failing assertion never leaves a server behind.
pub struct Emu {
    child: Child,
    pub listening: Vec<Listening>,
    /// Holds the state directory for the server's lifetime.
    _state: tempfile::TempDir,
}

impl Drop for Emu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Emu {
    /// Starts `amt-emu serve --port-offset OFFSET --admin-password PASSWORD
    /// --no-control-api` plus `extra`, and waits for its "device ready" log
    /// line, collecting the "listening" lines logged before it.
    ///
    /// The fixed ports lie in Linux's ephemeral range, so a client socket
    /// elsewhere on the machine can hold one for a moment: a start that
    /// fails with "Address already in use" is retried a few times.
    pub fn start(offset: u16, extra: &[&str]) -> Emu {
        Emu::start_with(
            offset,
            &["--admin-password", PASSWORD, "--no-control-api"],
            extra,
        )
    }

    /// [`Emu::start`] with the control API on 16990 + OFFSET.
    pub fn start_with_control_api(offset: u16, extra: &[&str]) -> Emu {
        Emu::start_with(offset, &["--admin-password", PASSWORD], extra)
    }

    /// [`Emu::start`] with other base arguments than a provisioned device
    /// without control API (`base` empty: a new, unprovisioned device with
    /// its control API on 16990 + OFFSET).
    pub fn start_with(offset: u16, base: &[&str], extra: &[&str]) -> Emu {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Emu::try_start(offset, base, extra) {
                Ok(emu) => return emu,
                Err(log) if attempt < 5 && log.contains("Address already in use") => {
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(log) => panic!("amt-emu did not become ready:\n{log}"),
            }
        }
    }

    fn try_start(offset: u16, base: &[&str], extra: &[&str]) -> Result<Emu, String> {
        let state = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_amt-emu"))
            .arg("serve")
            .arg("--state-dir")
            .arg(state.path().join("state"))
            .args(["--port-offset", &offset.to_string()])
            .args(base)
            .args(extra)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start amt-emu");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut emu = Emu {
            child,
            listening: Vec::new(),
            _state: state,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut log = String::new();
        while Instant::now() < deadline {
            let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) else {
                if let Ok(Some(status)) = emu.child.try_wait() {
                    // Collect what is left of its stderr.
                    while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
                        log.push_str(&line);
                        log.push('\n');
                    }
                    return Err(format!("exited early ({status}):\n{log}"));
                }
                continue;
            };
            let line = strip_ansi(&line);
            log.push_str(&line);
            log.push('\n');
            if line.contains(" listening ") && line.contains("transport=") {
                let field = |k: &str| {
                    line.split_whitespace()
                        .find_map(|w| w.strip_prefix(k))
                        .unwrap_or_default()
                        .to_string()
                };
                emu.listening.push(Listening {
                    addr: field("addr="),
                    transport: field("transport="),
                    interface: field("interface="),
                });
            }
            if line.contains("device ready") {
                // Keep draining stderr so the server never blocks on it.
                std::thread::spawn(move || while rx.recv().is_ok() {});
                return Ok(emu);
            }
        }
        Err(format!("not ready after 60 s:\n{log}"))
    }

    /// The address of the listener with this transport and interface.
    pub fn addr(&self, transport: &str, interface: &str) -> String {
        self.listening
            .iter()
            .find(|l| l.transport == transport && l.interface == interface)
            .unwrap_or_else(|| {
                panic!(
                    "no {transport} listener on the {interface} interface: {:?}",
                    self.listening
                )
            })
            .addr
            .clone()
    }
}

/// `s` without its ANSI colour sequences.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut esc = false;
    for c in s.chars() {
        match (esc, c) {
            (false, '\x1b') => esc = true,
            (true, 'm') => esc = false,
            (true, _) => {}
            (false, c) => out.push(c),
        }
    }
    out
}

/// What a finished subprocess printed.
#[derive(Debug)]
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` with stdin closed, killing it if it outlives `timeout`.
pub fn run(mut cmd: Command, timeout: Duration) -> Output {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what} (see .ci/install-clients): {e}"));
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = reader(Box::new(child.stdout.take().expect("stdout")));
    let err = reader(Box::new(child.stderr.take().expect("stderr")));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        success: status.success(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// A reply as curl saw it: the final status line's code, the headers of
/// the final response and the body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Reply {
    /// The value of a header of the final response (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<String> {
        let last = self
            .headers
            .rsplit("HTTP/1.1 ")
            .next()
            .unwrap_or(&self.headers);
        last.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// `curl -s [-k] --digest -u admin:PASSWORD -H 'Content-Type: …'
/// --data-binary @body URL`, as console guides show it. `dir` holds
/// curl's header dump.
pub fn curl_digest(url: &str, body: &Path, dir: &Path) -> Reply {
    curl_digest_as(url, "admin", PASSWORD, body, dir)
}

/// [`curl_digest`] as another user.
pub fn curl_digest_as(url: &str, user: &str, password: &str, body: &Path, dir: &Path) -> Reply {
    let headers = dir.join(format!("headers-{}.txt", unique()));
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "--max-time", "20", "--digest", "-u"])
        .arg(format!("{user}:{password}"))
        .args(["-H", "Content-Type: application/soap+xml;charset=UTF-8"])
        .arg("--data-binary")
        .arg(format!("@{}", body.display()))
        .arg("-D")
        .arg(&headers)
        .args(["-w", "\n%{http_code}"]);
    if url.starts_with("https://") {
        cmd.arg("-k");
    }
    cmd.arg(url);
    let out = run(cmd, CLIENT_TIMEOUT);
    assert!(out.success, "curl {url} failed: {}", out.stderr);
    let (body, code) = out
        .stdout
        .rsplit_once('\n')
        .expect("curl printed the status code");
    Reply {
        status: code.trim().parse().expect("a status code"),
        headers: std::fs::read_to_string(&headers).unwrap_or_default(),
        body: body.to_string(),
    }
}

/// Posts `xml` with [`curl_digest`] (through a file, as a user would).
pub fn post(url: &str, xml: &str, dir: &Path) -> Reply {
    post_as(url, "admin", PASSWORD, xml, dir)
}

/// [`post`] as another user.
pub fn post_as(url: &str, user: &str, password: &str, xml: &str, dir: &Path) -> Reply {
    let file = dir.join(format!("req-{}.xml", unique()));
    std::fs::write(&file, xml).expect("write request");
    curl_digest_as(url, user, password, &file, dir)
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The directory of the node clients (`tests/clients`).
pub fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/clients")
}

/// The request Intel's wsman-messages builds for `ns.class.method(args)`
/// (`tests/clients/wsman-request.js`).
pub fn wsman_messages(ns: &str, class: &str, method: &str, args: Option<&str>) -> String {
    let dir = clients_dir();
    assert!(
        dir.join("node_modules/@device-management-toolkit/wsman-messages")
            .exists(),
        "wsman-messages is not installed: run .ci/install-clients"
    );
    let mut cmd = Command::new("node");
    cmd.current_dir(&dir)
        .arg("wsman-request.js")
        .args([ns, class, method]);
    if let Some(a) = args {
        cmd.arg(a);
    }
    let out = run(cmd, CLIENT_TIMEOUT);
    assert!(
        out.success && out.stdout.starts_with("<?xml"),
        "wsman-request.js {ns} {class} {method}: {}",
        out.stderr
    );
    out.stdout
}

/// The DER of the certificate `openssl s_client` is shown on `addr`.
pub fn openssl_peer_certificate(addr: &str) -> Vec<u8> {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", addr]);
    let out = run(cmd, CLIENT_TIMEOUT);
    let text = &out.stdout;
    let begin = text
        .find("-----BEGIN CERTIFICATE-----")
        .unwrap_or_else(|| panic!("no certificate from {addr}: {}", out.stderr));
    let end = text[begin..]
        .find("-----END CERTIFICATE-----")
        .expect("end marker")
        + begin;
    let b64: String = text[begin + 27..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64_decode(&b64)
}

pub fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .expect("base64")
}

// ---- XML picking. The replies are checked as text: prefixes are the
// firmware's and fixed, which is part of what these tests check. ----

/// The text of every `<tag>…</tag>` (or nothing for `<tag/>`), in order.
pub fn all_texts(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    loop {
        let empty = format!("<{tag}/>");
        let next_open = rest.find(&open);
        let next_empty = rest.find(&empty);
        match (next_open, next_empty) {
            (Some(o), e) if e.is_none_or(|e| o < e) => {
                let start = o + open.len();
                let end = rest[start..].find(&close).expect("closing tag") + start;
                out.push(rest[start..end].to_string());
                rest = &rest[end + close.len()..];
            }
            (_, Some(e)) => {
                out.push(String::new());
                rest = &rest[e + empty.len()..];
            }
            _ => return out,
        }
    }
}

/// The text of the first `<tag>`.
pub fn text(xml: &str, tag: &str) -> Option<String> {
    all_texts(xml, tag).into_iter().next()
}

/// The `b:Action` of a reply.
pub fn reply_action(xml: &str) -> String {
    let open = "<b:Action a:mustUnderstand=\"true\">";
    let start = xml
        .find(open)
        .unwrap_or_else(|| panic!("no reply Action in {xml}"))
        + open.len();
    let end = xml[start..].find("</b:Action>").expect("closing Action") + start;
    xml[start..end].to_string()
}

/// The realm of a `WWW-Authenticate: Digest realm="…"` header value.
pub fn challenge_realm(header: &str) -> String {
    let start = header.find("realm=\"").expect("realm") + 7;
    let end = header[start..].find('"').expect("end of realm") + start;
    header[start..end].to_string()
}

pub const TRANSFER: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer";
pub const ENUMERATION: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration";
pub const AMT_SCHEMA: &str = "http://intel.com/wbem/wscim/1/amt-schema/1";
pub const IPS_SCHEMA: &str = "http://intel.com/wbem/wscim/1/ips-schema/1";
pub const CIM_SCHEMA: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2";

/// Any `amt-emu` command line that runs until killed (serve, record,
/// fleet); the child is killed when this is dropped.
pub struct Process {
    child: Child,
    /// Everything it wrote on stderr so far.
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// Starts `amt-emu ARGS` with `env` and waits (60 s at most) for a
    /// stderr line containing `ready`.
    pub fn start(args: &[String], env: &[(String, String)], ready: &str) -> Process {
        Process::start_program(env!("CARGO_BIN_EXE_amt-emu"), args, env, ready)
    }

    /// [`Process::start`] of another program (a shell running an image's
    /// or a manifest's command line).
    pub fn start_program(
        program: &str,
        args: &[String],
        env: &[(String, String)],
        ready: &str,
    ) -> Process {
        let mut child = Command::new(program)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start amt-emu");
        let stderr = child.stderr.take().expect("stderr");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut l) = sink.lock() {
                    l.push_str(&strip_ansi(&line));
                    l.push('\n');
                }
                let _ = tx.send(line);
            }
        });
        let mut process = Process { child, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) if line.contains(ready) => {
                    std::thread::spawn(move || while rx.recv().is_ok() {});
                    return process;
                }
                Ok(_) => {}
                Err(_) => {
                    if let Ok(Some(status)) = process.child.try_wait() {
                        panic!(
                            "amt-emu {args:?} exited early ({status}):\n{}",
                            process.log_text()
                        );
                    }
                }
            }
        }
        panic!(
            "amt-emu {args:?} not ready after 60 s:\n{}",
            process.log_text()
        );
    }

    pub fn log_text(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// `args` as owned strings.
pub fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// A running `amt-emu fleet` with a state directory of its own; killed on
/// drop (before the directory goes).
pub struct Fleet {
    pub process: Process,
    _state: tempfile::TempDir,
}

impl Fleet {
    /// Starts `amt-emu fleet ARGS` with `env`, its state in a fresh
    /// directory (by `AMT_EMU_STATE_DIR`), and waits for "fleet ready".
    pub fn start(fleet_args: &[&str], env: &[(&str, &str)]) -> Fleet {
        let state = tempfile::tempdir().expect("temp dir");
        let mut all_env = vec![(
            "AMT_EMU_STATE_DIR".to_string(),
            state.path().join("fleet").display().to_string(),
        )];
        all_env.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut all_args = args(&["fleet"]);
        all_args.extend(args(fleet_args));
        Fleet {
            process: Process::start(&all_args, &all_env, "fleet ready"),
            _state: state,
        }
    }
}
