//! Redirection, KVM and user consent classes against the real device's
//! replies (element structure) and the state rules behind them.

mod support;

use amt_device::{ControlMode, Device};
use amt_wsman::namespaces::action;
use amt_wsman::{CallContext, Principal, WsmanReply, WsmanService};
use support::structure::{assert_same_structure, structure};
use support::*;
use time::Duration;

const RS: &str = "AMT_RedirectionService";
const KVM: &str = "CIM_KVMRedirectionSAP";
const OPT: &str = "IPS_OptInService";
const KVMS: &str = "IPS_KVMRedirectionSettingData";
const SCREEN: &str = "IPS_ScreenSettingData";
const IPS: &str = "http://intel.com/wbem/wscim/1/ips-schema/1/";

fn at(now: time::OffsetDateTime) -> CallContext {
    CallContext {
        now,
        principal: Principal::Admin,
    }
}

fn run(s: &mut WsmanService, d: &mut Device, body: &str) -> WsmanReply {
    s.handle(d, body.as_bytes(), &admin())
}

/// A request in wsman-messages' spelling for a class without request
/// fixtures: the `IPS_OptInService` Get with its Action, ResourceURI and
/// Body replaced.
fn ips_request(class: &str, action_uri: &str, body: &str) -> String {
    request(OPT, "Get.request.xml")
        .replace(action::GET, action_uri)
        .replace(&format!("{IPS}{OPT}"), &format!("{IPS}{class}"))
        .replace("<Body></Body>", &format!("<Body>{body}</Body>"))
}

fn ok(r: &WsmanReply) -> String {
    assert_eq!(r.status, 200, "{}", text(r));
    text(r)
}

fn value(xml: &str, name: &str) -> String {
    let open = format!(":{name}>");
    let start = xml.find(&open).unwrap_or_else(|| panic!("{name} in {xml}")) + open.len();
    xml[start..].split('<').next().unwrap().to_string()
}

fn enumerate_and_pull(s: &mut WsmanService, d: &mut Device, class: &str) -> (String, String) {
    let e = run(s, d, &request(class, "Enumerate.request.xml"));
    let ctx = enumeration_context(&e).expect("context");
    let p = run(s, d, &pull_request(class, &ctx));
    (ok(&e), ok(&p))
}

#[test]
fn redirection_service_follows_request_state_change_and_put() {
    let (mut s, mut d) = (WsmanService::new(), legacy_device());
    let get = ok(&run(&mut s, &mut d, &request(RS, "Get.request.xml")));
    assert_same_structure(
        &get,
        &firmware(RS, "Get--capture-rps-featuresConfiguration.response.xml"),
        &[],
    );
    assert_eq!(value(&get, "EnabledState"), "32768");
    let (e, p) = enumerate_and_pull(&mut s, &mut d, RS);
    assert_same_structure(&e, &firmware(RS, "Enumerate.response.xml"), &[]);
    assert_same_structure(&p, &firmware(RS, "Pull.response.xml"), &[]);

    let r = run(
        &mut s,
        &mut d,
        &request(RS, "RequestStateChange.request.xml"),
    );
    assert!(r.device_changed);
    assert_same_structure(
        &ok(&r),
        &firmware(
            RS,
            "RequestStateChange--capture-rps-featuresConfiguration.response.xml",
        ),
        &[],
    );
    assert_eq!(value(&text(&r), "ReturnValue"), "0");
    assert!(d.redirection_policy().sol_enabled && d.redirection_policy().ider_enabled);

    // The fixture Put says EnabledState 32768: read-only, ignored.
    let put = request(RS, "Put.request.xml").replace(
        "<h:ListenerEnabled>true</h:ListenerEnabled>",
        "<h:ListenerEnabled>false</h:ListenerEnabled>",
    );
    let r = ok(&run(&mut s, &mut d, &put));
    assert_same_structure(
        &r,
        &firmware(RS, "Put--capture-rps-featuresConfiguration.response.xml"),
        &[],
    );
    assert_eq!(value(&r, "EnabledState"), "32771");
    assert_eq!(value(&r, "ListenerEnabled"), "false");
    assert!(!d.redirection_policy().listener_enabled);

    let bad = request(RS, "RequestStateChange.request.xml").replace(">32771<", ">2<");
    assert_eq!(value(&ok(&run(&mut s, &mut d, &bad)), "ReturnValue"), "5");
    let not_bool = put.replace(">false</h:ListenerEnabled>", ">maybe</h:ListenerEnabled>");
    let r = run(&mut s, &mut d, &not_bool);
    assert_eq!(
        fault_codes(&r).1.as_deref(),
        Some("e:InvalidRepresentation")
    );
}

