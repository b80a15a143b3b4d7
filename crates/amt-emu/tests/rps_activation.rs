//! Open AMT's RPS activation order against the real `amt-emu serve`
//! binary, every request built by Intel's wsman-messages (what RPS sends)
//! and posted with curl's digest: CCM activation over the local face as
//! `$$OsAdmin`, then as `admin` over the network the cleanup RPS runs right
//! after activating (its "unconfiguration" machine: Ethernet port
//! settings, 802.1x, HTTP proxies, remote-access rules and MPS entries, TLS
//! settings and certificates, environment detection), the wired network
//! configuration (DHCP), the features configuration (redirection on, KVM
//! on, user consent for all), and the maintenance host-name sync, ending
//! with the device read back in its configured state.
//!
//! The order and the edits RPS makes to what it read follow RPS's state
//! machines (`src/stateMachines/activation.ts`, `unconfiguration.ts`,
//! `networkConfiguration.ts`, `wiredNetworkConfiguration.ts`,
//! `featuresConfiguration.ts`, `maintenance/syncHostName.ts`).
//!
//! Steps whose classes another branch adds are marked `// needs:` and are
//! skipped at run time, with a printed note, while their class is not
//! registered.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::{json, Map, Value};
use support::*;

// Below the 11000-15700 range crash_safety.rs draws free offsets from.
const OFFSET: u16 = 10900;
const WIFI_OFFSET: u16 = 10950;
const LMS_ADDR: &str = "127.0.0.3";

struct Face {
    url: String,
    user: String,
    password: String,
}

/// `curl --digest` as `face.user`; (status, body).
fn post_as(face: &Face, xml: &str, dir: &Path) -> (u16, String) {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = dir.join(format!("rps-{n}.xml"));
    std::fs::write(&file, xml).expect("write request");
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "--max-time", "20", "--digest", "-u"])
        .arg(format!("{}:{}", face.user, face.password))
        .args(["-H", "Content-Type: application/soap+xml;charset=UTF-8"])
        .arg("--data-binary")
        .arg(format!("@{}", file.display()))
        .args(["-w", "\n%{http_code}"])
        .arg(&face.url);
    let out = run(cmd, CLIENT_TIMEOUT);
    assert!(out.success, "curl failed: {}", out.stderr);
    let (body, code) = out.stdout.rsplit_once('\n').expect("status code");
    (code.trim().parse().expect("status"), body.to_string())
}

/// A wsman-messages call answered 200; the body.
fn call(
    face: &Face,
    dir: &Path,
    ns: &str,
    class: &str,
    method: &str,
    args: Option<Value>,
) -> String {
    let args = args.map(|a| a.to_string());
    let xml = wsman_messages(ns, class, method, args.as_deref());
    let (status, body) = post_as(face, &xml, dir);
    assert_eq!(status, 200, "{ns}.{class}.{method}: {body}");
    body
}

/// Enumerate then Pull, as RPS does; the Pull body.
fn enumerate_pull(face: &Face, dir: &Path, ns: &str, class: &str) -> String {
    let e = call(face, dir, ns, class, "Enumerate", None);
    let ctx = value(&e, "EnumerationContext").expect("a context");
    call(face, dir, ns, class, "Pull", Some(json!([ctx])))
}

/// The instances of `class` in a reply, each as the JSON object RPS's XML
/// parser makes of it (repeated properties become arrays).
fn instances(xml: &str, class: &str) -> Vec<Map<String, Value>> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&format!(":{class}>")) {
        let after = &rest[start + class.len() + 2..];
        let end = after.find(&format!(":{class}>")).expect("closing tag");
        // `after[..end]` ends with `</prefix`; drop it.
        let inner = &after[..after[..end].rfind('<').expect("closing tag")];
        let mut obj = Map::new();
        let mut s = inner;
        while let Some(open) = s.find('<') {
            let close = s[open..].find('>').expect("tag end") + open;
            let tag = &s[open + 1..close];
            let name = tag.split_once(':').map_or(tag, |(_, n)| n).to_string();
            let end_tag = format!("</{tag}>");
            let value_end = s[close..].find(&end_tag).expect("end tag") + close;
            let value = Value::String(s[close + 1..value_end].to_string());
            match obj.get_mut(&name) {
                Some(Value::Array(a)) => a.push(value),
                Some(v) => *v = Value::Array(vec![v.clone(), value]),
                None => {
                    obj.insert(name, value);
                }
            }
            s = &s[value_end + end_tag.len()..];
        }
        out.push(obj);
        rest = &after[end + class.len() + 1..];
    }
    out
}

