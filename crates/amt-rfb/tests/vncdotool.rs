//! A real VNC client (vncdotool's `vncdo`) against the RFB state machine
//! serving an emulated device's screen, over a test-only TCP listener on
//! 127.0.0.1 (the emulator's own 5900 listener lives in amt-server).

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amt_device::host::BootSettings;
use amt_device::user_consent::{OptInPut, OptInRequired, OptInStatus};
use amt_device::{Device, DeviceConfig, Entropy, FirmwareProfile};
use amt_rfb::{Frame, ProtocolVersion, RfbEvent, RfbServer, Security, ServerConfig};
use time::OffsetDateTime;

const PASSWORD: &str = "P@ssw0rd";
/// Generous: a 2-core CI machine runs many tests at once.
const CLIENT_TIMEOUT_SECONDS: &str = "120";

fn now() -> OffsetDateTime {
    time::macros::datetime!(2026-12-01 10:00:00 UTC)
}

fn device() -> Device {
    let config = DeviceConfig {
        profile: FirmwareProfile::new("16.1.25".parse().unwrap()),
        ..DeviceConfig::default()
    };
    Device::new(config, Entropy::from_seed(42), now()).unwrap()
}

/// Consent is other tests' subject: here KVM needs none.
fn without_consent(mut d: Device) -> Device {
    d.put_opt_in_service(OptInPut {
        required: Some(OptInRequired::None.value()),
        code_timeout: None,
        display_timeout: None,
    })
    .unwrap();
    d
}

fn vncdo() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/clients/.venv/bin/vncdo");
    assert!(
        root.exists(),
        "{} missing: run .ci/install-clients",
        root.display()
    );
    root
}

fn frame(d: &Device) -> Frame {
    let f = d.kvm_frame(now());
    Frame::new(f.width, f.height, f.pixels).unwrap()
}

/// Serves one viewer on a fresh port, the way the emulator's 5900
/// listener will: VNC authentication, the device's KVM view, keyboard
/// and pointer into the device. The receiver yields every event once the
/// viewer has gone.
fn serve_one(device: Arc<Mutex<Device>>) -> (u16, mpsc::Receiver<Vec<RfbEvent>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let events = drive(stream, &device);
        let _ = tx.send(events);
    });
    (port, rx)
}

fn drive(mut stream: TcpStream, device: &Mutex<Device>) -> Vec<RfbEvent> {
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let (initial, mut generation) = {
        let d = device.lock().unwrap();
        (frame(&d), d.kvm_generation(now()))
    };
    let mut server = RfbServer::new(
        ServerConfig {
            version_banner: ProtocolVersion::V3_8,
            security: Security::VncPassword {
                password: PASSWORD.into(),
                challenge: *b"emulated-chllnge",
            },
            name: "amt-emu".into(),
        },
        initial,
    );
    let mut seen = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        while let Some(bytes) = server.poll_transmit() {
            if stream.write_all(&bytes).is_err() {
                return seen;
            }
        }
        if server.is_closed() {
            seen.extend(std::iter::from_fn(|| server.poll_event()));
            return seen;
        }
        match stream.read(&mut buf) {
            Ok(0) => {
                seen.extend(std::iter::from_fn(|| server.poll_event()));
                return seen;
            }
            Ok(n) => server.receive(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return seen,
        }
        let mut d = device.lock().unwrap();
        while let Some(event) = server.poll_event() {
            match &event {
                RfbEvent::Key { keysym, down } => {
                    d.kvm_key(*keysym, *down, now());
                }
                RfbEvent::Pointer { x, y, buttons } => d.host_pointer(*x, *y, *buttons),
                _ => {}
            }
            seen.push(event);
        }
        let g = d.kvm_generation(now());
        if g != generation {
            generation = g;
            server.frame_changed(&frame(&d));
        }
    }
}

fn run_vncdo(port: u16, password: &str, args: &[&str]) -> Output {
    Command::new(vncdo())
        .args(["-s", &format!("127.0.0.1::{port}"), "-p", password])
        .args(["-t", CLIENT_TIMEOUT_SECONDS])
        .args(args)
        .output()
        .unwrap()
}

fn events_after(rx: &mpsc::Receiver<Vec<RfbEvent>>) -> Vec<RfbEvent> {
    rx.recv_timeout(Duration::from_secs(150))
        .expect("the session ended")
}

/// The RGB pixels of a PNG.
fn decode_png(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = info.color_type.samples();
    assert!(step >= 3, "{:?}", info.color_type);
    let pixels = buf[..info.buffer_size()]
        .chunks_exact(step)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, pixels)
}

fn capture(device: &Arc<Mutex<Device>>, name: &str) -> (u32, u32, Vec<[u8; 3]>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(name);
    let (port, rx) = serve_one(device.clone());
    let result = run_vncdo(port, PASSWORD, &["capture", out.to_str().unwrap()]);
    assert!(result.status.success(), "vncdo: {result:?}");
    let events = events_after(&rx);
    assert!(events.contains(&RfbEvent::Authenticated), "{events:?}");
    decode_png(&out)
}

fn share(pixels: &[[u8; 3]], test: impl Fn(&[u8; 3]) -> bool) -> f64 {
    pixels.iter().filter(|p| test(p)).count() as f64 / pixels.len() as f64
}

