//! The CIRA configuration classes against real firmware replies (element
//! structure), driven in the order RPS sends them (docs/cira.md), plus the
//! values that come from the device.

mod support;

use amt_device::remote_access::{MpsAuth, MpsType, PolicyTrigger};
use amt_device::Device;
use amt_wsman::namespaces::action;
use amt_wsman::{WsmanReply, WsmanService};
use support::structure::assert_same_structure;
use support::*;

const RAS: &str = "AMT_RemoteAccessService";
const SAP: &str = "AMT_ManagementPresenceRemoteSAP";
const RULE: &str = "AMT_RemoteAccessPolicyRule";
const APPLIES: &str = "AMT_RemoteAccessPolicyAppliesToMPS";
const UP: &str = "AMT_MPSUsernamePassword";
const UIC: &str = "AMT_UserInitiatedConnectionService";
const EDSD: &str = "AMT_EnvironmentDetectionSettingData";

const RAS_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_RemoteAccessService";
const SAP_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_ManagementPresenceRemoteSAP";

fn run(service: &mut WsmanService, device: &mut Device, body: &str) -> WsmanReply {
    service.handle(device, body.as_bytes(), &admin())
}

fn ok(service: &mut WsmanService, device: &mut Device, body: &str) -> WsmanReply {
    let r = run(service, device, body);
    assert_eq!(r.status, 200, "{}", text(&r));
    r
}

fn enumerate_and_pull(
    service: &mut WsmanService,
    device: &mut Device,
    class: &str,
) -> (WsmanReply, WsmanReply) {
    let e = ok(service, device, &request(class, "Enumerate.request.xml"));
    let ctx = enumeration_context(&e).expect("EnumerateResponse has a context");
    let p = ok(service, device, &pull_request(class, &ctx));
    (e, p)
}

fn return_value(reply: &WsmanReply, class_uri: &str) -> String {
    find(&tree(reply), class_uri, "ReturnValue")
        .expect("ReturnValue")
        .trimmed_text()
        .to_string()
}

/// `AddRemoteAccessPolicyRule` as RPS sends it: periodic every 25 s
/// (`AAAAAAAAABk=`), naming MPS 0 by its full key set.
fn add_periodic_rule() -> String {
    request(RAS, "AddRemoteAccessPolicyRule.request.xml")
        .replace(
            "<h:ExtendedData>0300</h:ExtendedData>",
            "<h:ExtendedData>AAAAAAAAABk=</h:ExtendedData>",
        )
        .replace(
            r#"<Selector Name="myselector">true</Selector>"#,
            r#"<Selector Name="CreationClassName">AMT_ManagementPresenceRemoteSAP</Selector><Selector Name="Name">Intel(r) AMT:Management Presence Server 0</Selector><Selector Name="SystemCreationClassName">CIM_ComputerSystem</Selector><Selector Name="SystemName">Intel(r) AMT</Selector>"#,
        )
}

fn user_initiated_request(state: u32) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><Envelope xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns="http://www.w3.org/2003/05/soap-envelope"><Header><a:Action>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_UserInitiatedConnectionService/RequestStateChange</a:Action><a:To>/wsman</a:To><w:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_UserInitiatedConnectionService</w:ResourceURI><a:MessageID>14</a:MessageID><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><w:OperationTimeout>PT60S</w:OperationTimeout></Header><Body><h:RequestStateChange_INPUT xmlns:h="http://intel.com/wbem/wscim/1/amt-schema/1/AMT_UserInitiatedConnectionService"><h:RequestedState>{state}</h:RequestedState></h:RequestStateChange_INPUT></Body></Envelope>"#
    )
}

