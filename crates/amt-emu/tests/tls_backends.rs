//! The TLS stack from the command line: an AMT 8 device (OpenSSL backend,
//! chosen by the profile) takes its PID/PPS from `amt-emu ctl mebx psk`
//! and answers HTTP over a TLS-PSK handshake made by `openssl s_client`;
//! `--tls-backend` picks the stack and rejects unknown names. Port offsets
//! 14400–14419.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::{run, Emu};

const PID: &str = "AB12-CD34";
const PPS: &str = "QW12-ER34-TY56-UI78-OP90-AS12-DF34-GH56";

fn ctl(control: &str, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_amt-emu"));
    cmd.arg("ctl").args(args).args(["--control", control]);
    let out = run(cmd, Duration::from_secs(30));
    (out.success, format!("{}{}", out.stdout, out.stderr))
}

fn s_client(args: &[&str], stdin: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .arg("s_client")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed (see .ci/install-clients)");
    let _ = child.stdin.take().expect("stdin").write_all(stdin);
    let out = child.wait_with_output().expect("openssl ran");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ctl_mebx_psk_arms_tls_psk_on_an_amt_8_device() {
    let offset = 14400;
    let _emu = Emu::start_with(offset, &[], &["--firmware", "8.1.40"]);
    let control = format!("127.0.0.1:{}", 16990 + offset);
    let (ok, out) = ctl(&control, &["mebx", "password", "Chang3d!pw"]);
    assert!(ok, "{out}");
    let (ok, out) = ctl(&control, &["mebx", "psk", PID, PPS]);
    assert!(ok, "{out}");
    let connect = format!("127.0.0.1:{}", 16993 + offset);
    // `-psk` takes hex: the PPS characters as ASCII (docs/tls-psk.md).
    let key: String = PPS
        .bytes()
        .filter(|b| *b != b'-')
        .map(|b| format!("{b:02x}"))
        .collect();
    let reply = s_client(
        &[
            "-connect",
            &connect,
            "-tls1",
            "-psk_identity",
            "AB12CD34",
            "-psk",
            &key,
            "-cipher",
            "PSK-AES128-CBC-SHA@SECLEVEL=0",
            "-ign_eof",
        ],
        b"POST /wsman HTTP/1.1\r\nHost: amt\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(reply.contains("Cipher is PSK-AES128-CBC-SHA"), "{reply}");
    assert!(reply.contains("HTTP/1.1 401"), "{reply}");
}

#[test]
fn tls_backend_flag_picks_the_stack() {
    // OpenSSL on the reference profile serves TLS 1.3 like rustls does.
    let offset = 14410;
    let _emu = Emu::start(offset, &["--tls-backend", "openssl"]);
    let connect = format!("127.0.0.1:{}", 16993 + offset);
    let out = s_client(&["-connect", &connect, "-tls1_3"], b"");
    assert!(out.contains("New, TLSv1.3"), "{out}");

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_amt-emu"));
    cmd.args(["serve", "--tls-backend", "gnutls", "--port-offset", "14415"]);
    let out = run(cmd, Duration::from_secs(30));
    assert!(!out.success);
    assert!(out.stderr.contains("rustls or openssl"), "{}", out.stderr);
}
