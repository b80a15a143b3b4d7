//! The network classes against firmware replies (element structure) and
//! AMT's rules for their Puts and Deletes.

mod support;

use amt_device::network::{HttpProxy, NetworkSpec, WiFiProfile};
use amt_device::Device;
use amt_wsman::namespaces::{action, ENUMERATION};
use amt_wsman::{WsmanReply, WsmanService};
use support::structure::assert_same_structure;
use support::*;

const EPS: &str = "AMT_EthernetPortSettings";
const EPS_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_EthernetPortSettings";
const GS_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings";
const X_URI: &str = "http://intel.com/wbem/wscim/1/ips-schema/1/IPS_IEEE8021xSettings";
const WIFI_URI: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_WiFiEndpointSettings";
const PROXY_URI: &str = "http://intel.com/wbem/wscim/1/ips-schema/1/IPS_HTTPProxyAccessPoint";
const CRYPTO_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_CryptographicCapabilities";
const LOG_URI: &str = "http://intel.com/wbem/wscim/1/ips-schema/1/IPS_ProvisioningRecordLog";
const WIRED: &str = "Intel(r) AMT Ethernet Port Settings 0";

/// A request in wsman-messages' spelling.
fn req(action: &str, uri: &str, selectors: &[(&str, &str)], body: &str) -> String {
    let sel = if selectors.is_empty() {
        String::new()
    } else {
        let s: String = selectors
            .iter()
            .map(|(n, v)| format!(r#"<w:Selector Name="{n}">{v}</w:Selector>"#))
            .collect();
        format!("<w:SelectorSet>{s}</w:SelectorSet>")
    };
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><Envelope xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns="http://www.w3.org/2003/05/soap-envelope"><Header><a:Action>{action}</a:Action><a:To>/wsman</a:To><w:ResourceURI>{uri}</w:ResourceURI><a:MessageID>1</a:MessageID><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><w:OperationTimeout>PT60S</w:OperationTimeout>{sel}</Header><Body>{body}</Body></Envelope>"#
    )
}

fn run(s: &mut WsmanService, d: &mut Device, body: &str) -> WsmanReply {
    s.handle(d, body.as_bytes(), &admin())
}

fn ok(r: WsmanReply) -> String {
    assert_eq!(r.status, 200, "{}", text(&r));
    text(&r)
}

/// Enumerate + Pull; the Pull reply.
fn pull(s: &mut WsmanService, d: &mut Device, uri: &str) -> String {
    let e = run(
        s,
        d,
        &req(
            action::ENUMERATE,
            uri,
            &[],
            &format!(r#"<Enumerate xmlns="{ENUMERATION}" />"#),
        ),
    );
    let ctx = enumeration_context(&e).expect("a context");
    ok(run(
        s,
        d,
        &req(
            action::PULL,
            uri,
            &[],
            &format!(
                r#"<Pull xmlns="{ENUMERATION}"><EnumerationContext>{ctx}</EnumerationContext><MaxElements>999</MaxElements><MaxCharacters>99999</MaxCharacters></Pull>"#
            ),
        ),
    ))
}

fn wifi_device() -> Device {
    let mut d = legacy_device();
    let spec = NetworkSpec {
        environment: amt_device::network::NetworkEnvironment {
            wifi: true,
            secondary_dns: Some("192.168.1.2".into()),
            ..Default::default()
        },
        wifi_profiles: vec![WiFiProfile {
            name: "home".into(),
            instance_id: None,
            ssid: "HomeNet".into(),
            priority: 1,
            authentication_method: 6,
            encryption_method: 4,
        }],
        http_proxies: vec![HttpProxy {
            access_info: "proxy.example.com".into(),
            info_format: 201,
            port: 8080,
            network_dns_suffix: "example.com".into(),
        }],
        ieee8021x_enabled: true,
    };
    d.set_network(&spec).expect("spec");
    d
}

fn put_wired(s: &mut WsmanService, d: &mut Device, props: &str) -> WsmanReply {
    run(
        s,
        d,
        &req(
            action::PUT,
            EPS_URI,
            &[("InstanceID", WIRED)],
            &format!(r#"<h:{EPS} xmlns:h="{EPS_URI}">{props}</h:{EPS}>"#),
        ),
    )
}

#[test]
fn ethernet_port_settings_have_the_firmware_shape() {
    let mut s = WsmanService::new();
    let mut d = wifi_device();
    // The canned pull is of a device without an IP address or secondary DNS.
    assert_same_structure(
        &pull(&mut s, &mut d, EPS_URI),
        &firmware(EPS, "Pull.response.xml"),
        &["IPAddress", "SecondaryDNS"],
    );
    // wsman-messages' Put (DHCP), answered as the real device answered it.
    let put = with_header(
        &request(EPS, "Put.request.xml").replace(
            "<w:SelectorSet><w:Selector Name=\"InstanceID\">Intel(r) AMT Ethernet Port Settings 0</w:Selector></w:SelectorSet>",
            "",
        ),
        &instance_id_selector(WIRED),
    );
    let reply = ok(run(&mut s, &mut d, &put));
    assert_same_structure(
        &reply,
        &firmware(EPS, "Put--capture-rps-networkConfigurator.response.xml"),
        &[],
    );
    assert!(reply.contains("<g:IPAddress>192.168.1.53</g:IPAddress>"));
    // A board without Wi-Fi has the wired port only.
    let mut wired_only = legacy_device();
    let body = pull(&mut s, &mut wired_only, EPS_URI);
    assert!(body.contains(WIRED));
    assert!(!body.contains("Settings 1"));
}

#[test]
fn ethernet_port_put_follows_amt_rules() {
    let mut s = WsmanService::new();
    let mut d = legacy_device();
    // Static without IP sync needs an address and a mask.
    let r = put_wired(
        &mut s,
        &mut d,
        "<h:DHCPEnabled>false</h:DHCPEnabled><h:IpSyncEnabled>false</h:IpSyncEnabled><h:SharedStaticIp>false</h:SharedStaticIp>",
    );
    assert_eq!(
        fault_codes(&r).1.as_deref(),
        Some("e:InvalidParameter"),
        "{}",
        text(&r)
    );
    // A shared static IP needs static addressing.
    let r = put_wired(
        &mut s,
        &mut d,
        "<h:DHCPEnabled>true</h:DHCPEnabled><h:SharedStaticIp>true</h:SharedStaticIp>",
    );
    assert_eq!(fault_codes(&r).1.as_deref(), Some("e:InvalidParameter"));
    // Not a boolean.
    let r = put_wired(&mut s, &mut d, "<h:DHCPEnabled>maybe</h:DHCPEnabled>");
    assert_eq!(
        fault_codes(&r).1.as_deref(),
        Some("e:InvalidRepresentation")
    );
    // Not an address.
    let r = put_wired(
        &mut s,
        &mut d,
        "<h:DHCPEnabled>false</h:DHCPEnabled><h:IpSyncEnabled>false</h:IpSyncEnabled><h:IPAddress>10.0.0.300</h:IPAddress><h:SubnetMask>255.0.0.0</h:SubnetMask>",
    );
    assert_eq!(fault_codes(&r).1.as_deref(), Some("e:InvalidParameter"));
    assert!(d.network().wired.dhcp_enabled, "refusals change nothing");

    // Static with its own address.
    let r = put_wired(
        &mut s,
        &mut d,
        "<h:DHCPEnabled>false</h:DHCPEnabled><h:IpSyncEnabled>false</h:IpSyncEnabled><h:SharedStaticIp>false</h:SharedStaticIp><h:IPAddress>10.0.0.5</h:IPAddress><h:SubnetMask>255.0.0.0</h:SubnetMask><h:DefaultGateway>10.0.0.1</h:DefaultGateway><h:PrimaryDNS>10.0.0.2</h:PrimaryDNS>",
    );
    assert!(r.effects.persist);
    let body = ok(r);
    assert!(body.contains("<g:DHCPEnabled>false</g:DHCPEnabled>"));
    assert!(body.contains("<g:IPAddress>10.0.0.5</g:IPAddress>"));
    assert!(body.contains("<g:DefaultGateway>10.0.0.1</g:DefaultGateway>"));
    // Static sharing the host's address (RPS's "dhcp_disabled" profile).
    let body = ok(put_wired(
        &mut s,
        &mut d,
        "<h:DHCPEnabled>false</h:DHCPEnabled><h:IpSyncEnabled>true</h:IpSyncEnabled><h:SharedStaticIp>true</h:SharedStaticIp>",
    ));
    assert!(body.contains("<g:SharedStaticIp>true</g:SharedStaticIp>"));
    assert!(body.contains("<g:IPAddress>192.168.1.53</g:IPAddress>"));
    // Back to DHCP: addresses sent along are ignored.
    let body = ok(put_wired(
        &mut s,
        &mut d,
        "<h:DHCPEnabled>true</h:DHCPEnabled><h:IpSyncEnabled>true</h:IpSyncEnabled><h:SharedStaticIp>false</h:SharedStaticIp><h:IPAddress>10.9.9.9</h:IPAddress>",
    ));
    assert!(body.contains("<g:IPAddress>192.168.1.53</g:IPAddress>"));
    // The wireless instance exists only with Wi-Fi.
    let r = run(
        &mut s,
        &mut d,
        &req(
            action::GET,
            EPS_URI,
            &[("InstanceID", "Intel(r) AMT Ethernet Port Settings 1")],
            "",
        ),
    );
    assert_eq!(fault_codes(&r).1.as_deref(), Some("e:InvalidSelectors"));
}

#[test]
fn general_settings_put_changes_names_and_not_the_realm() {
    let mut s = WsmanService::new();
    let mut d = legacy_device();
    let realm = d.digest_realm().to_string();
    // wsman-messages' Put with an empty instance changes nothing.
    let r = run(
        &mut s,
        &mut d,
        &request("AMT_GeneralSettings", "Put.request.xml"),
    );
    assert!(!r.effects.persist);
    assert_same_structure(
        &ok(r),
        &firmware(
            "AMT_GeneralSettings",
            "Get--capture-rps-networkConfigurator.response.xml",
        ),
        &[],
    );
    let body = format!(
        r#"<h:AMT_GeneralSettings xmlns:h="{GS_URI}"><h:HostName>emu-host</h:HostName><h:DomainName>example.com</h:DomainName><h:DigestRealm>Digest:00000000000000000000000000000000</h:DigestRealm><h:PingResponseEnabled>false</h:PingResponseEnabled><h:AMTNetworkEnabled>1</h:AMTNetworkEnabled></h:AMT_GeneralSettings>"#
    );
    let r = run(&mut s, &mut d, &req(action::PUT, GS_URI, &[], &body));
    assert!(r.effects.persist);
    let reply = ok(r);
    assert!(reply.contains("<g:HostName>emu-host</g:HostName>"));
    assert!(reply.contains("<g:DomainName>example.com</g:DomainName>"));
    assert!(reply.contains("<g:PingResponseEnabled>false</g:PingResponseEnabled>"));
    assert!(reply.contains(&format!("<g:DigestRealm>{realm}</g:DigestRealm>")));
    assert_eq!(d.host_name(), "emu-host");
    for bad in [
        "<h:HostName>bad name</h:HostName>",
        "<h:DomainName>a..b</h:DomainName>",
    ] {
        let body =
            format!(r#"<h:AMT_GeneralSettings xmlns:h="{GS_URI}">{bad}</h:AMT_GeneralSettings>"#);
        let r = run(&mut s, &mut d, &req(action::PUT, GS_URI, &[], &body));
        assert_eq!(
            fault_codes(&r).1.as_deref(),
            Some("e:InvalidParameter"),
            "{bad}"
        );
    }
    let body = format!(
        r#"<h:AMT_GeneralSettings xmlns:h="{GS_URI}"><h:DDNSTTL>soon</h:DDNSTTL></h:AMT_GeneralSettings>"#
    );
    let r = run(&mut s, &mut d, &req(action::PUT, GS_URI, &[], &body));
    assert_eq!(
        fault_codes(&r).1.as_deref(),
        Some("e:InvalidRepresentation")
    );
    assert_eq!(d.host_name(), "emu-host");
}

#[test]
fn ieee8021x_settings_get_and_disable() {
    let mut s = WsmanService::new();
    let mut d = legacy_device();
    let get = req(action::GET, X_URI, &[], "");
    assert_same_structure(
        &ok(run(&mut s, &mut d, &get)),
        &firmware("IPS_IEEE8021xSettings", "Get.response.xml"),
        &[],
    );
    let put = |enabled: &str| {
        req(
            action::PUT,
            X_URI,
            &[],
            &format!(
                r#"<h:IPS_IEEE8021xSettings xmlns:h="{X_URI}"><h:ElementName>Intel(r) AMT: 8021X Settings</h:ElementName><h:InstanceID>Intel(r) AMT: 8021X Settings</h:InstanceID><h:Enabled>{enabled}</h:Enabled><h:AuthenticationProtocol>0</h:AuthenticationProtocol><h:Username>user</h:Username><h:Password>secret</h:Password></h:IPS_IEEE8021xSettings>"#
            ),
        )
    };
    let body = ok(run(&mut s, &mut d, &put("2")));
    assert!(body.contains("<g:Enabled>2</g:Enabled>"));
    assert!(body.contains("<g:Username>user</g:Username>"));
    assert!(!body.contains("secret"));
    let body = ok(run(&mut s, &mut d, &put("3")));
    assert!(body.contains("<g:Enabled>3</g:Enabled>"));
    assert!(!body.contains("Username"));
    let r = run(&mut s, &mut d, &put("5"));
    assert_eq!(fault_codes(&r).1.as_deref(), Some("e:InvalidParameter"));
}

#[test]
fn wifi_profiles_pull_and_delete() {
    let mut s = WsmanService::new();
    let mut d = wifi_device();
    let body = pull(&mut s, &mut d, WIFI_URI);
    assert_same_structure(
        &body,
        &firmware("CIM_WiFiEndpointSettings", "Pull.response.xml"),
        &[],
    );
    assert!(body.contains("<h:SSID>HomeNet</h:SSID>"));
    let del = req(action::DELETE, WIFI_URI, &[("InstanceID", "home")], "");
    let r = run(&mut s, &mut d, &del);
    assert!(r.effects.persist);
    ok(r);
    assert!(d.network().wifi_profiles.is_empty());
    let r = run(&mut s, &mut d, &del);
    assert_eq!(fault_codes(&r).1.as_deref(), Some("e:InvalidSelectors"));
    assert!(!pull(&mut s, &mut d, WIFI_URI).contains("CIM_WiFiEndpointSettings>"));
}

#[test]
fn http_proxies_pull_and_delete_by_name() {
    let mut s = WsmanService::new();
    let mut d = wifi_device();
    let body = pull(&mut s, &mut d, PROXY_URI);
    assert!(body.contains("<h:AccessInfo>proxy.example.com</h:AccessInfo>"));
    assert!(body.contains("<h:Name>Intel(r) ME:HTTP Proxy Access Point 1</h:Name>"));
    // RPS deletes by Name alone.
    let del = req(
        action::DELETE,
        PROXY_URI,
        &[("Name", "Intel(r) ME:HTTP Proxy Access Point 1")],
        "",
    );
    ok(run(&mut s, &mut d, &del));
    assert!(d.network().http_proxies.is_empty());
    let r = run(&mut s, &mut d, &del);
    assert_eq!(fault_codes(&r).1.as_deref(), Some("e:InvalidSelectors"));
}

#[test]
fn cryptographic_capabilities_and_provisioning_record_log_have_the_firmware_shape() {
    let mut s = WsmanService::new();
    let mut d = legacy_device();
    let crypto = "AMT_CryptographicCapabilities";
    assert_same_structure(
        &ok(run(&mut s, &mut d, &req(action::GET, CRYPTO_URI, &[], ""))),
        &firmware(crypto, "Get.response.xml"),
        &[],
    );
    assert_same_structure(
        &pull(&mut s, &mut d, CRYPTO_URI),
        &firmware(crypto, "Pull.response.xml"),
        &[],
    );
    let log = "IPS_ProvisioningRecordLog";
    let body = ok(run(&mut s, &mut d, &req(action::GET, LOG_URI, &[], "")));
    assert_same_structure(&body, &firmware(log, "Get.response.xml"), &[]);
    assert!(body.contains("<g:CurrentNumberOfRecords>0</g:CurrentNumberOfRecords>"));
    assert_same_structure(
        &pull(&mut s, &mut d, LOG_URI),
        &firmware(log, "Pull.response.xml"),
        &[],
    );
}

#[test]
fn unprovision_restores_the_factory_network_settings() {
    let mut s = WsmanService::new();
    let mut d = wifi_device();
    ok(put_wired(
        &mut s,
        &mut d,
        "<h:DHCPEnabled>false</h:DHCPEnabled><h:IpSyncEnabled>true</h:IpSyncEnabled><h:SharedStaticIp>true</h:SharedStaticIp>",
    ));
    d.unprovision(NOW).expect("unprovision");
    assert!(d.network().wired.dhcp_enabled);
    assert!(d.network().wifi_profiles.is_empty());
    assert!(d.network().environment.wifi, "the LAN stays");
}

const WPCS: &str = "AMT_WiFiPortConfigurationService";
const WPCS_URI: &str =
    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_WiFiPortConfigurationService";
const PROXY_SERVICE_URI: &str = "http://intel.com/wbem/wscim/1/ips-schema/1/IPS_HTTPProxyService";

/// AddWiFiSettings as wsman-messages builds it (RPS's profile shape).
fn add_wifi(method: &str, name: &str, ssid: &str) -> String {
    req(
        &format!("{WPCS_URI}/{method}"),
        WPCS_URI,
        &[],
        &format!(
            r#"<h:{method}_INPUT xmlns:h="{WPCS_URI}"><h:WiFiEndpoint><a:Address>/wsman</a:Address><a:ReferenceParameters><w:ResourceURI>http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_WiFiEndpoint</w:ResourceURI><w:SelectorSet><w:Selector Name="Name">WiFi Endpoint 0</w:Selector></w:SelectorSet></a:ReferenceParameters></h:WiFiEndpoint><h:WiFiEndpointSettingsInput xmlns:q="{WIFI_URI}"><q:ElementName>{name}</q:ElementName><q:InstanceID>Intel(r) AMT:WiFi Endpoint Settings {name}</q:InstanceID><q:AuthenticationMethod>6</q:AuthenticationMethod><q:EncryptionMethod>4</q:EncryptionMethod><q:SSID>{ssid}</q:SSID><q:Priority>2</q:Priority><q:PSKPassPhrase>secretpass</q:PSKPassPhrase></h:WiFiEndpointSettingsInput></h:{method}_INPUT>"#
        ),
    )
}

#[test]
fn wifi_port_configuration_adds_profiles_and_sets_sync() {
    let mut s = WsmanService::new();
    let mut d = wifi_device();
    let get = req(action::GET, WPCS_URI, &[], "");
    assert_same_structure(
        &ok(run(&mut s, &mut d, &get)),
        &firmware(WPCS, "Get.response.xml"),
        &[],
    );
    let r = ok(run(
        &mut s,
        &mut d,
        &add_wifi("AddWiFiSettings", "office", "Office"),
    ));
    assert_same_structure(&r, &firmware(WPCS, "AddWiFiSettings.response.xml"), &[]);
    assert!(r.contains("<g:ReturnValue>0</g:ReturnValue>"));
    let pulled = pull(&mut s, &mut d, WIFI_URI);
    assert!(
        pulled.contains("<h:InstanceID>Intel(r) AMT:WiFi Endpoint Settings office</h:InstanceID>")
    );
    assert!(pulled.contains("<h:ElementName>office</h:ElementName>"));
    assert!(!pulled.contains("secretpass"));
    // The same profile again: failed.
    let r = ok(run(
        &mut s,
        &mut d,
        &add_wifi("AddWiFiSettings", "office", "Office"),
    ));
    assert!(r.contains("<g:ReturnValue>2</g:ReturnValue>"), "{r}");
    let r = ok(run(
        &mut s,
        &mut d,
        &add_wifi("UpdateWiFiSettings", "office", "Office 2"),
    ));
    assert!(r.contains("<g:ReturnValue>0</g:ReturnValue>"), "{r}");
    assert!(pull(&mut s, &mut d, WIFI_URI).contains("<h:SSID>Office 2</h:SSID>"));
    let r = ok(run(
        &mut s,
        &mut d,
        &add_wifi("UpdateWiFiSettings", "nowhere", "X"),
    ));
    assert!(r.contains("<g:ReturnValue>2</g:ReturnValue>"), "{r}");
    // Local profile sync (RPS turns it on for its localWifiSyncEnabled profiles).
    let put = |v: &str| {
        req(
            action::PUT,
            WPCS_URI,
            &[],
            &format!(
                r#"<h:{WPCS} xmlns:h="{WPCS_URI}"><h:localProfileSynchronizationEnabled>{v}</h:localProfileSynchronizationEnabled></h:{WPCS}>"#
            ),
        )
    };
    let body = ok(run(&mut s, &mut d, &put("1")));
    assert!(body.contains(
        "<g:localProfileSynchronizationEnabled>1</g:localProfileSynchronizationEnabled>"
    ));
    let r = run(&mut s, &mut d, &put("2"));
    assert_eq!(fault_codes(&r).1.as_deref(), Some("e:InternalError"));
    // A board without Wi-Fi: not supported.
    let mut wired = legacy_device();
    let r = ok(run(
        &mut s,
        &mut wired,
        &add_wifi("AddWiFiSettings", "office", "Office"),
    ));
    assert!(r.contains("<g:ReturnValue>1</g:ReturnValue>"), "{r}");
    let r = run(&mut s, &mut wired, &put("1"));
    assert_eq!(fault_codes(&r).1.as_deref(), Some("e:InternalError"));
}

#[test]
fn http_proxy_service_adds_access_points() {
    let mut s = WsmanService::new();
    let mut d = legacy_device();
    let add = |host: &str| {
        req(
            &format!("{PROXY_SERVICE_URI}/AddProxyAccessPoint"),
            PROXY_SERVICE_URI,
            &[],
            &format!(
                r#"<h:AddProxyAccessPoint_INPUT xmlns:h="{PROXY_SERVICE_URI}"><h:AccessInfo>{host}</h:AccessInfo><h:InfoFormat>201</h:InfoFormat><h:Port>8080</h:Port><h:NetworkDnsSuffix>example.com</h:NetworkDnsSuffix></h:AddProxyAccessPoint_INPUT>"#
            ),
        )
    };
    let r = ok(run(&mut s, &mut d, &add("proxy.example.com")));
    assert_same_structure(
        &r,
        &firmware("IPS_HTTPProxyService", "AddProxyAccessPoint.response.xml"),
        &[],
    );
    assert!(r.contains("Intel(r) ME:HTTP Proxy Access Point 1"));
    let r = ok(run(&mut s, &mut d, &add("proxy.example.com")));
    assert!(r.contains("<g:ReturnValue>2058</g:ReturnValue>"), "{r}");
    assert!(!r.contains("ProxyAccessPoint>"), "no EPR on failure");
    let pulled = pull(&mut s, &mut d, PROXY_URI);
    assert!(pulled.contains("<h:AccessInfo>proxy.example.com</h:AccessInfo>"));
    assert!(ok(run(
        &mut s,
        &mut d,
        &req(action::GET, PROXY_SERVICE_URI, &[], "")
    ))
    .contains("<g:Name>Intel(r) AMT HTTP Proxy Service</g:Name>"));
}

const PORT_URI: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_WiFiPort";

#[test]
fn wifi_port_state_changes_as_rps_asks() {
    let mut s = WsmanService::new();
    let mut d = wifi_device();
    let get = req(action::GET, PORT_URI, &[], "");
    assert_same_structure(
        &ok(run(&mut s, &mut d, &get)),
        &firmware("CIM_WiFiPort", "Get.response.xml"),
        &[],
    );
    let change = |state: u32| {
        req(
            &format!("{PORT_URI}/RequestStateChange"),
            PORT_URI,
            &[],
            &format!(
                r#"<h:RequestStateChange_INPUT xmlns:h="{PORT_URI}"><h:RequestedState>{state}</h:RequestedState></h:RequestStateChange_INPUT>"#
            ),
        )
    };
    let r = ok(run(&mut s, &mut d, &change(32769)));
    assert_same_structure(
        &r,
        &firmware(
            "CIM_WiFiPort",
            "RequestStateChange--capture-rps-networkConfigurator.response.xml",
        ),
        &[],
    );
    assert!(r.contains("<g:ReturnValue>0</g:ReturnValue>"));
    assert!(ok(run(&mut s, &mut d, &get)).contains("<g:EnabledState>32769</g:EnabledState>"));
    assert!(ok(run(&mut s, &mut d, &change(7))).contains("<g:ReturnValue>5</g:ReturnValue>"));
    // No Wi-Fi: the second capture's answer, and no instance.
    let mut wired = legacy_device();
    let r = ok(run(&mut s, &mut wired, &change(32769)));
    assert!(r.contains("<g:ReturnValue>1</g:ReturnValue>"));
    // The missing radio is answered before the state is judged; a value
    // the property cannot hold is refused before either.
    assert!(ok(run(&mut s, &mut wired, &change(7))).contains("<g:ReturnValue>1</g:ReturnValue>"));
    assert!(
        ok(run(&mut s, &mut wired, &change(70000))).contains("<g:ReturnValue>5</g:ReturnValue>")
    );
    assert!(!pull(&mut s, &mut wired, PORT_URI).contains("WiFi Port 0"));

    // The wireless port settings: RPS sets the TCP retransmissions; DHCP only.
    let put = |props: &str| {
        req(
            action::PUT,
            EPS_URI,
            &[("InstanceID", "Intel(r) AMT Ethernet Port Settings 1")],
            &format!(r#"<h:{EPS} xmlns:h="{EPS_URI}">{props}</h:{EPS}>"#),
        )
    };
    let body = ok(run(
        &mut s,
        &mut d,
        &put("<h:DHCPEnabled>true</h:DHCPEnabled><h:ConsoleTcpMaxRetransmissions>7</h:ConsoleTcpMaxRetransmissions>"),
    ));
    assert!(body.contains("<g:ConsoleTcpMaxRetransmissions>7</g:ConsoleTcpMaxRetransmissions>"));
    let r = run(&mut s, &mut d, &put("<h:DHCPEnabled>false</h:DHCPEnabled>"));
    assert_eq!(fault_codes(&r).1.as_deref(), Some("e:InvalidParameter"));
}

#[test]
fn ipv6_port_settings_have_the_firmware_shape() {
    let mut s = WsmanService::new();
    let mut d = legacy_device();
    let uri = "http://intel.com/wbem/wscim/1/ips-schema/1/IPS_IPv6PortSettings";
    let get = req(
        action::GET,
        uri,
        &[("InstanceID", "Intel(r) IPS IPv6 Settings 0")],
        "",
    );
    let class = "IPS_IPv6PortSettings";
    assert_same_structure(
        &ok(run(&mut s, &mut d, &get)),
        &firmware(class, "Get.response.xml"),
        &[],
    );
    assert_same_structure(
        &pull(&mut s, &mut d, uri),
        &firmware(class, "Pull.response.xml"),
        &[],
    );
}

#[test]
fn wifi_pass_phrases_and_8021x_passwords_are_redacted() {
    let masked = amt_wsman::redact::redact(&add_wifi("AddWiFiSettings", "office", "Office"));
    assert!(!masked.contains("secretpass"), "{masked}");
    assert!(masked.contains("<q:PSKPassPhrase>***</q:PSKPassPhrase>"));
    let put = format!(
        r#"<h:IPS_IEEE8021xSettings xmlns:h="{X_URI}"><h:PSK>k</h:PSK><h:PACPassword>p</h:PACPassword></h:IPS_IEEE8021xSettings>"#
    );
    let masked = amt_wsman::redact::redact(&put);
    assert!(
        masked.contains("<h:PSK>***</h:PSK>")
            && masked.contains("<h:PACPassword>***</h:PACPassword>")
    );
    let put = format!(
        r#"<h:AMT_8021XProfile xmlns:h="{PROFILE_URI}"><h:Username>u</h:Username><h:Password>hunter2</h:Password></h:AMT_8021XProfile>"#
    );
    let masked = amt_wsman::redact::redact(&put);
    assert!(
        masked.contains("<h:Password>***</h:Password>") && masked.contains(">u<"),
        "{masked}"
    );
}

const PROFILE_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_8021XProfile";
const X_CONTEXT_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_8021xCredentialContext";
const CERT_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_PublicKeyCertificate";

fn certificate_epr(handle: u32) -> String {
    format!(
        r#"<a:Address>/wsman</a:Address><a:ReferenceParameters><w:ResourceURI>{CERT_URI}</w:ResourceURI><w:SelectorSet><w:Selector Name="InstanceID">Intel(r) AMT Certificate: Handle: {handle}</w:Selector></w:SelectorSet></a:ReferenceParameters>"#
    )
}

fn put_profile(s: &mut WsmanService, d: &mut Device, props: &str) -> WsmanReply {
    run(
        s,
        d,
        &req(
            action::PUT,
            PROFILE_URI,
            &[("InstanceID", "Intel(r) AMT 802.1x Profile 0")],
            &format!(
                r#"<h:AMT_8021XProfile xmlns:h="{PROFILE_URI}"><h:ElementName>Intel(r) AMT 802.1x Profile</h:ElementName><h:InstanceID>Intel(r) AMT 802.1x Profile 0</h:InstanceID>{props}</h:AMT_8021XProfile>"#
            ),
        ),
    )
}

#[test]
fn the_8021x_profile_takes_certificates_and_shows_them_as_credential_contexts() {
    let mut s = WsmanService::new();
    let mut d = legacy_device();
    let client = d
        .add_trusted_root_certificate(&amt_testkit::TestCa::new("802.1x client").der)
        .expect("stored");
    let root = d
        .add_trusted_root_certificate(&amt_testkit::TestCa::new("AAA root").der)
        .expect("stored");
    let body = ok(run(&mut s, &mut d, &req(action::GET, PROFILE_URI, &[], "")));
    assert!(body.contains("<g:Enabled>false</g:Enabled>"), "{body}");
    assert!(body.contains("<g:ActiveInS0>true</g:ActiveInS0>"), "{body}");
    assert!(!pull(&mut s, &mut d, X_CONTEXT_URI).contains("ElementInContext"));

    // EAP-TLS without a client certificate: refused, nothing kept.
    let eap_tls = "<h:Enabled>true</h:Enabled><h:AuthenticationProtocol>0</h:AuthenticationProtocol><h:Username>host1</h:Username><h:Password>pw</h:Password>";
    let r = put_profile(&mut s, &mut d, eap_tls);
    assert_eq!(fault_codes(&r).1.as_deref(), Some("e:InvalidParameter"));
    assert!(!r.effects.persist);

    let with_certs = format!(
        "{eap_tls}<h:ServerCertificateName>aaa.example.com</h:ServerCertificateName><h:ServerCertificateNameComparison>0</h:ServerCertificateNameComparison><h:ClientCertificate>{}</h:ClientCertificate><h:ServerCertificateIssue>{}</h:ServerCertificateIssue>",
        certificate_epr(client),
        certificate_epr(root)
    );
    let body = ok(put_profile(&mut s, &mut d, &with_certs));
    for expected in [
        "<g:Enabled>true</g:Enabled>",
        "<g:AuthenticationProtocol>0</g:AuthenticationProtocol>",
        "<g:PxeTimeout>120</g:PxeTimeout>",
        "<g:ServerCertificateName>aaa.example.com</g:ServerCertificateName>",
        "<g:Username>host1</g:Username>",
    ] {
        assert!(body.contains(expected), "{expected} in {body}");
    }
    assert!(
        !body.contains("pw<") && !body.contains("ClientCertificate"),
        "{body}"
    );
    // The settings class shows the same profile.
    let x = ok(run(&mut s, &mut d, &req(action::GET, X_URI, &[], "")));
    assert!(x.contains("<g:Enabled>2</g:Enabled>"), "{x}");

    let contexts = pull(&mut s, &mut d, X_CONTEXT_URI);
    for handle in [client, root] {
        assert!(
            contexts.contains(&format!("Intel(r) AMT Certificate: Handle: {handle}<")),
            "{contexts}"
        );
    }
    assert_eq!(
        contexts.matches("ElementProvidingContext>").count(),
        4,
        "{contexts}"
    );
    // Certificates in use are not deletable.
    assert!(d.delete_certificate(client).is_err());
    assert!(d.delete_certificate(root).is_err());

    // The server name needs its comparison; the issuer must be a root; a
    // day is the longest PXE timeout.
    for bad in [
        format!("{eap_tls}<h:ServerCertificateName>x</h:ServerCertificateName><h:ClientCertificate>{}</h:ClientCertificate>", certificate_epr(client)),
        format!("{eap_tls}<h:ClientCertificate>{}</h:ClientCertificate>", certificate_epr(99)),
        format!("{eap_tls}<h:PxeTimeout>86401</h:PxeTimeout>"),
        "<h:Enabled>true</h:Enabled><h:AuthenticationProtocol>7</h:AuthenticationProtocol>".to_string(),
        format!("<h:Enabled>true</h:Enabled><h:AuthenticationProtocol>2</h:AuthenticationProtocol><h:Password>{}</h:Password>", "p".repeat(33)),
    ] {
        let r = put_profile(&mut s, &mut d, &bad);
        assert_eq!(fault_codes(&r).1.as_deref(), Some("e:InvalidParameter"), "{bad}");
    }

    // Disabled: the credentials and certificates go, the certificates are free.
    let body = ok(put_profile(&mut s, &mut d, "<h:Enabled>false</h:Enabled>"));
    assert!(!body.contains("Username"), "{body}");
    assert!(!pull(&mut s, &mut d, X_CONTEXT_URI).contains("ElementInContext"));
    d.delete_certificate(client).expect("no longer in use");
}