#[test]
fn kvm_sap_is_switched_by_2_and_3() {
    let (mut s, mut d) = (WsmanService::new(), legacy_device());
    let get = ok(&run(&mut s, &mut d, &request(KVM, "Get.request.xml")));
    assert_same_structure(
        &get,
        &firmware(KVM, "Get--capture-rps-featuresConfiguration.response.xml"),
        &[],
    );
    assert_eq!(value(&get, "EnabledState"), "3");
    assert_eq!(value(&get, "SystemName"), "ManagedSystem");
    let (e, p) = enumerate_and_pull(&mut s, &mut d, KVM);
    assert_same_structure(&e, &firmware(KVM, "Enumerate.response.xml"), &[]);
    assert_same_structure(&p, &firmware(KVM, "Pull.response.xml"), &[]);

    let r = run(
        &mut s,
        &mut d,
        &request(KVM, "RequestStateChange.request.xml"),
    );
    assert_same_structure(
        &ok(&r),
        &firmware(
            KVM,
            "RequestStateChange--capture-rps-featuresConfiguration.response.xml",
        ),
        &[],
    );
    assert_eq!(value(&text(&r), "ReturnValue"), "0");
    let get = ok(&run(&mut s, &mut d, &request(KVM, "Get.request.xml")));
    assert_same_structure(
        &get,
        &firmware(KVM, "Get--capture-rps-featuresConfiguration-2.response.xml"),
        &[],
    );
    assert_eq!(
        (value(&get, "EnabledState"), value(&get, "RequestedState")),
        ("6".into(), "2".into())
    );
    assert!(d.redirection_policy().kvm_enabled);
    let bad = request(KVM, "RequestStateChange.request.xml").replace(">2<", ">9<");
    assert_eq!(value(&ok(&run(&mut s, &mut d, &bad)), "ReturnValue"), "5");
}

#[test]
fn consent_start_code_send_and_cancel() {
    let (mut s, mut d) = (WsmanService::new(), legacy_device());
    d.provision_for_testing(ControlMode::Client, "P@ssw0rd");
    let get = ok(&run(&mut s, &mut d, &request(OPT, "Get.request.xml")));
    assert_same_structure(
        &get,
        &firmware(OPT, "Get--capture-rps-featuresConfiguration.response.xml"),
        &[],
    );
    let (e, p) = enumerate_and_pull(&mut s, &mut d, OPT);
    assert_same_structure(&e, &firmware(OPT, "Enumerate.response.xml"), &[]);
    assert_same_structure(&p, &firmware(OPT, "Pull.response.xml"), &[]);

    // Nothing to send a code to, nothing to cancel yet: 2, as the canned replies.
    let send =
        |code: &str| request(OPT, "SendOptInCode.request.xml").replace(">1<", &format!(">{code}<"));
    let r = ok(&run(&mut s, &mut d, &send("1")));
    assert_same_structure(&r, &firmware(OPT, "SendOptInCode.response.xml"), &[]);
    assert_eq!(value(&r, "ReturnValue"), "2");
    let r = ok(&run(
        &mut s,
        &mut d,
        &request(OPT, "CancelOptIn.request.xml"),
    ));
    assert_same_structure(&r, &firmware(OPT, "CancelOptIn.response.xml"), &[]);
    assert_eq!(value(&r, "ReturnValue"), "2");

    let r = run(&mut s, &mut d, &request(OPT, "StartOptIn.request.xml"));
    assert_same_structure(&ok(&r), &firmware(OPT, "StartOptIn.response.xml"), &[]);
    assert_eq!(value(&text(&r), "ReturnValue"), "0");
    assert!(!r.device_changed, "consent in progress is RAM, not flash");
    assert!(r
        .effects
        .events
        .contains(&amt_device::DeviceEvent::ConsentChanged { state: 2 }));
    let get = ok(&run(&mut s, &mut d, &request(OPT, "Get.request.xml")));
    assert_eq!(value(&get, "OptInState"), "2");
    let again = ok(&run(
        &mut s,
        &mut d,
        &request(OPT, "StartOptIn.request.xml"),
    ));
    assert_eq!(value(&again, "ReturnValue"), "2");

    let code = d.pending_consent_code(NOW).expect("a code on the screen");
    let wrong = format!("{}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    assert_eq!(
        value(&ok(&run(&mut s, &mut d, &send(&wrong))), "ReturnValue"),
        "1"
    );
    assert_eq!(
        value(&ok(&run(&mut s, &mut d, &send(&code))), "ReturnValue"),
        "0"
    );
    let get = ok(&run(&mut s, &mut d, &request(OPT, "Get.request.xml")));
    assert_eq!(value(&get, "OptInState"), "3");
    assert!(d.consent_allows(amt_device::user_consent::ConsentFeature::Kvm, NOW));

    let r = ok(&run(
        &mut s,
        &mut d,
        &request(OPT, "CancelOptIn.request.xml"),
    ));
    assert_eq!(value(&r, "ReturnValue"), "0");
    let get = ok(&run(&mut s, &mut d, &request(OPT, "Get.request.xml")));
    assert_eq!(value(&get, "OptInState"), "0");
}

