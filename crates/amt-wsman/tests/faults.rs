//! Every fault the engine answers with: the request that triggers it, the
//! code and subcode, the reply Action and the HTTP status.

mod support;

use amt_wsman::namespaces::action::{ADDRESSING_FAULT, ENUMERATION_FAULT, WSMAN_FAULT};
use amt_wsman::{WsmanReply, WsmanService};
use support::structure::assert_same_structure;
use support::*;

const GS: &str = "AMT_GeneralSettings";

/// Runs `body` as admin on a cheap device.
fn run(body: &[u8]) -> WsmanReply {
    let mut device = legacy_device();
    WsmanService::new().handle(&mut device, body, &admin())
}

fn assert_fault(reply: &WsmanReply, status: u16, code: &str, subcode: Option<&str>, action: &str) {
    assert_eq!(reply.status, status, "{}", text(reply));
    assert!(!reply.device_changed);
    let (c, s) = fault_codes(reply);
    assert_eq!(c, code, "{}", text(reply));
    assert_eq!(s.as_deref(), subcode, "{}", text(reply));
    assert_eq!(support::action(reply), action);
    // Faults carry no ResourceURI and always an (often empty) Detail.
    assert!(!text(reply).contains("ResourceURI"));
    assert!(text(reply).contains("<a:Detail>"));
}

fn get_gs() -> String {
    request(GS, "Get.request.xml")
}

#[test]
fn unknown_resource_uri_is_destination_unreachable_like_the_firmware() {
    let body = get_gs().replace("AMT_GeneralSettings", "AMT_NoSuchClass");
    let r = run(body.as_bytes());
    assert_fault(
        &r,
        400,
        "a:Sender",
        Some("b:DestinationUnreachable"),
        ADDRESSING_FAULT,
    );
    assert!(text(&r).contains(
        "No route can be determined to reach the destination role defined by the WSAddressing To."
    ));
    assert!(text(&r).contains("<b:RelatesTo>0</b:RelatesTo>"));
    assert_same_structure(
        &text(&r),
        &firmware(
            "_faults",
            "DestinationUnreachable--capture-rps-ciraConfigurator.response.xml",
        ),
        &[],
    );
}

#[test]
fn put_and_unknown_methods_are_action_not_supported() {
    // AMT_SetupAndConfigurationService has no Put (AMT_GeneralSettings does).
    let put = request(GS, "Put.request.xml").replace(
        "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings",
        "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_SetupAndConfigurationService",
    );
    let r = run(put.as_bytes());
    assert_fault(
        &r,
        400,
        "a:Sender",
        Some("b:ActionNotSupported"),
        ADDRESSING_FAULT,
    );
    let method = get_gs().replace(
        "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get",
        "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings/Frobnicate",
    );
    let r = run(method.as_bytes());
    assert_fault(
        &r,
        400,
        "a:Sender",
        Some("b:ActionNotSupported"),
        ADDRESSING_FAULT,
    );
    let foreign = get_gs().replace(
        "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get",
        "http://example.com/Get",
    );
    let r = run(foreign.as_bytes());
    assert_fault(
        &r,
        400,
        "a:Sender",
        Some("b:ActionNotSupported"),
        ADDRESSING_FAULT,
    );
}

#[test]
fn missing_headers_are_message_information_header_required() {
    for (cut, what) in [
        (
            "<a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</a:Action>",
            "Action",
        ),
        ("<a:MessageID>0</a:MessageID>", "MessageID"),
        (
            "<w:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings</w:ResourceURI>",
            "ResourceURI",
        ),
    ] {
        let body = get_gs().replace(cut, "");
        assert_ne!(body, get_gs(), "{what}");
        let r = run(body.as_bytes());
        assert_fault(
            &r,
            400,
            "a:Sender",
            Some("b:MessageInformationHeaderRequired"),
            ADDRESSING_FAULT,
        );
    }
}

