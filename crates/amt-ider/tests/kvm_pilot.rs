//! A real IDE-R console against the device's session: kvm-pilot 1.0.1's
//! `IderSession` (PyPI, installed by .ci/install-clients) serves an ISO made
//! here over a loopback socket, and the device model boots from it.
//!
//! kvm-pilot first runs the redirection handshake (0x10..0x14), which
//! `amt-redir` owns; until the redirection listener hands IDE-R sessions
//! over, this test answers that handshake itself with the firmware's bytes
//! (docs/ider.md) and does not check the digest (amt-redir's tests do).
//! Everything after the handshake is the real client against the real
//! session.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use amt_device::host::BootSettings;
use amt_device::remote_media::RemoteDrive;
use amt_device::{Device, DeviceConfig, Entropy, FirmwareProfile};
use amt_ider::{Config, Drive, Event, Phase, Session};
use amt_testkit::media::{self, ElTorito};
use time::macros::datetime;
use time::OffsetDateTime;

const NOW: OffsetDateTime = datetime!(2026-12-02 01:30:00 UTC);
/// How long any one wait may take on a loaded 2-core machine.
const WAIT: Duration = Duration::from_secs(60);

fn python() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/clients/.venv/bin/python");
    assert!(
        path.exists(),
        "the clients' virtualenv is missing: run .ci/install-clients"
    );
    path
}

/// kvm-pilot's IDE-R console, serving `iso` to 127.0.0.1:`port` until the
/// device closes the session.
fn kvm_pilot(iso: &Path, port: u16) -> Child {
    let script = r#"
import sys
from kvm_pilot.drivers.amt.ider import IderSession
s = IderSession("127.0.0.1", "admin", "P@ssw0rd", sys.argv[1], port=int(sys.argv[2]), timeout=30)
s.start(ready_timeout=30)
print("enabled", flush=True)
s._thread.join(60)
print("stopped", s._error, flush=True)
"#;
    Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(iso)
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs")
}

fn read_exact(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut b = vec![0; n];
    s.read_exact(&mut b).expect("handshake bytes");
    b
}

/// An authentication request: `13 00 00 00 type` + u32 LE length + data.
fn read_auth(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let head = read_exact(s, 9);
    assert_eq!(head[0], 0x13, "{head:02x?}");
    let len = u32::from_le_bytes([head[5], head[6], head[7], head[8]]) as usize;
    (head[4], read_exact(s, len))
}

fn auth_reply(status: u8, kind: u8, data: &[u8]) -> Vec<u8> {
    let mut r = vec![0x14, status, 0, 0, kind];
    r.extend_from_slice(&(data.len() as u32).to_le_bytes());
    r.extend_from_slice(data);
    r
}

