//! The redirection listener in process, with a raw TCP console speaking
//! the bytes MeshCommander and kvm-pilot send: IDE-R is refused until the
//! device enables it, then opens, is handed to the IDE-R session (open and
//! enable answered) and shows in the audit log, and the host boots from
//! the console's ISO; KVM is refused while disabled and, enabled, runs RFB
//! after 0x41; SOL carries the serial port until an injected drop, and a
//! firmware restart ends an open session (both with their audit records);
//! the listener closes with `ListenerEnabled` off; a wrong VNC password on
//! 5900 opens no session.

mod support;

use std::time::Duration;

use amt_server::{Emulator, EmulatorConfig, RunningEmulator};
use support::{admin_session, read_n, start_session, user_password};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PASSWORD: &str = "P@ssw0rd";

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).unwrap()
}

async fn start(dir: &std::path::Path) -> RunningEmulator {
    Emulator::start(EmulatorConfig {
        state_dir: Some(dir.join("state")),
        firmware: Some("15.0.23".parse().unwrap()),
        admin_password: Some(PASSWORD.into()),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

/// An SOL session as `admin`, started as MeshCommander's
/// StartSOLRedirection starts it (heartbeat 0: it sends its own).
async fn sol_session(addr: std::net::SocketAddr) -> TcpStream {
    let mut s = admin_session(addr, b"SOL ", 0, PASSWORD).await;
    s.write_all(&hex(
        "20000000 01000000 1027 6400 0000 1027 6400 0000 00000000",
    ))
    .await
    .expect("StartSOLRedirection sent");
    assert_eq!(read_n(&mut s, 23).await[..2], [0x21, 0]);
    s
}

/// A device with SOL enabled (`RequestStateChange(32770)`: SOL on, IDE-R off), its
/// host and its 16994 address.
async fn start_with_sol(
    dir: &std::path::Path,
) -> (
    RunningEmulator,
    std::sync::Arc<amt_server::DeviceHost>,
    std::net::SocketAddr,
) {
    let emu = start(dir).await;
    let host = emu.host().clone();
    let addr = host.listener_addrs().redirection.expect("16994 listens");
    host.change_device(|d, _| {
        assert_eq!(d.request_redirection_state(32770), 0);
        Ok(())
    })
    .expect("redirection enabled");
    (emu, host, addr)
}

#[tokio::test(flavor = "multi_thread")]
async fn ider_opens_after_it_is_enabled_and_kvm_is_refused_while_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let host = emu.host().clone();
    let addr = host
        .listener_addrs()
        .redirection
        .expect("16994 listens on a provisioned AMT 15 device");

    // IDE-R off: status 3.
    let (_, status) = start_session(addr, b"IDER", 0).await;
    assert_eq!(status, 3);
    // KVM off (`CIM_KVMRedirectionSAP` disabled): status 3 too.
    let (_, status) = start_session(addr, b"KVMR", 1).await;
    assert_eq!(status, 3);

    host.change_device(|d, _| {
        assert_eq!(d.request_redirection_state(32769), 0);
        Ok(())
    })
    .unwrap();
    let (mut s, status) = start_session(addr, b"IDER", 0).await;
    assert_eq!(status, 0);
    s.write_all(&user_password("admin", PASSWORD))
        .await
        .unwrap();
    assert_eq!(read_n(&mut s, 9).await, hex("14000000 01 00000000"));
    // kvm-pilot's open (rx timeout 30000, tx 0, heartbeat 20000, version 1)
    // and enable (type 3, on reboot).
    s.write_all(&hex("40000000 00000000 3075 0000 204e 01000000"))
        .await
        .unwrap();
    let open = read_n(&mut s, 30).await;
    assert_eq!(open[..2], [0x41, 0x00]);
    s.write_all(&hex("48000000 01000000 03 09000000"))
        .await
        .unwrap();
    assert_eq!(
        read_n(&mut s, 13).await,
        hex("49000000 01000000 03 01000000")
    );
    // The console closes.
    s.write_all(&hex("42000000 02000000")).await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(20), s.read(&mut [0u8; 64])).await;
    drop(s);

    // Audit log: IDE-R session opened (18/0) and closed (18/1) by admin.
    wait_for_records(&host, &[(18, 0), (18, 1)]).await;

    // ListenerEnabled off closes 16994.
    host.change_device_and_listeners(|d, _| {
        d.set_redirection_listener(false);
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(host.listener_addrs().redirection, None);
    assert!(TcpStream::connect(addr).await.is_err());
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sol_carries_the_serial_port_until_an_injected_drop() {
    use amt_server::faults::{FaultKind, FaultRule, FaultScope};
    let dir = tempfile::tempdir().unwrap();
    let (emu, host, addr) = start_with_sol(dir.path()).await;
    host.faults().add(FaultRule {
        id: 0,
        scope: FaultScope {
            class: Some("SOL".into()),
            ..FaultScope::default()
        },
        kind: FaultKind::DropSession { after_bytes: 5 },
        times: Some(1),
        fired: 0,
    });

    let mut s = sol_session(addr).await;
    // Typed at the console: the host's login prompt echoes it.
    s.write_all(&hex("28000000 02000000 0300 616263"))
        .await
        .unwrap();
    let head = read_n(&mut s, 10).await;
    assert_eq!(head[0], 0x2A);
    let len = usize::from(u16::from_le_bytes([head[8], head[9]]));
    let mut echoed = read_n(&mut s, len).await;
    // Then more host output passes the fault's 5 bytes: dropped.
    host.host_serial_input(b"defgh");
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut rest)).await;
    echoed.extend(rest.iter().skip(10));
    assert!(echoed.starts_with(b"abc"), "{echoed:?}");
    let transcript = host.with_device(|d| d.host_console().serial_transcript());
    assert!(transcript.ends_with(b"abcdefgh"));
    // The dropped session was recorded opened (18/4) and closed (18/5).
    let sol = wait_for_records(&host, &[(18, 4), (18, 5)]).await;
    assert_eq!(sol, [(18, 4), (18, 5)]);
    emu.shutdown().await;
}

/// The Redirection Manager (18) records, once `want` are all there.
async fn wait_for_records(
    host: &std::sync::Arc<amt_server::DeviceHost>,
    want: &[(u16, u16)],
) -> Vec<(u16, u16)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let ids: Vec<(u16, u16)> = host.with_device(|d| {
            d.audit_log()
                .records()
                .iter()
                .map(|r| (r.app_id, r.event_id))
                .filter(|(app, _)| *app == 18)
                .collect()
        });
        if want.iter().all(|w| ids.contains(w)) {
            return ids;
        }
        assert!(tokio::time::Instant::now() < deadline, "{ids:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A firmware restart drops the open SOL session, as it drops every TCP
/// connection, and the session's end is recorded.
#[tokio::test(flavor = "multi_thread")]
async fn a_firmware_restart_ends_an_open_sol_session_and_records_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let (emu, host, addr) = start_with_sol(dir.path()).await;
    let mut s = sol_session(addr).await;
    assert_eq!(wait_for_records(&host, &[(18, 4)]).await, [(18, 4)]);

    host.power_cycle().await.unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the restart closed the session's connection"
    );
    assert_eq!(
        wait_for_records(&host, &[(18, 5)]).await,
        [(18, 4), (18, 5)]
    );
    emu.shutdown().await;
}

/// The host boots from the console's CD image over 16994: the test console
/// (`amt_testkit::ider`) answers the device's ATAPI packets from an ISO.
#[tokio::test(flavor = "multi_thread")]
async fn the_host_boots_from_the_consoles_iso_through_16994() {
    use amt_testkit::ider::IderConsole;
    use amt_testkit::media::{self, ElTorito};
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let host = emu.host().clone();
    let addr = host.listener_addrs().redirection.unwrap();
    host.change_device(|d, _| {
        assert_eq!(d.request_redirection_state(32769), 0);
        Ok(())
    })
    .unwrap();

    let mut s = admin_session(addr, b"IDER", 0, PASSWORD).await;
    let iso = media::iso9660("AMTEMU_TEST", ElTorito::Bootable);
    let mut console = IderConsole::new(Some(iso), None);
    s.write_all(&console.open()).await.unwrap();
    let (enabled_tx, enabled_rx) = tokio::sync::oneshot::channel();
    let pump = tokio::spawn(async move {
        let mut enabled_tx = Some(enabled_tx);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let back = console.receive(&buf[..n]);
            if !back.is_empty() && s.write_all(&back).await.is_err() {
                break;
            }
            if console.enabled {
                if let Some(tx) = enabled_tx.take() {
                    let _ = tx.send(());
                }
            }
        }
        console
    });
    tokio::time::timeout(Duration::from_secs(20), enabled_rx)
        .await
        .expect("the console enables its drives")
        .unwrap();

    // Reset to the IDE-R CD.
    host.change_device(|d, now| {
        d.set_boot_settings(amt_device::BootSettings {
            use_ider: true,
            ider_boot_device: 1,
            ..Default::default()
        });
        d.set_boot_config_next();
        d.request_power_state_change(10, now).unwrap();
        Ok(())
    })
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let text = host.with_device(|d| {
            String::from_utf8_lossy(&d.host_console().serial_transcript()).into_owned()
        });
        if text.contains("Booting from IDE-R CD-ROM: volume 'AMTEMU_TEST'") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pump.abort();
    emu.shutdown().await;
}

