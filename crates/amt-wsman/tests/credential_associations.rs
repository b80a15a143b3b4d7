//! The association classes consoles read to tie certificates to keys and
//! to profiles (`CIM_ConcreteDependency`, `CIM_CredentialContext`), and
//! `wsmid:Identify`. Replies are compared with real firmware captures
//! (`fixtures/firmware/CIM_*/*--capture-rpcgo-utils*`); contents are
//! checked against the device's certificate store.

mod support;

use amt_device::{Device, DeviceConfig, Entropy};
use amt_testkit::{DevicePublicKey, TestCa};
use amt_wsman::identify::IDENTITY;
use amt_wsman::namespaces::{action, ADDRESSING, SOAP, WSMAN};
use amt_wsman::xml::Element;
use amt_wsman::{WsmanReply, WsmanService};
use base64::Engine;
use support::structure::assert_same_structure;
use support::*;

const CD: &str = "CIM_ConcreteDependency";
const CC: &str = "CIM_CredentialContext";
const CIM: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/";
const AMT: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/";

fn device(seed: u64) -> Device {
    Device::new(DeviceConfig::default(), Entropy::from_seed(seed), NOW).unwrap()
}

/// A request as wsman-messages writes it, for `resource_uri`.
fn envelope(action: &str, resource_uri: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns="http://www.w3.org/2003/05/soap-envelope"><Header><a:Action>{action}</a:Action><a:To>/wsman</a:To><w:ResourceURI>{resource_uri}</w:ResourceURI><a:MessageID>3</a:MessageID><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><w:OperationTimeout>PT60S</w:OperationTimeout></Header><Body>{body}</Body></Envelope>"#
    )
}

fn run(s: &mut WsmanService, d: &mut Device, body: &str) -> WsmanReply {
    s.handle(d, body.as_bytes(), &admin())
}

