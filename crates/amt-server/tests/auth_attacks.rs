//! Attacks on digest authentication through the real listener:
//! CVE-2017-5689 and its variants, replayed nonces and counts, wrong realm,
//! uri, method and user, Basic auth, the login lockout, and no secret in
//! the logs.

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use amt_server::http::LOGON_FAILED_HTML;
use amt_server::ServerLimits;
use support::{
    assert_console_works, console_request, curl, digest_header, digest_response, fetch_challenge,
    http_device, raw_exchange, wsman_post, Outcome, ADMIN_PASSWORD,
};

/// Attack tests send many wrong responses on purpose; the lockout has its
/// own test, so here it stays out of the way.
fn no_lockout() -> ServerLimits {
    ServerLimits {
        lockout_threshold: 0,
        ..ServerLimits::default()
    }
}

/// A hand-made login attempt against `addr`.
struct Attempt {
    realm: String,
    nonce: String,
}

impl Attempt {
    async fn new(addr: SocketAddr) -> Self {
        let (realm, nonce) = fetch_challenge(addr).await;
        Attempt { realm, nonce }
    }

    fn right_response(&self, nc: &str) -> String {
        digest_response(
            "admin",
            &self.realm,
            ADMIN_PASSWORD,
            &self.nonce,
            nc,
            "POST",
            "/wsman",
        )
    }

    fn header(&self, nc: &str, response: &str) -> String {
        digest_header("admin", &self.realm, &self.nonce, "/wsman", nc, response)
    }

    async fn send(&self, addr: SocketAddr, header: &str) -> Outcome {
        raw_exchange(addr, &wsman_post(Some(header))).await
    }
}

/// The firmware's refusal: 401, its HTML page, a fresh digest challenge.
fn assert_refused(out: &Outcome, what: &str) {
    assert_eq!(out.status(), Some(401), "{what}: {}", out.text());
    let text = out.text();
    assert!(text.contains(LOGON_FAILED_HTML), "{what}: the logon page");
    let challenge = text.lines().find(|l| {
        l.to_ascii_lowercase()
            .starts_with("www-authenticate: digest realm=")
    });
    assert!(challenge.is_some(), "{what}: a digest challenge: {text}");
}

