//! The firmware web UI on the WS-Man port (docs/web-ui.md), driven with
//! curl --digest over plain HTTP on an AMT 15 device: the firmware's
//! headers and redirect, every page rendered from the device with its
//! text escaped and no secret shown, the remote control form acting
//! through the same device call as WS-Man, realm checks and the lockout,
//! and hostile URLs and forms refused with an HTTP error.

mod support;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use amt_device::accounts::{AclUser, UserAclRequest};
use amt_device::host::PowerState;
use amt_server::{Emulator, EmulatorConfig, RunningEmulator, ServerLimits};
use support::ADMIN_PASSWORD;

const VIEWER: &str = "viewer";
const VIEWER_PASSWORD: &str = "Vi3wer!pass";

/// What curl saw: status, the final response's headers, body.
struct Page {
    status: u16,
    headers: String,
    body: String,
}

impl Page {
    fn header(&self, name: &str) -> Option<String> {
        let last = self.headers.rsplit("HTTP/1.1 ").next().unwrap_or("");
        last.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// curl with `args` before the URL; `-D` dumps the headers.
async fn curl(url: String, args: Vec<String>) -> Page {
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().expect("temp dir");
        let headers = dir.path().join("headers");
        let out = Command::new("curl")
            .args(["-s", "-k", "--path-as-is", "--max-time", "20", "-D"])
            .arg(&headers)
            .args(["-w", "\n%{http_code}"])
            .args(&args)
            .arg(&url)
            .stdin(Stdio::null())
            .output()
            .expect("curl is installed (see .ci/install-clients)");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        Page {
            status: code.trim().parse().unwrap_or(0),
            headers: std::fs::read_to_string(&headers).unwrap_or_default(),
            body: body.to_string(),
        }
    })
    .await
    .expect("curl task")
}

fn digest(user: &str, password: &str) -> Vec<String> {
    vec!["--digest".into(), "-u".into(), format!("{user}:{password}")]
}

async fn get(addr: SocketAddr, path: &str, user: &str, password: &str) -> Page {
    curl(format!("http://{addr}{path}"), digest(user, password)).await
}

async fn post_form(addr: SocketAddr, user: &str, password: &str, form: &str) -> Page {
    let mut args = digest(user, password);
    args.extend(["--data".into(), form.into()]);
    curl(format!("http://{addr}/RemoteForm"), args).await
}

