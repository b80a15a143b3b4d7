//! KVM with real viewers on the real listeners: vncdotool (PyPI) captures
//! the host's screen over port 5900 with the RFB password, and kvm-pilot
//! (PyPI) opens KVM inside a redirection session on 16994, where a device
//! in client control mode shows the consent form until the code the
//! control API shows is sent with `IPS_OptInService.SendOptInCode`.
//! While a viewer holds a KVM session after consent, `IPS_OptInService`
//! reads OptInState 4 (in session), and `AMT_AuditLog` has the session's
//! start and end (Redirection Manager 18/8, 18/9) as the audit policy allows.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use amt_device::host::BootSettings;
use amt_device::redirection::KvmSettingsPut;
use amt_server::{Emulator, EmulatorConfig, RunningEmulator};
use base64::Engine;
use support::{curl_wsman, wsman_messages_request};

const PASSWORD: &str = "P@ssw0rd";
const RFB_PASSWORD: &str = "Vnc!pas1";

fn venv_bin(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/clients/.venv/bin")
        .join(name);
    assert!(
        path.exists(),
        "{name} is missing from the clients' virtualenv: run .ci/install-clients"
    );
    path
}

/// An AMT 15 device in client control mode (its remote 16992/16994 are
/// plain), with its control API.
async fn start(dir: &Path) -> RunningEmulator {
    Emulator::start(EmulatorConfig {
        state_dir: Some(dir.join("state")),
        firmware: Some("15.0.23".parse().unwrap()),
        control_port: Some(0),
        ..EmulatorConfig::default().admin_password(PASSWORD)
    })
    .await
    .unwrap()
}

/// Share of the picture's pixels for which `pick` holds.
fn share(png_file: &Path, pick: impl Fn(u8, u8, u8) -> bool) -> f64 {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_file).expect("the capture was written"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let total = pixels.len() / channels;
    let hits = pixels
        .chunks(channels)
        .filter(|p| pick(p[0], p[1], p[2]))
        .count();
    hits as f64 / total as f64
}

/// The BIOS setup page's blue.
fn setup_blue(r: u8, g: u8, b: u8) -> bool {
    r < 0x30 && g < 0x30 && b > 0x80
}

/// The desktop placeholder's background (#1e5a8c, through RGB565); the
/// consent form's blue border has no red at all.
fn desktop(r: u8, g: u8, b: u8) -> bool {
    (0x10..0x30).contains(&r) && (0x48..0x70).contains(&g) && (0x78..0xa0).contains(&b)
}

fn black(r: u8, g: u8, b: u8) -> bool {
    r < 0x10 && g < 0x10 && b < 0x10
}

/// `vncdo capture` against 127.0.0.1:`port`: whether it succeeded.
fn vncdo_capture(port: u16, password: &str, out: &Path) -> bool {
    Command::new("timeout")
        .arg("90")
        .arg(venv_bin("vncdo"))
        .args(["-s", &format!("127.0.0.1::{port}"), "-p", password])
        .arg("capture")
        .arg(out)
        .stdin(Stdio::null())
        .output()
        .map(|o| o.status.success() && out.exists())
        .unwrap_or(false)
}

/// kvm-pilot's KVM-over-redirection viewer: one full frame from 16994,
/// written to `out`.
fn kvm_pilot_capture(port: u16, out: &Path) -> Result<(), String> {
    let script = r#"
import sys
from kvm_pilot.drivers.amt.rfb import Rfb, RedirKvmStream
host, port, user, pw, out = "127.0.0.1", int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
stream = lambda: RedirKvmStream(host, user, pw, port=port, timeout=60).connect()
with Rfb(host, port, "", timeout=60, stream_factory=stream) as rfb:
    png = rfb.framebuffer_png()
open(out, "wb").write(png)
print("frame", rfb.width, rfb.height, flush=True)
"#;
    let o = Command::new("timeout")
        .arg("120")
        .arg(venv_bin("python"))
        .arg("-c")
        .arg(script)
        .arg(port.to_string())
        .args(["admin", PASSWORD])
        .arg(out)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ))
    }
}

