//! Shared helpers for the integration tests: real clients (openssl, curl)
//! run as subprocesses against the real listeners.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::{Command, Stdio};

use base64::Engine;

/// Completes a TLS handshake with `openssl s_client` and returns the DER of
/// the certificate the server presented.
pub fn openssl_fetch_certificate(addr: SocketAddr) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string(), "-showcerts"])
        .stdin(Stdio::null())
        .output()
        .expect("openssl is installed (see .ci/run)");
    let text = String::from_utf8_lossy(&out.stdout);
    let begin = text.find("-----BEGIN CERTIFICATE-----").unwrap_or_else(|| {
        panic!(
            "no certificate from {addr}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let end = text[begin..]
        .find("-----END CERTIFICATE-----")
        .expect("end marker")
        + begin;
    let b64: String = text[begin + 27..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("PEM body is base64")
}

/// Whether `openssl s_client` completes a handshake with the server.
pub fn openssl_handshake_ok(addr: SocketAddr) -> bool {
    Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string()])
        .stdin(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("-----BEGIN CERTIFICATE-----"))
        .unwrap_or(false)
}

/// Runs openssl with the given args and stdin, returning stdout.
pub fn openssl(args: &[&str], stdin: &[u8]) -> (bool, Vec<u8>) {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    let out = child.wait_with_output().expect("openssl ran");
    (out.status.success(), out.stdout)
}

/// PEM for a DER blob.
pub fn pem(label: &str, der: &[u8]) -> String {
    amt_device::device::pem_encode(label, der)
}

/// Writes `content` to `dir/name` and returns the path as a string.
pub fn write_file(dir: &std::path::Path, name: &str, content: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write test file");
    path.to_str().expect("utf-8 path").to_string()
}

/// Runs curl and returns (exit success, HTTP status code as printed).
pub fn curl(args: &[&str]) -> (bool, String) {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("curl is installed (see .ci/install-clients)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}