/// KVM as MeshCommander and kvm-pilot open it: KVMR, digest-free login,
/// the 8-byte 0x40, then 0x41 with the RFB 4.0 banner in the same segment;
/// the viewer answers 3.8, picks None and gets the ServerInit.
#[tokio::test(flavor = "multi_thread")]
async fn kvm_runs_rfb_after_0x41() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let host = emu.host().clone();
    let addr = host.listener_addrs().redirection.unwrap();
    host.change_device(|d, _| {
        assert_eq!(d.request_kvm_state(2), 0);
        Ok(())
    })
    .unwrap();
    let mut s = admin_session(addr, b"KVMR", 1, PASSWORD).await;
    s.write_all(&hex("40000000 00000000")).await.unwrap();
    let start = read_n(&mut s, 8 + 12).await;
    assert_eq!(start[..2], [0x41, 0]);
    assert_eq!(&start[8..], b"RFB 004.000\n");
    s.write_all(b"RFB 003.008\n").await.unwrap();
    let types = read_n(&mut s, 3).await;
    assert_eq!(types, [2, 1, 128]);
    s.write_all(&[1]).await.unwrap();
    assert_eq!(read_n(&mut s, 4).await, [0, 0, 0, 0]);
    s.write_all(&[1]).await.unwrap();
    let init = read_n(&mut s, 24).await;
    let (w, h) = (
        u16::from_be_bytes([init[0], init[1]]),
        u16::from_be_bytes([init[2], init[3]]),
    );
    assert!(w > 0 && h > 0, "{init:?}");
    // One KVM session at a time.
    let (_, status) = start_session(addr, b"KVMR", 1).await;
    assert_eq!(status, 2);
    drop(s);
    wait_for_records(&host, &[(18, 8), (18, 9)]).await;
    emu.shutdown().await;
}