#[test]
fn consent_times_out_on_device_time() {
    let (mut s, mut d) = (WsmanService::new(), legacy_device());
    let start = request(OPT, "StartOptIn.request.xml");
    ok(&s.handle(&mut d, start.as_bytes(), &at(NOW)));
    let get = request(OPT, "Get.request.xml");
    let before = ok(&s.handle(&mut d, get.as_bytes(), &at(NOW + Duration::seconds(299))));
    assert_eq!(value(&before, "OptInState"), "2");
    let after = s.handle(&mut d, get.as_bytes(), &at(NOW + Duration::seconds(300)));
    assert_eq!(value(&ok(&after), "OptInState"), "0");
    assert!(after
        .effects
        .events
        .contains(&amt_device::DeviceEvent::ConsentChanged { state: 0 }));
}

#[test]
fn client_control_mode_refuses_opt_in_required_none() {
    let (mut s, mut d) = (WsmanService::new(), legacy_device());
    d.provision_for_testing(ControlMode::Client, "P@ssw0rd");
    let put = |v: &str| {
        request(OPT, "Put.request.xml").replace(
            "<h:OptInCodeTimeout>300</h:OptInCodeTimeout>",
            &format!("<h:OptInRequired>{v}</h:OptInRequired>"),
        )
    };
    let r = run(&mut s, &mut d, &put("0"));
    assert_eq!(r.status, 500, "{}", text(&r));
    assert_eq!(fault_codes(&r).1.as_deref(), Some("e:InternalError"));
    assert!(text(&r).contains("AMT-STATUS 16"), "{}", text(&r));
    let r = run(&mut s, &mut d, &put("4294967295"));
    assert!(r.device_changed);
    let r = ok(&r);
    assert_same_structure(
        &r,
        &firmware(OPT, "Put--capture-rps-featuresConfiguration.response.xml"),
        &[],
    );
    assert_eq!(value(&r, "OptInRequired"), "4294967295");
    let r = run(&mut s, &mut d, &put("7"));
    assert_eq!(fault_codes(&r).1.as_deref(), Some("e:InvalidParameter"));
    // The wsman-messages Put (OptInCodeTimeout 300) and its empty Put.
    let r = ok(&run(&mut s, &mut d, &request(OPT, "Put.request.xml")));
    assert_eq!(value(&r, "OptInCodeTimeout"), "300");
    let r = ok(&run(&mut s, &mut d, &request(OPT, "Put--2.request.xml")));
    assert_eq!(value(&r, "OptInRequired"), "4294967295");

    let mut acm = legacy_device();
    acm.provision_for_testing(ControlMode::Admin, "P@ssw0rd");
    let r = ok(&run(&mut s, &mut acm, &put("0")));
    assert_eq!(value(&r, "OptInRequired"), "0");
}