/// The first value of property `name` in a reply, whatever its prefix.
fn value(xml: &str, name: &str) -> Option<String> {
    let needle = format!(":{name}>");
    let mut from = 0;
    while let Some(i) = xml[from..].find(&needle) {
        let at = from + i;
        let lt = xml[..at].rfind('<')?;
        if !xml[lt + 1..at].starts_with('/') {
            let start = at + needle.len();
            let end = xml[start..].find("</")? + start;
            return Some(xml[start..end].to_string());
        }
        from = at + needle.len();
    }
    None
}

/// Whether the class a step needs is registered in this build.
fn has(ns_uri: &str, class: &str) -> bool {
    let uri = format!("{ns_uri}{class}");
    let present = amt_wsman::classes::class_for(&uri).is_some();
    if !present {
        eprintln!("note: {class} is not registered in this build; skipping its RPS step");
    }
    present
}

const AMT: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/";
const IPS: &str = "http://intel.com/wbem/wscim/1/ips-schema/1/";
const CIM: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/";

fn md5_hex(s: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new device from `scenario`, CCM-activated over the local face as RPS
/// does it; the running server, `admin` on the network, the realm and the
/// general settings RPS read.
fn activate(offset: u16, scenario: &str, dir: &Path) -> (Emu, Face, String, String) {
    let scenario = format!(
        "{}/../../fixtures/scenarios/{scenario}",
        env!("CARGO_MANIFEST_DIR")
    );
    let emu = Emu::start_with(
        offset,
        &[],
        &["--lms-listen", LMS_ADDR, "--scenario", &scenario],
    );
    // rpc reads the local account over HECI; here, the control API.
    let control = format!(
        "http://127.0.0.1:{}/api/host/local-system-account",
        16990 + offset
    );
    let mut c = Command::new("curl");
    c.args(["-s", "--max-time", "20"]).arg(&control);
    let out = run(c, CLIENT_TIMEOUT);
    let account: Value = serde_json::from_str(&out.stdout).expect("local account JSON");
    let local = Face {
        url: format!("http://{}/wsman", emu.addr("Plain", "Local")),
        user: account["username"].as_str().expect("username").into(),
        password: account["password"].as_str().expect("password").into(),
    };
    let gs = call(&local, dir, "AMT", "GeneralSettings", "Get", None);
    let realm = value(&gs, "DigestRealm").expect("DigestRealm");
    assert!(realm.starts_with("Digest:") && realm.len() == 39, "{realm}");
    let hbs = call(&local, dir, "IPS", "HostBasedSetupService", "Get", None);
    assert_eq!(value(&hbs, "CurrentControlMode").as_deref(), Some("0"));
    let setup = call(
        &local,
        dir,
        "IPS",
        "HostBasedSetupService",
        "Setup",
        Some(json!([2, md5_hex(&format!("admin:{realm}:{PASSWORD}"))])),
    );
    assert_eq!(
        value(&setup, "ReturnValue").as_deref(),
        Some("0"),
        "{setup}"
    );
    // From here on RPS is `admin` over the network (AMT 15: plain 16992).
    let admin = Face {
        url: format!("http://{}/wsman", emu.addr("Plain", "Remote")),
        user: "admin".into(),
        password: PASSWORD.into(),
    };
    (emu, admin, realm, gs)
}

/// What RPS's cleanup found and removed.
#[derive(Debug, Default)]
struct Cleanup {
    wired: Option<Map<String, Value>>,
    wireless: Option<Map<String, Value>>,
    disabled_8021x: bool,
    deleted_wifi_profiles: Vec<String>,
    deleted_proxies: Vec<String>,
}

/// RPS's cleanup right after activating ("unconfiguration"), following its
/// guards on what each read answered.
fn cleanup(admin: &Face, dir: &Path) -> Cleanup {
    let mut seen = Cleanup::default();
    let ports = enumerate_pull(admin, dir, "AMT", "EthernetPortSettings");
    for p in instances(&ports, "AMT_EthernetPortSettings") {
        let id = p["InstanceID"].as_str().unwrap_or_default().to_string();
        if id.ends_with("Settings 0") {
            seen.wired = Some(p);
        } else if id.ends_with("Settings 1") {
            seen.wireless = Some(p);
        }
    }
    let wired = seen
        .wired
        .as_ref()
        .is_some_and(|w| w.contains_key("MACAddress"));
    let wifi = seen
        .wireless
        .as_ref()
        .is_some_and(|w| w.contains_key("MACAddress"));
    if wired {
        // Read 802.1x; disable it when enabled (2 or 6).
        let dot1x = call(admin, dir, "IPS", "IEEE8021xSettings", "Get", None);
        let mut dot1x = instances(&dot1x, "IPS_IEEE8021xSettings").remove(0);
        if dot1x["Enabled"] == "2" || dot1x["Enabled"] == "6" {
            dot1x.remove("Username");
            dot1x.remove("Password");
            dot1x.remove("AuthenticationProtocol");
            dot1x.insert("Enabled".into(), json!(3));
            let put = call(
                admin,
                dir,
                "IPS",
                "IEEE8021xSettings",
                "Put",
                Some(json!([dot1x])),
            );
            assert_eq!(value(&put, "Enabled").as_deref(), Some("3"));
            seen.disabled_8021x = true;
        }
    }
    if wifi {
        // Every profile with an InstanceID and a priority, deleted by InstanceID.
        let profiles = enumerate_pull(admin, dir, "CIM", "WiFiEndpointSettings");
        for p in instances(&profiles, "CIM_WiFiEndpointSettings") {
            if p["Priority"] == "0" {
                continue;
            }
            let id = p["InstanceID"].as_str().expect("InstanceID").to_string();
            call(
                admin,
                dir,
                "CIM",
                "WiFiEndpointSettings",
                "Delete",
                Some(json!([{"name": "InstanceID", "value": id}])),
            );
            seen.deleted_wifi_profiles.push(id);
        }
    }
    let proxies = enumerate_pull(admin, dir, "IPS", "HTTPProxyAccessPoint");
    for p in instances(&proxies, "IPS_HTTPProxyAccessPoint") {
        let name = p["Name"].as_str().expect("Name").to_string();
        call(
            admin,
            dir,
            "IPS",
            "HTTPProxyAccessPoint",
            "Delete",
            Some(json!([{"name": "Name", "value": name}])),
        );
        seen.deleted_proxies.push(name);
    }
    // needs: AMT_RemoteAccessPolicyRule, AMT_ManagementPresenceRemoteSAP (CIRA branch)
    if has(AMT, "AMT_RemoteAccessPolicyRule") {
        for rule in ["User Initiated", "Alert", "Periodic"] {
            // RPS tolerates the 400 of a rule that is not there.
            let xml = wsman_messages(
                "AMT",
                "RemoteAccessPolicyRule",
                "Delete",
                Some(&json!([{"name": "PolicyRuleName", "value": rule}]).to_string()),
            );
            let (status, body) = post_as(admin, &xml, dir);
            assert!(status == 200 || status == 400, "{rule}: {body}");
        }
    }
    if has(AMT, "AMT_ManagementPresenceRemoteSAP") {
        let saps = enumerate_pull(admin, dir, "AMT", "ManagementPresenceRemoteSAP");
        assert!(instances(&saps, "AMT_ManagementPresenceRemoteSAP").is_empty());
    }
    // TLS: both settings off on AMT 15, so RPS goes on to the certificates.
    let tls = enumerate_pull(admin, dir, "AMT", "TLSSettingData");
    let tls = instances(&tls, "AMT_TLSSettingData");
    assert_eq!(tls.len(), 2);
    assert!(tls.iter().all(|t| t["Enabled"] == "false"));
    let certs = enumerate_pull(admin, dir, "AMT", "PublicKeyCertificate");
    assert!(instances(&certs, "AMT_PublicKeyCertificate").is_empty());
    // needs: AMT_EnvironmentDetectionSettingData (CIRA branch)
    if has(AMT, "AMT_EnvironmentDetectionSettingData") {
        call(
            admin,
            dir,
            "AMT",
            "EnvironmentDetectionSettingData",
            "Get",
            None,
        );
    }
    seen
}

/// RPS's network configuration up to and including the wired DHCP Put;
/// answers the Put's reply.
fn configure_wired_dhcp(admin: &Face, dir: &Path, general_settings: &str) -> String {
    // General settings need no Put: network on, shared FQDN, RMCP ping.
    let gs = instances(general_settings, "AMT_GeneralSettings").remove(0);
    assert_eq!(gs["AMTNetworkEnabled"], "1");
    assert_eq!(gs["SharedFQDN"], "true");
    assert_eq!(gs["RmcpPingResponseEnabled"], "true");
    let ports = enumerate_pull(admin, dir, "AMT", "EthernetPortSettings");
    let mut wired = instances(&ports, "AMT_EthernetPortSettings").remove(0);
    wired.insert("DHCPEnabled".into(), json!(true));
    wired.insert("IpSyncEnabled".into(), json!(true));
    wired.insert("SharedStaticIp".into(), json!(false));
    for k in [
        "SubnetMask",
        "DefaultGateway",
        "IPAddress",
        "PrimaryDNS",
        "SecondaryDNS",
    ] {
        wired.remove(k);
    }
    let put = call(
        admin,
        dir,
        "AMT",
        "EthernetPortSettings",
        "Put",
        Some(json!([wired])),
    );
    // RPS's isNotEthernetSettingsUpdated check on the reply.
    assert_eq!(value(&put, "DHCPEnabled").as_deref(), Some("true"));
    assert_eq!(value(&put, "IpSyncEnabled").as_deref(), Some("true"));
    assert_eq!(value(&put, "SharedStaticIp").as_deref(), Some("false"));
    put
}

/// Features: redirection (IDER+SOL) on, KVM on, user consent for all.
fn configure_features(admin: &Face, dir: &Path) {
    // needs: AMT_RedirectionService, IPS_OptInService, CIM_KVMRedirectionSAP (consent branch)
    if !(has(AMT, "AMT_RedirectionService")
        && has(IPS, "IPS_OptInService")
        && has(CIM, "CIM_KVMRedirectionSAP"))
    {
        return;
    }
    let redirection = call(admin, dir, "AMT", "RedirectionService", "Get", None);
    call(admin, dir, "IPS", "OptInService", "Get", None);
    call(admin, dir, "CIM", "KVMRedirectionSAP", "Get", None);
    let r = call(
        admin,
        dir,
        "AMT",
        "RedirectionService",
        "RequestStateChange",
        Some(json!([32771])),
    );
    assert_eq!(value(&r, "ReturnValue").as_deref(), Some("0"));
    let r = call(
        admin,
        dir,
        "CIM",
        "KVMRedirectionSAP",
        "RequestStateChange",
        Some(json!([2])),
    );
    assert_eq!(value(&r, "ReturnValue").as_deref(), Some("0"));
    let mut service = instances(&redirection, "AMT_RedirectionService").remove(0);
    service.insert("EnabledState".into(), json!(32771));
    service.insert("ListenerEnabled".into(), json!(true));
    call(
        admin,
        dir,
        "AMT",
        "RedirectionService",
        "Put",
        Some(json!([service])),
    );
    let opt_in = call(admin, dir, "IPS", "OptInService", "Get", None);
    let mut opt_in = instances(&opt_in, "IPS_OptInService").remove(0);
    opt_in.insert("OptInRequired".into(), json!(4294967295u32));
    call(
        admin,
        dir,
        "IPS",
        "OptInService",
        "Put",
        Some(json!([opt_in])),
    );
}

/// The features as configured, where their classes are registered.
fn assert_features(admin: &Face, dir: &Path) {
    if has(AMT, "AMT_RedirectionService") && has(IPS, "IPS_OptInService") {
        let r = call(admin, dir, "AMT", "RedirectionService", "Get", None);
        assert_eq!(value(&r, "EnabledState").as_deref(), Some("32771"));
        let o = call(admin, dir, "IPS", "OptInService", "Get", None);
        assert_eq!(value(&o, "OptInRequired").as_deref(), Some("4294967295"));
    }
}

#[test]
fn rps_activation_cleanup_network_and_features_in_rps_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    let (_emu, admin, realm, gs) = activate(OFFSET, "rps-reactivation-network.toml", dir);

    let seen = cleanup(&admin, dir);
    let wired = seen.wired.as_ref().expect("the wired port");
    assert_eq!(wired["MACAddress"], "02-86-80-15-23-01");
    assert!(seen.wireless.is_none(), "a wired-only board");
    assert!(seen.disabled_8021x, "the scenario left 802.1x on");
    assert_eq!(seen.deleted_proxies.len(), 1, "the scenario's proxy");

    let put = configure_wired_dhcp(&admin, dir, &gs);
    assert_eq!(
        value(&put, "IPAddress").as_deref(),
        Some("10.20.30.40"),
        "the lease"
    );
    configure_features(&admin, dir);

    // Maintenance: sync the host name the OS reports.
    let gs = call(&admin, dir, "AMT", "GeneralSettings", "Get", None);
    let mut gs = instances(&gs, "AMT_GeneralSettings").remove(0);
    gs.insert("HostName".into(), json!("rps-host"));
    let put = call(
        &admin,
        dir,
        "AMT",
        "GeneralSettings",
        "Put",
        Some(json!([gs])),
    );
    assert_eq!(value(&put, "HostName").as_deref(), Some("rps-host"));

    // Read back: the configured device.
    let sacs = call(
        &admin,
        dir,
        "AMT",
        "SetupAndConfigurationService",
        "Get",
        None,
    );
    assert_eq!(value(&sacs, "ProvisioningState").as_deref(), Some("2"));
    let hbs = call(&admin, dir, "IPS", "HostBasedSetupService", "Get", None);
    assert_eq!(value(&hbs, "CurrentControlMode").as_deref(), Some("1"));
    let ports = enumerate_pull(&admin, dir, "AMT", "EthernetPortSettings");
    let wired = instances(&ports, "AMT_EthernetPortSettings").remove(0);
    assert_eq!(wired["DHCPEnabled"], "true");
    assert_eq!(wired["SharedStaticIp"], "false");
    let dot1x = call(&admin, dir, "IPS", "IEEE8021xSettings", "Get", None);
    assert_eq!(value(&dot1x, "Enabled").as_deref(), Some("3"));
    let proxies = enumerate_pull(&admin, dir, "IPS", "HTTPProxyAccessPoint");
    assert!(instances(&proxies, "IPS_HTTPProxyAccessPoint").is_empty());
    let gs = call(&admin, dir, "AMT", "GeneralSettings", "Get", None);
    assert_eq!(value(&gs, "HostName").as_deref(), Some("rps-host"));
    assert_eq!(value(&gs, "DigestRealm").as_deref(), Some(realm.as_str()));
    assert_features(&admin, dir);
}

