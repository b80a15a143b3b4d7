//! RPS's "features configuration" against the real binary: redirection on
//! (SOL and IDE-R), KVM on and user consent "all", with every request built
//! by Intel's wsman-messages (what RPS sends) and posted with curl
//! --digest, answered as the firmware answers, then read back.

mod support;

use support::*;

fn value(xml: &str, tag: &str) -> String {
    text(xml, tag).unwrap_or_else(|| panic!("no {tag} in {xml}"))
}

#[test]
fn rps_features_configuration_is_answered_and_read_back() {
    let emu = Emu::start(12340, &[]);
    let url = format!("https://{}/wsman", emu.addr("Tls", "Remote"));
    let dir = tempfile::tempdir().unwrap();
    let call = |ns: &str, class: &str, method: &str, args: Option<&str>| {
        let reply = post(&url, &wsman_messages(ns, class, method, args), dir.path());
        assert_eq!(reply.status, 200, "{ns}.{class}.{method}: {}", reply.body);
        reply.body
    };

    // What RPS reads first: a device nobody configured yet.
    let redirection = call("AMT", "RedirectionService", "Get", None);
    assert_eq!(value(&redirection, "g:EnabledState"), "32768");
    assert_eq!(value(&redirection, "g:ListenerEnabled"), "true");
    let opt_in = call("IPS", "OptInService", "Get", None);
    assert_eq!(value(&opt_in, "g:OptInRequired"), "1");
    assert_eq!(value(&opt_in, "g:OptInState"), "0");
    let kvm = call("CIM", "KVMRedirectionSAP", "Get", None);
    assert_eq!(value(&kvm, "g:EnabledState"), "3");

    // Redirection on (SOL + IDE-R), then KVM on, then the listener.
    let r = call(
        "AMT",
        "RedirectionService",
        "RequestStateChange",
        Some("[32771]"),
    );
    assert_eq!(
        reply_action(&r),
        "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_RedirectionService/RequestStateChangeResponse"
    );
    assert_eq!(value(&r, "g:ReturnValue"), "0");
    let r = call(
        "CIM",
        "KVMRedirectionSAP",
        "RequestStateChange",
        Some("[2]"),
    );
    assert_eq!(value(&r, "g:ReturnValue"), "0");
    let service = r#"[{"CreationClassName":"AMT_RedirectionService","ElementName":"Intel(r) AMT Redirection Service","EnabledState":32771,"ListenerEnabled":true,"Name":"Intel(r) AMT Redirection Service","SystemCreationClassName":"CIM_ComputerSystem","SystemName":"Intel(r) AMT"}]"#;
    let r = call("AMT", "RedirectionService", "Put", Some(service));
    assert_eq!(
        reply_action(&r),
        "http://schemas.xmlsoap.org/ws/2004/09/transfer/PutResponse"
    );
    assert_eq!(value(&r, "g:EnabledState"), "32771");
    assert_eq!(value(&r, "g:ListenerEnabled"), "true");

    // User consent "all", as RPS writes it back into the instance it read.
    let opt_in_all = r#"[{"IPS_OptInService":{"CanModifyOptInPolicy":1,"CreationClassName":"IPS_OptInService","ElementName":"Intel(r) AMT OptIn Service","Name":"Intel(r) AMT OptIn Service","OptInCodeTimeout":120,"OptInDisplayTimeout":300,"OptInRequired":4294967295,"OptInState":0,"SystemCreationClassName":"CIM_ComputerSystem","SystemName":"Intel(r) AMT"}}]"#;
    let r = call("IPS", "OptInService", "Put", Some(opt_in_all));
    assert_eq!(value(&r, "g:OptInRequired"), "4294967295");

    // Read back.
    let redirection = call("AMT", "RedirectionService", "Get", None);
    assert_eq!(value(&redirection, "g:EnabledState"), "32771");
    let kvm = call("CIM", "KVMRedirectionSAP", "Get", None);
    assert_eq!(value(&kvm, "g:EnabledState"), "6");
    assert_eq!(value(&kvm, "g:RequestedState"), "2");
    let opt_in = call("IPS", "OptInService", "Get", None);
    assert_eq!(value(&opt_in, "g:OptInRequired"), "4294967295");
    let settings = call("IPS", "KVMRedirectionSettingData", "Get", None);
    assert_eq!(value(&settings, "g:OptInPolicy"), "true");
    assert_eq!(value(&settings, "g:RFBPassword"), "");

    // Client control mode (--admin-password provisions CCM): consent stays on.
    let opt_in_none = opt_in_all.replace("4294967295", "0");
    let reply = post(
        &url,
        &wsman_messages("IPS", "OptInService", "Put", Some(&opt_in_none)),
        dir.path(),
    );
    assert_eq!(reply.status, 500, "{}", reply.body);
    assert!(reply.body.contains("AMT-STATUS 16"), "{}", reply.body);
}

/// `amt-emu ctl consent [--code]` against the running server's control API.
fn ctl_consent(control: &str, code: bool) -> (bool, serde_json::Value) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_amt-emu"));
    cmd.args(["ctl", "--control", control, "consent"]);
    if code {
        cmd.arg("--code");
    }
    let out = run(cmd, CLIENT_TIMEOUT);
    (
        out.success,
        serde_json::from_str(&out.stdout).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn user_consent_with_the_code_from_the_machine_s_screen() {
    let offset = 12350;
    let emu = Emu::start_with_control_api(offset, &[]);
    let control = format!("127.0.0.1:{}", 16990 + offset);
    let url = format!("https://{}/wsman", emu.addr("Tls", "Remote"));
    let dir = tempfile::tempdir().unwrap();
    let call = |method: &str, args: Option<&str>| {
        let reply = post(
            &url,
            &wsman_messages("IPS", "OptInService", method, args),
            dir.path(),
        );
        assert_eq!(reply.status, 200, "{method}: {}", reply.body);
        reply.body
    };

    let (shown, _) = ctl_consent(&control, true);
    assert!(!shown, "no code before StartOptIn");
    assert_eq!(value(&call("StartOptIn", None), "g:ReturnValue"), "0");
    let (shown, answer) = ctl_consent(&control, true);
    assert!(shown, "{answer}");
    let code: u32 = answer["code"].as_str().unwrap().parse().unwrap();

    let wrong = format!("[{}]", (code + 1) % 1_000_000);
    assert_eq!(
        value(&call("SendOptInCode", Some(&wrong)), "g:ReturnValue"),
        "1"
    );
    let right = format!("[{code}]");
    assert_eq!(
        value(&call("SendOptInCode", Some(&right)), "g:ReturnValue"),
        "0"
    );
    assert_eq!(value(&call("Get", None), "g:OptInState"), "3");
    let (_, state) = ctl_consent(&control, false);
    assert_eq!(state["state_value"], 3, "{state}");

    assert_eq!(value(&call("CancelOptIn", None), "g:ReturnValue"), "0");
    assert_eq!(value(&call("Get", None), "g:OptInState"), "0");
    assert_eq!(value(&call("CancelOptIn", None), "g:ReturnValue"), "2");
}