#[test]
fn kvm_settings_hide_the_rfb_password_and_check_its_strength() {
    let (mut s, mut d) = (WsmanService::new(), legacy_device());
    let uri = format!("{IPS}{KVMS}");
    let get = ips_request(KVMS, action::GET, "");
    let r = ok(&run(&mut s, &mut d, &get));
    assert_same_structure(&r, &firmware(KVMS, "Get.response.xml"), &[]);
    let enumerate = ips_request(
        KVMS,
        action::ENUMERATE,
        r#"<Enumerate xmlns="http://schemas.xmlsoap.org/ws/2004/09/enumeration" />"#,
    );
    let e = run(&mut s, &mut d, &enumerate);
    let ctx = enumeration_context(&e).expect("context");
    let pull = pull_request(OPT, &ctx).replace(&format!("{IPS}{OPT}"), &uri);
    let p = ok(&run(&mut s, &mut d, &pull));
    assert_same_structure(&p, &firmware(KVMS, "Pull.response.xml"), &[]);

    let put = |props: &str| {
        ips_request(
            KVMS,
            action::PUT,
            &format!(r#"<h:{KVMS} xmlns:h="{uri}">{props}</h:{KVMS}>"#),
        )
    };
    // The journal never shows the RFB password.
    let secret = put("<h:RFBPassword>P@ssw0rd</h:RFBPassword>");
    assert!(!amt_wsman::redact::redact(&secret).contains("P@ssw0rd"));
    let r = run(
        &mut s,
        &mut d,
        &put("<h:RFBPassword>password</h:RFBPassword>"),
    );
    assert_eq!(r.status, 400, "{}", text(&r));
    assert_eq!(fault_codes(&r).1.as_deref(), Some("e:InvalidParameter"));
    let r = run(
        &mut s,
        &mut d,
        &put("<h:Is5900PortEnabled>true</h:Is5900PortEnabled>"),
    );
    assert_eq!(fault_codes(&r).1.as_deref(), Some("e:InternalError"));

    let r = run(
        &mut s,
        &mut d,
        &put("<h:DefaultScreen>1</h:DefaultScreen><h:Is5900PortEnabled>true</h:Is5900PortEnabled><h:RFBPassword>P@ssw0rd</h:RFBPassword>"),
    );
    assert!(r.device_changed);
    let r = ok(&r);
    // Newer firmware's extra properties are not modelled (module docs).
    assert_same_structure(
        &r,
        &firmware(KVMS, "Put.response.xml"),
        &[
            "DoubleBufferActive",
            "DoubleBufferEnabled",
            "GrayscalePixelFormatSupported",
            "InitialDecimationModeForLowRes",
            "ZlibControlSupported",
            "OptInPolicyTimeout",
        ],
    );
    assert_eq!(value(&r, "Is5900PortEnabled"), "true");
    assert!(r.contains("<g:RFBPassword></g:RFBPassword>"), "{r}");
    assert!(!r.contains("P@ssw0rd"));
    assert!(d.check_rfb_password("P@ssw0rd"));
    assert_eq!(d.redirection_policy().default_screen, 1);
}

#[test]
fn screen_settings_and_screen_configuration() {
    let (mut s, mut d) = (WsmanService::new(), legacy_device());
    let r = ok(&run(&mut s, &mut d, &ips_request(SCREEN, action::GET, "")));
    assert_same_structure(&r, &firmware(SCREEN, "Get.response.xml"), &[]);
    assert_eq!(value(&r, "ElementName"), "Intel(r) Screen Settings");

    // No capture: the inferred shape (module docs), properties in ASCII order.
    let class = "IPS_ScreenConfigurationService";
    let r = ok(&run(&mut s, &mut d, &ips_request(class, action::GET, "")));
    let names: Vec<String> = structure(&r, &[])
        .iter()
        .filter_map(|p| {
            p.rsplit_once(&format!("{class}}}{class}/"))
                .map(|(_, n)| n.to_string())
        })
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(
        names.iter().any(|n| n.ends_with("}EnabledState")),
        "{names:?}"
    );
    let uri = format!("{IPS}{class}");
    let set = |state: u32| {
        ips_request(
            class,
            &format!("{uri}/SetSessionState"),
            &format!(
                r#"<h:SetSessionState_INPUT xmlns:h="{uri}"><h:SessionState>{state}</h:SessionState><h:ConsecutiveRebootsNum>3</h:ConsecutiveRebootsNum></h:SetSessionState_INPUT>"#
            ),
        )
    };
    assert_eq!(
        value(&ok(&run(&mut s, &mut d, &set(1))), "ReturnValue"),
        "0"
    );
    assert_eq!(d.screen_blanking(), Some(3));
    let r = ok(&run(&mut s, &mut d, &ips_request(class, action::GET, "")));
    assert_eq!(value(&r, "CurrentState"), "1");
    assert_eq!(
        value(&ok(&run(&mut s, &mut d, &set(5))), "ReturnValue"),
        "36"
    );
}