/// Retries `f` while the previous KVM session is still closing on the
/// device's side (one session at a time).
async fn kvm_pilot_capture_when_free(port: u16, out: PathBuf) {
    let mut last = String::new();
    for _ in 0..10 {
        let o = out.clone();
        match tokio::task::spawn_blocking(move || kvm_pilot_capture(port, &o))
            .await
            .unwrap()
        {
            Ok(()) => return,
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("kvm-pilot could not capture: {last}");
}

#[tokio::test(flavor = "multi_thread")]
async fn vncdotool_captures_the_bios_setup_over_5900_and_cannot_once_it_is_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let host = emu.host().clone();
    host.change_device_and_listeners(|d, now| {
        support::enable_kvm_on_5900(d, RFB_PASSWORD);
        // Client control mode: KVM needs the user's consent first.
        d.start_opt_in(now);
        let code = d.pending_consent_code(now).expect("a code on the screen");
        d.send_opt_in_code(code.parse().unwrap(), now);
        // "Reset to BIOS", as a console does it.
        d.set_boot_settings(BootSettings {
            bios_setup: true,
            ..Default::default()
        });
        d.set_boot_config_next();
        d.request_power_state_change(10, now).unwrap();
        Ok(())
    })
    .await
    .unwrap();
    let port = host.listener_addrs().rfb.expect("5900 listens").port();

    let shot = dir.path().join("bios.png");
    let wrong = dir.path().join("wrong.png");
    let (s, w) = (shot.clone(), wrong.clone());
    let (ok, refused) = tokio::task::spawn_blocking(move || {
        (
            vncdo_capture(port, RFB_PASSWORD, &s),
            vncdo_capture(port, "wrong!P1", &w),
        )
    })
    .await
    .unwrap();
    assert!(ok, "vncdo captured the screen");
    assert!(!refused, "a wrong RFB password is refused");
    let blue = share(&shot, setup_blue);
    assert!(blue > 0.5, "the BIOS setup page is blue ({blue})");

    host.change_device_and_listeners(|d, _| {
        d.put_kvm_settings(KvmSettingsPut {
            is_5900_port_enabled: Some(false),
            ..Default::default()
        })
        .unwrap();
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(host.listener_addrs().rfb, None);
    let gone = dir.path().join("gone.png");
    let g = gone.clone();
    let captured = tokio::task::spawn_blocking(move || vncdo_capture(port, RFB_PASSWORD, &g))
        .await
        .unwrap();
    assert!(!captured, "with 5900 disabled vncdo cannot connect");
    emu.shutdown().await;
}

/// The `/api/consent/code` the control API shows, by curl.
fn control_code(emu: &RunningEmulator) -> String {
    let url = format!("http://{}/api/consent/code", emu.control_addr().unwrap());
    let out = Command::new("curl")
        .args(["-s", "--max-time", "20", &url])
        .stdin(Stdio::null())
        .output()
        .expect("curl");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    v["code"].as_str().expect("a code").to_string()
}

fn return_value(xml: &str) -> String {
    let at = xml.find(":ReturnValue>").expect("a ReturnValue") + ":ReturnValue>".len();
    xml[at..].split('<').next().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn kvm_pilot_sees_the_consent_form_until_the_code_is_sent_in_client_control_mode() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let host = emu.host().clone();
    host.change_device_and_listeners(|d, _| {
        assert_eq!(d.request_kvm_state(2), 0);
        Ok(())
    })
    .await
    .unwrap();
    let port = host.listener_addrs().redirection.expect("16994").port();

    let before = dir.path().join("before.png");
    kvm_pilot_capture_when_free(port, before.clone()).await;
    let form = share(&before, black);
    assert!(form > 0.8, "the consent form, not the host ({form})");
    assert!(share(&before, desktop) < 0.01);

    // The console starts consent; the code is read where the host's screen
    // shows it (the control API) and sent with SendOptInCode.
    let url = emu.wsman_http_url().expect("16992");
    let u = url.clone();
    let started = tokio::task::spawn_blocking(move || {
        curl_wsman(
            &u,
            "admin",
            PASSWORD,
            &wsman_messages_request("IPS", "OptInService", "StartOptIn", ""),
        )
    })
    .await
    .unwrap();
    assert_eq!(return_value(&started.1), "0", "{}", started.1);
    // wsman-messages takes the code as a JSON number.
    let code = format!("[{}]", control_code(&emu).parse::<u32>().expect("digits"));
    let sent = tokio::task::spawn_blocking(move || {
        curl_wsman(
            &url,
            "admin",
            PASSWORD,
            &wsman_messages_request("IPS", "OptInService", "SendOptInCode", &code),
        )
    })
    .await
    .unwrap();
    assert_eq!(return_value(&sent.1), "0", "{}", sent.1);

    let after = dir.path().join("after.png");
    kvm_pilot_capture_when_free(port, after.clone()).await;
    let shown = share(&after, desktop);
    assert!(shown > 0.5, "the host's desktop ({shown})");

    // Both sessions are in the audit log, started (18/8) and ended (18/9)
    // by the digest user (InitiatorType 0); the last end may still be on
    // its way when kvm-pilot exits.
    let url = emu.wsman_http_url().expect("16992");
    let mut kvm = Vec::new();
    for _ in 0..100 {
        kvm = audit_records(&url)
            .await
            .into_iter()
            .filter(|r| r.0 == 18)
            .collect();
        if kvm.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(kvm, [(18, 8, 0), (18, 9, 0), (18, 8, 0), (18, 9, 0)]);
    emu.shutdown().await;
}

/// A vncdotool viewer holding a KVM session on 5900 until told to go:
/// it connects with the RFB password, captures one frame and waits.
struct HeldViewer(std::process::Child);

impl HeldViewer {
    fn open(port: u16, password: &str, out: &Path) -> HeldViewer {
        let script = r#"
import sys
from vncdotool import api
port, password, out = sys.argv[1], sys.argv[2], sys.argv[3]
client = api.connect("127.0.0.1::" + port, password=password, timeout=60)
client.captureScreen(out)
print("open", flush=True)
sys.stdin.readline()
client.disconnect()
api.shutdown()
"#;
        let mut child = Command::new("timeout")
            .arg("120")
            .arg(venv_bin("python"))
            .arg("-c")
            .arg(script)
            .arg(port.to_string())
            .arg(password)
            .arg(out)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the venv's python");
        let mut line = String::new();
        let stdout = child.stdout.as_mut().expect("stdout");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
            .expect("the viewer's output");
        assert_eq!(line.trim(), "open", "vncdotool opened the session");
        HeldViewer(child)
    }

    /// Disconnects and waits for the viewer to exit.
    fn close(mut self) {
        drop(self.0.stdin.take());
        let status = self.0.wait().expect("the viewer exits");
        assert!(status.success(), "vncdotool disconnected cleanly");
    }
}

/// A WS-Man call built by wsman-messages, posted with curl as admin.
async fn wsman(url: &str, ns: &str, class: &str, method: &str, args: &str) -> String {
    let (url, body) = (
        url.to_string(),
        wsman_messages_request(ns, class, method, args),
    );
    let (status, reply) =
        tokio::task::spawn_blocking(move || curl_wsman(&url, "admin", PASSWORD, &body))
            .await
            .unwrap();
    assert_eq!(status, "200", "{ns}_{class} {method}: {reply}");
    reply
}

fn value(xml: &str, name: &str) -> String {
    let tag = format!(":{name}>");
    let at = xml.find(&tag).unwrap_or_else(|| panic!("no {name}: {xml}")) + tag.len();
    xml[at..].split('<').next().unwrap_or_default().to_string()
}

async fn opt_in_state(url: &str) -> String {
    value(
        &wsman(url, "IPS", "OptInService", "Get", "").await,
        "OptInState",
    )
}

/// Every audit record, read with `AMT_AuditLog.ReadRecords` pages as
/// consoles do: (AuditAppID, EventID, InitiatorType).
async fn audit_records(url: &str) -> Vec<(u16, u16, u8)> {
    let mut records = Vec::new();
    loop {
        let start = records.len() + 1;
        let reply = wsman(url, "AMT", "AuditLog", "ReadRecords", &format!("[{start}]")).await;
        let total: usize = value(&reply, "TotalRecordCount").parse().unwrap();
        for chunk in reply.split(":EventRecords>").skip(1).step_by(2) {
            let b64 = chunk.split('<').next().unwrap_or_default();
            let r = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("base64");
            records.push((
                u16::from_be_bytes([r[0], r[1]]),
                u16::from_be_bytes([r[2], r[3]]),
                r[4],
            ));
        }
        if records.len() >= total || records.len() < start {
            return records;
        }
    }
}

/// `AMT_AuditPolicyRule.SetAuditPolicyBulk` disabling `events` of the
/// Redirection Manager (18). wsman-messages has no builder for it: its
/// envelope for another AMT method with this class and body.
async fn disable_redirection_audit(url: &str, events: &[u16]) {
    let rule = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_AuditPolicyRule";
    let each = |tag: &str, v: &dyn Fn(u16) -> String| {
        events
            .iter()
            .map(|e| format!("<h:{tag}>{}</h:{tag}>", v(*e)))
            .collect::<String>()
    };
    let input = format!(
        r#"<h:SetAuditPolicyBulk_INPUT xmlns:h="{rule}">{}{}{}{}</h:SetAuditPolicyBulk_INPUT>"#,
        each("Enable", &|_| "false".into()),
        each("AuditedAppID", &|_| "18".into()),
        each("EventID", &|e| e.to_string()),
        each("PolicyType", &|_| "0".into()),
    );
    let template = wsman_messages_request("AMT", "AuditLog", "ReadRecords", "[1]");
    let body_at = template.find("<Body>").unwrap() + "<Body>".len();
    let body_end = template.find("</Body>").unwrap();
    let request = format!("{}{input}{}", &template[..body_at], &template[body_end..])
        .replace(
            "AMT_AuditLog/ReadRecords",
            "AMT_AuditPolicyRule/SetAuditPolicyBulk",
        )
        .replace(
            "amt-schema/1/AMT_AuditLog<",
            "amt-schema/1/AMT_AuditPolicyRule<",
        );
    let u = url.to_string();
    let (status, reply) =
        tokio::task::spawn_blocking(move || curl_wsman(&u, "admin", PASSWORD, &request))
            .await
            .unwrap();
    assert_eq!(status, "200", "{reply}");
    assert_eq!(return_value(&reply), "0", "{reply}");
}

/// Waits until the device saw the viewer's session end (the TCP close
/// reaches it after the viewer exits).
async fn wait_for_opt_in_state_other_than(url: &str, state: &str) -> String {
    for _ in 0..200 {
        let now = opt_in_state(url).await;
        if now != state {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("OptInState stayed {state}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kvm_session_after_consent_is_in_session_and_audited_as_the_policy_allows() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let host = emu.host().clone();
    host.change_device_and_listeners(|d, _| {
        support::enable_kvm_on_5900(d, RFB_PASSWORD);
        Ok(())
    })
    .await
    .unwrap();
    let port = host.listener_addrs().rfb.expect("5900 listens").port();
    let url = emu.wsman_http_url().expect("16992");

    // Consent as a console gets it: StartOptIn, the code from where the
    // host shows it (the control API), SendOptInCode.
    let started = wsman(&url, "IPS", "OptInService", "StartOptIn", "").await;
    assert_eq!(return_value(&started), "0", "{started}");
    let code = format!("[{}]", control_code(&emu).parse::<u32>().expect("digits"));
    let sent = wsman(&url, "IPS", "OptInService", "SendOptInCode", &code).await;
    assert_eq!(return_value(&sent), "0", "{sent}");
    assert_eq!(opt_in_state(&url).await, "3", "received");

    let shot = dir.path().join("held.png");
    let s = shot.clone();
    let viewer = tokio::task::spawn_blocking(move || HeldViewer::open(port, RFB_PASSWORD, &s))
        .await
        .unwrap();
    assert!(
        share(&shot, desktop) > 0.5,
        "the host's desktop, not the form"
    );
    assert_eq!(
        opt_in_state(&url).await,
        "4",
        "in session while the viewer is open"
    );
    tokio::task::spawn_blocking(move || viewer.close())
        .await
        .unwrap();
    // Consent outlives the session by OptInCodeTimeout (a reconnect needs
    // no new code): RECEIVED, then NOT STARTED once that runs out.
    assert_eq!(wait_for_opt_in_state_other_than(&url, "4").await, "3");

    let kvm: Vec<_> = audit_records(&url)
        .await
        .into_iter()
        .filter(|r| r.0 == 18)
        .collect();
    // KVM session started (18/8) and ended (18/9), by the KVM default port
    // (InitiatorType 3): the 5900 viewer has no user name.
    assert_eq!(kvm, [(18, 8, 3), (18, 9, 3)]);

    // With the policy rules for them removed, another session leaves no
    // records.
    disable_redirection_audit(&url, &[8, 9]).await;
    let again = dir.path().join("again.png");
    let a = again.clone();
    tokio::task::spawn_blocking(move || HeldViewer::open(port, RFB_PASSWORD, &a).close())
        .await
        .unwrap();
    // The session's end reached the device once 5900 takes a viewer again
    // (one KVM session at a time; the end is told before it frees).
    let free = dir.path().join("free.png");
    let mut captured = false;
    for _ in 0..20 {
        let f = free.clone();
        captured = tokio::task::spawn_blocking(move || vncdo_capture(port, RFB_PASSWORD, &f))
            .await
            .unwrap();
        if captured {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(captured, "the next viewer gets the one KVM session");
    let kvm_after: Vec<_> = audit_records(&url)
        .await
        .into_iter()
        .filter(|r| r.0 == 18)
        .collect();
    assert_eq!(
        kvm_after, kvm,
        "no KVM session records once the policy drops them"
    );
    emu.shutdown().await;
}