#[test]
fn unparsable_operation_timeout_is_an_invalid_header() {
    let body = get_gs().replace("PT60S", "soon");
    let r = run(body.as_bytes());
    assert_fault(
        &r,
        400,
        "a:Sender",
        Some("b:InvalidMessageInformationHeader"),
        ADDRESSING_FAULT,
    );
}

#[test]
fn unsupported_mandatory_headers_are_must_understand() {
    let unknown = with_header(
        &get_gs(),
        r#"<x:Frob xmlns:x="urn:x" mustUnderstand="true"/><x:Frob2 xmlns:x="urn:x" xmlns:s="http://www.w3.org/2003/05/soap-envelope" s:mustUnderstand="true"/>"#,
    );
    let r = run(unknown.as_bytes());
    assert_fault(&r, 500, "a:MustUnderstand", None, ADDRESSING_FAULT);

    let options = with_header(
        &get_gs(),
        r#"<w:OptionSet xmlns:s="http://www.w3.org/2003/05/soap-envelope" s:mustUnderstand="true"><w:Option Name="ShowExtensions"/></w:OptionSet>"#,
    );
    let r = run(options.as_bytes());
    assert_fault(&r, 500, "a:MustUnderstand", None, ADDRESSING_FAULT);

    // The same OptionSet without mustUnderstand is ignored.
    let optional = options.replace(r#" s:mustUnderstand="true""#, "");
    assert_eq!(run(optional.as_bytes()).status, 200);
}

#[test]
fn small_max_envelope_size_is_an_encoding_limit() {
    let small = with_header(
        &get_gs(),
        r#"<w:MaxEnvelopeSize xmlns:s="http://www.w3.org/2003/05/soap-envelope" s:mustUnderstand="true">4096</w:MaxEnvelopeSize>"#,
    );
    let r = run(small.as_bytes());
    assert_fault(&r, 400, "a:Sender", Some("e:EncodingLimit"), WSMAN_FAULT);
    assert!(text(&r).contains("faultDetail/MaxEnvelopeSize"));
    let fine = small.replace(">4096<", ">153600<");
    assert_eq!(run(fine.as_bytes()).status, 200);
}

#[test]
fn bad_xml_is_a_schema_validation_error() {
    let dtd = format!(
        "<!DOCTYPE Envelope [<!ENTITY x \"{}\">]>{}",
        "y".repeat(10),
        &get_gs()[38..]
    );
    let inputs: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"hello".to_vec(),
        b"<Envelope".to_vec(),
        b"\xc3\x28".to_vec(),
        dtd.into_bytes(),
        get_gs().replace(">0<", ">&x;<").into_bytes(),
        // Enumerate action with no Enumerate body.
        get_gs()
            .replace(
                "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get",
                "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate",
            )
            .into_bytes(),
    ];
    for input in inputs {
        let r = run(&input);
        assert_fault(
            &r,
            400,
            "a:Sender",
            Some("e:SchemaValidationError"),
            WSMAN_FAULT,
        );
    }
}

#[test]
fn hostile_nesting_is_an_encoding_limit() {
    let deep = get_gs().replace(
        "<Body></Body>",
        &format!(
            "<Body>{}{}</Body>",
            "<x>".repeat(10_000),
            "</x>".repeat(10_000)
        ),
    );
    let r = run(deep.as_bytes());
    assert_fault(&r, 400, "a:Sender", Some("e:EncodingLimit"), WSMAN_FAULT);
}

#[test]
fn missing_or_wrong_selectors_are_invalid_selectors() {
    const PKC: &str = "AMT_PublicKeyCertificate";
    let mut s = WsmanService::new();
    let r = run_shared(&mut s, &request(PKC, "Get.request.xml"));
    assert_fault(&r, 400, "a:Sender", Some("e:InvalidSelectors"), WSMAN_FAULT);
    let r = run_shared(
        &mut s,
        &with_header(
            &request(PKC, "Get.request.xml"),
            &instance_id_selector("Intel(r) AMT Certificate: Handle: 999"),
        ),
    );
    assert_fault(&r, 400, "a:Sender", Some("e:InvalidSelectors"), WSMAN_FAULT);
    assert!(text(&r).contains("<b:RelatesTo>0</b:RelatesTo>"));
}