fn assert_accepted(out: &Outcome, what: &str) {
    let status = out.status();
    assert!(
        status.is_some() && status != Some(401),
        "{what}: accepted, got {}",
        out.text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cve_2017_5689_empty_prefix_and_malformed_responses_are_refused() {
    let (emu, addr, url) = http_device(no_lockout()).await;
    let a = Attempt::new(addr).await;
    let right = a.right_response("00000001");
    let variants = [
        ("empty response (CVE-2017-5689)", String::new()),
        ("one hex digit", right[..1].to_string()),
        ("half the response", right[..16].to_string()),
        ("31 digits", right[..31].to_string()),
        ("33 digits", format!("{right}0")),
        ("64 digits", right.repeat(2)),
        ("non-hex, right length", "z".repeat(32)),
        (
            "right digits, one made non-hex",
            format!("{}g", &right[..31]),
        ),
        ("all zeros", "0".repeat(32)),
    ];
    for (what, response) in &variants {
        assert_refused(&a.send(addr, &a.header("00000001", response)).await, what);
    }
    // No response field at all.
    let h = a
        .header("00000001", &right)
        .replace(&format!(",response=\"{right}\""), "");
    assert!(!h.contains("response="));
    assert_refused(&a.send(addr, &h).await, "no response field");
    // The refused attempts did not burn the nonce count: the right
    // response with the same nonce and nc still gets in.
    assert_accepted(
        &a.send(addr, &a.header("00000001", &right)).await,
        "right response",
    );
    assert_console_works(&url).await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_nonce_and_count_replayed_on_another_connection_are_refused() {
    let (emu, addr, url) = http_device(no_lockout()).await;
    let a = Attempt::new(addr).await;
    let h = a.header("00000001", &a.right_response("00000001"));
    // Each send is its own TCP connection.
    assert_accepted(&a.send(addr, &h).await, "first use");
    assert_refused(&a.send(addr, &h).await, "replay on a second connection");
    assert_refused(&a.send(addr, &h).await, "replay on a third connection");
    assert_console_works(&url).await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_nonce_count_going_backwards_is_refused() {
    let (emu, addr, url) = http_device(no_lockout()).await;
    let a = Attempt::new(addr).await;
    let login = |nc: &str| a.header(nc, &a.right_response(nc));
    assert_accepted(&a.send(addr, &login("00000005")).await, "nc 5");
    assert_refused(&a.send(addr, &login("00000003")).await, "nc back to 3");
    assert_refused(&a.send(addr, &login("00000005")).await, "nc 5 again");
    // Same value, other spelling: still not greater.
    assert_refused(&a.send(addr, &login("5")).await, "nc 5 unpadded");
    assert_accepted(&a.send(addr, &login("00000006")).await, "nc 6");
    assert_console_works(&url).await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_realm_uri_method_or_user_is_refused() {
    let (emu, addr, url) = http_device(no_lockout()).await;
    let a = Attempt::new(addr).await;
    let nc = "00000001";

    // Wrong realm, response computed consistently over it.
    let other_realm = "Digest:00000000000000000000000000000000";
    let r = digest_response(
        "admin",
        other_realm,
        ADMIN_PASSWORD,
        &a.nonce,
        nc,
        "POST",
        "/wsman",
    );
    let h = digest_header("admin", other_realm, &a.nonce, "/wsman", nc, &r);
    assert_refused(&a.send(addr, &h).await, "wrong realm");

    // A uri other than the one requested, response computed over it.
    let r = digest_response(
        "admin",
        &a.realm,
        ADMIN_PASSWORD,
        &a.nonce,
        nc,
        "POST",
        "/index.htm",
    );
    let h = digest_header("admin", &a.realm, &a.nonce, "/index.htm", nc, &r);
    assert_refused(&a.send(addr, &h).await, "wrong uri");

    // A response computed for GET, sent with POST.
    let r = digest_response(
        "admin",
        &a.realm,
        ADMIN_PASSWORD,
        &a.nonce,
        nc,
        "GET",
        "/wsman",
    );
    assert_refused(&a.send(addr, &a.header(nc, &r)).await, "wrong method");

    // A user the device does not have, with the admin's password.
    for user in ["root", "Admin", "$$OsAdmin", "admin "] {
        let r = digest_response(
            user,
            &a.realm,
            ADMIN_PASSWORD,
            &a.nonce,
            nc,
            "POST",
            "/wsman",
        );
        let h = digest_header(user, &a.realm, &a.nonce, "/wsman", nc, &r);
        assert_refused(&a.send(addr, &h).await, &format!("unknown user {user:?}"));
    }

    // A nonce the device never issued.
    let r = digest_response(
        "admin",
        &a.realm,
        ADMIN_PASSWORD,
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        nc,
        "POST",
        "/wsman",
    );
    let h = digest_header(
        "admin",
        &a.realm,
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "/wsman",
        nc,
        &r,
    );
    assert_refused(&a.send(addr, &h).await, "unknown nonce");

    // None of that burned the real nonce.
    assert_accepted(
        &a.send(addr, &a.header(nc, &a.right_response(nc))).await,
        "right login",
    );
    assert_console_works(&url).await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_is_answered_with_a_digest_challenge() {
    let (emu, addr, url) = http_device(no_lockout()).await;
    let user = format!("admin:{ADMIN_PASSWORD}");
    let u = url.clone();
    let (ok, code) = tokio::task::spawn_blocking(move || {
        curl(&[
            "--basic",
            "-u",
            &user,
            "-X",
            "POST",
            "--data-binary",
            "",
            &u,
        ])
    })
    .await
    .unwrap();
    assert!(ok);
    assert_eq!(code, "401", "the right password over Basic is refused");

    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("admin:{ADMIN_PASSWORD}"));
    let out = raw_exchange(addr, &wsman_post(Some(&format!("Basic {basic}")))).await;
    assert_refused(&out, "Basic");
    assert_console_works(&url).await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_failures_lock_every_login_for_a_while() {
    let limits = ServerLimits {
        lockout_threshold: 5,
        lockout_window: Duration::from_secs(60),
        lockout_duration: Duration::from_secs(2),
        ..ServerLimits::default()
    };
    let (emu, addr, url) = http_device(limits).await;

    // The normal first probe (no Authorization) never counts.
    for _ in 0..12 {
        fetch_challenge(addr).await;
    }
    assert_console_works(&url).await;

    let wrong = |a: &Attempt, nc: &str| {
        let r = digest_response("admin", &a.realm, "wrong", &a.nonce, nc, "POST", "/wsman");
        a.header(nc, &r)
    };

    // Four failures, then a success: the count starts again.
    let a = Attempt::new(addr).await;
    for i in 1..=4 {
        assert_refused(&a.send(addr, &wrong(&a, &format!("{i}"))).await, "wrong");
    }
    assert_console_works(&url).await;
    for i in 5..=8 {
        assert_refused(&a.send(addr, &wrong(&a, &format!("{i}"))).await, "wrong");
    }
    assert_console_works(&url).await;

    // Five failures in a row (a CVE-2017-5689 probe counts too): locked.
    for i in 9..=12 {
        assert_refused(&a.send(addr, &wrong(&a, &format!("{i}"))).await, "wrong");
    }
    assert_refused(&a.send(addr, &a.header("13", "")).await, "empty response");

    // Now even the right password is refused, with the firmware's page.
    let b = Attempt::new(addr).await;
    let right = b.header("00000001", &b.right_response("00000001"));
    assert_refused(&b.send(addr, &right).await, "right password while locked");
    assert_eq!(
        console_request(url.clone()).await,
        "401",
        "curl while locked"
    );

    // After the lock the console gets in again, and the right login that
    // was refused did not burn its nonce count.
    tokio::time::sleep(limits.lockout_duration + Duration::from_millis(300)).await;
    assert_accepted(&b.send(addr, &right).await, "right password after the lock");
    assert_console_works(&url).await;
    emu.shutdown().await;
}

/// Everything logged while the test binary runs.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || LogWriter(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("first subscriber");
        buf
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_the_logs() {
    let logs = captured_logs();
    let limits = ServerLimits {
        lockout_threshold: 3,
        lockout_duration: Duration::from_millis(500),
        ..ServerLimits::default()
    };
    let (emu, addr, url) = http_device(limits).await;
    let a = Attempt::new(addr).await;
    let mut secrets = vec![ADMIN_PASSWORD.to_string()];

    // Failed logins of every kind, up to a lockout.
    let wrong = digest_response(
        "admin",
        &a.realm,
        "Wr0ng!pass",
        &a.nonce,
        "1",
        "POST",
        "/wsman",
    );
    secrets.push(wrong.clone());
    secrets.push("Wr0ng!pass".into());
    assert_refused(&a.send(addr, &a.header("1", &wrong)).await, "wrong");
    let prefix = &a.right_response("2")[..8];
    secrets.push(a.right_response("2"));
    assert_refused(&a.send(addr, &a.header("2", prefix)).await, "prefix");
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("admin:{ADMIN_PASSWORD}"));
    secrets.push(basic.clone());
    assert_refused(
        &raw_exchange(addr, &wsman_post(Some(&format!("Basic {basic}")))).await,
        "basic",
    );
    let unknown = digest_response(
        "root",
        &a.realm,
        ADMIN_PASSWORD,
        &a.nonce,
        "3",
        "POST",
        "/wsman",
    );
    secrets.push(unknown.clone());
    let h = digest_header("root", &a.realm, &a.nonce, "/wsman", "3", &unknown);
    assert_refused(&a.send(addr, &h).await, "unknown user");
    let locked = a.right_response("4");
    secrets.push(locked.clone());
    assert_refused(&a.send(addr, &a.header("4", &locked)).await, "locked");
    tokio::time::sleep(Duration::from_millis(700)).await;

    // Successful logins: by hand and with curl.
    let right = a.right_response("5");
    secrets.push(right.clone());
    assert_accepted(&a.send(addr, &a.header("5", &right)).await, "right");
    assert_console_works(&url).await;
    emu.shutdown().await;

    // HA1 in hex, in case it were ever logged as a "hash".
    {
        use md5::{Digest, Md5};
        secrets.push(hex::encode(Md5::digest(
            format!("admin:{}:{ADMIN_PASSWORD}", a.realm).as_bytes(),
        )));
    }
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    assert!(
        text.contains("digest authentication failed"),
        "the capture works and failures are logged: {text}"
    );
    assert!(
        text.contains("repeated failed logins"),
        "the lockout is logged"
    );
    for s in &secrets {
        assert!(!text.contains(s.as_str()), "secret {s:?} is in the logs");
    }
}

// ---- Issue 3's digest list, the cases not covered above: a good login
// answered with the WS-Man reply, a wrong password, a missing or other
// qop, and a stale nonce (with a shortened nonce lifetime). ----

/// A POST /wsman carrying `body` and an Authorization header.
fn wsman_post_with_body(authorization: &str, body: &str) -> Vec<u8> {
    format!(
        "POST /wsman HTTP/1.1\r\nHost: amt\r\nContent-Type: application/soap+xml;charset=UTF-8\r\nAuthorization: {authorization}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The GeneralSettings Get wsman-messages builds (fixtures/requests).
fn general_settings_get() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/requests/AMT_GeneralSettings/Get.request.xml"
    ))
    .expect("request fixture")
}

/// The `stale` parameter of the challenge in a 401.
fn challenge_stale(out: &Outcome) -> String {
    let text = out.text();
    let line = text
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("www-authenticate:"))
        .expect("a challenge");
    let start = line.find("stale=\"").expect("stale") + 7;
    line[start..start + line[start..].find('"').unwrap()].to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_good_login_gets_the_wsman_reply() {
    let (emu, addr, _url) = http_device(no_lockout()).await;
    let a = Attempt::new(addr).await;
    let h = a.header("00000001", &a.right_response("00000001"));
    let out = raw_exchange(addr, &wsman_post_with_body(&h, &general_settings_get())).await;
    assert_eq!(out.status(), Some(200), "{}", out.text());
    let text = out.text();
    assert!(
        text.contains("http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse")
            && text.contains(&format!("<g:DigestRealm>{}</g:DigestRealm>", a.realm)),
        "{text}"
    );
    // The same nonce goes on with the next nc (a keep-alive console).
    let h = a.header("00000002", &a.right_response("00000002"));
    let out = raw_exchange(addr, &wsman_post_with_body(&h, &general_settings_get())).await;
    assert_eq!(out.status(), Some(200), "{}", out.text());
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_is_refused_with_a_fresh_challenge() {
    let (emu, addr, url) = http_device(no_lockout()).await;
    let a = Attempt::new(addr).await;
    for wrong in ["wrong", "p@ssw0rd", "P@ssw0rd ", ""] {
        let r = digest_response("admin", &a.realm, wrong, &a.nonce, "1", "POST", "/wsman");
        let out = a.send(addr, &a.header("1", &r)).await;
        assert_refused(&out, &format!("password {wrong:?}"));
        assert_eq!(challenge_stale(&out), "false", "not a stale nonce");
        let (realm, nonce) = support::parse_challenge(&out.text()).unwrap();
        assert_eq!(realm, a.realm);
        assert_ne!(nonce, a.nonce, "a fresh nonce with every 401");
    }
    assert_accepted(
        &a.send(addr, &a.header("1", &a.right_response("1"))).await,
        "the right password after wrong ones",
    );
    assert_console_works(&url).await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_or_other_qop_is_refused() {
    let (emu, addr, url) = http_device(no_lockout()).await;
    let a = Attempt::new(addr).await;
    let right = a.right_response("00000001");

    // qop dropped, everything else as a qop=auth client sends it.
    let h = a.header("00000001", &right).replace(",qop=\"auth\"", "");
    assert!(!h.contains("qop"));
    assert_refused(&a.send(addr, &h).await, "no qop");

    // RFC 2069 style: no qop, nc or cnonce, response = MD5(HA1:nonce:HA2).
    let md5 = |s: String| {
        use md5::{Digest, Md5};
        hex::encode(Md5::digest(s.as_bytes()))
    };
    let ha1 = md5(format!("admin:{}:{ADMIN_PASSWORD}", a.realm));
    let ha2 = md5("POST:/wsman".to_string());
    let legacy = md5(format!("{ha1}:{}:{ha2}", a.nonce));
    let h = format!(
        "Digest username=\"admin\", realm=\"{}\", nonce=\"{}\", uri=\"/wsman\", response=\"{legacy}\"",
        a.realm, a.nonce
    );
    assert_refused(&a.send(addr, &h).await, "RFC 2069 digest without qop");

    // qop the device did not offer.
    let h = a
        .header("00000001", &right)
        .replace("qop=\"auth\"", "qop=\"auth-int\"");
    assert_refused(&a.send(addr, &h).await, "qop=auth-int");

    assert_accepted(
        &a.send(addr, &a.header("00000001", &right)).await,
        "the same login with qop=auth",
    );
    assert_console_works(&url).await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_nonce_is_refused_with_stale_true() {
    let limits = ServerLimits {
        nonce_lifetime: Duration::from_secs(1),
        ..no_lockout()
    };
    let (emu, addr, url) = http_device(limits).await;
    let a = Attempt::new(addr).await;
    assert_accepted(
        &a.send(addr, &a.header("1", &a.right_response("1"))).await,
        "a fresh nonce",
    );
    tokio::time::sleep(limits.nonce_lifetime + Duration::from_millis(500)).await;
    let out = a.send(addr, &a.header("2", &a.right_response("2"))).await;
    assert_refused(&out, "a nonce past its lifetime");
    assert_eq!(challenge_stale(&out), "true", "{}", out.text());
    // The client retries with the new nonce and the same credentials.
    let (realm, nonce) = support::parse_challenge(&out.text()).unwrap();
    assert_ne!(nonce, a.nonce);
    let b = Attempt { realm, nonce };
    assert_accepted(
        &b.send(addr, &b.header("1", &b.right_response("1"))).await,
        "the new nonce",
    );
    // A stale nonce is not a failed login: curl still gets in.
    assert_console_works(&url).await;
    emu.shutdown().await;
}
