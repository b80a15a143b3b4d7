//! Record, replay, compare (issue 17), with the real binary on every side:
//! a factory device (the "real device"), `amt-emu record` as the proxy a
//! console points at, curl as the console with the requests Intel's
//! wsman-messages builds, `amt-emu serve --replay` answering a class the
//! emulator does not model from the recording, and `amt-emu compare`
//! reporting the structural differences between two devices.

mod support;

use std::path::Path;
use std::process::Command;

use amt_record::layout::{Exchange, Index, INDEX_FILE};
use amt_testkit::{DevicePublicKey, TestCa};
use support::{args, post, post_as, run, text, wsman_messages, Process, CLIENT_TIMEOUT, PASSWORD};

const DEVICE_OFFSET: u16 = 9610;
const RECORDER_OFFSET: u16 = 9620;
const REPLAY_OFFSET: u16 = 9630;
const ODD_OFFSET: u16 = 9640;

/// A class no issue models: the recording alone can answer it.
const UNMODELLED: &str = "AMT_ThirdPartyDataStorageService";
const MEBX_SECRET: &str = "Mebx-Secret-42!";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_amt-emu")
}

/// `curl --digest -u USER:PASSWORD` of `xml` to `url`: (status, body).
fn curl_as(url: &str, user: &str, password: &str, xml: &str, dir: &Path) -> (u16, String) {
    let r = post_as(url, user, password, xml, dir);
    (r.status, r.body)
}

fn return_value(reply: &(u16, String)) -> u32 {
    assert_eq!(reply.0, 200, "{}", reply.1);
    text(&reply.1, "g:ReturnValue")
        .expect("a ReturnValue")
        .parse()
        .expect("a number")
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write");
    let out = child.wait_with_output().expect("openssl output");
    assert!(out.status.success(), "openssl {args:?}");
    out.stdout
}

fn serve(offset: u16, state: &Path, extra: &[&str]) -> Process {
    let mut a = args(&[
        "serve",
        "--state-dir",
        &state.display().to_string(),
        "--port-offset",
        &offset.to_string(),
    ]);
    a.extend(args(extra));
    Process::start(&a, &[], "device ready")
}

/// Every file of the recording, as text.
fn recording_text(dir: &Path) -> String {
    let mut all = String::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                all.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
    }
    all
}

