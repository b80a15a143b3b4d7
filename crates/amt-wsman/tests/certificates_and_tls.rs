//! Certificate management and TLS configuration over WS-Man (issue 4):
//! `AMT_PublicKeyManagementService` methods, certificate and key Deletes,
//! `AMT_TLSCredentialContext`, `AMT_TLSProtocolEndpointCollection`,
//! `AMT_TLSSettingData` Put, the `AMT_SetupAndConfigurationService`
//! methods and `AMT_TimeSynchronizationService`. Every reply is compared
//! with a real firmware reply where one exists; every refusal is checked
//! for its ReturnValue or fault and for leaving the device unchanged.

mod support;

use amt_device::{ControlMode, Device, DeviceConfig, Entropy, TlsSettings};
use amt_testkit::{null_signed_csr, DevicePublicKey, TestCa};
use amt_wsman::namespaces::SOAP;
use amt_wsman::{CallContext, Principal, WsmanReply, WsmanService};
use base64::Engine;
use support::structure::assert_same_structure;
use support::*;

const PKMS: &str = "AMT_PublicKeyManagementService";
const PKC: &str = "AMT_PublicKeyCertificate";
const PPKP: &str = "AMT_PublicPrivateKeyPair";
const TLSCC: &str = "AMT_TLSCredentialContext";
const COLLECTION: &str = "AMT_TLSProtocolEndpointCollection";
const TLS: &str = "AMT_TLSSettingData";
const SACS: &str = "AMT_SetupAndConfigurationService";
const TIME: &str = "AMT_TimeSynchronizationService";

const AMT: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A fresh CSME 16.1 device (self-signed certificate, credential context).
fn device(seed: u64) -> Device {
    Device::new(DeviceConfig::default(), Entropy::from_seed(seed), NOW).unwrap()
}

/// A request as wsman-messages writes it.
fn envelope(action: &str, class: &str, header_extra: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns="http://www.w3.org/2003/05/soap-envelope"><Header><a:Action>{action}</a:Action><a:To>/wsman</a:To><w:ResourceURI>{AMT}{class}</w:ResourceURI><a:MessageID>7</a:MessageID><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><w:OperationTimeout>PT60S</w:OperationTimeout>{header_extra}</Header><Body>{body}</Body></Envelope>"#
    )
}

