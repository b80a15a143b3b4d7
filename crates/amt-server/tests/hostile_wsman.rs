//! Hostile WS-Man bodies against the running server (issue 7 item 3): DTDs
//! and entities, deep nesting, invalid UTF-8, huge base64 blobs, leaked
//! enumeration contexts, concurrent Puts. After each, the device answers a
//! good request and its state is intact.

mod support;

use amt_server::{EmulatorConfig, RunningEmulator};
use support::{curl_wsman, wsman_messages_request};

const PASSWORD: &str = "P@ssw0rd";

async fn start() -> RunningEmulator {
    EmulatorConfig::new()
        .admin_password(PASSWORD)
        .start()
        .await
        .expect("emulator")
}

async fn post(emu: &RunningEmulator, body: Vec<u8>) -> (String, String) {
    let url = emu.wsman_tls_url().expect("TLS");
    tokio::task::spawn_blocking(move || {
        // curl_wsman takes text; invalid UTF-8 goes through a file as-is.
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("body");
        std::fs::write(&file, &body).expect("write body");
        let out = std::process::Command::new("curl")
            .args([
                "-sk",
                "--digest",
                "-u",
                &format!("admin:{PASSWORD}"),
                "--max-time",
                "30",
            ])
            .args([
                "-H",
                "Content-Type: application/soap+xml;charset=UTF-8",
                "-w",
                "\n%{http_code}",
            ])
            .arg("--data-binary")
            .arg(format!("@{}", file.display()))
            .arg(&url)
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (reply, status) = text.rsplit_once('\n').unwrap_or(("", &text));
        (status.to_string(), reply.to_string())
    })
    .await
    .expect("client")
}

/// A good request still works and the realm is unchanged.
async fn still_healthy(emu: &RunningEmulator) {
    let get = wsman_messages_request("AMT", "GeneralSettings", "Get", "");
    let (status, body) = post(emu, get.into_bytes()).await;
    assert_eq!(status, "200", "{body}");
    let realm = emu.host().with_device(|d| d.digest_realm().to_string());
    assert!(body.contains(&realm));
}

fn get_with_body(body: &str) -> String {
    let get = wsman_messages_request("AMT", "GeneralSettings", "Get", "");
    get.replace("<Body></Body>", &format!("<Body>{body}</Body>"))
}