/// The redirection handshake as the firmware answers it: session start,
/// the auth query (digest offered), the digest challenge, success.
fn redirection_handshake(s: &mut TcpStream) {
    assert_eq!(read_exact(s, 8), b"\x10\x00\x00\x00IDER");
    s.write_all(&[0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        .unwrap();
    assert_eq!(read_auth(s), (0, vec![]));
    s.write_all(&auth_reply(0, 0, &[1, 3, 4])).unwrap();
    assert_eq!(read_auth(s).0, 4);
    let mut challenge = Vec::new();
    for field in [
        "Digest:A3829B3827DE4B33D3C1CF0B4A2A49CE",
        "0123456789abcdef",
        "auth",
    ] {
        challenge.push(field.len() as u8);
        challenge.extend_from_slice(field.as_bytes());
    }
    s.write_all(&auth_reply(1, 4, &challenge)).unwrap();
    assert_eq!(read_auth(s).0, 4);
    s.write_all(&auth_reply(0, 4, &[])).unwrap();
}

fn accept(listener: &TcpListener, client: &mut Child) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                return s;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if let Some(status) = client.try_wait().unwrap() {
                    panic!("kvm-pilot exited before connecting: {status}");
                }
                assert!(Instant::now() < deadline, "kvm-pilot never connected");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

fn drive(d: RemoteDrive) -> Drive {
    match d {
        RemoteDrive::Cd => Drive::Cd,
        RemoteDrive::Floppy => Drive::Floppy,
    }
}

fn remote(d: Drive) -> RemoteDrive {
    match d {
        Drive::Cd => RemoteDrive::Cd,
        Drive::Floppy => RemoteDrive::Floppy,
    }
}

/// One turn of the server's loop: the socket's bytes in, the host's reads
/// to the session, the session's messages out, its events to the device.
fn turn(d: &mut Device, s: &mut Session, sock: &mut TcpStream, buf: &mut [u8]) {
    match sock.read(buf) {
        Ok(0) => s.connection_lost(),
        Ok(n) => s.receive(&buf[..n], Instant::now()),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        Err(e) => panic!("read: {e}"),
    }
    let now = Instant::now();
    if s.next_timeout().is_some_and(|t| now >= t) {
        s.handle_timeout(now);
    }
    while s.phase() == Phase::Enabled {
        let Some(r) = d.remote_media_next_read() else {
            break;
        };
        if s.read(drive(r.drive), r.lba, r.count, now).is_err() {
            d.remote_media_failed();
        }
    }
    while let Some(out) = s.poll_transmit() {
        // The console may already be gone after the session closed.
        let _ = sock.write_all(&out);
    }
    while let Some(ev) = s.poll_event() {
        match ev {
            Event::MediaInfo {
                drive,
                blocks,
                block_size,
            } => d.remote_media_attached(remote(drive), blocks, block_size, NOW),
            Event::SectorsRead { drive, lba, data } => {
                d.remote_media_read(remote(drive), lba, &data, NOW)
            }
            Event::ReadFailed { .. } | Event::Closed { .. } => d.remote_media_failed(),
            Event::Opened { .. } | Event::Disabled => {}
        }
    }
}

#[test]
fn kvm_pilot_serves_an_iso_and_the_host_boots_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let iso = dir.path().join("boot.iso");
    std::fs::write(&iso, media::iso9660("KVMPILOT_ISO", ElTorito::Bootable)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut client = kvm_pilot(&iso, port);
    let mut sock = accept(&listener, &mut client);
    sock.set_read_timeout(Some(WAIT)).unwrap();
    redirection_handshake(&mut sock);
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();

    let config = DeviceConfig {
        profile: FirmwareProfile::new("14.1.79".parse().unwrap()),
        ..DeviceConfig::default()
    };
    let mut d = Device::new(config, Entropy::from_seed(21), NOW).unwrap();
    let mut s = Session::new(Config::default(), Instant::now());
    let mut buf = vec![0u8; 65536];
    let deadline = Instant::now() + WAIT;

    // The console opens and enables its CD.
    while s.phase() != Phase::Enabled {
        assert!(!s.is_closed(), "closed before enabling");
        assert!(
            Instant::now() < deadline,
            "kvm-pilot never enabled its drive"
        );
        turn(&mut d, &mut s, &mut sock, &mut buf);
    }
    // The host resets into IDE-R CD and reads the image through kvm-pilot.
    d.set_boot_settings(BootSettings {
        use_ider: true,
        ider_boot_device: 1,
        ..BootSettings::default()
    });
    d.set_boot_config_next();
    d.request_power_state_change(10, NOW).unwrap();
    // The reset reaches the console first (0x46, answered 0x47).
    s.host_reset(Instant::now());
    while d.remote_media_wanted().is_some() {
        assert!(Instant::now() < deadline, "the host never finished reading");
        turn(&mut d, &mut s, &mut sock, &mut buf);
    }
    let text = String::from_utf8_lossy(&d.host_console().serial_transcript()).into_owned();
    assert!(
        text.contains("Booting from IDE-R CD-ROM: volume 'KVMPILOT_ISO'"),
        "{text}"
    );
    assert!(text.contains("El Torito boot image found"), "{text}");
    assert_eq!(
        d.last_boot().unwrap().media_label.as_deref(),
        Some("KVMPILOT_ISO")
    );

    // The device closes; kvm-pilot's session stops without an error.
    s.close();
    turn(&mut d, &mut s, &mut sock, &mut buf);
    drop(sock);
    let out = client.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("enabled") && stdout.contains("stopped None"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