#[test]
fn record_a_provisioning_flow_replay_it_and_compare_devices() {
    let work = tempfile::tempdir().expect("temp dir");
    let dir = work.path();
    let recording = dir.join("recording");

    // The "real device": factory-new CSME 16.1 with its local (LMS) face.
    let _device = serve(
        DEVICE_OFFSET,
        &dir.join("device"),
        &["--lms-listen", "127.0.0.3"],
    );
    let lms = format!("http://127.0.0.3:{}/wsman", 16992 + DEVICE_OFFSET);
    let control = format!("127.0.0.1:{}", 16990 + DEVICE_OFFSET);
    let account = run(
        {
            let mut c = Command::new(bin());
            c.args(["host", "--control", &control, "local-account"]);
            c
        },
        CLIENT_TIMEOUT,
    );
    assert!(account.success, "{}", account.stderr);
    let account: serde_json::Value = serde_json::from_str(&account.stdout).expect("JSON");
    let (lsa_user, lsa_password) = (
        account["username"].as_str().expect("username").to_string(),
        account["password"].as_str().expect("password").to_string(),
    );

    // The recorder in front of the local face; the console talks to it.
    let recorder = Process::start(
        &args(&[
            "record",
            "--upstream",
            &lms,
            "--out",
            &recording.display().to_string(),
            "--port-offset",
            &RECORDER_OFFSET.to_string(),
        ]),
        &[],
        "recorder listening",
    );
    let proxy = format!("http://127.0.0.1:{}/wsman", 16992 + RECORDER_OFFSET);

    // CCM activation as rpc relays it for RPS.
    let get = wsman_messages("AMT", "GeneralSettings", "Get", None);
    let (status, body) = curl_as(&proxy, &lsa_user, &lsa_password, &get, dir);
    assert_eq!(status, 200, "{body}");
    let realm = text(&body, "g:DigestRealm").expect("DigestRealm");
    let ha1 = {
        use md5::{Digest, Md5};
        hex_lower(&Md5::digest(format!("admin:{realm}:{PASSWORD}").as_bytes()))
    };
    let setup = wsman_messages(
        "IPS",
        "HostBasedSetupService",
        "Setup",
        Some(&format!(r#"[2,"{ha1}"]"#)),
    );
    assert_eq!(
        return_value(&curl_as(&proxy, &lsa_user, &lsa_password, &setup, dir)),
        0
    );

    // TLS with the console's own key and certificate, as rpc-go does it.
    let admin = |xml: &str| curl_as(&proxy, "admin", PASSWORD, xml, dir);
    // wsman-messages has no SetMEBxPassword; rpc-go's request shape.
    let mebx = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../fixtures/requests/AMT_SetupAndConfigurationService/SetMEBxPassword.request.xml",
    ))
    .expect("fixture")
    .replace("P@ssw0rd", MEBX_SECRET);
    let _ = admin(&mebx);
    let pkcs8 = openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-outform",
            "DER",
        ],
        b"",
    );
    let pkcs1 = openssl(
        &[
            "rsa",
            "-inform",
            "DER",
            "-RSAPublicKey_out",
            "-outform",
            "DER",
        ],
        &pkcs8,
    );
    let key_blob = b64(&pkcs8);
    let r = admin(&wsman_messages(
        "AMT",
        "PublicKeyManagementService",
        "AddKey",
        Some(&format!("[\"{key_blob}\"]")),
    ));
    assert_eq!(return_value(&r), 0, "{}", r.1);
    let ca = TestCa::new("Console CA");
    let der = ca.sign_server_cert(&DevicePublicKey::from_pkcs1(pkcs1), "amt.example.test");
    let r = admin(&wsman_messages(
        "AMT",
        "PublicKeyManagementService",
        "AddCertificate",
        Some(&format!(r#"[{{"CertificateBlob":"{}"}}]"#, b64(&der))),
    ));
    assert_eq!(return_value(&r), 0, "{}", r.1);
    let handle =
        r.1.split("Handle: ")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .expect("handle");
    let id = format!("Intel(r) AMT Certificate: Handle: {handle}");
    let put = wsman_messages(
        "AMT",
        "TLSCredentialContext",
        "Create",
        Some(&format!("[\"{id}\"]")),
    )
    .replace(
        "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
        "http://schemas.xmlsoap.org/ws/2004/09/transfer/Put",
    );
    let r = admin(&put);
    assert_eq!(r.0, 200, "{}", r.1);
    let remote = "Intel(r) AMT 802.3 TLS Settings";
    let r = admin(&wsman_messages(
        "AMT",
        "TLSSettingData",
        "Put",
        Some(&format!(
            r#"[{{"AcceptNonSecureConnections":false,"ElementName":"{remote}","Enabled":true,"InstanceID":"{remote}","MutualAuthentication":false,"NonSecureConnectionsSupported":false}}]"#
        )),
    ));
    assert_eq!(r.0, 200, "{}", r.1);
    let r = admin(&wsman_messages(
        "AMT",
        "SetupAndConfigurationService",
        "CommitChanges",
        None,
    ));
    assert_eq!(return_value(&r), 0);
    drop(recorder);

    // The recording: every exchange, nothing secret in clear.
    let index: Index =
        serde_json::from_str(&std::fs::read_to_string(recording.join(INDEX_FILE)).expect("index"))
            .expect("a recording index");
    for (class, op) in [
        ("AMT_GeneralSettings", "Get"),
        ("IPS_HostBasedSetupService", "Setup"),
        ("AMT_PublicKeyManagementService", "AddKey"),
        ("AMT_TLSSettingData", "Put"),
        ("AMT_SetupAndConfigurationService", "CommitChanges"),
    ] {
        assert!(
            index
                .exchanges
                .iter()
                .any(|x| x.class == class && x.operation == op && x.status == 200),
            "{class} {op} recorded: {:?}",
            index
                .exchanges
                .iter()
                .map(|x| (&x.class, &x.operation, x.status))
                .collect::<Vec<_>>()
        );
    }
    let everything = recording_text(&recording);
    for secret in [
        ha1.as_str(),
        MEBX_SECRET,
        &key_blob[..64],
        &lsa_password,
        PASSWORD,
    ] {
        assert!(
            !everything.contains(secret),
            "a secret is in the recording: {secret}"
        );
    }
    assert!(
        !everything.contains("response="),
        "no digest response is kept"
    );

    // Add an exchange for a class the emulator does not model, as a user
    // would from another device's capture.
    let uri = format!("http://intel.com/wbem/wscim/1/amt-schema/1/{UNMODELLED}");
    let request = amt_record::requests::get(&uri, 1);
    let reply = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><a:Envelope xmlns:a="http://www.w3.org/2003/05/soap-envelope" xmlns:b="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:c="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:g="{uri}"><a:Header><b:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</b:To><b:RelatesTo>1</b:RelatesTo><b:Action a:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse</b:Action><b:MessageID>uuid:00000000-8086-8086-8086-000000000099</b:MessageID><c:ResourceURI>{uri}</c:ResourceURI></a:Header><a:Body><g:{UNMODELLED}><g:CreationClassName>{UNMODELLED}</g:CreationClassName><g:ElementName>Intel(r) AMT Third Party Data Storage Service</g:ElementName><g:MaxPartnerStorage>1048576</g:MaxPartnerStorage></g:{UNMODELLED}></a:Body></a:Envelope>"#
    );
    add_exchange(&recording, UNMODELLED, &uri, &request, &reply);

    // Replay: the unmodelled class answers from the recording, the modelled
    // ones from the model; the journal says which.
    let replay_state = dir.join("replay");
    let _replay = serve(
        REPLAY_OFFSET,
        &replay_state,
        &[
            "--admin-password",
            PASSWORD,
            "--replay",
            &recording.display().to_string(),
        ],
    );
    let replay_url = format!("https://127.0.0.1:{}/wsman", 16993 + REPLAY_OFFSET);
    let got = post(
        &replay_url,
        &request.replace(
            "<a:MessageID>1</a:MessageID>",
            "<a:MessageID>4242</a:MessageID>",
        ),
        dir,
    );
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(
        text(&got.body, "g:MaxPartnerStorage").as_deref(),
        Some("1048576")
    );
    assert_eq!(text(&got.body, "b:RelatesTo").as_deref(), Some("4242"));
    let journal = run(
        {
            let mut c = Command::new("curl");
            c.args([
                "-s",
                &format!("http://127.0.0.1:{}/api/journal", 16990 + REPLAY_OFFSET),
            ]);
            c
        },
        CLIENT_TIMEOUT,
    );
    let entries: serde_json::Value = serde_json::from_str(&journal.stdout).expect("journal JSON");
    let entries = entries
        .as_array()
        .cloned()
        .unwrap_or_else(|| entries["entries"].as_array().cloned().unwrap_or_default());
    let marked: Vec<_> = entries
        .iter()
        .filter(|e| e["answered_by"] == "recording")
        .map(|e| e["class"].clone())
        .collect();
    assert_eq!(marked, [serde_json::json!(UNMODELLED)], "{entries:?}");

    // Compare: two devices made alike have no structural difference.
    let compare = |emulator: &str, target: &str| {
        let mut c = Command::new(bin());
        c.args([
            "compare",
            "--emulator",
            emulator,
            "--target",
            target,
            "--password",
            PASSWORD,
            "--insecure",
            "--json",
        ]);
        let out = run(c, std::time::Duration::from_secs(120));
        assert!(out.success, "{}", out.stderr);
        let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("report JSON");
        report
    };
    let odd_state = dir.join("odd");
    let odd_fault = r#"{"class":"AMT_GeneralSettings","operation":"Get","kind":"soap_fault","subcode":"wsman:AccessDenied"}"#;
    let _odd = serve(
        ODD_OFFSET,
        &odd_state,
        &["--admin-password", PASSWORD, "--fault", odd_fault],
    );
    let odd_url = format!("https://127.0.0.1:{}/wsman", 16993 + ODD_OFFSET);
    // The recorded device (now in CCM with the console's TLS certificate)
    // and the replaying emulator: the same shapes, class by class.
    let device_url = format!("https://127.0.0.1:{}/wsman", 16993 + DEVICE_OFFSET);
    let same = compare(&replay_url, &device_url);
    let different: Vec<_> = same["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["verdict"] == "different")
        .collect();
    assert!(different.is_empty(), "{different:#?}");
    let report = compare(&replay_url, &odd_url);
    let different: Vec<(String, String)> = report["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["verdict"] == "different")
        .map(|e| {
            (
                e["class"].as_str().unwrap_or_default().to_string(),
                e["operation"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        different,
        [("AMT_GeneralSettings".to_string(), "Get".to_string())],
        "{report:#}"
    );
    let same_count = report["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["verdict"] == "same")
        .count();
    assert!(
        same_count > 10,
        "the other classes compare equal: {report:#}"
    );
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends an exchange to a recording by hand (files and index entry).
fn add_exchange(dir: &Path, class: &str, uri: &str, request: &str, reply: &str) {
    let index_path = dir.join(INDEX_FILE);
    let mut index: Index =
        serde_json::from_str(&std::fs::read_to_string(&index_path).expect("index")).expect("index");
    let seq = index.exchanges.len() as u64 + 1;
    std::fs::create_dir_all(dir.join(class)).expect("class folder");
    let request_rel = format!("{class}/Get--{seq:04}.request.xml");
    let response_rel = format!("{class}/Get--{seq:04}.response.xml");
    std::fs::write(dir.join(&request_rel), request).expect("write");
    std::fs::write(dir.join(&response_rel), reply).expect("write");
    index.exchanges.push(Exchange {
        seq,
        class: class.to_string(),
        resource_uri: Some(uri.to_string()),
        action: Some("http://schemas.xmlsoap.org/ws/2004/09/transfer/Get".into()),
        operation: "Get".into(),
        selectors: Vec::new(),
        request: request_rel,
        response: response_rel,
        status: 200,
        duration_ms: 1.0,
        headers: Vec::new(),
    });
    std::fs::write(
        &index_path,
        serde_json::to_string_pretty(&index).expect("JSON"),
    )
    .expect("write");
}