async fn device(limits: ServerLimits) -> (RunningEmulator, SocketAddr) {
    let emu = Emulator::start(EmulatorConfig {
        firmware: Some("15.0.23".parse().unwrap()),
        admin_password: Some(ADMIN_PASSWORD.into()),
        limits,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let addr = emu.http_addr().expect("16992 is open on AMT 15");
    (emu, addr)
}

/// Adds the digest user `viewer` with the realms numbered `realms`.
fn add_viewer(emu: &RunningEmulator, realms: Vec<u32>) {
    emu.host()
        .change_device(|d, _| {
            let ha1 = d.digest_ha1(VIEWER, VIEWER_PASSWORD);
            d.add_user_acl_entry(UserAclRequest {
                user: AclUser::Digest {
                    name: VIEWER.into(),
                    ha1,
                },
                access: 2,
                realms,
            })
            .map_err(Into::into)
        })
        .expect("user added");
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_have_the_firmware_s_headers_and_show_the_device() {
    let (emu, addr) = device(ServerLimits::default()).await;
    let server = emu.host().server_header();

    // `/` sends the browser to the logon page; it and the style sheet
    // need no login.
    let root = curl(format!("http://{addr}/"), vec![]).await;
    assert_eq!(root.status, 303);
    assert_eq!(root.header("Location").as_deref(), Some("/logon.htm"));
    let logon = curl(format!("http://{addr}/logon.htm"), vec![]).await;
    assert_eq!(logon.status, 200);
    assert!(
        logon.body.contains("action=\"/index.htm\""),
        "{}",
        logon.body
    );
    assert_eq!(logon.header("Server"), Some(server.clone()));
    assert_eq!(
        logon.header("Transfer-Encoding").as_deref(),
        Some("chunked")
    );
    assert_eq!(logon.header("Cache-Control").as_deref(), Some("no-cache"));
    let css = curl(format!("http://{addr}/styles.css"), vec![]).await;
    assert_eq!(css.status, 200);
    assert_eq!(css.header("Content-Type").as_deref(), Some("text/css"));

    // The status page asks for the digest login, with WS-Man's 401.
    let anonymous = curl(format!("http://{addr}/index.htm"), vec![]).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.body, amt_server::http::LOGON_FAILED_HTML);
    let challenge = anonymous.header("WWW-Authenticate").expect("challenge");
    assert!(
        challenge.starts_with("Digest realm=\"Digest:"),
        "{challenge}"
    );

    // A name with markup in it is shown as text.
    emu.host()
        .change_device(|d, _| {
            d.set_host_and_domain_name("<b>pc", "lab&co");
            Ok(())
        })
        .unwrap();
    let uuid = emu.host().with_device(|d| d.uuid());
    let status = get(addr, "/index.htm", "admin", ADMIN_PASSWORD).await;
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(status.header("Server"), Some(server.clone()));
    assert_eq!(status.header("X-Frame-Options").as_deref(), Some("DENY"));
    assert!(status.body.contains("id=\"power\">On<"), "{}", status.body);
    assert!(status.body.contains(&uuid));
    assert!(status.body.contains("&lt;b&gt;pc.lab&amp;co"));
    assert!(!status.body.contains("<b>pc"));

    // Every page renders for admin; none shows a secret.
    let ha1 = emu
        .host()
        .with_device(|d| d.admin_password_ha1().map(hex::encode).unwrap_or_default());
    for (path, expect) in [
        ("/hw-sys.htm", "NUC12WSKi7"),
        ("/hw-proc.htm", "i7-1270P"),
        ("/hw-mem.htm", "BANK 0"),
        ("/hw-disk.htm", "Maximum media size"),
        ("/hw-batt.htm", "no battery"),
        ("/events.htm", "id=event-log"),
        ("/remote.htm", "Send Command"),
        ("/ip.htm", "192.168.1.53"),
        ("/wlan.htm", "no wireless"),
        ("/fqdn.htm", "lab&amp;co"),
        ("/acl.htm", "admin"),
    ] {
        let page = get(addr, path, "admin", ADMIN_PASSWORD).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(page.body.contains(expect), "{path}: {}", page.body);
        assert!(
            !page.body.contains(ADMIN_PASSWORD),
            "{path} shows the password"
        );
        assert!(!page.body.contains(&ha1), "{path} shows the digest hash");
        assert!(!page.body.to_lowercase().contains("<script"), "{path}");
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_remote_control_form_changes_the_power_state_like_ws_man() {
    let (emu, addr) = device(ServerLimits::default()).await;
    let logged = emu.host().with_device(|d| d.message_log().records.len());

    let off = post_form(addr, "admin", ADMIN_PASSWORD, "t=&power=8").await;
    assert_eq!(off.status, 200, "{}", off.body);
    assert!(
        off.body.contains("Command sent successfully"),
        "{}",
        off.body
    );
    assert!(off.body.contains("id=\"power\">Off (S5)<"), "{}", off.body);
    assert_eq!(
        emu.host().with_device(|d| d.power_state()),
        PowerState::SoftOff
    );
    // The device logged it, as for a WS-Man power change.
    assert!(emu.host().with_device(|d| d.message_log().records.len()) > logged);
    // Only "power on" is offered now; a reset is refused by the device.
    let refused = post_form(addr, "admin", ADMIN_PASSWORD, "power=10").await;
    assert_eq!(refused.status, 200);
    assert!(refused.body.contains("not available"), "{}", refused.body);
    assert!(
        refused.body.contains("value=\"2\" checked"),
        "{}",
        refused.body
    );
    let on = post_form(addr, "admin", ADMIN_PASSWORD, "power=2").await;
    assert!(on.body.contains("Command sent successfully"), "{}", on.body);
    assert_eq!(emu.host().with_device(|d| d.power_state()), PowerState::On);

    // Bad forms: a 400 page and no change.
    for form in [
        "power=8&power=2",
        "power=8&debug=1",
        "power=99",
        "power=eight",
        "power=%zz",
        "t=",
    ] {
        let r = post_form(addr, "admin", ADMIN_PASSWORD, form).await;
        assert_eq!(r.status, 400, "{form}: {}", r.body);
        assert_eq!(emu.host().with_device(|d| d.power_state()), PowerState::On);
    }
    let mut args = digest("admin", ADMIN_PASSWORD);
    args.extend([
        "-H".into(),
        "Content-Type: text/plain".into(),
        "--data".into(),
        "power=8".into(),
    ]);
    let wrong_type = curl(format!("http://{addr}/RemoteForm"), args).await;
    assert_eq!(wrong_type.status, 415);
    let big = format!(
        "power=8&t={}",
        "x".repeat(amt_server::web_ui::MAX_FORM_BYTES)
    );
    let too_big = post_form(addr, "admin", ADMIN_PASSWORD, &big).await;
    assert_eq!(too_big.status, 413);
    let get_form = get(addr, "/RemoteForm", "admin", ADMIN_PASSWORD).await;
    assert_eq!(get_form.status, 405);
    assert_eq!(get_form.header("Allow").as_deref(), Some("POST"));
    assert_eq!(emu.host().with_device(|d| d.power_state()), PowerState::On);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_power_action_from_the_web_ui_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = || EmulatorConfig {
        firmware: Some("15.0.23".parse().unwrap()),
        admin_password: Some(ADMIN_PASSWORD.into()),
        state_dir: Some(dir.path().to_path_buf()),
        ..EmulatorConfig::default()
    };
    let emu = Emulator::start(config()).await.unwrap();
    let addr = emu.http_addr().expect("16992");
    let off = post_form(addr, "admin", ADMIN_PASSWORD, "power=8").await;
    assert!(
        off.body.contains("Command sent successfully"),
        "{}",
        off.body
    );
    emu.shutdown().await;
    let again = Emulator::start(config()).await.unwrap();
    assert_eq!(
        again.host().with_device(|d| d.power_state()),
        PowerState::SoftOff
    );
    again.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn acl_users_see_only_the_pages_of_their_realms() {
    let (emu, addr) = device(ServerLimits::default()).await;
    // Hardware Asset (4) and General Info (13) only.
    add_viewer(&emu, vec![4, 13]);
    for (path, status) in [
        ("/index.htm", 200),
        ("/hw-sys.htm", 200),
        ("/events.htm", 403),
        ("/remote.htm", 403),
        ("/acl.htm", 403),
    ] {
        let page = get(addr, path, VIEWER, VIEWER_PASSWORD).await;
        assert_eq!(page.status, status, "{path}: {}", page.body);
    }
    let acted = post_form(addr, VIEWER, VIEWER_PASSWORD, "power=8").await;
    assert_eq!(acted.status, 403);
    assert_eq!(emu.host().with_device(|d| d.power_state()), PowerState::On);
    // The admin's accounts page lists the user, without its hash.
    let acl = get(addr, "/acl.htm", "admin", ADMIN_PASSWORD).await;
    assert!(acl.body.contains(VIEWER), "{}", acl.body);
    assert!(acl.body.contains("Hardware Asset, General Information"));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_logins_on_pages_lock_the_device_like_ws_man() {
    let (emu, addr) = device(ServerLimits {
        lockout_threshold: 3,
        lockout_window: Duration::from_secs(60),
        lockout_duration: Duration::from_secs(600),
        ..ServerLimits::default()
    })
    .await;
    for _ in 0..3 {
        let wrong = get(addr, "/index.htm", "admin", "wrong").await;
        assert_eq!(wrong.status, 401);
    }
    let right = get(addr, "/index.htm", "admin", ADMIN_PASSWORD).await;
    assert_eq!(right.status, 401, "locked out");
    let wsman = support::console_request(format!("http://{addr}/wsman")).await;
    assert_eq!(wsman, "401", "WS-Man shares the lock");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_urls_get_an_http_error_and_nothing_else() {
    let (emu, addr) = device(ServerLimits::default()).await;
    let long = format!("/index.htm?{}", "a".repeat(4000));
    let r = get(addr, &long, "admin", ADMIN_PASSWORD).await;
    assert_eq!(r.status, 414);
    for path in [
        "/../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/styles.css/../../etc/passwd",
        "/index.htm%00",
        "/INDEX.HTM",
        "//index.htm",
        "/web_ui/styles.css",
        "/src/web_ui/mod.rs",
    ] {
        let page = get(addr, path, "admin", ADMIN_PASSWORD).await;
        assert_eq!(page.status, 404, "{path}: {}", page.body);
        assert!(!page.body.contains("root:"), "{path}");
        assert!(page.body.contains("Not Found"), "{path}");
    }
    for method in ["PUT", "DELETE", "POST"] {
        let mut args = digest("admin", ADMIN_PASSWORD);
        args.extend(["-X".into(), method.into()]);
        let r = curl(format!("http://{addr}/index.htm"), args).await;
        assert_eq!(r.status, 405, "{method}");
    }
    // The console still works.
    support::assert_console_works(&format!("http://{addr}/wsman")).await;
    emu.shutdown().await;
}

/// The web UI entries of the control API's journal, oldest first.
fn web_entries(journal: &serde_json::Value) -> Vec<serde_json::Value> {
    journal
        .as_array()
        .map(|a| a.iter().filter(|e| e["kind"] == "web").cloned().collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn page_views_and_form_posts_are_journaled_without_the_form_s_secrets() {
    const SECRET: &str = "Sekr1t-in-a-form!";
    let dir = tempfile::tempdir().unwrap();
    let journal_file = dir.path().join("journal.jsonl");
    let emu = Emulator::start(EmulatorConfig {
        firmware: Some("15.0.23".parse().unwrap()),
        admin_password: Some(ADMIN_PASSWORD.into()),
        control_port: Some(0),
        journal: amt_server::JournalConfig {
            file: Some(journal_file.clone()),
            ..amt_server::JournalConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let addr = emu.http_addr().expect("16992 is open on AMT 15");
    let control = emu.control_addr().expect("control API");

    // A page view before and after the login, the style sheet, a form
    // post that powers the host off, and forms carrying a password.
    assert_eq!(
        curl(format!("http://{addr}/logon.htm"), vec![])
            .await
            .status,
        200
    );
    assert_eq!(
        curl(format!("http://{addr}/styles.css"), vec![])
            .await
            .status,
        200
    );
    assert_eq!(
        get(addr, "/index.htm", "admin", ADMIN_PASSWORD)
            .await
            .status,
        200
    );
    let off = post_form(addr, "admin", ADMIN_PASSWORD, "t=&power=8").await;
    assert_eq!(off.status, 200, "{}", off.body);
    let with_password = format!("power=2&password={SECRET}");
    let refused = post_form(addr, "admin", ADMIN_PASSWORD, &with_password).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let mut args = digest("admin", ADMIN_PASSWORD);
    args.extend([
        "-H".into(),
        "Content-Type: text/plain".into(),
        "--data".into(),
        SECRET.into(),
    ]);
    let plain = curl(format!("http://{addr}/RemoteForm"), args).await;
    assert_eq!(plain.status, 415);
    assert_eq!(
        emu.host().with_device(|d| d.power_state()),
        PowerState::SoftOff
    );

    let journal = curl(format!("http://{control}/api/journal"), vec![]).await;
    assert_eq!(journal.status, 200, "{}", journal.body);
    let json: serde_json::Value = serde_json::from_str(&journal.body).unwrap();
    let web = web_entries(&json);
    let seen: Vec<(String, String, u64)> = web
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap_or("").to_string(),
                e["path"].as_str().unwrap_or("").to_string(),
                e["http_status"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let expected: Vec<(String, String, u64)> = [
        ("GET", "/logon.htm", 200),
        ("GET", "/index.htm", 200),
        ("POST", "/RemoteForm", 200),
        ("POST", "/RemoteForm", 400),
        ("POST", "/RemoteForm", 415),
    ]
    .iter()
    .map(|(m, p, s)| (m.to_string(), p.to_string(), *s))
    .collect();
    // Not the style sheet, nor curl's first, unauthenticated tries (401).
    assert_eq!(seen, expected, "{json:#}");
    for e in &web {
        assert_eq!(e["interface"], "remote", "{e}");
        assert_eq!(e["transport"], "plain", "{e}");
        assert!(e.get("via").is_none(), "a direct connection: {e}");
        assert!(e["duration_ms"].as_f64().is_some(), "{e}");
    }
    assert_eq!(web[0]["user"], serde_json::Value::Null, "{}", web[0]);
    assert!(
        web[0]["response_body"]
            .as_str()
            .unwrap_or("")
            .contains("Log On"),
        "{}",
        web[0]
    );
    assert_eq!(web[1]["user"], "admin", "{}", web[1]);
    let power = &web[2];
    assert_eq!(power["user"], "admin", "{power}");
    assert_eq!(power["form_action"], "power: off", "{power}");
    assert_eq!(power["form_result"], "done", "{power}");
    assert_eq!(power["request_body"], "t=&power=8", "{power}");
    let bad = &web[3];
    assert!(bad.get("form_action").is_none(), "{bad}");
    assert_eq!(
        bad["form_result"], "refused: unknown field \"password\"",
        "{bad}"
    );
    assert_eq!(bad["request_body"], "power=2&password=***", "{bad}");
    let not_a_form = &web[4];
    assert_eq!(
        not_a_form["form_result"], "refused: not a form",
        "{not_a_form}"
    );
    assert!(not_a_form.get("request_body").is_none() || not_a_form["request_body"].is_null());
    let file = std::fs::read_to_string(&journal_file).unwrap();
    for text in [&journal.body, &file] {
        assert!(!text.contains(SECRET), "the form's password leaked: {text}");
        assert!(!text.contains(ADMIN_PASSWORD), "{text}");
    }
    let lines: Vec<serde_json::Value> = file
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        web_entries(&serde_json::Value::Array(lines)).len(),
        5,
        "{file}"
    );

    // The dashboard's journal marks them as web requests.
    let page = curl(format!("http://{control}/devices/device"), vec![]).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("<span class=\"kind kind-web\">web</span>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("POST /RemoteForm (power: off)"),
        "{}",
        page.body
    );
    assert!(!page.body.contains(SECRET));
    emu.shutdown().await;
}
