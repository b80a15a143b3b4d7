//! CIRA against the real `amt-emu` binary: the RPS CIRA configuration
//! sequence (requests built by Intel's wsman-messages, what RPS sends)
//! posted with curl --digest, answered as the firmware answers
//! (docs/cira.md).
//!
//! Port offsets 11000..11099 and 14800..14820 are this file's.

mod support;

use std::path::Path;
use std::process::Command;

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

/// The MPS a device is configured for.
struct MpsSetup<'a> {
    root_der: &'a [u8],
    /// `AccessInfo` and its `InfoFormat` (3 IPv4, 201 FQDN).
    access_info: &'a str,
    info_format: u32,
    cn: &'a str,
    port: u16,
    user: &'a str,
    password: &'a str,
}

/// RPS `ciraConfiguration.ts`, step by step, on a provisioned AMT 15
/// device over plain HTTP.
fn rps_cira_configuration(url: &str, mps: &MpsSetup<'_>, dir: &Path) {
    let (mps_root_der, mps_host, mps_port) = (mps.root_der, mps.access_info, mps.port);
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
        r#"[{{"AccessInfo":"{mps_host}","InfoFormat":{},"Port":{mps_port},"AuthMethod":2,"Username":"{}","Password":"{}","CommonName":"{}"}}]"#,
        mps.info_format, mps.user, mps.password, mps.cn
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
    rps_cira_configuration(
        &url,
        &MpsSetup {
            root_der: &ca.der,
            access_info: "localhost",
            info_format: 201,
            cn: "localhost",
            port,
            user: "admin",
            password: "Mps-Pass1",
        },
        dir.path(),
    );
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
    // That "MPS" speaks no TLS: the service reports no tunnel.
    let r = ok(
        &url,
        &wsman_messages("AMT", "RemoteAccessService", "Get", None),
        dir.path(),
        "RAS Get",
    );
    assert!(
        r.body.contains("<g:IsRemoteTunnelConnected>false<"),
        "{}",
        r.body
    );
}

// ---------------------------------------------------------------------------
// MeshCentral's real MPS (docs/cira.md, "Testing with MeshCentral"),
// installed by .ci/install-clients into tests/clients-mps (about 350 MB of
// npm packages; the first start spends a minute making certificates).
// `AMT_EMU_MESHCENTRAL=0` skips it. One test, because MeshCentral listens
// on fixed ports (its config.json).

const MC_WEB: &str = "wss://127.0.0.1:14430";
const MC_MPS_PORT: u16 = 14433;
const MC_MPS_PASS: &str = "Mps-Pass1";

fn mc_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/clients-mps")
}

