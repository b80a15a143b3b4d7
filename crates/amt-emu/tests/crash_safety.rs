//! Crash safety of the real binary: `amt-emu serve` is driven with
//! state-changing control-API calls and killed with SIGKILL at a random
//! moment, then restarted, again and again. After every kill:
//!
//! (a) the state file loads: `amt-emu state show` succeeds and the server
//!     starts again;
//! (b) no acknowledged change is lost: the stored state is the one after
//!     the last acknowledged call, or after the call in flight at the kill;
//! (c) the certificate served on 16993+N is the stored state's active TLS
//!     certificate.
//!
//! The calls: `PUT /api/mebx/pki-dns-suffix` with a counter (the marker),
//! `POST /api/mebx/certificate-hashes` (at most 3 custom hashes), then
//! `POST /api/device/unprovision` (removes them, mints a new key and
//! certificate), `PUT /api/device/bios-clock`, and now and then
//! `POST /api/device/factory-reset` (a whole new device). WS-Man writes are
//! not driven here (control API only).
//!
//! `crash_safety_20_kills` runs in the normal suite; the long run is
//! `just crash-safety [KILLS]` (the ignored `crash_safety_long`, kill count
//! from `CRASH_SAFETY_KILLS`, default 200).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

const PASSWORD: &str = "P@ssw0rd";

/// Kills the server even when the test fails.
struct Server(Arc<Mutex<Child>>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(mut c) = self.0.lock() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_amt-emu")
}

/// A port offset whose control, HTTP and TLS ports are all free now.
fn free_offset() -> u16 {
    let mut seed = std::process::id() as u64 ^ now_nanos();
    for _ in 0..200 {
        seed = splitmix(seed);
        // Below the kernel's ephemeral range (32768+), clear of the other
        // binary tests (offsets 9000-10700).
        let offset = 11_000 + (seed % 4_700) as u16;
        let free = [16990u16, 16992, 16993]
            .iter()
            .all(|p| TcpListener::bind(("127.0.0.1", p + offset)).is_ok());
        if free {
            return offset;
        }
    }
    panic!("no free port offset found");
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn start(dir: &Path, offset: u16) -> Server {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("serve.log"))
        .expect("log file");
    let child = Command::new(bin())
        .args(["serve", "--state-dir"])
        .arg(dir.join("state"))
        .args(["--port-offset", &offset.to_string()])
        .args(["--admin-password", PASSWORD])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("amt-emu starts");
    Server(Arc::new(Mutex::new(child)))
}

/// Waits until the control API answers; false if the process exited or
/// did not come up in time.
fn wait_ready(server: &Server, offset: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = server.0.lock().unwrap().try_wait() {
            return false;
        }
        if let Ok((200, _)) = http(offset, "GET", "/api/device", None) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// One HTTP/1.1 exchange with the control API (Connection: close).
fn http(
    offset: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", 16990 + offset))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    let status = reply
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line: {reply:?}")))?;
    Ok((status, reply))
}

fn state_show(dir: &Path) -> Result<Value, String> {
    let out = Command::new(bin())
        .args(["state", "show", "--state-dir"])
        .arg(dir.join("state"))
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}

/// What the test checks of the stored state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Model {
    pki_dns_suffix: Option<String>,
    /// Descriptions of the custom certificate hashes, in order.
    custom_hashes: Vec<String>,
}