fn name_selector(name: &str, value: &str) -> String {
    format!(r#"<w:SelectorSet><w:Selector Name="{name}">{value}</w:Selector></w:SelectorSet>"#)
}

#[test]
fn the_rps_cira_sequence_is_answered_as_the_firmware_answers() {
    let mut d = legacy_device();
    d.provision_client_for_testing("P@ssw0rd");
    let mut s = WsmanService::new();

    // Nothing configured yet: the service exists, nothing else does.
    let r = ok(&mut s, &mut d, &request(RAS, "Get.request.xml"));
    assert_same_structure(&text(&r), &firmware(RAS, "Get.response.xml"), &[]);
    assert!(text(&r).contains("<g:IsRemoteTunnelConnected>false</g:IsRemoteTunnelConnected>"));
    let (e, p) = enumerate_and_pull(&mut s, &mut d, RAS);
    assert_same_structure(&text(&e), &firmware(RAS, "Enumerate.response.xml"), &[]);
    assert_same_structure(&text(&p), &firmware(RAS, "Pull.response.xml"), &[]);

    // 2. AddMpServer.
    let r = ok(&mut s, &mut d, &request(RAS, "AddMpServer.request.xml"));
    assert_same_structure(
        &text(&r),
        &firmware(
            RAS,
            "AddMpServer--capture-rps-ciraConfigurator.response.xml",
        ),
        &[],
    );
    assert_eq!(return_value(&r, RAS_URI), "0");
    let mps = &d.remote_access().mp_servers[0];
    assert_eq!(mps.access_info, "192.168.0.38");
    assert_eq!(mps.port, 4433);
    assert_eq!(mps.expected_cn(), "192.168.0.38");
    assert_eq!(
        mps.auth,
        MpsAuth::UsernamePassword {
            username: "admin".into(),
            password: "eD9J*56Bn7ieEsVR".into()
        }
    );
    // The same MPS again is a duplicate.
    let r = ok(&mut s, &mut d, &request(RAS, "AddMpServer.request.xml"));
    assert_eq!(return_value(&r, RAS_URI), "2058");
    assert!(!text(&r).contains("<g:MpServer>"));

    // 3. The MPS as a SAP.
    let (e, p) = enumerate_and_pull(&mut s, &mut d, SAP);
    assert_same_structure(&text(&e), &firmware(SAP, "Enumerate.response.xml"), &[]);
    assert_same_structure(&text(&p), &firmware(SAP, "Pull.response.xml"), &[]);
    // Get with the full key set, and with none (the only MPS).
    let get = with_header(
        &request(SAP, "Get.request.xml"),
        r#"<w:SelectorSet><w:Selector Name="CreationClassName">AMT_ManagementPresenceRemoteSAP</w:Selector><w:Selector Name="Name">Intel(r) AMT:Management Presence Server 0</w:Selector><w:Selector Name="SystemCreationClassName">CIM_ComputerSystem</w:Selector><w:Selector Name="SystemName">Intel(r) AMT</w:Selector></w:SelectorSet>"#,
    );
    let r = ok(&mut s, &mut d, &get);
    assert_same_structure(&text(&r), &firmware(SAP, "Get.response.xml"), &[]);
    let r = ok(&mut s, &mut d, &request(SAP, "Get.request.xml"));
    assert_same_structure(&text(&r), &firmware(SAP, "Get.response.xml"), &[]);
    // A Name alone is not a key set.
    let partial = with_header(
        &request(SAP, "Get.request.xml"),
        &name_selector("Name", "Intel(r) AMT:Management Presence Server 0"),
    );
    assert_eq!(run(&mut s, &mut d, &partial).status, 400);

    // The credential, without its password.
    let r = ok(&mut s, &mut d, &request(UP, "Get.request.xml"));
    assert_same_structure(&text(&r), &firmware(UP, "Get.response.xml"), &[]);
    assert!(text(&r).contains("<g:RemoteID>admin</g:RemoteID>"));
    assert!(!text(&r).contains("eD9J"));
    let (e, p) = enumerate_and_pull(&mut s, &mut d, UP);
    assert_same_structure(&text(&e), &firmware(UP, "Enumerate.response.xml"), &[]);
    assert_same_structure(&text(&p), &firmware(UP, "Pull.response.xml"), &[]);

    // 4. AddRemoteAccessPolicyRule (periodic, 25 s).
    let r = ok(&mut s, &mut d, &add_periodic_rule());
    assert_same_structure(
        &text(&r),
        &firmware(
            RAS,
            "AddRemoteAccessPolicyRule--addremoteaccessservice.response.xml",
        ),
        &[],
    );
    assert_eq!(return_value(&r, RAS_URI), "0");
    assert!(text(&r).contains(">Periodic<"));
    let (e, p) = enumerate_and_pull(&mut s, &mut d, RULE);
    assert_same_structure(&text(&e), &firmware(RULE, "Enumerate.response.xml"), &[]);
    assert_same_structure(&text(&p), &firmware(RULE, "Pull.response.xml"), &[]);
    assert!(text(&p).contains("<h:ExtendedData>AAAAAAAAABk=</h:ExtendedData>"));

    // 5. AppliesToMPS, then the Put that makes the MPS usable everywhere.
    let (e, p) = enumerate_and_pull(&mut s, &mut d, APPLIES);
    assert_same_structure(
        &text(&e),
        &firmware(
            APPLIES,
            "Enumerate--capture-rps-ciraConfigurator.response.xml",
        ),
        &[],
    );
    assert_same_structure(&text(&p), &firmware(APPLIES, "Pull.response.xml"), &[]);
    let r = ok(&mut s, &mut d, &request(APPLIES, "Put.request.xml"));
    assert_eq!(action(&r), format!("{}Response", action::PUT));
    assert_eq!(
        d.remote_access().policies[0].servers[0].mps_type,
        MpsType::Both
    );

    // 6. User-initiated connections from BIOS and OS.
    let r = ok(&mut s, &mut d, &user_initiated_request(32771));
    assert_same_structure(
        &text(&r),
        &firmware(
            UIC,
            "RequestStateChange--capture-rps-ciraConfigurator.response.xml",
        ),
        &[],
    );
    let r = ok(&mut s, &mut d, &user_initiated_request(7));
    assert!(text(&r).contains("<g:ReturnValue>5</g:ReturnValue>"));
    let r = ok(&mut s, &mut d, &request(UIC, "Get.request.xml"));
    assert_same_structure(&text(&r), &firmware(UIC, "Get.response.xml"), &[]);
    let (e, p) = enumerate_and_pull(&mut s, &mut d, UIC);
    assert_same_structure(&text(&e), &firmware(UIC, "Enumerate.response.xml"), &[]);
    // The canned Pull has an empty `LastConnectionReason` its Get lacks;
    // we follow the Get.
    assert_same_structure(
        &text(&p),
        &firmware(UIC, "Pull.response.xml"),
        &["LastConnectionReason"],
    );

    // 7. Environment detection: Get, then RPS's random suffix.
    let r = ok(&mut s, &mut d, &request(EDSD, "Get.request.xml"));
    assert_same_structure(
        &text(&r),
        &firmware(EDSD, "Get--capture-rps-ciraConfigurator.response.xml"),
        &[],
    );
    let put = request(EDSD, "Get.request.xml")
        .replace(
            "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get<",
            "http://schemas.xmlsoap.org/ws/2004/09/transfer/Put<",
        )
        .replace(
            "<Body></Body>",
            r#"<Body><h:AMT_EnvironmentDetectionSettingData xmlns:h="http://intel.com/wbem/wscim/1/amt-schema/1/AMT_EnvironmentDetectionSettingData"><h:DetectionAlgorithm>0</h:DetectionAlgorithm><h:DetectionStrings>2b14eacc-7f20-4a11-99bc-fdc6a162160b.com</h:DetectionStrings><h:ElementName>Intel(r) AMT Environment Detection Settings</h:ElementName><h:InstanceID>Intel(r) AMT Environment Detection Settings</h:InstanceID></h:AMT_EnvironmentDetectionSettingData></Body>"#,
        );
    let r = ok(&mut s, &mut d, &put);
    assert_same_structure(&text(&r), &firmware(EDSD, "Put.response.xml"), &[]);
    let (e, p) = enumerate_and_pull(&mut s, &mut d, EDSD);
    assert_same_structure(&text(&e), &firmware(EDSD, "Enumerate.response.xml"), &[]);
    assert_same_structure(&text(&p), &firmware(EDSD, "Pull.response.xml"), &[]);

    // The device now knows where to dial: outside the intranet, every
    // 25 s, to 192.168.0.38:4433.
    assert!(!d.inside_intranet());
    let targets = d.cira_targets(PolicyTrigger::Periodic);
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0].access_info, "192.168.0.38");
}

