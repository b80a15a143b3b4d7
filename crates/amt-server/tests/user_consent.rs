//! User consent end to end: requests built by Intel's wsman-messages (what
//! RPS and MPS send), posted with curl --digest over TLS, and the code read
//! from the control API where the machine's screen would show it.

mod support;

use std::process::{Command, Stdio};

use amt_server::{Emulator, EmulatorConfig, RunningEmulator};
use serde_json::Value;
use support::{curl_wsman, wsman_messages_request};

const PASSWORD: &str = "P@ssw0rd";

/// `GET` on the control API with curl: (HTTP status, JSON body).
async fn control_get(emu: &RunningEmulator, path: &str) -> (u16, Value) {
    let url = format!("http://{}{path}", emu.control_addr().unwrap());
    tokio::task::spawn_blocking(move || {
        let out = Command::new("curl")
            .args(["-s", "--max-time", "20", "-w", "\n%{http_code}", &url])
            .stdin(Stdio::null())
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (json, code) = text.rsplit_once('\n').expect("status line");
        (
            code.parse().expect("status"),
            serde_json::from_str(json).unwrap_or(Value::Null),
        )
    })
    .await
    .unwrap()
}

/// One wsman-messages call posted to the device: (HTTP status, body).
async fn call(emu: &RunningEmulator, class: &str, method: &str, args: &str) -> (String, String) {
    let url = format!("https://{}/wsman", emu.tls_addr().unwrap());
    let (class, method, args) = (class.to_string(), method.to_string(), args.to_string());
    tokio::task::spawn_blocking(move || {
        let body = wsman_messages_request("IPS", &class, &method, &args);
        curl_wsman(&url, "admin", PASSWORD, &body)
    })
    .await
    .unwrap()
}

fn value(xml: &str, name: &str) -> String {
    let open = format!(":{name}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no {name} in {xml}"))
        + open.len();
    xml[start..]
        .split('<')
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn start_opt_in_the_code_on_the_screen_and_send_opt_in_code() {
    let emu = Emulator::start(EmulatorConfig {
        control_port: Some(0),
        ..EmulatorConfig::default().admin_password(PASSWORD)
    })
    .await
    .unwrap();

    let (status, _) = control_get(&emu, "/api/consent/code").await;
    assert_eq!(status, 404, "no code before StartOptIn");
    let (status, reply) = call(&emu, "OptInService", "StartOptIn", "").await;
    assert_eq!(status, "200", "{reply}");
    assert_eq!(value(&reply, "ReturnValue"), "0");
    let (_, again) = call(&emu, "OptInService", "StartOptIn", "").await;
    assert_eq!(value(&again, "ReturnValue"), "2", "only from NOT STARTED");

    let (status, shown) = control_get(&emu, "/api/consent/code").await;
    assert_eq!(status, 200);
    let code = shown["code"].as_str().expect("six digits").to_string();
    assert_eq!(code.len(), 6);
    let (_, view) = control_get(&emu, "/api/consent").await;
    assert_eq!(view["state_value"], 2);

    let wrong = (code.parse::<u32>().unwrap() + 1) % 1_000_000;
    let (_, reply) = call(&emu, "OptInService", "SendOptInCode", &format!("[{wrong}]")).await;
    assert_eq!(value(&reply, "ReturnValue"), "1");
    let (_, reply) = call(
        &emu,
        "OptInService",
        "SendOptInCode",
        &format!("[{}]", code.parse::<u32>().unwrap()),
    )
    .await;
    assert_eq!(value(&reply, "ReturnValue"), "0");
    let (_, get) = call(&emu, "OptInService", "Get", "").await;
    assert_eq!(value(&get, "OptInState"), "3", "received");
    let (_, view) = control_get(&emu, "/api/consent").await;
    assert_eq!(view["state_value"], 3);
    assert!(view["code"].is_null());

    let (_, reply) = call(&emu, "OptInService", "CancelOptIn", "").await;
    assert_eq!(value(&reply, "ReturnValue"), "0");
    let (_, get) = call(&emu, "OptInService", "Get", "").await;
    assert_eq!(value(&get, "OptInState"), "0");
    let (_, reply) = call(&emu, "OptInService", "CancelOptIn", "").await;
    assert_eq!(value(&reply, "ReturnValue"), "2");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn client_control_mode_refuses_turning_consent_off() {
    let emu = Emulator::start(EmulatorConfig {
        control_port: Some(0),
        ..EmulatorConfig::default().admin_password(PASSWORD)
    })
    .await
    .unwrap();
    let put = |required: u32| {
        format!(
            r#"[{{"IPS_OptInService":{{"CanModifyOptInPolicy":1,"CreationClassName":"IPS_OptInService","ElementName":"Intel(r) AMT OptIn Service","Name":"Intel(r) AMT OptIn Service","OptInCodeTimeout":120,"OptInDisplayTimeout":300,"OptInRequired":{required},"OptInState":0,"SystemCreationClassName":"CIM_ComputerSystem","SystemName":"Intel(r) AMT"}}}}]"#
        )
    };
    let (status, reply) = call(&emu, "OptInService", "Put", &put(0)).await;
    assert_eq!(status, "500", "{reply}");
    assert!(
        reply.contains("InternalError") && reply.contains("AMT-STATUS 16"),
        "{reply}"
    );
    let (status, reply) = call(&emu, "OptInService", "Put", &put(u32::MAX)).await;
    assert_eq!(status, "200", "{reply}");
    assert_eq!(value(&reply, "OptInRequired"), "4294967295");
    let (_, view) = control_get(&emu, "/api/consent").await;
    assert_eq!(view["required_value"], 4294967295u32);
    emu.shutdown().await;
}