/// A running MeshCentral, killed on drop.
struct MeshCentral {
    child: std::process::Child,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for MeshCentral {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl MeshCentral {
    fn start() -> MeshCentral {
        use std::io::BufRead;
        let mut child = std::process::Command::new("node")
            .current_dir(mc_dir())
            .arg("node_modules/meshcentral")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("node runs MeshCentral");
        let out = child.stdout.take().expect("stdout");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if line.contains("Intel(R) AMT server running") {
                    let _ = tx.send(());
                }
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        rx.recv_timeout(std::time::Duration::from_secs(300))
            .unwrap_or_else(|_| {
                panic!("MeshCentral's MPS did not start:\n{}", log.lock().unwrap())
            });
        MeshCentral { child, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

fn meshctrl(args: &[&str]) -> String {
    let mut cmd = std::process::Command::new("node");
    cmd.current_dir(mc_dir())
        .arg("node_modules/meshcentral/meshctrl.js")
        .args(args)
        .args([
            "--url",
            MC_WEB,
            "--loginuser",
            "admin",
            "--loginpass",
            "Admin-Pass1",
        ]);
    let out = run(cmd, CLIENT_TIMEOUT);
    assert!(
        out.success,
        "meshctrl {args:?}: {}{}",
        out.stdout, out.stderr
    );
    out.stdout
}

/// The id of the AMT-only device group `cira`, made if missing.
fn cira_group() -> String {
    let find = || {
        let groups: serde_json::Value =
            serde_json::from_str(&meshctrl(&["listdevicegroups", "--json"])).unwrap_or_default();
        groups.as_array().and_then(|g| {
            g.iter()
                .find(|m| m["name"] == "cira")
                .and_then(|m| m["_id"].as_str().map(str::to_string))
        })
    };
    if let Some(id) = find() {
        return id;
    }
    meshctrl(&["adddevicegroup", "--name", "cira", "--amtonly"]);
    find().expect("the group exists")
}

/// The CIRA user name MeshCentral expects: the first 16 characters of the
/// group id, `@` and `$` written `X`.
fn cira_user(group: &str) -> String {
    group
        .trim_start_matches("mesh//")
        .chars()
        .take(16)
        .map(|c| if c == '@' || c == '$' { 'X' } else { c })
        .collect()
}

fn cira_status(control: &str) -> serde_json::Value {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "--max-time", "10"])
        .arg(format!("http://{control}/api/cira"));
    let out = run(cmd, CLIENT_TIMEOUT);
    serde_json::from_str(&out.stdout).unwrap_or_default()
}

fn until_status(
    control: &str,
    what: &str,
    f: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let v = cira_status(control);
        if f(&v) {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "never {what}: {v}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("PEM")
}

#[test]
fn meshcentral_serves_wsman_through_the_tunnel_and_refuses_what_it_should() {
    if std::env::var_os("AMT_EMU_MESHCENTRAL").is_some_and(|v| v == "0") {
        eprintln!("skipped: AMT_EMU_MESHCENTRAL=0 (docs/cira.md)");
        return;
    }
    let setup = run(
        Command::new(mc_dir().join("setup.sh")),
        std::time::Duration::from_secs(900),
    );
    assert!(setup.success, "setup.sh: {}{}", setup.stdout, setup.stderr);
    let mc = MeshCentral::start();
    let group = cira_group();
    let user = cira_user(&group);
    let root = pem_to_der(
        &std::fs::read_to_string(mc_dir().join("meshcentral-data/root-cert-public.crt"))
            .expect("MeshCentral made its root"),
    );
    let dir = tempfile::tempdir().unwrap();
    let mps = |root_der, password| MpsSetup {
        root_der,
        access_info: "127.0.0.1",
        info_format: 3,
        cn: "mps.test",
        port: MC_MPS_PORT,
        user: &user,
        password,
    };

    let emu = Emu::start_with_control_api(14800, &["--firmware", "15.0.23"]);
    let url = format!("http://{}/wsman", emu.addr("Plain", "Remote"));
    let control = format!("127.0.0.1:{}", 16990 + 14800);
    rps_cira_configuration(&url, &mps(&root, MC_MPS_PASS), dir.path());
    let status = until_status(&control, "connected", |v| v["state"] == "connected");
    assert_eq!(
        status["forwards"],
        serde_json::json!([16993, 16992, 664, 623, 16995, 16994, 5900]),
        "MeshCentral accepts every forward"
    );
    let r = post(
        &url,
        &wsman_messages("AMT", "RemoteAccessService", "Get", None),
        dir.path(),
    );
    assert!(
        r.body.contains("<g:IsRemoteTunnelConnected>true<"),
        "{}",
        r.body
    );

    // MeshCentral lists the device, connected over CIRA (conn bit 2).
    let node = until_node(&group, &mc, |n| {
        n["conn"].as_u64().is_some_and(|c| c & 2 != 0)
    });
    let node_id = node["_id"].as_str().expect("node id").to_string();

    // Its Intel AMT manager makes first contact through the tunnel by
    // itself (digest as `admin`, from config.json's amtManager): a Get of
    // AMT_GeneralSettings, answered, and journaled as having come through
    // the tunnel.
    until_journal(&control, "MeshCentral's first contact", |e| {
        e["via"] == "cira" && e["class"] == "AMT_GeneralSettings" && e["http_status"] == 200
    });
    // MeshCentral 1.1.55 drops a power action, silently, until its manager
    // has finished setting the device up (`performPowerAction` wants
    // `dev.state == 1`); on a slow machine a power action sent right after
    // first contact is lost. The last step of that set-up is the first
    // power-state poll, CIM_ServiceAvailableToElement, after the hardware
    // inventory: wait for it, also through the tunnel.
    until_journal(&control, "MeshCentral's power-state poll", |e| {
        e["via"] == "cira"
            && e["class"] == "CIM_ServiceAvailableToElement"
            && e["http_status"] == 200
    });
    // A MeshCentral user powers the device off with Intel AMT (the web
    // UI's power action; meshctrl sends the same request): MeshCentral
    // sends the RequestPowerStateChange through the tunnel.
    meshctrl(&["devicepower", "--id", &node_id, "--amtoff"]);
    until_journal(&control, "the power action", |e| {
        e["via"] == "cira"
            && e["class"] == "CIM_PowerManagementService"
            && e["action"]
                .as_str()
                .is_some_and(|a| a.ends_with("/RequestPowerStateChange"))
            && e["http_status"] == 200
    });
    // A direct call is not marked.
    let direct = journal(&control);
    assert!(
        direct
            .iter()
            .any(|e| e["class"] == "AMT_RemoteAccessService" && e.get("via").is_none()),
        "{direct:?}"
    );

    // MeshCentral goes away and comes back: the device dials again within
    // its backoff bound (30 s; until_status allows 90 s).
    drop(mc);
    until_status(&control, "backoff", |v| v["state"] != "connected");
    let mc = MeshCentral::start();
    until_status(&control, "reconnected", |v| {
        v["state"] == "connected" && v["connections"].as_u64() >= Some(2)
    });

    // The wrong CIRA password: MeshCentral refuses the login, the device
    // does not connect and the control API says why.
    let wrong = Emu::start_with_control_api(14810, &["--firmware", "15.0.23"]);
    let wrong_control = format!("127.0.0.1:{}", 16990 + 14810);
    rps_cira_configuration(
        &format!("http://{}/wsman", wrong.addr("Plain", "Remote")),
        &mps(&root, "Wrong-Pass1"),
        dir.path(),
    );
    let status = until_status(&wrong_control, "refused", |v| {
        v["last_error"] == "the MPS refused the user name or password"
    });
    assert_ne!(status["state"], "connected");

    // An MPS certificate from a root the device was not given: the device
    // refuses the TLS handshake and says so.
    let other_root = amt_testkit::TestCa::new("not MeshCentral's root");
    let untrusted = Emu::start_with_control_api(14820, &["--firmware", "15.0.23"]);
    let untrusted_control = format!("127.0.0.1:{}", 16990 + 14820);
    rps_cira_configuration(
        &format!("http://{}/wsman", untrusted.addr("Plain", "Remote")),
        &mps(&other_root.der, MC_MPS_PASS),
        dir.path(),
    );
    let status = until_status(&untrusted_control, "TLS refused", |v| {
        v["last_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("TLS handshake with the MPS refused"))
    });
    assert_ne!(status["state"], "connected");
    assert!(status["failed_attempts"].as_u64() >= Some(1), "{status}");
    drop(mc);
}

/// The journal of the device whose control API is at `control`.
fn journal(control: &str) -> Vec<serde_json::Value> {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "--max-time", "10"])
        .arg(format!("http://{control}/api/journal"));
    serde_json::from_str(&run(cmd, CLIENT_TIMEOUT).stdout).unwrap_or_default()
}

fn until_journal(control: &str, what: &str, f: impl Fn(&serde_json::Value) -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let entries = journal(control);
        if entries.iter().any(&f) {
            return;
        }
        // What came through the tunnel, a line each (the whole journal is
        // too long for CI's log).
        let tunnelled: Vec<String> = entries
            .iter()
            .filter(|e| e["via"] == "cira")
            .map(|e| format!("{} {} {}", e["class"], e["action"], e["http_status"]))
            .collect();
        assert!(
            std::time::Instant::now() < deadline,
            "never journaled {what}; {} entries, through the tunnel:\n{}",
            entries.len(),
            tunnelled.join("\n")
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

/// The device of `group` MeshCentral lists, once `f` holds for it.
fn until_node(
    group: &str,
    mc: &MeshCentral,
    f: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let devices: serde_json::Value =
            serde_json::from_str(&meshctrl(&["listdevices", "--json"])).unwrap_or_default();
        let ours = devices
            .as_array()
            .and_then(|d| d.iter().find(|n| n["meshid"] == group && f(n)).cloned());
        if let Some(node) = ours {
            return node;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "MeshCentral does not list the device: {devices}\n{}",
            mc.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}
