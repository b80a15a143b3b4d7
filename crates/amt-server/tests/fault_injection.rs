//! Each fault kind, set through the control API, observed on the AMT port
//! with a real client (curl).

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use amt_server::{Emulator, EmulatorConfig, FaultKind, FaultRule, FaultScope, RunningEmulator};

const PASSWORD: &str = "P@ssw0rd";

fn fixture(path: &str) -> String {
    format!(
        "{}/../../fixtures/requests/{path}",
        env!("CARGO_MANIFEST_DIR")
    )
}

async fn start() -> RunningEmulator {
    Emulator::start(EmulatorConfig {
        admin_password: Some(PASSWORD.into()),
        control_port: Some(0),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

/// Posts a request file with curl --digest over TLS: (curl exit code,
/// HTTP status, body).
async fn post(emu: &RunningEmulator, file: &str, max_time: u64) -> (i32, String, String) {
    let url = format!("https://{}/wsman", emu.tls_addr().unwrap());
    let (exit, code, body, _) = curl(&url, file, max_time, &[]).await;
    (exit, code, body)
}

/// curl --digest posting a request file to `url`, with `extra` options:
/// (exit code, HTTP status, body, curl's stderr).
async fn curl(
    url: &str,
    file: &str,
    max_time: u64,
    extra: &[&str],
) -> (i32, String, String, String) {
    let url = url.to_string();
    let file = format!("@{}", fixture(file));
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new("curl")
            .args(["-sk", "--digest", "-u", &format!("admin:{PASSWORD}")])
            .args(["--max-time", &max_time.to_string()])
            .args(["-H", "Content-Type: application/soap+xml;charset=UTF-8"])
            .args(&extra)
            .args(["-w", "\n%{http_code}", "--data-binary", &file, &url])
            .stdin(Stdio::null())
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "000"));
        (
            out.status.code().unwrap_or(-1),
            code.to_string(),
            body.to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    })
    .await
    .unwrap()
}

fn rule(
    class: Option<&str>,
    operation: Option<&str>,
    kind: FaultKind,
    times: Option<u32>,
) -> FaultRule {
    FaultRule {
        id: 0,
        scope: FaultScope {
            class: class.map(str::to_string),
            operation: operation.map(str::to_string),
            ..FaultScope::default()
        },
        kind,
        times,
        fired: 0,
    }
}

const GET_GENERAL: &str = "AMT_GeneralSettings/Get.request.xml";