#[test]
fn deletes_go_policy_first_then_mps() {
    let mut d = legacy_device();
    d.provision_client_for_testing("P@ssw0rd");
    let mut s = WsmanService::new();
    ok(&mut s, &mut d, &request(RAS, "AddMpServer.request.xml"));
    ok(&mut s, &mut d, &add_periodic_rule());

    // The MPS is still in use: the firmware refuses.
    let r = run(&mut s, &mut d, &request(SAP, "Delete.request.xml"));
    assert_eq!(r.status, 500, "{}", text(&r));
    assert_eq!(d.remote_access().mp_servers.len(), 1);

    // RPS deletes rules by PolicyRuleName alone.
    let del_rule = request(RULE, "Delete.request.xml").replace("User Initiated", "Periodic");
    let r = ok(&mut s, &mut d, &del_rule);
    assert_same_structure(
        &text(&r),
        &firmware(RULE, "Delete--capture-rps-ciraConfigurator.response.xml"),
        &[],
    );
    assert!(d.remote_access().policies.is_empty());
    // Deleting it again names nothing.
    let r = run(&mut s, &mut d, &del_rule);
    assert_eq!(r.status, 400);

    let r = ok(&mut s, &mut d, &request(SAP, "Delete.request.xml"));
    assert_same_structure(
        &text(&r),
        &firmware(SAP, "Delete--capture-rps-ciraConfigurator.response.xml"),
        &[],
    );
    assert!(d.remote_access().mp_servers.is_empty());
}