/// Port 5900 opens once KVM, `Is5900PortEnabled` and an RFB password are
/// set, and speaks RFB 3.8 with VNC authentication by that password.
#[tokio::test(flavor = "multi_thread")]
async fn port_5900_asks_for_the_rfb_password() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let host = emu.host().clone();
    assert_eq!(host.listener_addrs().rfb, None);
    host.change_device_and_listeners(|d, _| {
        support::enable_kvm_on_5900(d, "Vnc!pas1");
        Ok(())
    })
    .await
    .unwrap();
    let addr = host.listener_addrs().rfb.expect("5900 listens");
    for (password, result) in [("Vnc!pas1", 0u8), ("wrong!P1", 1)] {
        // One KVM session at a time: the previous one may still be
        // closing on the device's side, which closes a new one at once.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let mut s = loop {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let mut banner = [0u8; 12];
            if s.read_exact(&mut banner).await.is_ok() {
                assert_eq!(&banner, b"RFB 003.008\n");
                break s;
            }
            assert!(tokio::time::Instant::now() < deadline, "5900 stays busy");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        s.write_all(b"RFB 003.008\n").await.unwrap();
        let count = read_n(&mut s, 1).await[0];
        let types = read_n(&mut s, usize::from(count)).await;
        assert!(types.contains(&2), "{types:?}");
        s.write_all(&[2]).await.unwrap();
        let challenge: [u8; 16] = read_n(&mut s, 16).await.try_into().unwrap();
        s.write_all(&amt_rfb::vnc_response(password, &challenge))
            .await
            .unwrap();
        assert_eq!(read_n(&mut s, 4).await, [0, 0, 0, result], "{password}");
        if result == 0 {
            // ClientInit, so the session is the device's, then the viewer goes.
            s.write_all(&[1]).await.unwrap();
            read_n(&mut s, 24).await;
        }
    }
    // The right password's session started and ended (InitiatorType 3, the
    // KVM default port); the wrong one's never started.
    wait_for_records(&host, &[(18, 8), (18, 9)]).await;
    let records: Vec<_> = host.with_device(|d| {
        d.audit_log()
            .records()
            .iter()
            .filter(|r| r.app_id == 18)
            .map(|r| (r.event_id, r.initiator.clone()))
            .collect()
    });
    use amt_device::audit_log::AuditInitiator::KvmDefaultPort;
    assert_eq!(records, [(8, KvmDefaultPort), (9, KvmDefaultPort)]);
    emu.shutdown().await;
}

