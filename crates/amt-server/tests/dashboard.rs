//! The dashboard over plain HTTP: who may use the control port (the token
//! beyond loopback, the Host and Origin checks), what hostile input gets
//! (an HTTP error and nothing else), escaping, the form endpoints and the
//! live journal stream. The browser test is crates/amt-emu/tests/dashboard.rs.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use amt_server::fleet::{FleetConfig, GroupConfig};
use amt_server::{Emulator, EmulatorConfig, Fleet, RunningEmulator};
use support::{raw_exchange, read_until_closed, Outcome};
use tokio::io::AsyncWriteExt;

const PASSWORD: &str = "P@ssw0rd";

async fn device(token: Option<&str>) -> RunningEmulator {
    Emulator::start(EmulatorConfig {
        control_port: Some(0),
        control_token: token.map(str::to_string),
        admin_password: Some(PASSWORD.into()),
        seed: Some(16),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

/// `METHOD target` with `headers` and `body`, on a fresh connection.
async fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[&str],
    body: &str,
) -> Outcome {
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.push_str(body);
    raw_exchange(addr, head.as_bytes()).await
}

async fn get(addr: SocketAddr, target: &str, headers: &[&str]) -> Outcome {
    request(addr, "GET", target, headers, "").await
}

fn header(o: &Outcome, name: &str) -> Option<String> {
    let text = o.text();
    let head = text.split("\r\n\r\n").next().unwrap_or("").to_string();
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

#[tokio::test]
async fn with_a_token_every_page_and_route_asks_for_it_and_the_url_token_becomes_a_cookie() {
    let emu = device(Some("s3cret-token")).await;
    let addr = emu.control_addr().unwrap();
    assert_eq!(emu.control_token(), Some("s3cret-token"));

    let page = get(addr, "/", &[]).await;
    assert_eq!(page.status(), Some(401));
    assert!(page.text().contains("token"));
    assert!(!page.text().contains("s3cret-token"));
    assert_eq!(get(addr, "/api/device", &[]).await.status(), Some(401));
    assert_eq!(get(addr, "/?token=wrong", &[]).await.status(), Some(401));
    assert_eq!(
        get(addr, "/api/device", &["Authorization: Bearer s3cret-tokeN"])
            .await
            .status(),
        Some(401)
    );

    let login = get(addr, "/?token=s3cret-token", &[]).await;
    assert_eq!(login.status(), Some(303));
    assert_eq!(header(&login, "location").as_deref(), Some("/"));
    let cookie = header(&login, "set-cookie").unwrap();
    assert!(cookie.starts_with("amt_emu_token=s3cret-token;"));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));

    let with_cookie = format!("Cookie: {}", cookie.split(';').next().unwrap());
    let page = get(addr, "/", &[&with_cookie]).await;
    assert_eq!(page.status(), Some(200));
    assert!(page.text().contains("href=\"/devices/device\""));
    assert_eq!(
        get(addr, "/devices/device", &[&with_cookie]).await.status(),
        Some(200)
    );
    let api = get(addr, "/api/device", &["Authorization: Bearer s3cret-token"]).await;
    assert_eq!(api.status(), Some(200));
    assert!(api.text().contains("\"control_mode\":\"client\""));
}

#[tokio::test]
async fn beyond_loopback_a_token_is_made_and_only_the_fleet_probe_answers_without_it() {
    let fleet = Fleet::start(
        FleetConfig {
            listen: "127.43.0.1".parse().unwrap(),
            ports: amt_server::Ports::ephemeral(),
            groups: vec![GroupConfig::new("g", 2)],
            control: Some("0.0.0.0:0".parse().unwrap()),
            ..FleetConfig::default()
        },
        |_, _| {},
    )
    .await
    .unwrap();
    let port = fleet.control_addr().unwrap().port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let token = fleet.control_token().expect("a token was made").to_string();
    assert_eq!(token.len(), 32);
    assert_eq!(get(addr, "/healthz", &[]).await.status(), Some(200));
    assert_eq!(get(addr, "/", &[]).await.status(), Some(401));
    assert_eq!(get(addr, "/api/devices", &[]).await.status(), Some(401));
    let bearer = format!("Authorization: Bearer {token}");
    let list = get(addr, "/", &[&bearer]).await;
    assert_eq!(list.status(), Some(200));
    assert!(list.text().contains("dev-00001"));
    assert_eq!(
        get(addr, "/api/devices", &[&bearer]).await.status(),
        Some(200)
    );
    // The screen picture, per device and for the first one.
    for path in [
        "/api/devices/dev-00001/machine/screen.png",
        "/api/machine/screen.png",
    ] {
        let png = get(addr, path, &[&bearer]).await;
        assert_eq!(png.status(), Some(200), "{path}");
        assert_eq!(header(&png, "content-type").as_deref(), Some("image/png"));
    }
    assert_eq!(
        get(addr, "/api/machine/screen.png", &[]).await.status(),
        Some(401)
    );
    assert_eq!(
        get(
            addr,
            "/api/devices/dev-09999/machine/screen.png",
            &[&bearer]
        )
        .await
        .status(),
        Some(404)
    );
    fleet.shutdown().await;
}

#[tokio::test]
async fn hostile_requests_get_an_http_error_and_nothing_else() {
    let emu = device(None).await;
    let addr = emu.control_addr().unwrap();
    // Nothing outside the two embedded assets is served, however spelled.
    for target in [
        "/assets/../Cargo.toml",
        "/assets/..%2f..%2fCargo.toml",
        "/assets/%2e%2e/%2e%2e/src/lib.rs",
        "/assets/dashboard.css/../../../../etc/passwd",
        "/assets//etc/passwd",
        "/assets/page.html",
        "/assets/mod.rs",
        "/devices/../../etc/passwd",
        "/devices/nobody",
        "/devices/device/nothing",
    ] {
        let o = get(addr, target, &[]).await;
        assert_eq!(o.status(), Some(404), "{target}: {}", o.text());
        assert!(!o.text().contains("[package]") && !o.text().contains("root:"));
    }
    let css = get(addr, "/assets/dashboard.css", &[]).await;
    assert_eq!(css.status(), Some(200));
    assert_eq!(
        header(&css, "content-type").as_deref(),
        Some("text/css; charset=utf-8")
    );

    let long = format!("/devices/{}", "a".repeat(5000));
    assert_eq!(get(addr, &long, &[]).await.status(), Some(414));
    let long_query = format!("/?q={}", "%41".repeat(2000));
    assert_eq!(get(addr, &long_query, &[]).await.status(), Some(414));
    assert_eq!(get(addr, "/?q=%zz", &[]).await.status(), Some(400));
    assert_eq!(get(addr, "/?q=%ff%fe", &[]).await.status(), Some(400));
    let many = format!("/?{}", "a=1&".repeat(100));
    assert_eq!(get(addr, &many, &[]).await.status(), Some(400));
    // A header block past hyper's buffer: refused, the server lives on.
    let huge = format!("X-Filler: {}", "x".repeat(1_000_000));
    let o = get(addr, "/", &[&huge]).await;
    assert!(
        matches!(o.status(), Some(431) | Some(400) | None),
        "{:?}",
        o.status()
    );

    let form = "Content-Type: application/x-www-form-urlencoded";
    for body in [
        "kind=%",
        "kind=delay&ms=soon",
        "kind=explode",
        "operation=Get",
        "times=-1&kind=http500",
    ] {
        let o = request(addr, "POST", "/devices/device/faults", &[form], body).await;
        assert_eq!(o.status(), Some(400), "{body}: {}", o.text());
    }
    let big = "a".repeat(70 * 1024);
    let o = request(addr, "POST", "/devices/device/faults", &[form], &big).await;
    assert_eq!(o.status(), Some(413));
    let o = request(
        addr,
        "POST",
        "/devices/device/actions/self-destruct",
        &[form],
        "",
    )
    .await;
    assert_eq!(o.status(), Some(404));
    let o = request(addr, "POST", "/devices/device/faults/x/remove", &[form], "").await;
    assert_eq!(o.status(), Some(404));
    assert_eq!(
        request(addr, "DELETE", "/", &[], "").await.status(),
        Some(405)
    );
    assert_eq!(
        request(addr, "PUT", "/assets/dashboard.js", &[], "")
            .await
            .status(),
        Some(405)
    );
    assert!(emu.host().faults().rules().is_empty());
    // Still serving.
    assert_eq!(get(addr, "/", &[]).await.status(), Some(200));
}

#[tokio::test]
async fn without_a_token_only_this_machine_may_ask_and_forms_only_from_the_dashboard() {
    let emu = device(None).await;
    let addr = emu.control_addr().unwrap();
    // DNS rebinding: the browser sends the attacker's host name.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"GET /api/device HTTP/1.1\r\nHost: evil.example:16990\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let o = read_until_closed(&mut s, Duration::from_secs(10)).await;
    assert_eq!(o.status(), Some(403));

    let form = "Content-Type: application/x-www-form-urlencoded";
    let rule = "operation=Get&kind=http500&times=1";
    let o = request(
        addr,
        "POST",
        "/devices/device/faults",
        &[form, "Origin: http://evil.example"],
        rule,
    )
    .await;
    assert_eq!(o.status(), Some(403));
    let o = request(
        addr,
        "POST",
        "/devices/device/faults",
        &[form, "Sec-Fetch-Site: cross-site"],
        rule,
    )
    .await;
    assert_eq!(o.status(), Some(403));
    assert!(emu.host().faults().rules().is_empty());

    let origin = format!("Origin: http://{addr}");
    let o = request(
        addr,
        "POST",
        "/devices/device/faults",
        &[form, &origin],
        rule,
    )
    .await;
    assert_eq!(o.status(), Some(303), "{}", o.text());
    assert_eq!(
        header(&o, "location").as_deref(),
        Some("/devices/device#faults")
    );
    let rules = emu.host().faults().rules();
    assert_eq!(rules.len(), 1);
    let id = rules[0].id;
    let o = request(
        addr,
        "POST",
        &format!("/devices/device/faults/{id}/remove"),
        &[form, &origin],
        "",
    )
    .await;
    assert_eq!(o.status(), Some(303));
    assert!(emu.host().faults().rules().is_empty());
}

#[tokio::test]
async fn what_a_client_sent_is_shown_escaped() {
    let emu = device(None).await;
    let addr = emu.control_addr().unwrap();
    let body = r#"{"class":"<script>alert(1)</script>","kind":"soap_fault","subcode":"wsman:\"><img src=x onerror=alert(2)>"}"#;
    let o = request(
        addr,
        "POST",
        "/api/faults",
        &["Content-Type: application/json"],
        body,
    )
    .await;
    assert_eq!(o.status(), Some(201), "{}", o.text());
    let page = get(addr, "/devices/device", &[]).await;
    assert_eq!(page.status(), Some(200));
    let text = page.text();
    assert!(text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!text.contains("<script>alert"));
    assert!(!text.contains("<img src=x"));
    // The host's screen and serial console are on the page too.
    assert!(text.contains("<pre class=\"screen\" id=\"screen\">"));
    assert!(text.contains("<pre id=\"serial\">"));
    assert!(text.contains("src=\"/devices/device/screen.png\""));
    let png = get(addr, "/devices/device/screen.png", &[]).await;
    assert_eq!(png.status(), Some(200));
    assert_eq!(header(&png, "content-type").as_deref(), Some("image/png"));
    let csp = header(&page, "content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
}

#[tokio::test]
async fn owner_actions_from_forms_do_what_the_api_does() {
    let emu = device(None).await;
    let addr = emu.control_addr().unwrap();
    let form = "Content-Type: application/x-www-form-urlencoded";
    let o = request(
        addr,
        "POST",
        "/devices/device/actions/bios-clock",
        &[form],
        "mode=set&at=2031-05-06T07%3A08%3A09Z",
    )
    .await;
    assert_eq!(o.status(), Some(303), "{}", o.text());
    let clock = emu.host().with_device(|d| d.bios_clock());
    assert!(format!("{clock:?}").contains("2031"), "{clock:?}");
    let o = request(
        addr,
        "POST",
        "/devices/device/actions/bios-clock",
        &[form],
        "mode=set&at=yesterday",
    )
    .await;
    assert_eq!(o.status(), Some(400));
    let o = request(
        addr,
        "POST",
        "/devices/device/actions/unprovision",
        &[form],
        "",
    )
    .await;
    assert_eq!(o.status(), Some(303));
    let state = emu.host().with_device(|d| d.provisioning_state());
    assert_eq!(state, amt_device::ProvisioningState::PreProvisioning);
}

#[tokio::test]
async fn the_live_journal_streams_each_new_call_as_a_server_sent_event() {
    let emu = device(None).await;
    let addr = emu.control_addr().unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET /devices/device/stream?after=0 HTTP/1.1\r\nHost: {addr}\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let url = emu.wsman_tls_url().unwrap();
    let xml = support::wsman_messages_request("AMT", "GeneralSettings", "Get", "");
    let (status, _) =
        tokio::task::spawn_blocking(move || support::curl_wsman(&url, "admin", PASSWORD, &xml))
            .await
            .unwrap();
    assert_eq!(status, "200");
    use tokio::io::AsyncReadExt;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !String::from_utf8_lossy(&seen).contains("\"class\":\"AMT_GeneralSettings\"") {
        assert!(
            std::time::Instant::now() < deadline,
            "no event: {}",
            String::from_utf8_lossy(&seen)
        );
        match tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buf[..n]),
            other => panic!("the stream ended: {other:?}"),
        }
    }
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 200"));
    assert!(text
        .to_ascii_lowercase()
        .contains("content-type: text/event-stream"));
    assert!(text.contains("id: 1\nevent: journal\ndata: {"));
}