#[test]
fn bad_mps_arguments_answer_invalid_parameter() {
    let mut d = legacy_device();
    d.provision_client_for_testing("P@ssw0rd");
    let mut s = WsmanService::new();
    for (from, to) in [
        (
            "<h:InfoFormat>3</h:InfoFormat>",
            "<h:InfoFormat>9</h:InfoFormat>",
        ),
        ("<h:Port>4433</h:Port>", "<h:Port>x</h:Port>"),
        (
            "<h:AuthMethod>2</h:AuthMethod>",
            "<h:AuthMethod>7</h:AuthMethod>",
        ),
        (
            "<h:Username>admin</h:Username>",
            "<h:Username>a-b</h:Username>",
        ),
        ("<h:Username>admin</h:Username>", ""),
    ] {
        let req = request(RAS, "AddMpServer.request.xml").replace(from, to);
        let r = ok(&mut s, &mut d, &req);
        assert_eq!(return_value(&r, RAS_URI), "36", "{to}");
    }
    assert!(d.remote_access().mp_servers.is_empty());
    // A rule naming no MPS is refused too.
    let r = ok(&mut s, &mut d, &add_periodic_rule());
    assert_eq!(return_value(&r, RAS_URI), "36");
    // The SAP namespace is where the MPS EPR points.
    assert!(SAP_URI.ends_with(SAP));
}

#[test]
fn the_mps_password_is_changed_by_put_and_never_read_back() {
    let mut d = legacy_device();
    d.provision_client_for_testing("P@ssw0rd");
    let mut s = WsmanService::new();
    ok(&mut s, &mut d, &request(RAS, "AddMpServer.request.xml"));
    let put = request(UP, "Put.request.xml").replace(
        "<h:InstanceID>test</h:InstanceID>",
        "<h:InstanceID>Intel(r) AMT:MPS Username Password 0</h:InstanceID>",
    );
    let r = ok(&mut s, &mut d, &put);
    assert!(!text(&r).contains("Secret"));
    assert_eq!(
        d.remote_access().mp_servers[0].auth,
        MpsAuth::UsernamePassword {
            username: "test".into(),
            password: "test".into()
        }
    );
}
