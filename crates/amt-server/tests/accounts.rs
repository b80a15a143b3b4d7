//! User ACL entries over the real listener: digest users added with the
//! requests wsman-messages builds log in with curl, are held to their
//! realms, survive a restart, are named (and their passwords never shown)
//! in the journal, and cannot log in once removed. And digest as console
//! relays reuse it: a nonce from an earlier connection with a fresh cnonce
//! and `nc=00000001` is served, an exact replay is not.

mod support;

use std::net::SocketAddr;

use amt_server::{Emulator, EmulatorConfig, JournalConfig, LmsConfig, Ports, RunningEmulator};
use base64::Engine;
use md5::{Digest, Md5};
use support::{curl_wsman, fetch_challenge, raw_exchange, wsman_messages_request, wsman_post};

const PASSWORD: &str = "P@ssw0rd";
const VIEWER_PASSWORD: &str = "V1ewer!pw";

async fn start(dir: &std::path::Path) -> RunningEmulator {
    Emulator::start(EmulatorConfig {
        state_dir: Some(dir.join("state")),
        firmware: Some("15.0.23".parse().unwrap()),
        admin_password: Some(PASSWORD.into()),
        journal: JournalConfig {
            file: Some(dir.join("journal.jsonl")),
            ..Default::default()
        },
        lms: Some(LmsConfig {
            listen: "127.0.0.1".parse().unwrap(),
            ports: Ports::ephemeral(),
        }),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

/// curl --digest as `user`, off the async runtime: (HTTP status, body).
async fn call(url: &str, user: &str, password: &str, body: String) -> (String, String) {
    let (url, user, password) = (url.to_string(), user.to_string(), password.to_string());
    tokio::task::spawn_blocking(move || curl_wsman(&url, &user, &password, &body))
        .await
        .unwrap()
}

fn request(class: &str, method: &str, args: &str) -> String {
    wsman_messages_request("AMT", class, method, args)
}

fn field(body: &str, name: &str) -> Option<String> {
    let open = format!("<g:{name}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find("</g:")? + start;
    Some(body[start..end].to_string())
}

fn md5(text: &str) -> [u8; 16] {
    Md5::digest(text.as_bytes()).into()
}

fn access_denied(reply: &(String, String)) -> bool {
    reply.0 == "400" && reply.1.contains("<a:Value>e:AccessDenied</a:Value>")
}

#[tokio::test(flavor = "multi_thread")]
async fn acl_users_log_in_are_held_to_their_realms_persist_and_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let url = emu.wsman_http_url().expect("AMT 15 listens on 16992");
    let realm = emu.host().with_device(|d| d.digest_realm().to_string());

    // The console hashes the password with the device's realm, as for
    // SetAdminAclEntryEx: base64 of MD5(user:realm:password).
    let digest = base64::engine::general_purpose::STANDARD
        .encode(md5(&format!("viewer:{realm}:{VIEWER_PASSWORD}")));
    let add = request(
        "AuthorizationService",
        "AddUserAclEntryEx",
        &format!(r#"[2,[13],"viewer","{digest}"]"#),
    );
    let (status, body) = call(&url, "admin", PASSWORD, add).await;
    assert_eq!(status, "200", "{body}");
    assert_eq!(field(&body, "ReturnValue").as_deref(), Some("0"), "{body}");
    let handle = field(&body, "Handle").expect("a handle");

    let general = request("GeneralSettings", "Get", "");
    let time = request("TimeSynchronizationService", "GetLowAccuracyTimeSynch", "");
    let acl = request("AuthorizationService", "EnumerateUserAclEntries", "[1]");

    // General Info: the user reads the settings, nothing else.
    let r = call(&url, "viewer", VIEWER_PASSWORD, general.clone()).await;
    assert_eq!(r.0, "200", "{}", r.1);
    assert_eq!(field(&r.1, "DigestRealm").as_deref(), Some(realm.as_str()));
    assert!(access_denied(
        &call(&url, "viewer", VIEWER_PASSWORD, time.clone()).await
    ));
    assert!(access_denied(
        &call(&url, "viewer", VIEWER_PASSWORD, acl.clone()).await
    ));
    let r = call(&url, "viewer", "wrong", general.clone()).await;
    assert_eq!(r.0, "401", "a wrong password");

    // The entry survives a restart.
    emu.shutdown().await;
    let journal = std::fs::read_to_string(dir.path().join("journal.jsonl")).unwrap();
    assert!(journal.contains("\"user\":\"viewer\""), "{journal}");
    assert!(!journal.contains(&digest), "the password hash is redacted");
    assert!(!journal.contains(VIEWER_PASSWORD));
    let emu = start(dir.path()).await;
    let url = emu.wsman_http_url().unwrap();
    let r = call(&url, "viewer", VIEWER_PASSWORD, general.clone()).await;
    assert_eq!(r.0, "200", "after a restart: {}", r.1);

    // Update: Network Time instead of General Info.
    let update = request(
        "AuthorizationService",
        "UpdateUserAclEntryEx",
        &format!(r#"[{handle},2,[12],"viewer","{digest}"]"#),
    );
    let r = call(&url, "admin", PASSWORD, update).await;
    assert_eq!(field(&r.1, "ReturnValue").as_deref(), Some("0"), "{}", r.1);
    let r = call(&url, "viewer", VIEWER_PASSWORD, time.clone()).await;
    assert_eq!(field(&r.1, "ReturnValue").as_deref(), Some("0"), "{}", r.1);
    assert!(access_denied(
        &call(&url, "viewer", VIEWER_PASSWORD, general.clone()).await
    ));

    // A local-only entry does not log in over the network.
    let local = base64::engine::general_purpose::STANDARD
        .encode(md5(&format!("hostonly:{realm}:{VIEWER_PASSWORD}")));
    let add = request(
        "AuthorizationService",
        "AddUserAclEntryEx",
        &format!(r#"[0,[13],"hostonly","{local}"]"#),
    );
    let r = call(&url, "admin", PASSWORD, add).await;
    assert_eq!(field(&r.1, "ReturnValue").as_deref(), Some("0"), "{}", r.1);
    let r = call(&url, "hostonly", VIEWER_PASSWORD, general.clone()).await;
    assert_eq!(r.0, "401", "AccessPermission 0 is the local interface only");
    let lms = emu.lms_addrs().http.expect("LMS plain HTTP on AMT 15");
    let lms_url = format!("http://{lms}/wsman");
    let r = call(&lms_url, "hostonly", VIEWER_PASSWORD, general.clone()).await;
    assert_eq!(
        r.0, "200",
        "the local-only user on the local interface: {}",
        r.1
    );

    // Removed: the user can no longer log in.
    let remove = request(
        "AuthorizationService",
        "RemoveUserAclEntry",
        &format!("[{handle}]"),
    );
    let r = call(&url, "admin", PASSWORD, remove).await;
    assert_eq!(field(&r.1, "ReturnValue").as_deref(), Some("0"), "{}", r.1);
    let r = call(&url, "viewer", VIEWER_PASSWORD, general).await;
    assert_eq!(r.0, "401");
    let r = call(&url, "admin", PASSWORD, acl).await;
    assert_eq!(field(&r.1, "TotalCount").as_deref(), Some("1"), "{}", r.1);
    emu.shutdown().await;
}

fn md5_hex(text: &str) -> String {
    hex::encode(md5(text))
}

/// The Authorization header of a console relay's call: `cnonce` and `nc`
/// as given, the response computed here independently of the server.
fn relay_header(realm: &str, nonce: &str, cnonce: &str, nc: &str) -> String {
    let ha1 = md5_hex(&format!("admin:{realm}:{PASSWORD}"));
    let ha2 = md5_hex("POST:/wsman");
    let response = md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    format!(
        "Digest username=\"admin\",realm=\"{realm}\",nonce=\"{nonce}\",uri=\"/wsman\",response=\"{response}\",qop=\"auth\",nc={nc},cnonce=\"{cnonce}\""
    )
}

async fn status(addr: SocketAddr, header: &str) -> Option<u16> {
    raw_exchange(addr, &wsman_post(Some(header))).await.status()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_reusing_a_nonce_with_fresh_cnonces_is_served_and_an_exact_replay_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path()).await;
    let addr = emu.http_addr().unwrap();
    let (realm, nonce) = fetch_challenge(addr).await;
    // Each call is a new connection (the firmware closes every one), each
    // with the nonce of the first challenge, a new cnonce and nc 1. An
    // empty body is not WS-Man, but it is past authentication: not 401.
    for cnonce in ["0a1b2c3d", "4e5f6a7b", "8c9d0e1f"] {
        let h = relay_header(&realm, &nonce, cnonce, "00000001");
        let s = status(addr, &h).await;
        assert!(s.is_some() && s != Some(401), "cnonce {cnonce}: {s:?}");
    }
    // The exact same (nonce, cnonce, nc) again: a replay.
    let replay = relay_header(&realm, &nonce, "4e5f6a7b", "00000001");
    assert_eq!(status(addr, &replay).await, Some(401));
    // That cnonce's next count still works; a lower one does not.
    let next = relay_header(&realm, &nonce, "4e5f6a7b", "00000002");
    assert_ne!(status(addr, &next).await, Some(401));
    assert_eq!(status(addr, &next).await, Some(401), "nc 2 again");
    // An unknown nonce is refused whatever the cnonce.
    let unknown = relay_header(
        &realm,
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "fresh",
        "00000001",
    );
    assert_eq!(status(addr, &unknown).await, Some(401));
    emu.shutdown().await;
}
