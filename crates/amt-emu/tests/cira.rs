//! CIRA against the real `amt-emu` binary: the RPS CIRA configuration
//! sequence (requests built by Intel's wsman-messages, what RPS sends)
//! posted with curl --digest, answered as the firmware answers
//! (docs/cira.md).
//!
//! Port offsets 11000..11099 are this file's.

mod support;

use std::path::Path;

use base64::Engine;
use support::*;

const RAS: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_RemoteAccessService";

fn ok(url: &str, xml: &str, dir: &Path, what: &str) -> Reply {
    let r = post(url, xml, dir);
    assert_eq!(r.status, 200, "{what}: {}", r.body);
    r
}

/// The header SelectorSet RPS builds for an AppliesToMPS Put: the MPS
/// and the rule as EPR-valued selectors.
fn applies_selectors(mps_name: &str, rule: &str) -> String {
    let epr = |uri: &str, selectors: &[(&str, &str)]| {
        let set: String = selectors
            .iter()
            .map(|(k, v)| format!(r#"<w:Selector Name="{k}">{v}</w:Selector>"#))
            .collect();
        format!(
            "<a:EndpointReference><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address><a:ReferenceParameters><w:ResourceURI>{uri}</w:ResourceURI><w:SelectorSet>{set}</w:SelectorSet></a:ReferenceParameters></a:EndpointReference>"
        )
    };
    let system = [
        ("SystemCreationClassName", "CIM_ComputerSystem"),
        ("SystemName", "Intel(r) AMT"),
    ];
    let mps = epr(
        "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_ManagementPresenceRemoteSAP",
        &[
            &[
                ("CreationClassName", "AMT_ManagementPresenceRemoteSAP"),
                ("Name", mps_name),
            ][..],
            &system,
        ]
        .concat(),
    );
    let policy = epr(
        "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_RemoteAccessPolicyRule",
        &[
            &[
                ("CreationClassName", "AMT_RemoteAccessPolicyRule"),
                ("PolicyRuleName", rule),
            ][..],
            &system,
        ]
        .concat(),
    );
    format!(
        r#"<w:SelectorSet><w:Selector Name="ManagedElement">{mps}</w:Selector><w:Selector Name="PolicySet">{policy}</w:Selector></w:SelectorSet>"#
    )
}

fn enumerate_pull(url: &str, class: &str, dir: &Path) -> Reply {
    let e = ok(
        url,
        &wsman_messages("AMT", class, "Enumerate", None),
        dir,
        class,
    );
    let context = text(&e.body, "g:EnumerationContext").expect("context");
    ok(
        url,
        &wsman_messages("AMT", class, "Pull", Some(&format!("[\"{context}\"]"))),
        dir,
        class,
    )
}

/// RPS `ciraConfiguration.ts`, step by step, on a provisioned AMT 15
/// device over plain HTTP.
fn rps_cira_configuration(
    url: &str,
    mps_root_der: &[u8],
    mps_host: &str,
    mps_port: u16,
    dir: &Path,
) {
    // 1. The MPS root certificate.
    let root = base64::engine::general_purpose::STANDARD.encode(mps_root_der);
    let r = ok(
        url,
        &wsman_messages(
            "AMT",
            "PublicKeyManagementService",
            "AddTrustedRootCertificate",
            Some(&format!(r#"[{{"CertificateBlob":"{root}"}}]"#)),
        ),
        dir,
        "AddTrustedRootCertificate",
    );
    assert_eq!(
        text(&r.body, "g:ReturnValue").as_deref(),
        Some("0"),
        "{}",
        r.body
    );

    // 2. AddMpServer, user name and password.
    let mps = format!(
        r#"[{{"AccessInfo":"{mps_host}","InfoFormat":201,"Port":{mps_port},"AuthMethod":2,"Username":"admin","Password":"Mps-Pass1","CommonName":"{mps_host}"}}]"#
    );
    let r = ok(
        url,
        &wsman_messages("AMT", "RemoteAccessService", "AddMPS", Some(&mps)),
        dir,
        "AddMpServer",
    );
    assert_eq!(reply_action(&r.body), format!("{RAS}/AddMpServerResponse"));
    assert_eq!(
        text(&r.body, "g:ReturnValue").as_deref(),
        Some("0"),
        "{}",
        r.body
    );
    assert!(r.body.contains("Intel(r) AMT:Management Presence Server 0"));

    // 3. The MPS as RPS reads it back.
    let p = enumerate_pull(url, "ManagementPresenceRemoteSAP", dir);
    assert_eq!(text(&p.body, "h:AccessInfo").as_deref(), Some(mps_host));
    assert_eq!(text(&p.body, "h:Port"), Some(mps_port.to_string()));
    let name = text(&p.body, "h:Name").expect("Name");

    // 4. A periodic rule (25 s) and a user-initiated one.
    let selector = format!(r#"{{"name":"Name","value":"{name}"}}"#);
    for (rule, expected) in [
        (
            r#"{"Trigger":2,"TunnelLifeTime":0,"ExtendedData":"AAAAAAAAABk="}"#,
            "Periodic",
        ),
        (
            r#"{"Trigger":0,"TunnelLifeTime":300,"ExtendedData":""}"#,
            "User Initiated",
        ),
    ] {
        let r = ok(
            url,
            &wsman_messages(
                "AMT",
                "RemoteAccessService",
                "AddRemoteAccessPolicyRule",
                Some(&format!("[{rule},{selector}]")),
            ),
            dir,
            "AddRemoteAccessPolicyRule",
        );
        assert_eq!(
            text(&r.body, "g:ReturnValue").as_deref(),
            Some("0"),
            "{}",
            r.body
        );
        assert!(r.body.contains(expected), "{}", r.body);
    }
    let p = enumerate_pull(url, "RemoteAccessPolicyRule", dir);
    assert_eq!(
        all_texts(&p.body, "h:PolicyRuleName"),
        ["User Initiated", "Periodic"]
    );

    // 5. Each MPS of each rule, inside and outside.
    let p = enumerate_pull(url, "RemoteAccessPolicyAppliesToMPS", dir);
    assert_eq!(all_texts(&p.body, "h:MpsType"), ["0", "0"]);
    let r = post(
        url,
        &wsman_messages(
            "AMT",
            "RemoteAccessPolicyAppliesToMPS",
            "Put",
            Some(r#"[{"MpsType":2,"OrderOfAccess":0}]"#),
        ),
        dir,
    );
    // Two instances and no selectors: the firmware cannot tell which.
    assert_eq!(r.status, 400, "{}", r.body);
    // RPS names the instance with both EPRs in the header's SelectorSet.
    for rule in ["Periodic", "User Initiated"] {
        let put = wsman_messages(
            "AMT",
            "RemoteAccessPolicyAppliesToMPS",
            "Put",
            Some(r#"[{"MpsType":2,"OrderOfAccess":0}]"#),
        )
        .replacen(
            "</Header>",
            &format!("{}</Header>", applies_selectors(&name, rule)),
            1,
        );
        let r = ok(url, &put, dir, "AppliesToMPS Put");
        assert_eq!(
            text(&r.body, "g:MpsType").as_deref(),
            Some("2"),
            "{}",
            r.body
        );
    }
    let p = enumerate_pull(url, "RemoteAccessPolicyAppliesToMPS", dir);
    assert_eq!(all_texts(&p.body, "h:MpsType"), ["2", "2"]);

    // 6. User-initiated connections from BIOS and OS.
    let r = ok(
        url,
        &wsman_messages(
            "AMT",
            "UserInitiatedConnectionService",
            "RequestStateChange",
            Some("[32771]"),
        ),
        dir,
        "RequestStateChange",
    );
    assert_eq!(text(&r.body, "g:ReturnValue").as_deref(), Some("0"));

    // 7. Environment detection: a suffix the device is never inside.
    let r = ok(
        url,
        &wsman_messages("AMT", "EnvironmentDetectionSettingData", "Get", None),
        dir,
        "EDSD Get",
    );
    assert!(!r.body.contains("DetectionStrings"), "{}", r.body);
    let put = r#"[{"DetectionAlgorithm":0,"DetectionStrings":["2b14eacc-7f20-4a11-99bc-fdc6a162160b.com"],"ElementName":"Intel(r) AMT Environment Detection Settings","InstanceID":"Intel(r) AMT Environment Detection Settings"}]"#;
    let r = ok(
        url,
        &wsman_messages("AMT", "EnvironmentDetectionSettingData", "Put", Some(put)),
        dir,
        "EDSD Put",
    );
    assert_eq!(
        text(&r.body, "g:DetectionStrings").as_deref(),
        Some("2b14eacc-7f20-4a11-99bc-fdc6a162160b.com")
    );

    // The service reports no tunnel until one is up.
    let r = ok(
        url,
        &wsman_messages("AMT", "RemoteAccessService", "Get", None),
        dir,
        "RAS Get",
    );
    assert!(
        r.body.contains("<g:IsRemoteTunnelConnected>false<"),
        "{}",
        r.body
    );
}

#[test]
fn rps_cira_configuration_is_answered_as_the_firmware_answers() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emu::start(11000, &["--firmware", "15.0.23"]);
    let url = format!("http://{}/wsman", emu.addr("Plain", "Remote"));
    let ca = amt_testkit::TestCa::new("amt-emu test MPS root");
    // Where the MPS would listen: the device must dial it by itself once
    // configured (the whole tunnel is tested in amt-server's tests/cira.rs).
    let mps = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = mps.local_addr().unwrap().port();
    rps_cira_configuration(&url, &ca.der, "localhost", port, dir.path());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = mps.accept() {
            let mut hello = [0u8; 3];
            let _ = std::io::Read::read_exact(&mut s, &mut hello);
            let _ = tx.send(hello);
        }
    });
    let hello = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the device dials the MPS");
    assert_eq!(hello[0], 0x16, "a TLS ClientHello");
}