/// The setup page's VGA blue (0, 0, 0xaa) after RGB565 and back.
fn setup_blue(p: &[u8; 3]) -> bool {
    p[0] < 0x10 && p[1] < 0x10 && (0x98..=0xb8).contains(&p[2])
}

#[test]
fn vncdo_captures_bios_setup_after_reset_to_bios() {
    let mut d = device();
    d.set_boot_settings(BootSettings {
        bios_setup: true,
        ..Default::default()
    });
    d.set_boot_config_next();
    // 10: master bus reset.
    d.request_power_state_change(10, now()).unwrap();
    let d = Arc::new(Mutex::new(without_consent(d)));
    let (w, h, pixels) = capture(&d, "setup.png");
    assert_eq!((w, h), (1920, 1080));
    assert!(share(&pixels, setup_blue) > 0.5, "mostly setup blue");
    // The title bar is grey.
    let title = pixels[1920 * 2 + 2];
    assert!(title.iter().all(|c| (0xa0..=0xb0).contains(c)), "{title:?}");
}

#[test]
fn a_wrong_rfb_password_is_refused() {
    let d = Arc::new(Mutex::new(device()));
    let dir = tempfile::tempdir().unwrap();
    let (port, rx) = serve_one(d);
    let out = dir.path().join("refused.png");
    let result = run_vncdo(port, "Wr0ng!pw", &["capture", out.to_str().unwrap()]);
    assert!(!result.status.success(), "vncdo: {result:?}");
    assert!(!out.exists());
    let events = events_after(&rx);
    assert!(
        events.contains(&RfbEvent::AuthenticationFailed),
        "{events:?}"
    );
}

#[test]
fn typed_keys_and_the_pointer_reach_the_host() {
    let d = Arc::new(Mutex::new(without_consent(device())));
    let (port, rx) = serve_one(d.clone());
    let result = run_vncdo(port, PASSWORD, &["type", "root", "move", "300", "200"]);
    assert!(result.status.success(), "vncdo: {result:?}");
    let events = events_after(&rx);
    let pressed: String = events
        .iter()
        .filter_map(|e| match e {
            RfbEvent::Key { keysym, down: true } => char::from_u32(*keysym),
            _ => None,
        })
        .collect();
    assert_eq!(pressed, "root");
    let d = d.lock().unwrap();
    let transcript = String::from_utf8_lossy(&d.host_console().serial_transcript()).into_owned();
    assert!(transcript.ends_with("login: root"), "{transcript:?}");
    let p = d.host_console().pointer();
    assert_eq!((p.x, p.y), (300, 200));
}

#[test]
fn kvm_shows_the_host_only_after_the_consent_code_is_sent_with_the_control_api() {
    let mut d = device();
    d.put_opt_in_service(OptInPut {
        required: Some(OptInRequired::Kvm.value()),
        code_timeout: None,
        display_timeout: None,
    })
    .unwrap();
    assert_eq!(d.start_opt_in(now()), OptInStatus::Success);
    let code: u32 = d.pending_consent_code(now()).unwrap().parse().unwrap();
    let d = Arc::new(Mutex::new(d));

    // The desktop placeholder's background, (0x1e, 0x5a, 0x8c), after RGB565.
    let desktop = |p: &[u8; 3]| {
        (0x10..0x28).contains(&p[0]) && (0x50..0x64).contains(&p[1]) && (0x80..0x98).contains(&p[2])
    };
    let (_, _, before) = capture(&d, "before-consent.png");
    assert_eq!(
        share(&before, desktop),
        0.0,
        "no host picture before consent"
    );

    assert_eq!(
        d.lock().unwrap().send_opt_in_code(code, now()),
        OptInStatus::Success
    );
    let (_, _, after) = capture(&d, "after-consent.png");
    assert!(share(&after, desktop) > 0.5, "the desktop after consent");
}

#[test]
fn the_consent_code_typed_into_the_kvm_form_opens_the_screen() {
    let mut d = device();
    assert_eq!(d.start_opt_in(now()), OptInStatus::Success);
    let code = d.pending_consent_code(now()).unwrap();
    let d = Arc::new(Mutex::new(d));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("after-typing.png");
    let (port, rx) = serve_one(d.clone());
    // One session: the code, Enter, then a capture of what it now shows.
    let result = run_vncdo(
        port,
        PASSWORD,
        &[
            "type",
            &code,
            "key",
            "enter",
            "capture",
            out.to_str().unwrap(),
        ],
    );
    assert!(result.status.success(), "vncdo: {result:?}");
    events_after(&rx);
    assert!(d
        .lock()
        .unwrap()
        .consent_allows(amt_device::user_consent::ConsentFeature::Kvm, now()));
    let (_, _, pixels) = decode_png(&out);
    let desktop = |p: &[u8; 3]| {
        (0x10..0x28).contains(&p[0]) && (0x50..0x64).contains(&p[1]) && (0x80..0x98).contains(&p[2])
    };
    assert!(share(&pixels, desktop) > 0.5, "the desktop after the code");
    // The digits went to the firmware's form, not to the host's login.
    let d = d.lock().unwrap();
    let transcript = String::from_utf8_lossy(&d.host_console().serial_transcript()).into_owned();
    assert!(transcript.ends_with("login: "), "{transcript:?}");
}