/// An extrinsic method call with `params` inside `{method}_INPUT`.
fn method(class: &str, method: &str, params: &str) -> String {
    envelope(
        &format!("{AMT}{class}/{method}"),
        class,
        "",
        &format!(r#"<h:{method}_INPUT xmlns:h="{AMT}{class}">{params}</h:{method}_INPUT>"#),
    )
}

fn run(s: &mut WsmanService, d: &mut Device, body: &str) -> WsmanReply {
    s.handle(d, body.as_bytes(), &admin())
}

/// The text of the first element `local` in the reply (any namespace).
fn value(reply: &WsmanReply, local: &str) -> Option<String> {
    fn walk(e: &amt_wsman::xml::Element, local: &str) -> Option<String> {
        if e.local_name == local {
            return Some(e.trimmed_text().to_string());
        }
        e.children.iter().find_map(|c| walk(c, local))
    }
    walk(&tree(reply), local)
}

fn return_value(reply: &WsmanReply) -> u32 {
    assert_eq!(reply.status, 200, "{}", text(reply));
    value(reply, "ReturnValue")
        .expect("a ReturnValue")
        .parse()
        .unwrap()
}

/// The handle in the `InstanceID` selector of an output EPR.
fn selector_handle(reply: &WsmanReply) -> u32 {
    let t = text(reply);
    let start = t.find("Handle: ").expect("an InstanceID selector") + 8;
    let end = t[start..].find('<').unwrap() + start;
    t[start..end].parse().unwrap()
}

fn assert_internal_error(reply: &WsmanReply, status: u32) {
    assert_eq!(reply.status, 500, "{}", text(reply));
    assert_eq!(
        fault_codes(reply),
        ("a:Receiver".into(), Some("e:InternalError".into()))
    );
    let t = tree(reply);
    let detail = find(&t, SOAP, "Detail").unwrap().trimmed_text().to_string();
    assert_eq!(detail, format!("AMT-STATUS {status}"));
}

fn assert_sender_fault(reply: &WsmanReply, subcode: &str) {
    assert_eq!(reply.status, 400, "{}", text(reply));
    assert_eq!(
        fault_codes(reply),
        ("a:Sender".into(), Some(format!("e:{subcode}")))
    );
}

fn selector_set(name: &str, value: &str) -> String {
    format!(r#"<w:SelectorSet><w:Selector Name="{name}">{value}</w:Selector></w:SelectorSet>"#)
}

fn delete(class: &str, instance_id: &str) -> String {
    envelope(
        amt_wsman::namespaces::action::DELETE,
        class,
        &selector_set("InstanceID", instance_id),
        "",
    )
}

/// Enumerate + Pull on `d`; returns the Pull reply.
fn pull(s: &mut WsmanService, d: &mut Device, class: &str) -> (WsmanReply, WsmanReply) {
    let e = run(
        s,
        d,
        &envelope(
            amt_wsman::namespaces::action::ENUMERATE,
            class,
            "",
            r#"<Enumerate xmlns="http://schemas.xmlsoap.org/ws/2004/09/enumeration" />"#,
        ),
    );
    assert_eq!(e.status, 200, "{}", text(&e));
    let ctx = enumeration_context(&e).unwrap();
    let p = run(
        s,
        d,
        &envelope(
            amt_wsman::namespaces::action::PULL,
            class,
            "",
            &format!(
                r#"<Pull xmlns="http://schemas.xmlsoap.org/ws/2004/09/enumeration"><EnumerationContext>{ctx}</EnumerationContext><MaxElements>999</MaxElements><MaxCharacters>99999</MaxCharacters></Pull>"#
            ),
        ),
    );
    assert_eq!(p.status, 200, "{}", text(&p));
    (e, p)
}

/// A device-held key (GenerateKeyPair on the device) and a CA-signed
/// certificate for it.
fn key_and_certificate(d: &mut Device, ca: &TestCa) -> (u32, Vec<u8>) {
    let key = d.generate_key_pair(0, 2048).unwrap();
    let public = DevicePublicKey::from_pkcs1(
        d.cert_store()
            .key(key)
            .unwrap()
            .key
            .pkcs1_public_der()
            .unwrap(),
    );
    (key, ca.sign_server_cert(&public, "amt.example.test"))
}

fn counts(d: &Device) -> (usize, usize) {
    (
        d.cert_store().certificates().len(),
        d.cert_store().keys().len(),
    )
}

// ---- AMT_PublicKeyManagementService ----

#[test]
fn public_key_management_service_reads_like_the_firmware() {
    let mut s = WsmanService::new();
    let r = run_shared(&mut s, &request(PKMS, "Get.request.xml"));
    assert_eq!(r.status, 200);
    assert_same_structure(&text(&r), &firmware(PKMS, "Get.response.xml"), &[]);
    assert!(
        text(&r).contains("<g:ElementName>Intel(r) AMT Certificate Store Service</g:ElementName>")
    );
    let e = run_shared(&mut s, &request(PKMS, "Enumerate.request.xml"));
    assert_same_structure(&text(&e), &firmware(PKMS, "Enumerate.response.xml"), &[]);
    let ctx = enumeration_context(&e).unwrap();
    let p = run_shared(&mut s, &pull_request(PKMS, &ctx));
    assert_same_structure(&text(&p), &firmware(PKMS, "Pull.response.xml"), &[]);
}

#[test]
fn generate_key_pair_answers_the_key_pair_epr_like_the_capture() {
    let mut d = device(41);
    let mut s = WsmanService::new();
    let before = counts(&d);
    let r = run(
        &mut s,
        &mut d,
        &method(
            PKMS,
            "GenerateKeyPair",
            "<h:KeyAlgorithm>0</h:KeyAlgorithm><h:KeyLength>2048</h:KeyLength>",
        ),
    );
    assert_eq!(return_value(&r), 0);
    assert!(r.device_changed);
    assert_same_structure(
        &text(&r),
        &firmware(PKMS, "GenerateKeyPair--capture-rpcgo-tls.response.xml"),
        &[],
    );
    let handle = selector_handle(&r);
    assert!(d.cert_store().key(handle).is_some());
    assert_eq!(counts(&d), (before.0, before.1 + 1));

    // Refusals are a ReturnValue, without the EPR, and change nothing.
    for params in [
        "<h:KeyAlgorithm>0</h:KeyAlgorithm><h:KeyLength>1024</h:KeyLength>",
        "<h:KeyAlgorithm>1</h:KeyAlgorithm><h:KeyLength>2048</h:KeyLength>",
        "<h:KeyAlgorithm>zero</h:KeyAlgorithm><h:KeyLength>2048</h:KeyLength>",
        "<h:KeyAlgorithm>0</h:KeyAlgorithm>",
    ] {
        let r = run(&mut s, &mut d, &method(PKMS, "GenerateKeyPair", params));
        assert_eq!(return_value(&r), 36, "{params}");
        assert!(value(&r, "KeyPair").is_none());
        assert!(!r.device_changed);
    }
    assert_eq!(counts(&d), (before.0, before.1 + 1));
}

#[test]
fn add_certificate_trusted_root_and_key_answer_like_the_captures() {
    let mut d = device(42);
    let mut s = WsmanService::new();
    let ca = TestCa::new("Console CA");
    let (key, der) = key_and_certificate(&mut d, &ca);

    let r = run(
        &mut s,
        &mut d,
        &method(
            PKMS,
            "AddCertificate",
            &format!("<h:CertificateBlob>{}</h:CertificateBlob>", b64(&der)),
        ),
    );
    assert_eq!(return_value(&r), 0);
    assert_same_structure(
        &text(&r),
        &firmware(
            PKMS,
            "AddCertificate--capture-rpcgo-configure-2.response.xml",
        ),
        &[],
    );
    let cert = d.cert_store().certificate(selector_handle(&r)).unwrap();
    assert_eq!(cert.key_handle, Some(key));
    assert!(!cert.trusted_root);

    let r = run(
        &mut s,
        &mut d,
        &method(
            PKMS,
            "AddTrustedRootCertificate",
            &format!("<h:CertificateBlob>{}</h:CertificateBlob>", b64(&ca.der)),
        ),
    );
    assert_eq!(return_value(&r), 0);
    assert_same_structure(
        &text(&r),
        &firmware(
            PKMS,
            "AddTrustedRootCertificate--capture-rpcgo-configure-2.response.xml",
        ),
        &[],
    );
    assert!(
        d.cert_store()
            .certificate(selector_handle(&r))
            .unwrap()
            .trusted_root
    );
    // The same root again is a duplicate.
    let again = run(
        &mut s,
        &mut d,
        &method(
            PKMS,
            "AddTrustedRootCertificate",
            &format!("<h:CertificateBlob>{}</h:CertificateBlob>", b64(&ca.der)),
        ),
    );
    assert_eq!(return_value(&again), 2058);

    // An imported key: another device's key, as PKCS#8.
    let donor = device(43);
    let pkcs8 = donor.cert_store().keys()[0].key.pkcs8_der().to_vec();
    let r = run(
        &mut s,
        &mut d,
        &method(
            PKMS,
            "AddKey",
            &format!("<h:KeyBlob>{}</h:KeyBlob>", b64(&pkcs8)),
        ),
    );
    assert_eq!(return_value(&r), 0);
    assert_same_structure(
        &text(&r),
        &firmware(PKMS, "AddKey--capture-rpcgo-configure-3.response.xml"),
        &[],
    );
    assert!(text(&r).contains(&format!(
        "<c:ResourceURI>{AMT}AMT_PublicPrivateKeyPair</c:ResourceURI>"
    )));
    assert!(d.cert_store().key(selector_handle(&r)).is_some());
}

#[test]
fn bad_blobs_are_return_values_and_change_nothing() {
    let mut d = device(44);
    let mut s = WsmanService::new();
    let ca = TestCa::new("Console CA");
    // A certificate for a key that only some other device holds.
    let other = device(45);
    let foreign = ca.sign_server_cert(
        &DevicePublicKey::from_pkcs1(other.cert_store().keys()[0].key.pkcs1_public_der().unwrap()),
        "elsewhere",
    );
    let before = counts(&d);
    let cases: Vec<(&str, String, u32)> = vec![
        (
            "AddCertificate",
            format!("<h:CertificateBlob>{}</h:CertificateBlob>", b64(&foreign)),
            2064,
        ),
        (
            "AddCertificate",
            "<h:CertificateBlob>not base64 at all!</h:CertificateBlob>".into(),
            36,
        ),
        (
            "AddCertificate",
            format!("<h:CertificateBlob>{}</h:CertificateBlob>", b64(b"garbage")),
            2063,
        ),
        ("AddCertificate", String::new(), 36),
        (
            "AddTrustedRootCertificate",
            format!(
                "<h:CertificateBlob>{}</h:CertificateBlob>",
                b64(&[0x30, 0x82, 0xff, 0xff, 0x00])
            ),
            2063,
        ),
        (
            "AddTrustedRootCertificate",
            "<h:CertificateBlob>%%%</h:CertificateBlob>".into(),
            36,
        ),
        (
            "AddKey",
            format!("<h:KeyBlob>{}</h:KeyBlob>", b64(b"not a key")),
            2062,
        ),
        ("AddKey", "<h:KeyBlob>@@</h:KeyBlob>".into(), 36),
        ("AddKey", "<h:KeyBlob></h:KeyBlob>".into(), 36),
    ];
    for (m, params, expected) in cases {
        let r = run(&mut s, &mut d, &method(PKMS, m, &params));
        assert_eq!(return_value(&r), expected, "{m} {params}");
        assert!(!r.device_changed);
        assert!(value(&r, "CreatedCertificate").is_none() && value(&r, "CreatedKey").is_none());
    }
    assert_eq!(counts(&d), before);
}

#[test]
fn pkcs10_request_is_signed_by_the_device_key() {
    use x509_parser::prelude::FromDer;
    let mut d = device(46);
    let mut s = WsmanService::new();
    let key = d.generate_key_pair(0, 2048).unwrap();
    let public = DevicePublicKey::from_pkcs1(
        d.cert_store()
            .key(key)
            .unwrap()
            .key
            .pkcs1_public_der()
            .unwrap(),
    );
    let csr = null_signed_csr(&public, "amt.example.test");
    let call = |handle: u32, alg: u32, csr: &str| {
        method(
            PKMS,
            "GeneratePKCS10RequestEx",
            &format!(
                r#"<h:KeyPair><a:Address>/wsman</a:Address><a:ReferenceParameters><w:ResourceURI>{AMT}AMT_PublicPrivateKeyPair</w:ResourceURI><w:SelectorSet><w:Selector Name="InstanceID">Intel(r) AMT Key: Handle: {handle}</w:Selector></w:SelectorSet></a:ReferenceParameters></h:KeyPair><h:SigningAlgorithm>{alg}</h:SigningAlgorithm><h:NullSignedCertificateRequest>{csr}</h:NullSignedCertificateRequest>"#
            ),
        )
    };
    let r = run(&mut s, &mut d, &call(key, 1, &b64(&csr)));
    assert_eq!(return_value(&r), 0);
    assert!(!r.device_changed);
    assert_same_structure(
        &text(&r),
        &firmware(PKMS, "GeneratePKCS10RequestEx.response.xml"),
        &[],
    );
    let signed = base64::engine::general_purpose::STANDARD
        .decode(value(&r, "SignedCertificateRequest").unwrap())
        .unwrap();
    let (_, parsed) =
        x509_parser::certification_request::X509CertificationRequest::from_der(&signed).unwrap();
    parsed.verify_signature().expect("signed by the device key");

    assert_eq!(
        return_value(&run(&mut s, &mut d, &call(99, 1, &b64(&csr)))),
        2068
    );
    assert_eq!(
        return_value(&run(&mut s, &mut d, &call(key, 0, &b64(&csr)))),
        2066
    );
    assert_eq!(
        return_value(&run(&mut s, &mut d, &call(key, 1, "QUJD"))),
        36
    );
    assert_eq!(return_value(&run(&mut s, &mut d, &call(key, 1, "??"))), 36);
    // The self-signed certificate's key is not the CSR's key.
    let other_key = d.cert_store().self_signed().unwrap().key_handle.unwrap();
    assert_eq!(
        return_value(&run(&mut s, &mut d, &call(other_key, 1, &b64(&csr)))),
        2064
    );
    // KeyPair that is not an EPR.
    let r = run(
        &mut s,
        &mut d,
        &method(
            PKMS,
            "GeneratePKCS10RequestEx",
            "<h:KeyPair>test</h:KeyPair><h:SigningAlgorithm>1</h:SigningAlgorithm>",
        ),
    );
    assert_eq!(return_value(&r), 36);
}

#[test]
fn a_body_that_is_not_the_method_input_is_a_schema_fault() {
    let mut d = device(47);
    let mut s = WsmanService::new();
    let body = method(PKMS, "AddKey", "").replace("AddKey_INPUT", "AddCertificate_INPUT");
    let r = run(&mut s, &mut d, &body);
    assert_sender_fault(&r, "SchemaValidationError");
}

// ---- Deletes ----

#[test]
fn read_only_and_in_use_certificates_are_refused_and_kept() {
    let mut d = device(48);
    let mut s = WsmanService::new();
    let ss = d.cert_store().self_signed().unwrap().handle;
    let id = format!("Intel(r) AMT Certificate: Handle: {ss}");
    let r = run(&mut s, &mut d, &delete(PKC, &id));
    assert_internal_error(&r, 16);
    assert!(d.cert_store().certificate(ss).is_some());

    // A certificate the credential context names.
    let ca = TestCa::new("Console CA");
    let (_, der) = key_and_certificate(&mut d, &ca);
    let cert = d.add_certificate(&der).unwrap();
    d.put_tls_credential_context(cert).unwrap();
    let cert_id = format!("Intel(r) AMT Certificate: Handle: {cert}");
    assert_internal_error(&run(&mut s, &mut d, &delete(PKC, &cert_id)), 16);
    assert!(d.cert_store().certificate(cert).is_some());

    // Its key, while the certificate carries it.
    let key = d
        .cert_store()
        .certificate(cert)
        .unwrap()
        .key_handle
        .unwrap();
    let key_id = format!("Intel(r) AMT Key: Handle: {key}");
    assert_internal_error(&run(&mut s, &mut d, &delete(PPKP, &key_id)), 16);
    assert!(d.cert_store().key(key).is_some());

    // Unknown handles and malformed ids name nothing.
    for bad in [
        "Intel(r) AMT Certificate: Handle: 77",
        "Intel(r) AMT Certificate",
        "testCertificate",
    ] {
        assert_sender_fault(&run(&mut s, &mut d, &delete(PKC, bad)), "InvalidSelectors");
    }
    assert_sender_fault(
        &run(
            &mut s,
            &mut d,
            &delete(PPKP, "Intel(r) AMT Key: Handle: 77"),
        ),
        "InvalidSelectors",
    );
}

#[test]
fn unused_certificates_and_keys_are_deleted() {
    let mut d = device(49);
    let mut s = WsmanService::new();
    let ca = TestCa::new("Console CA");
    let root = d.add_trusted_root_certificate(&ca.der).unwrap();
    let (key, der) = key_and_certificate(&mut d, &ca);
    let cert = d.add_certificate(&der).unwrap();

    let r = run(
        &mut s,
        &mut d,
        &delete(PKC, &format!("Intel(r) AMT Certificate: Handle: {root}")),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    assert!(r.device_changed);
    assert_same_structure(&text(&r), &firmware(PKC, "Delete.response.xml"), &[]);
    assert!(d.cert_store().certificate(root).is_none());

    // The certificate first, then its key (the order consoles use).
    let r = run(
        &mut s,
        &mut d,
        &delete(PKC, &format!("Intel(r) AMT Certificate: Handle: {cert}")),
    );
    assert_eq!(r.status, 200);
    let r = run(
        &mut s,
        &mut d,
        &delete(PPKP, &format!("Intel(r) AMT Key: Handle: {key}")),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_same_structure(&text(&r), &firmware(PPKP, "Delete.response.xml"), &[]);
    assert!(d.cert_store().key(key).is_none());
}

// ---- AMT_TLSCredentialContext and its collection ----

fn context_body(cert_id: &str, collection_name: &str) -> String {
    format!(
        r#"<h:AMT_TLSCredentialContext xmlns:h="{AMT}AMT_TLSCredentialContext"><h:ElementInContext><a:Address>/wsman</a:Address><a:ReferenceParameters><w:ResourceURI>{AMT}AMT_PublicKeyCertificate</w:ResourceURI><w:SelectorSet><w:Selector Name="InstanceID">{cert_id}</w:Selector></w:SelectorSet></a:ReferenceParameters></h:ElementInContext><h:ElementProvidingContext><a:Address>/wsman</a:Address><a:ReferenceParameters><w:ResourceURI>{AMT}AMT_TLSProtocolEndpointCollection</w:ResourceURI><w:SelectorSet><w:Selector Name="ElementName">{collection_name}</w:Selector></w:SelectorSet></a:ReferenceParameters></h:ElementProvidingContext></h:AMT_TLSCredentialContext>"#
    )
}

const CONSOLE_SPELLING: &str = "TLSProtocolEndpointInstances Collection";

/// The EPR selectors RPS builds from a pulled context.
fn context_selectors(cert_id: &str) -> String {
    format!(
        r#"<w:SelectorSet><w:Selector Name="ElementInContext"><a:EndpointReference><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address><a:ReferenceParameters><w:ResourceURI>{AMT}AMT_PublicKeyCertificate</w:ResourceURI><w:SelectorSet><w:Selector Name="InstanceID">{cert_id}</w:Selector></w:SelectorSet></a:ReferenceParameters></a:EndpointReference></w:Selector><w:Selector Name="ElementProvidingContext"><a:EndpointReference><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address><a:ReferenceParameters><w:ResourceURI>{AMT}AMT_TLSProtocolEndpointCollection</w:ResourceURI><w:SelectorSet><w:Selector Name="ElementName">TLSProtocolEndpoint Instances Collection</w:Selector></w:SelectorSet></a:ReferenceParameters></a:EndpointReference></w:Selector></w:SelectorSet>"#
    )
}

#[test]
fn the_factory_context_pulls_like_the_capture_and_create_is_already_exists() {
    let mut d = device(50);
    let mut s = WsmanService::new();
    let ss = d.cert_store().self_signed().unwrap().handle;
    let (e, p) = pull(&mut s, &mut d, TLSCC);
    assert_same_structure(&text(&e), &firmware(TLSCC, "Enumerate.response.xml"), &[]);
    assert_same_structure(&text(&p), &firmware(TLSCC, "Pull.response.xml"), &[]);
    let body = text(&p);
    assert!(body.contains(&format!(
        r#"<c:Selector Name="InstanceID">Intel(r) AMT Certificate: Handle: {ss}</c:Selector>"#
    )));
    assert!(body.contains(
        r#"<c:Selector Name="ElementName">TLSProtocolEndpoint Instances Collection</c:Selector>"#
    ));

    // Get without selectors, as wsman-messages sends it.
    let g = run(&mut s, &mut d, &request(TLSCC, "Get.request.xml"));
    assert_eq!(g.status, 200, "{}", text(&g));
    assert_same_structure(&text(&g), &firmware(TLSCC, "Put.response.xml"), &[]);

    // Create while one exists: the captured fault, byte for byte apart
    // from RelatesTo and MessageID.
    let ca = TestCa::new("Console CA");
    let (_, der) = key_and_certificate(&mut d, &ca);
    let cert = d.add_certificate(&der).unwrap();
    let create = envelope(
        amt_wsman::namespaces::action::CREATE,
        TLSCC,
        "",
        &context_body(
            &format!("Intel(r) AMT Certificate: Handle: {cert}"),
            CONSOLE_SPELLING,
        ),
    );
    let r = run(&mut s, &mut d, &create);
    assert_sender_fault(&r, "AlreadyExists");
    let captured = firmware(
        "_faults",
        "AlreadyExists--capture-rps-AMTMessages.response.xml",
    );
    let message_id = value(&r, "MessageID").unwrap();
    let expected = captured
        .trim_end()
        .replace(
            "<b:RelatesTo>31</b:RelatesTo>",
            "<b:RelatesTo>7</b:RelatesTo>",
        )
        .replace("uuid:00000000-8086-8086-8086-000000023EEF", &message_id);
    assert_eq!(text(&r), expected);
    assert_eq!(d.tls_credential_context(), Some(ss), "unchanged");
}

#[test]
fn put_moves_the_context_and_delete_removes_it() {
    let mut d = device(51);
    let mut s = WsmanService::new();
    let ca = TestCa::new("Console CA");
    let (_, der) = key_and_certificate(&mut d, &ca);
    let cert = d.add_certificate(&der).unwrap();
    let cert_id = format!("Intel(r) AMT Certificate: Handle: {cert}");

    // rpc-go: the Create body under a Put action, no selectors.
    let put = envelope(
        amt_wsman::namespaces::action::PUT,
        TLSCC,
        "",
        &context_body(&cert_id, CONSOLE_SPELLING),
    );
    let r = run(&mut s, &mut d, &put);
    assert_eq!(r.status, 200, "{}", text(&r));
    assert!(r.device_changed);
    assert_same_structure(&text(&r), &firmware(TLSCC, "Put.response.xml"), &[]);
    assert!(text(&r).contains(&cert_id));
    assert_eq!(d.tls_credential_context(), Some(cert));
    assert!(d.tls_changes_pending(), "staged until CommitChanges");

    // A Put naming a certificate without a device key is refused.
    let root = d.add_trusted_root_certificate(&ca.der).unwrap();
    let bad = envelope(
        amt_wsman::namespaces::action::PUT,
        TLSCC,
        "",
        &context_body(
            &format!("Intel(r) AMT Certificate: Handle: {root}"),
            CONSOLE_SPELLING,
        ),
    );
    assert_internal_error(&run(&mut s, &mut d, &bad), 36);
    assert_eq!(d.tls_credential_context(), Some(cert));

    // Delete with selectors that name another certificate: nothing.
    let wrong = envelope(
        amt_wsman::namespaces::action::DELETE,
        TLSCC,
        &context_selectors("Intel(r) AMT Certificate: Handle: 99"),
        "",
    );
    assert_sender_fault(&run(&mut s, &mut d, &wrong), "InvalidSelectors");
    // RPS: the pulled instance fed back as EPR selectors.
    let del = envelope(
        amt_wsman::namespaces::action::DELETE,
        TLSCC,
        &context_selectors(&cert_id),
        "",
    );
    let r = run(&mut s, &mut d, &del);
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(d.tls_credential_context(), None);
    let (_, p) = pull(&mut s, &mut d, TLSCC);
    assert!(text(&p).contains("<g:Items></g:Items>"));
}

#[test]
fn create_on_a_device_without_a_context_answers_resource_created() {
    let mut d = legacy_device();
    let mut s = WsmanService::new();
    let ca = TestCa::new("Console CA");
    let (_, der) = key_and_certificate(&mut d, &ca);
    let cert = d.add_certificate(&der).unwrap();
    let cert_id = format!("Intel(r) AMT Certificate: Handle: {cert}");
    let create = envelope(
        amt_wsman::namespaces::action::CREATE,
        TLSCC,
        "",
        &context_body(&cert_id, CONSOLE_SPELLING),
    );
    let r = run(&mut s, &mut d, &create);
    assert_eq!(r.status, 200, "{}", text(&r));
    assert!(r.device_changed);
    assert_same_structure(&text(&r), &firmware(TLSCC, "Create.response.xml"), &[]);
    let body = text(&r);
    assert!(body.contains(&format!(
        r#"<c:Selector Name="InstanceID">{cert_id}</c:Selector>"#
    )));
    assert!(body.contains(">TLSProtocolEndpoint Instances Collection<"));
    assert_eq!(d.tls_credential_context(), Some(cert));

    // Bodies that do not describe a context.
    for body in [
        context_body(&cert_id, "Some Other Collection"),
        context_body("testCertificate", CONSOLE_SPELLING),
        String::new(),
    ] {
        let mut fresh = legacy_device();
        let r = run(
            &mut s,
            &mut fresh,
            &envelope(amt_wsman::namespaces::action::CREATE, TLSCC, "", &body),
        );
        assert_sender_fault(&r, "InvalidRepresentation");
    }
}

#[test]
fn the_endpoint_collection_answers_in_the_firmware_spelling() {
    let mut d = device(52);
    let mut s = WsmanService::new();
    let get = |sel: &str| {
        envelope(
            amt_wsman::namespaces::action::GET,
            COLLECTION,
            &if sel.is_empty() {
                String::new()
            } else {
                selector_set("ElementName", sel)
            },
            "",
        )
    };
    for sel in [
        "",
        CONSOLE_SPELLING,
        "TLSProtocolEndpoint Instances Collection",
    ] {
        let r = run(&mut s, &mut d, &get(sel));
        assert_eq!(r.status, 200, "{}", text(&r));
        assert_same_structure(&text(&r), &firmware(COLLECTION, "Get.response.xml"), &[]);
        assert!(text(&r)
            .contains("<g:ElementName>TLSProtocolEndpoint Instances Collection</g:ElementName>"));
    }
    assert_sender_fault(&run(&mut s, &mut d, &get("Other")), "InvalidSelectors");
    let (e, p) = pull(&mut s, &mut d, COLLECTION);
    assert_same_structure(
        &text(&e),
        &firmware(COLLECTION, "Enumerate.response.xml"),
        &[],
    );
    assert_same_structure(&text(&p), &firmware(COLLECTION, "Pull.response.xml"), &[]);
}

// ---- AMT_TLSSettingData Put ----

fn tls_put(instance_id: &str, properties: &str) -> String {
    envelope(
        amt_wsman::namespaces::action::PUT,
        TLS,
        &selector_set("InstanceID", instance_id),
        &format!(
            r#"<h:AMT_TLSSettingData xmlns:h="{AMT}AMT_TLSSettingData">{properties}</h:AMT_TLSSettingData>"#
        ),
    )
}

#[test]
fn tls_setting_data_put_echoes_the_stored_instance() {
    let mut d = device(53);
    let mut s = WsmanService::new();
    // RPS sends back everything it pulled, read-only properties included.
    let r = run(
        &mut s,
        &mut d,
        &tls_put(
            TlsSettings::LOCAL_INSTANCE_ID,
            "<h:AcceptNonSecureConnections>true</h:AcceptNonSecureConnections><h:ElementName>ignored</h:ElementName><h:Enabled>false</h:Enabled><h:InstanceID>Intel(r) AMT LMS TLS Settings</h:InstanceID><h:MutualAuthentication>false</h:MutualAuthentication><h:NonSecureConnectionsSupported>false</h:NonSecureConnectionsSupported>",
        ),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    assert!(r.device_changed);
    assert_same_structure(
        &text(&r),
        &firmware(TLS, "Put--capture-rpcgo-tls.response.xml"),
        &[],
    );
    assert!(text(&r).contains("<g:ElementName>Intel(r) AMT LMS TLS Settings</g:ElementName>"));
    assert_eq!(
        d.tls_settings().local.non_secure_connections_supported,
        Some(true),
        "read-only property ignored"
    );

    // rpc-go's Put of the remote instance, with TrustedCN.
    let r = run(
        &mut s,
        &mut d,
        &tls_put(
            TlsSettings::REMOTE_INSTANCE_ID,
            "<h:ElementName>Intel(r) AMT 802.3 TLS Settings</h:ElementName><h:InstanceID>Intel(r) AMT 802.3 TLS Settings</h:InstanceID><h:MutualAuthentication>true</h:MutualAuthentication><h:Enabled>true</h:Enabled><h:AcceptNonSecureConnections>false</h:AcceptNonSecureConnections><h:TrustedCN>a.example</h:TrustedCN><h:TrustedCN>b.example</h:TrustedCN>",
        ),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    assert!(text(&r)
        .contains("<g:TrustedCN>a.example</g:TrustedCN><g:TrustedCN>b.example</g:TrustedCN>"));
    assert!(d.tls_settings().remote.mutual_authentication);
    assert!(d.tls_changes_pending());
}

#[test]
fn tls_setting_data_put_refusals() {
    let mut d = device(54);
    let mut s = WsmanService::new();
    let before = d.tls_settings().clone();
    let remote = TlsSettings::REMOTE_INSTANCE_ID;
    // CSME 16.1: the remote interface stays TLS-only.
    for props in [
        "<h:AcceptNonSecureConnections>true</h:AcceptNonSecureConnections><h:Enabled>true</h:Enabled>",
        "<h:AcceptNonSecureConnections>false</h:AcceptNonSecureConnections><h:Enabled>false</h:Enabled>",
    ] {
        assert_internal_error(&run(&mut s, &mut d, &tls_put(remote, props)), 16);
    }
    assert_sender_fault(
        &run(
            &mut s,
            &mut d,
            &tls_put(
                remote,
                "<h:MutualAuthentication>false</h:MutualAuthentication>",
            ),
        ),
        "InvalidRepresentation",
    );
    assert_sender_fault(
        &run(
            &mut s,
            &mut d,
            &tls_put(remote, "<h:Enabled>yes</h:Enabled>"),
        ),
        "InvalidRepresentation",
    );
    assert_sender_fault(
        &run(
            &mut s,
            &mut d,
            &tls_put(
                "Intel(r) AMT Wi-Fi TLS Settings",
                "<h:Enabled>true</h:Enabled>",
            ),
        ),
        "InvalidSelectors",
    );
    assert_eq!(d.tls_settings(), &before);
}

// ---- AMT_SetupAndConfigurationService methods ----

#[test]
fn commit_changes_answers_like_the_capture_and_applies_staged_tls() {
    let mut d = device(55);
    let mut s = WsmanService::new();
    let ca = TestCa::new("Console CA");
    let (_, der) = key_and_certificate(&mut d, &ca);
    let cert = d.add_certificate(&der).unwrap();
    d.put_tls_credential_context(cert).unwrap();
    let r = run(&mut s, &mut d, &request(SACS, "CommitChanges.request.xml"));
    assert_eq!(return_value(&r), 0);
    assert!(r.device_changed, "the server must apply TLS");
    assert_same_structure(
        &text(&r),
        &firmware(SACS, "CommitChanges--capture-rpcgo-tls.response.xml"),
        &[],
    );
    assert_eq!(d.active_tls().credential_context, Some(cert));
    assert!(!d.tls_changes_pending());

    // Mutual TLS without a trusted root: DATA_MISSING, nothing applied.
    d.put_tls_setting_data(
        amt_device::TlsInstance::Remote,
        amt_device::TlsSettingDataPut {
            enabled: true,
            accept_non_secure_connections: Some(false),
            mutual_authentication: Some(true),
            trusted_cn: Vec::new(),
        },
    )
    .unwrap();
    let r = run(&mut s, &mut d, &request(SACS, "CommitChanges.request.xml"));
    assert_eq!(return_value(&r), 2057);
    assert!(!r.device_changed);
    assert!(!d.active_tls().settings.remote.mutual_authentication);
}

#[test]
fn unprovision_mebx_password_partial_unprovision_and_uuid() {
    let mut d = device(56);
    let mut s = WsmanService::new();
    // Pre-provisioning: nothing to unprovision.
    let r = run(&mut s, &mut d, &request(SACS, "Unprovision.request.xml"));
    assert_eq!(return_value(&r), 32);

    let r = run(
        &mut s,
        &mut d,
        &request(SACS, "SetMEBxPassword.request.xml"),
    );
    assert_eq!(return_value(&r), 0);
    assert_same_structure(
        &text(&r),
        &firmware(SACS, "SetMEBxPassword.response.xml"),
        &[],
    );
    assert!(d.mebx_password_set());
    let weak = method(SACS, "SetMEBxPassword", "<h:Password>short</h:Password>");
    assert_eq!(return_value(&run(&mut s, &mut d, &weak)), 2054);

    let r = run(
        &mut s,
        &mut d,
        &request(SACS, "PartialUnprovision--go-rpcgo-style.request.xml"),
    );
    assert_eq!(return_value(&r), 2066);
    assert_same_structure(
        &text(&r),
        &firmware(SACS, "PartialUnprovision.response.xml"),
        &[],
    );

    let r = run(&mut s, &mut d, &request(SACS, "GetUuid.request.xml"));
    assert_eq!(return_value(&r), 0);
    let raw = base64::engine::general_purpose::STANDARD
        .decode(value(&r, "UUID").unwrap())
        .unwrap();
    let mut bytes: [u8; 16] = raw.try_into().unwrap();
    bytes[0..4].reverse();
    bytes[4..6].reverse();
    bytes[6..8].reverse();
    assert_eq!(hex::encode(bytes), d.uuid().replace('-', ""));
    assert!(text(&r).contains("<g:GetUuid_OUTPUT><g:UUID>"));

    d.provision_for_testing(ControlMode::Admin, "P@ssw0rd1");
    let bad_mode = method(
        SACS,
        "Unprovision",
        "<h:ProvisioningMode>9</h:ProvisioningMode>",
    );
    assert_eq!(return_value(&run(&mut s, &mut d, &bad_mode)), 36);
    let r = run(&mut s, &mut d, &request(SACS, "Unprovision.request.xml"));
    assert_eq!(return_value(&r), 0);
    assert!(r.device_changed);
    assert_same_structure(
        &text(&r),
        &firmware(SACS, "Unprovision--capture-rps-deactivator.response.xml"),
        &[],
    );
    assert_eq!(
        d.provisioning_state(),
        amt_device::ProvisioningState::PreProvisioning
    );
}

// ---- AMT_TimeSynchronizationService ----

#[test]
fn time_synchronization_reads_and_sets_the_bios_clock() {
    let mut d = device(57);
    let mut s = WsmanService::new();
    let r = run(&mut s, &mut d, &request(TIME, "Get.request.xml"));
    assert_eq!(r.status, 200);
    assert_same_structure(&text(&r), &firmware(TIME, "Get.response.xml"), &[]);
    let (_, p) = pull(&mut s, &mut d, TIME);
    assert_same_structure(&text(&p), &firmware(TIME, "Pull.response.xml"), &[]);

    let r = run(
        &mut s,
        &mut d,
        &request(TIME, "GetLowAccuracyTimeSynch.request.xml"),
    );
    assert_eq!(return_value(&r), 0);
    assert_same_structure(
        &text(&r),
        &firmware(
            TIME,
            "GetLowAccuracyTimeSynch--capture-rpcgo-time.response.xml",
        ),
        &[],
    );
    assert_eq!(value(&r, "Ta0").unwrap(), NOW.unix_timestamp().to_string());

    // The fixture sets the clock to 2022-02-07 (Tm2 = 1644240943).
    let r = run(
        &mut s,
        &mut d,
        &request(TIME, "SetHighAccuracyTimeSynch.request.xml"),
    );
    assert_eq!(return_value(&r), 0);
    assert!(r.device_changed);
    assert_same_structure(
        &text(&r),
        &firmware(
            TIME,
            "SetHighAccuracyTimeSynch--capture-rpcgo-time.response.xml",
        ),
        &[],
    );
    let later = CallContext {
        now: NOW + time::Duration::seconds(10),
        principal: Principal::Admin,
    };
    let r = s.handle(
        &mut d,
        request(TIME, "GetLowAccuracyTimeSynch.request.xml").as_bytes(),
        &later,
    );
    assert_eq!(value(&r, "Ta0").unwrap(), "1644240953", "ticks from Tm2");

    let bad = method(
        TIME,
        "SetHighAccuracyTimeSynch",
        "<h:Ta0>1</h:Ta0><h:Tm1>2</h:Tm1><h:Tm2>-5</h:Tm2>",
    );
    let r = run(&mut s, &mut d, &bad);
    assert_eq!(return_value(&r), 36);
    assert!(!r.device_changed);
}

// ---- Access ----

#[test]
fn the_local_system_account_cannot_manage_certificates_after_provisioning() {
    let mut d = device(58);
    d.provision_for_testing(ControlMode::Client, "P@ssw0rd1");
    let mut s = WsmanService::new();
    for body in [
        method(
            PKMS,
            "GenerateKeyPair",
            "<h:KeyAlgorithm>0</h:KeyAlgorithm><h:KeyLength>2048</h:KeyLength>",
        ),
        tls_put(
            TlsSettings::LOCAL_INSTANCE_ID,
            "<h:Enabled>true</h:Enabled>",
        ),
        request(SACS, "CommitChanges.request.xml"),
        request(TIME, "GetLowAccuracyTimeSynch.request.xml"),
    ] {
        let r = s.handle(&mut d, body.as_bytes(), &local_system());
        assert_sender_fault(&r, "AccessDenied");
    }
}