#[tokio::test(flavor = "multi_thread")]
async fn a_delayed_get_takes_at_least_the_delay_and_only_once() {
    let emu = start().await;
    emu.host().faults().add(rule(
        None,
        Some("Get"),
        FaultKind::Delay { ms: 700 },
        Some(1),
    ));
    let t = Instant::now();
    let (_, code, body) = post(&emu, GET_GENERAL, 20).await;
    assert!(t.elapsed() >= Duration::from_millis(700));
    assert_eq!(code, "200");
    assert!(body.contains("AMT_GeneralSettings"));
    let (_, code, _) = post(&emu, GET_GENERAL, 20).await;
    assert_eq!(code, "200");
    assert!(
        emu.host().faults().rules().is_empty(),
        "a counted rule is spent"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn drops_close_the_connection_without_an_answer() {
    let emu = start().await;
    emu.host().faults().add(rule(
        Some("AMT_GeneralSettings"),
        None,
        FaultKind::DropBeforeResponse,
        Some(1),
    ));
    let (exit, code, _) = post(&emu, GET_GENERAL, 20).await;
    assert_ne!(exit, 0, "curl sees the connection close");
    // curl reports the last status it saw: the digest challenge's.
    assert_ne!(code, "200");
    emu.host().faults().add(rule(
        None,
        Some("Get"),
        FaultKind::DropAfterResponse,
        Some(1),
    ));
    let (exit, _, _) = post(&emu, GET_GENERAL, 20).await;
    assert_ne!(exit, 0);
    let (exit, code, _) = post(&emu, GET_GENERAL, 20).await;
    assert_eq!(
        (exit, code.as_str()),
        (0, "200"),
        "the device answers again"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn soap_fault_return_value_http500_and_garbage() {
    let emu = start().await;
    let faults = emu.host().faults();
    faults.add(rule(
        None,
        Some("Get"),
        FaultKind::SoapFault {
            subcode: "wsman:AccessDenied".into(),
            reason: None,
        },
        Some(1),
    ));
    let (_, code, body) = post(&emu, GET_GENERAL, 20).await;
    assert_eq!(code, "400");
    assert!(body.contains("<a:Value>e:AccessDenied</a:Value>"), "{body}");

    faults.add(rule(
        None,
        Some("GetUuid"),
        FaultKind::ReturnValue { value: 1 },
        Some(1),
    ));
    let (_, code, body) = post(
        &emu,
        "AMT_SetupAndConfigurationService/GetUuid.request.xml",
        20,
    )
    .await;
    assert_eq!(code, "200");
    assert!(body.contains("<g:ReturnValue>1</g:ReturnValue>"), "{body}");

    faults.add(rule(None, None, FaultKind::Http500, Some(1)));
    let (_, code, _) = post(&emu, GET_GENERAL, 20).await;
    assert_eq!(code, "500");

    faults.add(rule(None, None, FaultKind::Garbage, Some(1)));
    let (_, code, body) = post(&emu, GET_GENERAL, 20).await;
    assert_eq!(code, "200");
    assert!(!body.contains("Envelope"), "not SOAP: {body}");

    let (_, code, _) = post(&emu, GET_GENERAL, 20).await;
    assert_eq!(code, "200", "back to normal");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_request_is_never_answered_but_others_are() {
    let emu = start().await;
    emu.host()
        .faults()
        .add(rule(None, Some("Get"), FaultKind::Stall, Some(1)));
    let (exit, code, _) = post(&emu, GET_GENERAL, 2).await;
    assert_eq!(exit, 28, "curl gave up waiting (timeout)");
    assert_ne!(code, "200");
    let (exit, code, _) = post(&emu, GET_GENERAL, 20).await;
    assert_eq!((exit, code.as_str()), (0, "200"));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_journal_records_calls_and_never_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("journal.jsonl");
    let emu = Emulator::start(EmulatorConfig {
        admin_password: Some(PASSWORD.into()),
        journal: amt_server::JournalConfig {
            file: Some(file.clone()),
            ..Default::default()
        },
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    // Requests that carry secrets, whatever the device answers to them.
    for f in [
        "IPS_HostBasedSetupService/Setup.request.xml",
        "AMT_AuthorizationService/SetAdminAclEntryEx.request.xml",
        "AMT_PublicKeyManagementService/AddKey.request.xml",
        "AMT_SetupAndConfigurationService/SetMEBxPassword.request.xml",
        GET_GENERAL,
    ] {
        post(&emu, f, 20).await;
    }
    let entries = emu.host().journal().entries(0);
    assert_eq!(entries.len(), 5);
    assert_eq!(entries[4].class.as_deref(), Some("AMT_GeneralSettings"));
    assert_eq!(entries[4].http_status, 200);
    assert_eq!(entries[4].user.as_deref(), Some("admin"));
    let in_memory = serde_json::to_string(&entries).unwrap();
    let on_disk = std::fs::read_to_string(&file).unwrap();
    assert_eq!(on_disk.lines().count(), 5);
    for text in [&in_memory, &on_disk] {
        assert!(!text.contains(PASSWORD), "the admin password");
        for f in [
            "IPS_HostBasedSetupService/Setup.request.xml",
            "AMT_AuthorizationService/SetAdminAclEntryEx.request.xml",
            "AMT_PublicKeyManagementService/AddKey.request.xml",
            "AMT_SetupAndConfigurationService/SetMEBxPassword.request.xml",
        ] {
            for secret in secrets_in(&std::fs::read_to_string(fixture(f)).unwrap()) {
                assert!(!text.contains(&secret), "{f}: a secret reached the journal");
            }
        }
        assert!(
            !text.contains("Digest username"),
            "no digest header is journaled"
        );
        assert!(
            !text.contains("response="),
            "no digest response is journaled"
        );
    }
    emu.shutdown().await;
}

/// The text of the secret elements in a request.
fn secrets_in(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    for name in [
        "NetworkAdminPassword>",
        "DigestPassword>",
        "KeyBlob>",
        "Password>",
    ] {
        let mut rest = xml;
        while let Some(i) = rest.find(name) {
            let after = &rest[i + name.len()..];
            let end = after.find('<').unwrap_or(0);
            let value = &after[..end];
            if value.len() >= 4 {
                out.push(value.to_string());
            }
            rest = &after[end..];
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_commit_changes_is_still_committed() {
    let emu = start().await;
    // Stage a TLS change, as a console's Put would.
    emu.host()
        .change_device(|d, _| {
            d.put_tls_setting_data(
                amt_device::TlsInstance::Local,
                amt_device::TlsSettingDataPut {
                    enabled: true,
                    accept_non_secure_connections: Some(true),
                    mutual_authentication: Some(false),
                    trusted_cn: Vec::new(),
                },
            )
            .map_err(amt_device::DeviceError::from)
        })
        .unwrap();
    assert!(emu.host().with_device(|d| d.tls_changes_pending()));
    emu.host().faults().add(rule(
        Some("AMT_SetupAndConfigurationService"),
        Some("CommitChanges"),
        FaultKind::DropAfterResponse,
        Some(1),
    ));
    let (exit, code, _) = post(
        &emu,
        "AMT_SetupAndConfigurationService/CommitChanges.request.xml",
        20,
    )
    .await;
    assert_ne!(exit, 0, "the console never sees the reply");
    assert_ne!(code, "200");
    assert!(
        !emu.host().with_device(|d| d.tls_changes_pending()),
        "but the commit happened"
    );
    assert!(emu
        .host()
        .with_device(|d| d.active_tls().settings.local.enabled));
    let journal = emu.host().journal().entries(0);
    let last = journal.last().unwrap();
    assert_eq!(last.http_status, 0, "journaled as dropped");
    assert!(last
        .injected
        .as_deref()
        .unwrap_or("")
        .contains("DropAfterResponse"));
    emu.shutdown().await;
}

/// curl's exit code for "the server closed the connection without
/// answering" (`Empty reply from server`).
const CURL_EMPTY_REPLY: i32 = 52;

#[tokio::test(flavor = "multi_thread")]
async fn amt_21_drops_the_first_request_of_a_tls_1_3_connection_and_a_retry_is_answered() {
    // AMT 21 over TLS 1.3 (rpc-go PR #1381): the first WS-Man request after
    // the handshake gets EOF; rpc-go retries its first GetGeneralSettings
    // once, and the retry is answered.
    let emu = Emulator::start(EmulatorConfig {
        admin_password: Some(PASSWORD.into()),
        firmware: Some("21.0.5".parse().unwrap()),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let rule: FaultRule = serde_json::from_str(
        r#"{"kind":"drop_before_response","first_on_connection":true,"tls_version":"1.3","times":1}"#,
    )
    .unwrap();
    emu.host().faults().add(rule);
    let url = emu.wsman_tls_url().unwrap();

    // TLS 1.2 connections are not affected, and leave the rule unspent.
    let (exit, code, body, trace) = curl(&url, GET_GENERAL, 20, &["-v", "--tls-max", "1.2"]).await;
    assert_eq!((exit, code.as_str()), (0, "200"), "{trace}");
    assert!(trace.contains("TLSv1.2"), "{trace}");
    assert!(body.contains("AMT_GeneralSettings"));
    assert_eq!(emu.host().faults().rules()[0].fired, 0);

    // TLS 1.3: the authenticated request, the first on its connection
    // (the digest challenge closed the one before), gets no answer.
    let (exit, _, body, trace) = curl(&url, GET_GENERAL, 20, &["-v", "--tlsv1.3"]).await;
    assert_eq!(exit, CURL_EMPTY_REPLY, "{trace}");
    assert!(trace.contains("TLSv1.3"), "{trace}");
    assert!(trace.contains("Empty reply from server"), "{trace}");
    assert!(!body.contains("AMT_GeneralSettings"));
    let journal = emu.host().journal().entries(0);
    let dropped = journal.last().unwrap();
    assert_eq!(dropped.http_status, 0, "journaled as dropped");
    assert_eq!(dropped.injected.as_deref(), Some("DropBeforeResponse"));

    // The retry, as rpc-go makes it, is answered.
    let (exit, code, body, trace) = curl(&url, GET_GENERAL, 20, &["-v", "--tlsv1.3"]).await;
    assert_eq!((exit, code.as_str()), (0, "200"), "{trace}");
    assert!(trace.contains("TLSv1.3"), "{trace}");
    assert!(body.contains("AMT_GeneralSettings"));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn first_on_connection_matches_every_authenticated_request_as_each_has_its_own_connection() {
    // Every reply closes its connection (`Connection: close`, as the
    // firmware answers), so curl opens one per request, even given two
    // URLs at once; each authenticated request is the first on its
    // connection and an uncounted rule drops every one of them.
    let emu = start().await;
    let mut rule = rule(None, Some("Get"), FaultKind::DropBeforeResponse, None);
    rule.scope.first_on_connection = true;
    emu.host().faults().add(rule);
    let url = emu.wsman_tls_url().unwrap();
    // Two URLs in one invocation: curl would reuse the connection if the
    // device let it.
    let (exit, _, _, trace) = curl(&url, GET_GENERAL, 20, &["-v", &url]).await;
    assert_eq!(exit, CURL_EMPTY_REPLY, "{trace}");
    assert_eq!(
        trace.matches("Empty reply from server").count(),
        2,
        "both requests dropped: {trace}"
    );
    assert!(
        !trace.contains("Re-using existing connection"),
        "each request came on a new connection: {trace}"
    );
    assert_eq!(emu.host().faults().rules()[0].fired, 2);
    emu.shutdown().await;
}

/// Whether a TCP connection to `addr` is refused (nothing listens).
fn refused(addr: std::net::SocketAddr) -> bool {
    match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionRefused,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_ports_after_commit_changes_refuses_connections_then_reopens_the_same_ports() {
    let emu = EmulatorConfig::new()
        .admin_password(PASSWORD)
        .with_lms()
        .start()
        .await
        .unwrap();
    let remote = emu.host().listener_addrs();
    let lms = emu.lms_addrs();
    let addrs: Vec<std::net::SocketAddr> = [
        remote.tls,
        remote.redirection,
        remote.redirection_tls,
        remote.rfb,
        lms.http,
        lms.tls,
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(
        remote.tls.is_some() && remote.redirection_tls.is_some() && lms.http.is_some(),
        "{remote:?} {lms:?}"
    );
    for addr in &addrs {
        assert!(!refused(*addr), "{addr} listens before the restart");
    }
    emu.host().faults().add(
        serde_json::from_str(
            r#"{"operation":"CommitChanges","kind":"restart_ports","seconds":3,"times":1}"#,
        )
        .unwrap(),
    );
    let url = emu.wsman_tls_url().unwrap();
    let (exit, _, _, trace) = curl(
        &url,
        "AMT_SetupAndConfigurationService/CommitChanges.request.xml",
        20,
        &["-v"],
    )
    .await;
    assert_eq!(exit, CURL_EMPTY_REPLY, "the connection closes: {trace}");
    // Right after: every port of both interfaces refuses.
    for addr in &addrs {
        assert!(refused(*addr), "{addr} refuses during the restart");
    }
    assert_eq!(emu.tls_addr(), None, "no TLS listener while down");
    let last = emu.host().journal().entries(0).last().cloned().unwrap();
    assert_eq!(last.http_status, 0);
    assert!(last.injected.unwrap_or_default().contains("RestartPorts"));

    // Then they come back on the same ports (a generous bound: the window
    // is 3 s; the assertion is only that it ends).
    let deadline = Instant::now() + Duration::from_secs(60);
    while emu.host().listener_addrs().tls.is_none() || emu.lms_addrs().http.is_none() {
        assert!(Instant::now() < deadline, "the ports never reopened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(emu.host().listener_addrs(), remote, "same ports, remote");
    assert_eq!(emu.lms_addrs(), lms, "same ports, LMS");
    for addr in &addrs {
        assert!(!refused(*addr), "{addr} listens again");
    }
    let (exit, code, _) = post(&emu, GET_GENERAL, 20).await;
    assert_eq!(
        (exit, code.as_str()),
        (0, "200"),
        "answered after the restart"
    );
    emu.shutdown().await;
}