#[tokio::test(flavor = "multi_thread")]
async fn dtds_entities_and_deep_nesting_get_faults() {
    let emu = start().await;
    let billion_laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Header/><Body>&lol2;</Body></Envelope>"#;
    let external = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Header/><Body>&xxe;</Body></Envelope>"#;
    for body in [billion_laughs, external] {
        let (status, reply) = post(&emu, body.as_bytes().to_vec()).await;
        assert!(status == "400" || status == "500", "{status}: {reply}");
        assert!(reply.contains("Fault"), "{reply}");
        assert!(!reply.contains("root:"), "no external entity is ever read");
    }
    let deep = format!("{}{}", "<x>".repeat(5000), "</x>".repeat(5000));
    let (status, reply) = post(&emu, get_with_body(&deep).into_bytes()).await;
    assert!(status == "400" || status == "500", "{status}");
    assert!(reply.contains("Fault"));
    still_healthy(&emu).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_utf8_and_huge_blobs() {
    let emu = start().await;
    let mut bytes = get_with_body("").into_bytes();
    let at = bytes.len() / 2;
    bytes.splice(at..at, [0xff, 0xfe, 0xc3, 0x28]);
    let (status, reply) = post(&emu, bytes).await;
    assert!(status == "400" || status == "500", "{status}");
    assert!(reply.contains("Fault"));

    // A 180 KB base64 "certificate": refused as a certificate, device unchanged.
    let before = emu
        .host()
        .with_device(|d| d.cert_store().certificates().len());
    let blob = "QUJD".repeat(45_000);
    // Too long for a command line: build the request, then put the blob in.
    let add = wsman_messages_request(
        "AMT",
        "PublicKeyManagementService",
        "AddCertificate",
        r#"[{"CertificateBlob":"BLOBPLACEHOLDER"}]"#,
    )
    .replace("BLOBPLACEHOLDER", &blob);
    let (status, reply) = post(&emu, add.into_bytes()).await;
    assert_eq!(status, "200", "{reply}");
    assert!(
        reply.contains("<g:ReturnValue>2063</g:ReturnValue>"),
        "{}",
        &reply[..reply.len().min(400)]
    );
    assert_eq!(
        emu.host()
            .with_device(|d| d.cert_store().certificates().len()),
        before
    );
    still_healthy(&emu).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn leaked_enumeration_contexts_are_bounded() {
    let emu = start().await;
    let enumerate = wsman_messages_request("AMT", "TLSSettingData", "Enumerate", "");
    let mut contexts = Vec::new();
    for _ in 0..80 {
        let (status, reply) = post(&emu, enumerate.clone().into_bytes()).await;
        assert_eq!(status, "200");
        let start =
            reply.find("EnumerationContext>").expect("context") + "EnumerationContext>".len();
        let end = reply[start..].find('<').expect("end") + start;
        contexts.push(reply[start..end].to_string());
    }
    // The oldest were dropped to keep the count bounded; the newest work.
    let pull = |ctx: &str| {
        wsman_messages_request("AMT", "TLSSettingData", "Pull", &format!(r#"["{ctx}"]"#))
    };
    let (status, reply) = post(&emu, pull(&contexts[0]).into_bytes()).await;
    assert_eq!(status, "500", "{reply}");
    assert!(reply.contains("InvalidEnumerationContext"));
    let (status, reply) = post(&emu, pull(contexts.last().expect("one")).into_bytes()).await;
    assert_eq!(status, "200", "{reply}");
    assert!(reply.contains("Intel(r) AMT 802.3 TLS Settings"));
    still_healthy(&emu).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_puts_are_serialised_never_torn() {
    let emu = start().await;
    let url = emu.wsman_tls_url().expect("TLS");
    let put = |n: usize| {
        let cns: Vec<String> = (0..3)
            .map(|i| format!("<h:TrustedCN>writer{n}-cn{i}</h:TrustedCN>"))
            .collect();
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?><Envelope xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns="http://www.w3.org/2003/05/soap-envelope"><Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Put</a:Action><a:To>/wsman</a:To><w:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_TLSSettingData</w:ResourceURI><a:MessageID>{n}</a:MessageID><w:SelectorSet><w:Selector Name="InstanceID">Intel(r) AMT LMS TLS Settings</w:Selector></w:SelectorSet></Header><Body><h:AMT_TLSSettingData xmlns:h="http://intel.com/wbem/wscim/1/amt-schema/1/AMT_TLSSettingData"><h:AcceptNonSecureConnections>true</h:AcceptNonSecureConnections><h:ElementName>Intel(r) AMT LMS TLS Settings</h:ElementName><h:Enabled>{}</h:Enabled><h:InstanceID>Intel(r) AMT LMS TLS Settings</h:InstanceID><h:MutualAuthentication>false</h:MutualAuthentication>{}</h:AMT_TLSSettingData></Body></Envelope>"#,
            n.is_multiple_of(2),
            cns.join("")
        )
    };
    let mut tasks = Vec::new();
    for n in 0..12 {
        let url = url.clone();
        let body = put(n);
        tasks.push(tokio::task::spawn_blocking(move || {
            curl_wsman(&url, "admin", PASSWORD, &body)
        }));
    }
    for t in tasks {
        let (status, reply) = t.await.expect("writer");
        assert_eq!(status, "200", "{reply}");
    }
    // The stored instance is exactly one writer's, never a mix.
    let (enabled, cns) = emu.host().with_device(|d| {
        let local = &d.tls_settings().local;
        (local.enabled, local.trusted_cn.clone())
    });
    assert_eq!(cns.len(), 3);
    let writer: usize = cns[0]
        .strip_prefix("writer")
        .and_then(|s| s.split('-').next())
        .and_then(|s| s.parse().ok())
        .expect("a writer's CN");
    assert!(
        cns.iter()
            .all(|c| c.starts_with(&format!("writer{writer}-"))),
        "{cns:?}"
    );
    assert_eq!(
        enabled,
        writer.is_multiple_of(2),
        "Enabled from the same writer"
    );
    still_healthy(&emu).await;
}