fn enumerate(s: &mut WsmanService, d: &mut Device, class: &str) -> WsmanReply {
    let r = run(
        s,
        d,
        &envelope(
            action::ENUMERATE,
            &format!("{CIM}{class}"),
            r#"<Enumerate xmlns="http://schemas.xmlsoap.org/ws/2004/09/enumeration" />"#,
        ),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    r
}

fn pull(s: &mut WsmanService, d: &mut Device, class: &str, ctx: &str, max: u32) -> WsmanReply {
    let r = run(
        s,
        d,
        &envelope(
            action::PULL,
            &format!("{CIM}{class}"),
            &format!(
                r#"<Pull xmlns="http://schemas.xmlsoap.org/ws/2004/09/enumeration"><EnumerationContext>{ctx}</EnumerationContext><MaxElements>{max}</MaxElements><MaxCharacters>99999</MaxCharacters></Pull>"#
            ),
        ),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    r
}

/// Enumerate, then one Pull of everything.
fn pull_all(s: &mut WsmanService, d: &mut Device, class: &str) -> WsmanReply {
    let ctx = enumeration_context(&enumerate(s, d, class)).unwrap();
    pull(s, d, class, &ctx, 999)
}

/// `ResourceURI` and `InstanceID` selector of the EPR property `name`
/// of every item.
fn eprs(items: &[&Element], name: &str) -> Vec<(String, String)> {
    items
        .iter()
        .map(|item| {
            let epr = item
                .children
                .iter()
                .find(|c| c.local_name == name)
                .unwrap_or_else(|| panic!("no {name}"));
            let params = epr.child(ADDRESSING, "ReferenceParameters").unwrap();
            let uri = params.child(WSMAN, "ResourceURI").unwrap();
            let set = params.child(WSMAN, "SelectorSet").unwrap();
            let first = set.children.first().unwrap();
            (
                uri.trimmed_text().to_string(),
                first.trimmed_text().to_string(),
            )
        })
        .collect()
}

/// (certificate InstanceID, key InstanceID) of every dependency pulled.
fn dependency_pairs(reply: &WsmanReply) -> Vec<(String, String)> {
    let t = tree(reply);
    let mut items = Vec::new();
    find_all(&t, &format!("{CIM}{CD}"), CD, &mut items);
    let antecedents = eprs(&items, "Antecedent");
    let dependents = eprs(&items, "Dependent");
    antecedents
        .into_iter()
        .zip(dependents)
        .map(|((au, a), (du, d))| {
            assert_eq!(au, format!("{AMT}AMT_PublicKeyCertificate"));
            assert_eq!(du, format!("{AMT}AMT_PublicPrivateKeyPair"));
            (a, d)
        })
        .collect()
}

fn cert_id(handle: u32) -> String {
    format!("Intel(r) AMT Certificate: Handle: {handle}")
}

fn key_id(handle: u32) -> String {
    format!("Intel(r) AMT Key: Handle: {handle}")
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// AddCertificate over WS-Man; answers the new certificate's handle.
fn add_certificate(s: &mut WsmanService, d: &mut Device, der: &[u8]) -> u32 {
    let class = "AMT_PublicKeyManagementService";
    let r = run(
        s,
        d,
        &envelope(
            &format!("{AMT}{class}/AddCertificate"),
            &format!("{AMT}{class}"),
            &format!(
                r#"<h:AddCertificate_INPUT xmlns:h="{AMT}{class}"><h:CertificateBlob>{}</h:CertificateBlob></h:AddCertificate_INPUT>"#,
                b64(der)
            ),
        ),
    );
    let t = text(&r);
    assert!(t.contains("<g:ReturnValue>0</g:ReturnValue>"), "{t}");
    let start = t.find("Handle: ").unwrap() + 8;
    let end = t[start..].find('<').unwrap() + start;
    t[start..end].parse().unwrap()
}

// ---- CIM_ConcreteDependency ----

#[test]
fn concrete_dependency_pairs_each_certificate_with_its_key_like_the_capture() {
    let mut d = device(71);
    let mut s = WsmanService::new();
    let self_signed = d.cert_store().self_signed().unwrap().clone();
    let ss_key = self_signed.key_handle.unwrap();

    // Factory state: the self-signed certificate and its key.
    let e = enumerate(&mut s, &mut d, CD);
    assert_same_structure(&text(&e), &firmware(CD, "Enumerate.response.xml"), &[]);
    let ctx = enumeration_context(&e).unwrap();
    let p = pull(&mut s, &mut d, CD, &ctx, 999);
    assert_eq!(
        dependency_pairs(&p),
        [(cert_id(self_signed.handle), key_id(ss_key))]
    );

    // rpc-go's TLS flow: a key generated on the device, a certificate for
    // it added with AddCertificate, a trusted root (which has no key).
    let ca = TestCa::new("Console CA");
    let key = d.generate_key_pair(0, 2048).unwrap();
    let public = DevicePublicKey::from_pkcs1(
        d.cert_store()
            .key(key)
            .unwrap()
            .key
            .pkcs1_public_der()
            .unwrap(),
    );
    let cert = add_certificate(
        &mut s,
        &mut d,
        &ca.sign_server_cert(&public, "amt.example.test"),
    );
    d.add_trusted_root_certificate(&ca.der).unwrap();
    let _unused_key = d.generate_key_pair(0, 2048).unwrap();

    // A page with more to come has the capture's exact shape (context
    // before Items, no EndOfSequence).
    let ctx = enumeration_context(&enumerate(&mut s, &mut d, CD)).unwrap();
    let first = pull(&mut s, &mut d, CD, &ctx, 1);
    for capture in [
        "Pull--capture-rpcgo-utils.response.xml",
        "Pull--capture-rpcgo-utils-2.response.xml",
    ] {
        assert_same_structure(&text(&first), &firmware(CD, capture), &[]);
    }
    let next = enumeration_context(&first).expect("more to come");
    let last = pull(&mut s, &mut d, CD, &next, 999);
    assert_same_structure(
        &text(&last),
        &firmware(CD, "Pull--capture-rpcgo-utils-2.response.xml"),
        &["EnumerationContext", "EndOfSequence"],
    );
    assert!(text(&last).contains("<g:EndOfSequence></g:EndOfSequence>"));
    let mut pairs = dependency_pairs(&first);
    pairs.extend(dependency_pairs(&last));
    assert_eq!(
        pairs,
        [
            (cert_id(self_signed.handle), key_id(ss_key)),
            (cert_id(cert), key_id(key)),
        ],
        "one pair per certificate with a device key, none for the root or the unused key"
    );

    // Deleting the certificate removes its pair.
    d.delete_certificate(cert).unwrap();
    assert_eq!(
        dependency_pairs(&pull_all(&mut s, &mut d, CD)),
        [(cert_id(self_signed.handle), key_id(ss_key))]
    );
}

#[test]
fn concrete_dependency_is_empty_on_a_device_without_keys() {
    let mut d = legacy_device();
    let mut s = WsmanService::new();
    let p = pull_all(&mut s, &mut d, CD);
    assert!(text(&p).contains("<g:Items></g:Items><g:EndOfSequence>"));
    // Only Enumerate/Pull, as captured.
    let get = run(
        &mut s,
        &mut d,
        &envelope(action::GET, &format!("{CIM}{CD}"), ""),
    );
    assert_eq!(
        fault_codes(&get),
        ("a:Sender".into(), Some("b:ActionNotSupported".into())),
        "{}",
        text(&get)
    );
}

#[test]
fn concrete_dependency_epr_mode_keys_items_by_both_references() {
    let mut d = device(72);
    let mut s = WsmanService::new();
    let e = run(
        &mut s,
        &mut d,
        &envelope(
            action::ENUMERATE,
            &format!("{CIM}{CD}"),
            r#"<Enumerate xmlns="http://schemas.xmlsoap.org/ws/2004/09/enumeration"><w:EnumerationMode xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd">EnumerateEPR</w:EnumerationMode></Enumerate>"#,
        ),
    );
    let ctx = enumeration_context(&e).unwrap();
    let p = pull(&mut s, &mut d, CD, &ctx, 999);
    let body = text(&p);
    assert!(body.contains(&format!(
        "<b:EndpointReference><b:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</b:Address><b:ReferenceParameters><c:ResourceURI>{CIM}{CD}</c:ResourceURI><c:SelectorSet><c:Selector Name=\"Antecedent\"><b:EndpointReference>"
    )), "{body}");
    assert!(body.contains("<c:Selector Name=\"Dependent\"><b:EndpointReference>"));
}

// ---- CIM_CredentialContext ----

/// Our reply with the TLS subclass renamed to the parent class, so that
/// its shape can be set against a capture of parent-class items (the
/// capture's device listed 802.1x contexts, which are plain
/// `CIM_CredentialContext` items; ours has only the TLS context).
fn as_parent_class(reply: &str) -> String {
    reply
        .replace(
            &format!("{AMT}AMT_TLSCredentialContext"),
            &format!("{CIM}{CC}"),
        )
        .replace("h:AMT_TLSCredentialContext>", &format!("h:{CC}>"))
}

#[test]
fn credential_context_lists_the_tls_context_as_its_subclass() {
    let mut d = device(73);
    let mut s = WsmanService::new();
    let ss = d
        .tls_credential_context()
        .expect("CSME 16.1 ships a context");

    let e = enumerate(&mut s, &mut d, CC);
    assert_same_structure(&text(&e), &firmware(CC, "Enumerate.response.xml"), &[]);
    let ctx = enumeration_context(&e).unwrap();
    let p = pull(&mut s, &mut d, CC, &ctx, 999);
    let body = text(&p);
    assert_same_structure(
        &as_parent_class(&body),
        &firmware(CC, "Pull--capture-rpcgo-utils.response.xml"),
        &["EnumerationContext", "EndOfSequence"],
    );

    // Consoles sort the items by element name: the TLS context must be an
    // `AMT_TLSCredentialContext` element in that class's namespace.
    let t = tree(&p);
    let tls_ns = format!("{AMT}AMT_TLSCredentialContext");
    let mut items = Vec::new();
    find_all(&t, &tls_ns, "AMT_TLSCredentialContext", &mut items);
    assert_eq!(items.len(), 1, "{body}");
    let mut parent_items = Vec::new();
    find_all(&t, &format!("{CIM}{CC}"), CC, &mut parent_items);
    assert!(parent_items.is_empty(), "{body}");
    assert_eq!(
        eprs(&items, "ElementInContext"),
        [(format!("{AMT}AMT_PublicKeyCertificate"), cert_id(ss))]
    );
    assert_eq!(
        eprs(&items, "ElementProvidingContext"),
        [(
            format!("{AMT}AMT_TLSProtocolEndpointCollection"),
            "TLSProtocolEndpoint Instances Collection".to_string()
        )]
    );
    // The header still names the class enumerated.
    assert!(body.contains(&format!("<c:ResourceURI>{CIM}{CC}</c:ResourceURI>")));

    // The item follows the device: a context moved to a new certificate.
    let ca = TestCa::new("Console CA");
    let key = d.generate_key_pair(0, 2048).unwrap();
    let public = DevicePublicKey::from_pkcs1(
        d.cert_store()
            .key(key)
            .unwrap()
            .key
            .pkcs1_public_der()
            .unwrap(),
    );
    let cert = d
        .add_certificate(&ca.sign_server_cert(&public, "amt.example.test"))
        .unwrap();
    d.put_tls_credential_context(cert).unwrap();
    let t = tree(&pull_all(&mut s, &mut d, CC));
    let mut items = Vec::new();
    find_all(&t, &tls_ns, "AMT_TLSCredentialContext", &mut items);
    assert_eq!(
        eprs(&items, "ElementInContext"),
        [(format!("{AMT}AMT_PublicKeyCertificate"), cert_id(cert))]
    );
}

#[test]
fn credential_context_is_empty_without_tls() {
    let mut d = legacy_device();
    let mut s = WsmanService::new();
    assert_eq!(d.tls_credential_context(), None);
    let p = pull_all(&mut s, &mut d, CC);
    assert!(text(&p).contains("<g:Items></g:Items><g:EndOfSequence>"));
}

#[test]
fn credential_context_epr_of_the_tls_item_names_the_subclass() {
    let mut d = device(74);
    let mut s = WsmanService::new();
    let e = run(
        &mut s,
        &mut d,
        &envelope(
            action::ENUMERATE,
            &format!("{CIM}{CC}"),
            r#"<Enumerate xmlns="http://schemas.xmlsoap.org/ws/2004/09/enumeration"><w:EnumerationMode xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd">EnumerateObjectAndEPR</w:EnumerationMode></Enumerate>"#,
        ),
    );
    let ctx = enumeration_context(&e).unwrap();
    let body = text(&pull(&mut s, &mut d, CC, &ctx, 999));
    // The EPR addresses the instance through its own class, which answers
    // Get and Delete for it.
    assert!(
        body.contains(&format!(
            "<b:ReferenceParameters><c:ResourceURI>{AMT}AMT_TLSCredentialContext</c:ResourceURI><c:SelectorSet><c:Selector Name=\"ElementInContext\">"
        )),
        "{body}"
    );
    assert!(
        body.contains("<c:Item><h:AMT_TLSCredentialContext>"),
        "{body}"
    );
}

// ---- wsmid:Identify ----

/// The request `wslid check` sends (Debian wsl, `/usr/bin/wslid`).
const WSL_IDENTIFY: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd">
  <s:Header/>
  <s:Body>
    <wsmid:Identify/>
  </s:Body>
</s:Envelope>"#;

fn identify_texts(reply: &WsmanReply) -> Vec<(String, String)> {
    let t = tree(reply);
    let response = find(&t, IDENTITY, "IdentifyResponse").expect("an IdentifyResponse");
    response
        .children
        .iter()
        .map(|c| (c.local_name.clone(), c.trimmed_text().to_string()))
        .collect()
}

#[test]
fn identify_answers_the_dsp0226_shape_with_amt_s_values() {
    let mut s = WsmanService::new();
    let mut d = legacy_device();
    let r = run(&mut s, &mut d, WSL_IDENTIFY);
    assert_eq!(r.status, 200, "{}", text(&r));
    assert!(!r.device_changed);
    let body = text(&r);
    assert!(body.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><a:Envelope xmlns:a="http://www.w3.org/2003/05/soap-envelope" xmlns:b="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd""#), "{body}");
    let t = tree(&r);
    let header = t.child(SOAP, "Header").expect("a Header");
    assert!(
        header.children.is_empty(),
        "Identify replies carry no headers"
    );
    let fields = identify_texts(&r);
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "ProtocolVersion",
            "ProductVendor",
            "ProductVersion",
            "DASHVersion",
            "SecurityProfiles"
        ]
    );
    assert_eq!(fields[0].1, WSMAN);
    assert_eq!(fields[1].1, "Intel(r)");
    assert_eq!(fields[2].1, "AMT 15.0.23");
    let response = find(&t, IDENTITY, "IdentifyResponse").unwrap();
    let profiles = response.child(IDENTITY, "SecurityProfiles").unwrap();
    assert!(profiles
        .children
        .iter()
        .all(|p| p.is(IDENTITY, "SecurityProfileName")
            && p.trimmed_text()
                .starts_with("http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/")));
    assert!(!profiles.children.is_empty());
    // MAAS reads the major version with `ProductVersion>AMT\s*([0-9]+)`.
    assert!(body.contains("ProductVersion>AMT 15."));

    // The version follows the firmware profile.
    let mut csme = device(75);
    assert_eq!(
        identify_texts(&run(&mut s, &mut csme, WSL_IDENTIFY))[2].1,
        "AMT 16.1.25"
    );
}

#[test]
fn identify_is_recognised_by_namespace_and_only_without_an_action() {
    let mut s = WsmanService::new();
    let mut d = legacy_device();
    // openwsman's spelling: other prefixes, no XML declaration.
    let openwsman = r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:id="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"><env:Header></env:Header><env:Body><id:Identify></id:Identify></env:Body></env:Envelope>"#;
    assert_eq!(run(&mut s, &mut d, openwsman).status, 200);

    // Another namespace's Identify is no Identify: the usual header fault.
    let other = WSL_IDENTIFY.replace("wsman/identity/1", "wsman/identity/2");
    let r = run(&mut s, &mut d, &other);
    assert_eq!(r.status, 400, "{}", text(&r));
    assert!(find(&tree(&r), IDENTITY, "IdentifyResponse").is_none());

    // An Identify body under a WS-Transfer Action is that action's request.
    let with_action = envelope(
        action::GET,
        &format!("{CIM}{CD}"),
        "<i:Identify xmlns:i=\"http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd\"/>",
    );
    let r = run(&mut s, &mut d, &with_action);
    assert_ne!(r.status, 200, "{}", text(&r));

    // A header we must understand but do not: the MustUnderstand fault.
    let must = WSL_IDENTIFY.replace(
        "<s:Header/>",
        r#"<s:Header><x:Odd xmlns:x="urn:odd" s:mustUnderstand="true">1</x:Odd></s:Header>"#,
    );
    let r = run(&mut s, &mut d, &must);
    assert_eq!(fault_codes(&r), ("a:MustUnderstand".into(), None));
}