impl Model {
    fn of(state: &Value) -> Model {
        Model {
            pki_dns_suffix: state["pki_dns_suffix"].as_str().map(str::to_string),
            custom_hashes: state["provisioning_hashes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|h| h["is_default"] == Value::Bool(false))
                .filter_map(|h| h["description"].as_str().map(str::to_string))
                .collect(),
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Suffix(u64),
    AddHash(u64),
    Unprovision,
    BiosClock(u64),
    FactoryReset,
}

impl Op {
    fn apply(&self, m: &Model) -> Model {
        let mut m = m.clone();
        match self {
            Op::Suffix(n) => m.pki_dns_suffix = Some(format!("m{n}.example.com")),
            Op::AddHash(n) => m.custom_hashes.push(format!("h{n}")),
            Op::Unprovision => m.custom_hashes.clear(),
            Op::BiosClock(_) => {}
            Op::FactoryReset => m = Model::default(),
        }
        m
    }

    fn send(&self, offset: u16) -> std::io::Result<(u16, String)> {
        match self {
            Op::Suffix(n) => http(
                offset,
                "PUT",
                "/api/mebx/pki-dns-suffix",
                Some(&format!(r#"{{"suffix":"m{n}.example.com"}}"#)),
            ),
            Op::AddHash(n) => {
                let mut h = *n;
                let hash: String = (0..4)
                    .map(|_| {
                        h = splitmix(h);
                        format!("{h:016x}")
                    })
                    .collect();
                http(
                    offset,
                    "POST",
                    "/api/mebx/certificate-hashes",
                    Some(&format!(
                        r#"{{"hash_type":"sha256","hash":"{hash}","description":"h{n}"}}"#
                    )),
                )
            }
            Op::Unprovision => http(offset, "POST", "/api/device/unprovision", None),
            Op::BiosClock(n) => http(
                offset,
                "PUT",
                "/api/device/bios-clock",
                Some(&format!(
                    r#"{{"mode":"set","at":"2025-01-01T00:{:02}:{:02}Z"}}"#,
                    n / 60 % 60,
                    n % 60
                )),
            ),
            Op::FactoryReset => http(offset, "POST", "/api/device/factory-reset", None),
        }
    }
}

fn next_op(rng: &mut u64, counter: u64, model: &Model) -> Op {
    *rng = splitmix(*rng);
    match *rng % 100 {
        0..=49 => Op::Suffix(counter),
        50..=79 if model.custom_hashes.len() < 3 => Op::AddHash(counter),
        50..=79 => Op::Unprovision,
        80..=94 => Op::BiosClock(counter),
        _ => Op::FactoryReset,
    }
}

/// The certificate the TLS port serves, as DER-in-base64 without
/// whitespace.
fn served_certificate(offset: u16) -> Result<String, String> {
    let out = Command::new("openssl")
        .args(["s_client", "-connect"])
        .arg(format!("127.0.0.1:{}", 16993 + offset))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    pem_body(&text).ok_or_else(|| format!("no certificate from s_client: {text}"))
}

fn pem_body(text: &str) -> Option<String> {
    let start = text.find("-----BEGIN CERTIFICATE-----")? + 27;
    let end = start + text[start..].find("-----END CERTIFICATE-----")?;
    Some(text[start..end].split_whitespace().collect())
}

fn active_certificate(state: &Value) -> Option<String> {
    let handle = state["active_tls_certificate"].as_u64()?;
    state["certificates"]
        .as_array()?
        .iter()
        .find(|c| c["handle"].as_u64() == Some(handle))
        .and_then(|c| c["pem"].as_str())
        .and_then(pem_body)
}

#[derive(Debug, Default)]
struct Figures {
    rounds: u32,
    acknowledged: u64,
    in_flight_applied: u32,
    corrupt_states: u32,
    failed_starts: u32,
    lost_acknowledgements: u32,
    certificate_mismatches: u32,
    failures: Vec<String>,
}

fn run(kills: u32) -> Figures {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let offset = free_offset();
    let mut rng = now_nanos() ^ u64::from(offset);
    eprintln!("crash safety: {kills} kills, port offset {offset}, seed {rng:#x}");
    let mut fig = Figures::default();
    let mut model = Model::default();
    let mut counter = 0u64;
    // First start: a fresh device.
    let mut server = start(dir, offset);
    assert!(wait_ready(&server, offset), "first start failed");
    let deadline = Instant::now() + Duration::from_secs(60 * 60);
    while fig.rounds < kills && Instant::now() < deadline {
        fig.rounds += 1;
        // Drive calls until the killer fires (0..300 ms from now).
        rng = splitmix(rng);
        let delay = Duration::from_millis(rng % 300);
        let child = server.0.clone();
        let killer = std::thread::spawn(move || {
            std::thread::sleep(delay);
            let _ = child.lock().unwrap().kill(); // SIGKILL
        });
        let mut in_flight = None;
        for _ in 0..10_000 {
            counter += 1;
            let op = next_op(&mut rng, counter, &model);
            match op.send(offset) {
                Ok((200, _)) => {
                    fig.acknowledged += 1;
                    model = op.apply(&model);
                }
                Ok((status, reply)) => {
                    // Refused calls change nothing (none are expected).
                    fig.failures.push(format!(
                        "round {}: {op:?} answered {status}: {reply}",
                        fig.rounds
                    ));
                }
                Err(_) => {
                    in_flight = Some(op);
                    break;
                }
            }
        }
        killer.join().expect("killer thread");
        let _ = server.0.lock().unwrap().wait();
        // (a) the state loads.
        let state = match state_show(dir) {
            Ok(s) => s,
            Err(e) => {
                fig.corrupt_states += 1;
                fig.failures
                    .push(format!("round {}: state show failed: {e}", fig.rounds));
                break;
            }
        };
        // (b) acknowledged changes are there.
        let stored = Model::of(&state);
        if stored == model {
        } else if in_flight
            .as_ref()
            .is_some_and(|op| op.apply(&model) == stored)
        {
            fig.in_flight_applied += 1;
            model = stored;
        } else {
            fig.lost_acknowledgements += 1;
            fig.failures.push(format!(
                "round {}: stored {stored:?}, acknowledged {model:?}, in flight {in_flight:?}",
                fig.rounds
            ));
            model = stored;
        }
        // Restart.
        server = start(dir, offset);
        if !wait_ready(&server, offset) {
            fig.failed_starts += 1;
            fig.failures.push(format!(
                "round {}: restart failed (see serve.log)",
                fig.rounds
            ));
            let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
            eprintln!("{log}");
            break;
        }
        // (c) the served certificate is the stored active one.
        let state = state_show(dir).expect("state show while running");
        match (served_certificate(offset), active_certificate(&state)) {
            (Ok(served), Some(stored)) if served == stored => {}
            (served, stored) => {
                fig.certificate_mismatches += 1;
                fig.failures.push(format!(
                    "round {}: served {served:?} != stored active {stored:?}",
                    fig.rounds
                ));
            }
        }
    }
    drop(server);
    eprintln!(
        "crash safety: rounds {}, acknowledged calls {}, in-flight call applied {}, \
         corrupt states {}, failed restarts {}, lost acknowledgements {}, \
         certificate mismatches {}",
        fig.rounds,
        fig.acknowledged,
        fig.in_flight_applied,
        fig.corrupt_states,
        fig.failed_starts,
        fig.lost_acknowledgements,
        fig.certificate_mismatches
    );
    for f in &fig.failures {
        eprintln!("  {f}");
    }
    fig
}

fn assert_clean(fig: &Figures, kills: u32) {
    assert_eq!(fig.rounds, kills, "not every round ran");
    assert!(
        fig.failures.is_empty(),
        "crash safety failures: {:#?}",
        fig.failures
    );
    assert!(fig.acknowledged > 0, "no call was acknowledged");
}

#[test]
fn crash_safety_20_kills() {
    let fig = run(20);
    assert_clean(&fig, 20);
}

#[test]
#[ignore = "long: run with `just crash-safety [KILLS]`"]
fn crash_safety_long() {
    let kills = std::env::var("CRASH_SAFETY_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let fig = run(kills);
    assert_clean(&fig, kills);
}