/// A board with Wi-Fi: the cleanup deletes the old profiles, then RPS's
/// Wi-Fi configuration (`wifiNetworkConfiguration.ts`) sets the wireless
/// port's TCP retransmissions, turns local profile sync on, enables the
/// Wi-Fi port in S0 and Sx, and adds the profile.
#[test]
fn rps_configures_wifi_on_a_board_with_wifi() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    let (_emu, admin, _realm, gs) = activate(WIFI_OFFSET, "rps-reactivation-wifi.toml", dir);

    let seen = cleanup(&admin, dir);
    let wireless = seen.wireless.clone().expect("the wireless port");
    assert!(!seen.disabled_8021x);
    assert_eq!(
        seen.deleted_wifi_profiles,
        ["Intel(r) AMT:WiFi Endpoint Settings old-office"]
    );
    configure_wired_dhcp(&admin, dir, &gs);

    // Wi-Fi configuration.
    let mut wifi = wireless;
    wifi.remove("PrimaryDNS");
    wifi.remove("SecondaryDNS");
    wifi.insert("ConsoleTcpMaxRetransmissions".into(), json!(5));
    call(
        &admin,
        dir,
        "AMT",
        "EthernetPortSettings",
        "Put",
        Some(json!([wifi])),
    );
    let wpcs = call(
        &admin,
        dir,
        "AMT",
        "WiFiPortConfigurationService",
        "Get",
        None,
    );
    let mut wpcs = instances(&wpcs, "AMT_WiFiPortConfigurationService").remove(0);
    // needs: AMT_BootCapabilities (power/boot branch; RPS reads it for UEFI Wi-Fi sharing)
    if has(AMT, "AMT_BootCapabilities") {
        call(&admin, dir, "AMT", "BootCapabilities", "Get", None);
    }
    wpcs.insert("localProfileSynchronizationEnabled".into(), json!(3));
    let put = call(
        &admin,
        dir,
        "AMT",
        "WiFiPortConfigurationService",
        "Put",
        Some(json!([wpcs])),
    );
    assert_eq!(
        value(&put, "localProfileSynchronizationEnabled").as_deref(),
        Some("3")
    );
    let r = call(
        &admin,
        dir,
        "CIM",
        "WiFiPort",
        "RequestStateChange",
        Some(json!([32769])),
    );
    assert_eq!(value(&r, "ReturnValue").as_deref(), Some("0"));
    let profile = json!({
        "ElementName": "office",
        "InstanceID": "Intel(r) AMT:WiFi Endpoint Settings office",
        "AuthenticationMethod": 6,
        "EncryptionMethod": 4,
        "SSID": "OfficeNet",
        "Priority": 1,
        "PSKPassPhrase": "office-pass-phrase"
    });
    let r = call(
        &admin,
        dir,
        "AMT",
        "WiFiPortConfigurationService",
        "AddWiFiSettings",
        Some(json!([profile, {"name": "Name", "value": "WiFi Endpoint 0"}])),
    );
    assert_eq!(value(&r, "ReturnValue").as_deref(), Some("0"), "{r}");

    // Read back.
    let profiles = enumerate_pull(&admin, dir, "CIM", "WiFiEndpointSettings");
    let profiles = instances(&profiles, "CIM_WiFiEndpointSettings");
    assert_eq!(profiles.len(), 1);
    assert_eq!(profiles[0]["SSID"], "OfficeNet");
    assert!(!serde_json::to_string(&profiles)
        .unwrap()
        .contains("office-pass-phrase"));
    let port = call(&admin, dir, "CIM", "WiFiPort", "Get", None);
    assert_eq!(value(&port, "EnabledState").as_deref(), Some("32769"));
    let ports = enumerate_pull(&admin, dir, "AMT", "EthernetPortSettings");
    let ports = instances(&ports, "AMT_EthernetPortSettings");
    assert_eq!(ports[1]["ConsoleTcpMaxRetransmissions"], "5");
}