/// Debian's amtterm opens SOL on 16994: the session's start (18/4) and end
/// (18/5, after ^]) are audited with its login as initiator, and SOL, which
/// never needs consent, leaves `OptInState` alone.
#[tokio::test(flavor = "multi_thread")]
async fn amtterm_sol_session_is_audited_with_its_user() {
    use amt_device::audit_log::AuditInitiator;
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let (emu, host, addr) = start_with_sol(dir.path()).await;
    let mut amtterm = Command::new("timeout")
        .args(["60", "amtterm", "-u", "admin", "-p", PASSWORD, "127.0.0.1"])
        .arg(addr.port().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("amtterm (see .ci/install-clients)");
    wait_for_records(&host, &[(18, 4)]).await;
    let state = host.with_device(|d| d.consent_state(time::OffsetDateTime::now_utc()));
    assert_eq!(state.value(), 0, "SOL holds no consent");
    // ^] ends the session (EndSOLRedirection, EndRedirectionSession).
    let mut stdin = amtterm.stdin.take().unwrap();
    stdin.write_all(b"\x1d").unwrap();
    stdin.flush().unwrap();
    let status = tokio::task::spawn_blocking(move || amtterm.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "amtterm ended cleanly: {status}");
    wait_for_records(&host, &[(18, 5)]).await;
    let records: Vec<_> = host.with_device(|d| {
        d.audit_log()
            .records()
            .iter()
            .filter(|r| r.app_id == 18)
            .map(|r| (r.event_id, r.initiator.clone()))
            .collect()
    });
    let admin = AuditInitiator::DigestUser("admin".into());
    assert_eq!(records, [(4, admin.clone()), (5, admin)]);
    emu.shutdown().await;
}