#[test]
fn local_system_account_is_denied_after_provisioning() {
    let mut device = legacy_device();
    device.provision_client_for_testing("P@ssw0rd");
    let mut s = WsmanService::new();
    let ctx = local_system();
    let tls = request("AMT_TLSSettingData", "Enumerate.request.xml");
    let r = s.handle(&mut device, tls.as_bytes(), &ctx);
    assert_fault(&r, 400, "a:Sender", Some("e:AccessDenied"), WSMAN_FAULT);
    let gs_enum = request(GS, "Enumerate.request.xml");
    let r = s.handle(&mut device, gs_enum.as_bytes(), &ctx);
    assert_fault(&r, 400, "a:Sender", Some("e:AccessDenied"), WSMAN_FAULT);

    // What the host agent still needs keeps working.
    for (class, file) in [
        (GS, "Get.request.xml"),
        ("IPS_HostBasedSetupService", "Get.request.xml"),
        ("CIM_SoftwareIdentity", "Enumerate.request.xml"),
    ] {
        let r = s.handle(&mut device, request(class, file).as_bytes(), &ctx);
        assert_eq!(r.status, 200, "{class} {file}: {}", text(&r));
    }
    // And admin may do it all.
    assert_eq!(s.handle(&mut device, tls.as_bytes(), &admin()).status, 200);

    // Before provisioning the local account reads the TLS settings? No:
    // a host agent has no business there.
    let mut fresh = legacy_device();
    let r = s.handle(&mut fresh, tls.as_bytes(), &ctx);
    assert_fault(&r, 400, "a:Sender", Some("e:AccessDenied"), WSMAN_FAULT);
    let r = s.handle(
        &mut fresh,
        request("AMT_SetupAndConfigurationService", "Get.request.xml").as_bytes(),
        &ctx,
    );
    assert_eq!(r.status, 200);
}

#[test]
fn unknown_enumeration_context_is_a_receiver_fault() {
    let r = run(pull_request(GS, "DEADBEEF-0000-0000-0000-000000000000").as_bytes());
    assert_fault(
        &r,
        500,
        "a:Receiver",
        Some("c:InvalidEnumerationContext"),
        ENUMERATION_FAULT,
    );
    let r = run(pull_request(GS, "not-a-context").as_bytes());
    assert_fault(
        &r,
        500,
        "a:Receiver",
        Some("c:InvalidEnumerationContext"),
        ENUMERATION_FAULT,
    );
}

#[test]
fn filters_are_an_unsupported_feature() {
    let body = request(GS, "Enumerate.request.xml").replace(
        r#"<Enumerate xmlns="http://schemas.xmlsoap.org/ws/2004/09/enumeration" />"#,
        r#"<Enumerate xmlns="http://schemas.xmlsoap.org/ws/2004/09/enumeration"><w:Filter Dialect="http://schemas.dmtf.org/wbem/cql/1/dsp0202.pdf">select * from AMT_GeneralSettings</w:Filter></Enumerate>"#,
    );
    let r = run(body.as_bytes());
    assert_fault(
        &r,
        400,
        "a:Sender",
        Some("e:UnsupportedFeature"),
        WSMAN_FAULT,
    );
}

#[test]
fn message_ids_count_up_across_replies_and_faults() {
    let mut device = legacy_device();
    let mut s = WsmanService::new();
    let a = s.handle(&mut device, get_gs().as_bytes(), &admin());
    let b = s.handle(&mut device, b"junk", &admin());
    let c = s.handle(&mut device, get_gs().as_bytes(), &admin());
    assert!(text(&a).contains("uuid:00000000-8086-8086-8086-000000000001"));
    assert!(text(&b).contains("uuid:00000000-8086-8086-8086-000000000002"));
    assert!(text(&c).contains("uuid:00000000-8086-8086-8086-000000000003"));
}
