//! The host classes (power, boot, alarm clock, event log) against DMT's
//! canned firmware replies (element structure), and what each call does to
//! the host model, refusals included.

mod support;

use amt_device::{BootTarget, Device, PowerState};
use amt_wsman::namespaces::ENUMERATION;
use amt_wsman::{WsmanReply, WsmanService};
use base64::Engine;
use support::structure::assert_same_structure;
use support::*;

const CIM: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/";
const AMT: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/";
const IPS: &str = "http://intel.com/wbem/wscim/1/ips-schema/1/";
const TRANSFER: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/";

fn uri(class: &str) -> String {
    let base = if class.starts_with("CIM_") {
        CIM
    } else if class.starts_with("AMT_") {
        AMT
    } else {
        IPS
    };
    format!("{base}{class}")
}

/// A request in the spelling of the console libraries.
fn envelope(class: &str, action: &str, selectors: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns="http://www.w3.org/2003/05/soap-envelope"><Header><a:Action>{action}</a:Action><a:To>/wsman</a:To><w:ResourceURI>{}</w:ResourceURI><a:MessageID>1</a:MessageID><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><w:OperationTimeout>PT60S</w:OperationTimeout>{selectors}</Header><Body>{body}</Body></Envelope>"#,
        uri(class)
    )
}

fn epr(class: &str, selectors: &[(&str, &str)]) -> String {
    let sel: String = selectors
        .iter()
        .map(|(n, v)| format!(r#"<Selector Name="{n}">{v}</Selector>"#))
        .collect();
    format!(
        r#"<Address xmlns="http://schemas.xmlsoap.org/ws/2004/08/addressing">http://schemas.xmlsoap.org/ws/2004/08/addressing</Address><ReferenceParameters xmlns="http://schemas.xmlsoap.org/ws/2004/08/addressing"><ResourceURI xmlns="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd">{}</ResourceURI><SelectorSet xmlns="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd">{sel}</SelectorSet></ReferenceParameters>"#,
        uri(class)
    )
}

fn host_epr() -> String {
    epr(
        "CIM_ComputerSystem",
        &[
            ("CreationClassName", "CIM_ComputerSystem"),
            ("Name", "ManagedSystem"),
        ],
    )
}

struct Host {
    device: Device,
    service: WsmanService,
}

impl Host {
    fn new() -> Host {
        Host {
            device: legacy_device(),
            service: WsmanService::new(),
        }
    }

    fn send(&mut self, request: &str) -> WsmanReply {
        self.service
            .handle(&mut self.device, request.as_bytes(), &admin())
    }

    fn ok(&mut self, request: &str) -> String {
        let r = self.send(request);
        assert_eq!(r.status, 200, "{}", text(&r));
        text(&r)
    }

    fn get(&mut self, class: &str) -> String {
        self.ok(&envelope(class, &format!("{TRANSFER}Get"), "", ""))
    }

    fn pull(&mut self, class: &str) -> String {
        let e = self.ok(&envelope(
            class,
            "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate",
            "",
            r#"<Enumerate xmlns="http://schemas.xmlsoap.org/ws/2004/09/enumeration" />"#,
        ));
        let t = amt_wsman::xml::parse(e.as_bytes(), Default::default()).unwrap();
        let ctx = find(&t, ENUMERATION, "EnumerationContext")
            .unwrap()
            .trimmed_text()
            .to_string();
        self.ok(&envelope(
            class,
            "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull",
            "",
            &format!(
                r#"<Pull xmlns="http://schemas.xmlsoap.org/ws/2004/09/enumeration"><EnumerationContext>{ctx}</EnumerationContext><MaxElements>999</MaxElements></Pull>"#
            ),
        ))
    }

    /// Invokes `method` with the parameters `params` (XML, `h:` prefix).
    fn invoke(&mut self, class: &str, method: &str, params: &str) -> String {
        let body = format!(
            r#"<h:{method}_INPUT xmlns:h="{}">{params}</h:{method}_INPUT>"#,
            uri(class)
        );
        self.ok(&envelope(
            class,
            &format!("{}/{method}", uri(class)),
            "",
            &body,
        ))
    }

    fn power(&mut self, code: u32) -> String {
        let params = format!(
            "<h:PowerState>{code}</h:PowerState><h:ManagedElement>{}</h:ManagedElement>",
            host_epr()
        );
        return_value(&self.invoke(
            "CIM_PowerManagementService",
            "RequestPowerStateChange",
            &params,
        ))
    }
}

/// Every text of `local` elements in a reply, in order.
fn values(xml: &str, local: &str) -> Vec<String> {
    let t = amt_wsman::xml::parse(xml.as_bytes(), Default::default()).unwrap();
    let mut out = Vec::new();
    fn walk(e: &amt_wsman::xml::Element, local: &str, out: &mut Vec<String>) {
        if e.local_name == local {
            out.push(e.trimmed_text().to_string());
        }
        for c in &e.children {
            walk(c, local, out);
        }
    }
    walk(&t, local, &mut out);
    out
}

fn return_value(xml: &str) -> String {
    values(xml, "ReturnValue").pop().expect("a ReturnValue")
}

#[test]
fn the_power_state_poll_has_the_firmware_shape() {
    let mut h = Host::new();
    let pull = h.pull("CIM_ServiceAvailableToElement");
    assert_same_structure(
        &pull,
        &firmware("CIM_ServiceAvailableToElement", "Pull.response.xml"),
        &[],
    );
    assert_eq!(values(&pull, "PowerState"), ["2"]);
    let get = h.get("CIM_AssociatedPowerManagementService");
    assert_same_structure(
        &get,
        &firmware("CIM_AssociatedPowerManagementService", "Get.response.xml"),
        &[],
    );
    assert_eq!(
        values(&get, "AvailableRequestedPowerStates"),
        ["10", "8", "5", "11", "4", "7", "14", "12"]
    );
}

#[test]
fn power_changes_follow_the_state_machine_and_refusals_change_nothing() {
    let mut h = Host::new();
    assert_same_structure(
        &h.get("CIM_PowerManagementService"),
        &firmware("CIM_PowerManagementService", "Get.response.xml"),
        &[],
    );
    let params = format!(
        "<h:PowerState>8</h:PowerState><h:ManagedElement>{}</h:ManagedElement>",
        host_epr()
    );
    let reply = h.invoke(
        "CIM_PowerManagementService",
        "RequestPowerStateChange",
        &params,
    );
    assert_same_structure(
        &reply,
        &firmware(
            "CIM_PowerManagementService",
            "RequestPowerStateChange.response.xml",
        ),
        &[],
    );
    assert_eq!(return_value(&reply), "0");
    assert_eq!(h.device.power_state(), PowerState::SoftOff);
    let poll = h.pull("CIM_ServiceAvailableToElement");
    assert_eq!(values(&poll, "PowerState"), ["8"]);
    assert_eq!(values(&poll, "AvailableRequestedPowerStates"), ["2"]);

    // Refused: already off, unknown codes, a reset of a machine that is off.
    let flash = amt_device::flash::encode(&h.device);
    for code in [8, 10, 99, 3] {
        assert_eq!(h.power(code), "2", "code {code}");
    }
    // Malformed input: the ME instead of the host, no number.
    let me = epr(
        "CIM_ComputerSystem",
        &[
            ("CreationClassName", "CIM_ComputerSystem"),
            ("Name", "Intel(r) AMT"),
        ],
    );
    let wrong = format!("<h:PowerState>2</h:PowerState><h:ManagedElement>{me}</h:ManagedElement>");
    assert_eq!(
        return_value(&h.invoke(
            "CIM_PowerManagementService",
            "RequestPowerStateChange",
            &wrong
        )),
        "5"
    );
    let nan = format!(
        "<h:PowerState>on</h:PowerState><h:ManagedElement>{}</h:ManagedElement>",
        host_epr()
    );
    assert_eq!(
        return_value(&h.invoke(
            "CIM_PowerManagementService",
            "RequestPowerStateChange",
            &nan
        )),
        "5"
    );
    assert_eq!(amt_device::flash::encode(&h.device), flash);

    assert_eq!(h.power(2), "0");
    assert_eq!(h.device.power_state(), PowerState::On);
    for code in [10, 5, 14, 11, 12] {
        assert_eq!(h.power(code), "0", "code {code}");
    }
    assert_eq!(h.device.power_state(), PowerState::SoftOff);
}

#[test]
fn ips_power_service_reports_os_power_saving_only_while_running() {
    let mut h = Host::new();
    let get = h.get("IPS_PowerManagementService");
    assert_same_structure(
        &get,
        &firmware("IPS_PowerManagementService", "Get.response.xml"),
        &[],
    );
    assert_eq!(values(&get, "OSPowerSavingState"), ["2"]);
    let params = format!(
        "<h:OSPowerSavingState>3</h:OSPowerSavingState><h:ManagedElement>{}</h:ManagedElement>",
        host_epr()
    );
    let reply = h.invoke(
        "IPS_PowerManagementService",
        "RequestOSPowerSavingStateChange",
        &params,
    );
    assert_same_structure(
        &reply,
        &firmware(
            "IPS_PowerManagementService",
            "RequestOSPowerSavingStateChange.response.xml",
        ),
        &[],
    );
    assert_eq!(return_value(&reply), "0");
    assert_eq!(
        values(&h.get("IPS_PowerManagementService"), "OSPowerSavingState"),
        ["3"]
    );
    assert_eq!(h.power(8), "0");
    assert!(values(&h.get("IPS_PowerManagementService"), "OSPowerSavingState").is_empty());
}

#[test]
fn capabilities_and_power_scheme_have_the_firmware_shape() {
    let mut h = Host::new();
    for class in [
        "CIM_PowerManagementCapabilities",
        "AMT_SystemPowerScheme",
        "AMT_BootCapabilities",
        "CIM_BootService",
        "CIM_BootConfigSetting",
        "AMT_AlarmClockService",
        "AMT_MessageLog",
    ] {
        assert_same_structure(&h.get(class), &firmware(class, "Get.response.xml"), &[]);
    }
    assert_same_structure(
        &h.pull("CIM_BootSourceSetting"),
        &firmware("CIM_BootSourceSetting", "Pull.response.xml"),
        &[],
    );
}

/// `AMT_BootSettingData` as read, with `changes` applied (name, value).
fn boot_settings_put(read: &str, changes: &[(&str, &str)]) -> String {
    let t = amt_wsman::xml::parse(read.as_bytes(), Default::default()).unwrap();
    let inst = find(&t, &uri("AMT_BootSettingData"), "AMT_BootSettingData").unwrap();
    let props: String = inst
        .children
        .iter()
        .map(|c| {
            let v = changes
                .iter()
                .find(|(n, _)| *n == c.local_name)
                .map(|(_, v)| v.to_string())
                .unwrap_or_else(|| c.trimmed_text().to_string());
            format!(
                "<h:{0}>{1}</h:{0}>",
                c.local_name,
                amt_wsman::xml::escape_text(&v)
            )
        })
        .collect();
    envelope(
        "AMT_BootSettingData",
        &format!("{TRANSFER}Put"),
        "",
        &format!(
            r#"<h:AMT_BootSettingData xmlns:h="{}">{props}</h:AMT_BootSettingData>"#,
            uri("AMT_BootSettingData")
        ),
    )
}

fn set_role(h: &mut Host) -> String {
    let params = format!(
        "<h:BootConfigSetting>{}</h:BootConfigSetting><h:Role>1</h:Role>",
        epr(
            "CIM_BootConfigSetting",
            &[("InstanceID", "Intel(r) AMT: Boot Configuration 0")]
        )
    );
    h.invoke("CIM_BootService", "SetBootConfigRole", &params)
}

fn change_boot_order(h: &mut Host, source: &str) -> String {
    let params = format!(
        "<h:Source>{}</h:Source>",
        epr("CIM_BootSourceSetting", &[("InstanceID", source)])
    );
    h.invoke("CIM_BootConfigSetting", "ChangeBootOrder", &params)
}

#[test]
fn reset_to_bios_and_power_on_to_pxe_consume_the_boot_options() {
    let mut h = Host::new();
    let read = h.get("AMT_BootSettingData");
    assert_same_structure(
        &read,
        &firmware("AMT_BootSettingData", "Get.response.xml"),
        &[],
    );
    let put = h.ok(&boot_settings_put(&read, &[("BIOSSetup", "true")]));
    // The Put reply is the stored instance (DMT's put.xml is a request).
    assert_same_structure(
        &put,
        &firmware("AMT_BootSettingData", "Get.response.xml"),
        &[],
    );
    assert_eq!(values(&put, "OptionsCleared"), ["false"]);
    let role = set_role(&mut h);
    assert_same_structure(
        &role,
        &firmware("CIM_BootService", "SetBootConfigRole.response.xml"),
        &[],
    );
    assert_eq!(return_value(&role), "0");
    assert_eq!(h.power(10), "0");
    assert_eq!(h.device.last_boot().unwrap().target, BootTarget::BiosSetup);
    assert_eq!(
        values(&h.get("AMT_BootSettingData"), "OptionsCleared"),
        ["true"]
    );

    assert_eq!(h.power(8), "0");
    let read = h.get("AMT_BootSettingData");
    h.ok(&boot_settings_put(&read, &[]));
    assert_eq!(return_value(&set_role(&mut h)), "0");
    let order = change_boot_order(&mut h, "Intel(r) AMT: Force PXE Boot");
    assert_same_structure(
        &order,
        &firmware("CIM_BootConfigSetting", "ChangeBootOrder.response.xml"),
        &[],
    );
    assert_eq!(return_value(&order), "0");
    assert_eq!(h.power(2), "0");
    assert_eq!(h.device.last_boot().unwrap().target, BootTarget::Pxe);

    // IDE-R CD.
    let read = h.get("AMT_BootSettingData");
    h.ok(&boot_settings_put(
        &read,
        &[
            ("UseIDER", "true"),
            ("IDERBootDevice", "1"),
            ("UseSOL", "true"),
        ],
    ));
    set_role(&mut h);
    assert_eq!(h.power(10), "0");
    let boot = h.device.last_boot().unwrap();
    assert_eq!((boot.target, boot.sol), (BootTarget::IderCd, true));
}

#[test]
fn bad_boot_input_is_refused_and_changes_nothing() {
    let mut h = Host::new();
    let read = h.get("AMT_BootSettingData");
    let flash = amt_device::flash::encode(&h.device);
    for change in [
        ("InstanceID", "Intel(r) AMT:BootSettingData 1"),
        ("BIOSSetup", "maybe"),
        ("IDERBootDevice", "7"),
    ] {
        let r = h.send(&boot_settings_put(&read, &[change]));
        assert_eq!(r.status, 400, "{change:?}: {}", text(&r));
        assert_eq!(
            fault_codes(&r).1.as_deref(),
            Some("e:InvalidRepresentation"),
            "{change:?}"
        );
    }
    assert_eq!(
        return_value(&change_boot_order(
            &mut h,
            "Intel(r) AMT: Force Floppy Boot"
        )),
        "4"
    );
    assert_eq!(
        return_value(&h.invoke(
            "CIM_BootConfigSetting",
            "ChangeBootOrder",
            "<h:Source>not an EPR</h:Source>"
        )),
        "5"
    );
    let wrong_role = format!(
        "<h:BootConfigSetting>{}</h:BootConfigSetting><h:Role>0</h:Role>",
        epr(
            "CIM_BootConfigSetting",
            &[("InstanceID", "Intel(r) AMT: Boot Configuration 0")]
        )
    );
    assert_eq!(
        return_value(&h.invoke("CIM_BootService", "SetBootConfigRole", &wrong_role)),
        "5"
    );
    assert_eq!(amt_device::flash::encode(&h.device), flash);
}

#[test]
fn boot_service_state_changes_only_to_the_recovery_states() {
    let mut h = Host::new();
    assert_eq!(values(&h.get("CIM_BootService"), "EnabledState"), ["2"]);
    let change = |h: &mut Host, state: &str| {
        let r = h.invoke(
            "CIM_BootService",
            "RequestStateChange",
            &format!("<h:RequestedState>{state}</h:RequestedState>"),
        );
        return_value(&r)
    };
    assert_eq!(change(&mut h, "32769"), "0");
    assert_eq!(values(&h.get("CIM_BootService"), "EnabledState"), ["32769"]);
    let flash = amt_device::flash::encode(&h.device);
    for refused in ["2", "32772", "4294967296", "on", ""] {
        assert_eq!(change(&mut h, refused), "5", "{refused:?}");
    }
    assert_eq!(
        return_value(&h.invoke("CIM_BootService", "RequestStateChange", "")),
        "5"
    );
    assert_eq!(values(&h.get("CIM_BootService"), "EnabledState"), ["32769"]);
    assert_eq!(amt_device::flash::encode(&h.device), flash);
}

fn add_alarm(h: &mut Host, id: &str, start: &str) -> String {
    let s = uri("IPS_AlarmClockOccurrence");
    let params = format!(
        r#"<h:AlarmTemplate><s:InstanceID xmlns:s="{s}">{id}</s:InstanceID><s:ElementName xmlns:s="{s}">{id}</s:ElementName><s:StartTime xmlns:s="{s}"><p:Datetime xmlns:p="http://schemas.dmtf.org/wbem/wscim/1/common">{start}</p:Datetime></s:StartTime><s:Interval xmlns:s="{s}"><p:Interval xmlns:p="http://schemas.dmtf.org/wbem/wscim/1/common">P0DT0H0M</p:Interval></s:Interval><s:DeleteOnCompletion xmlns:s="{s}">true</s:DeleteOnCompletion></h:AlarmTemplate>"#
    );
    h.invoke("AMT_AlarmClockService", "AddAlarm", &params)
}

#[test]
fn alarms_are_added_listed_deleted_and_fire() {
    let mut h = Host::new();
    // NOW is 2026-11-29 10:00 UTC.
    let added = add_alarm(&mut h, "wake", "2026-11-29T11:00:00Z");
    assert_same_structure(
        &added,
        &firmware("AMT_AlarmClockService", "AddAlarm.response.xml"),
        &["Selector"],
    );
    assert_eq!(return_value(&added), "0");
    assert_eq!(values(&added, "Selector"), ["wake"]);
    assert_eq!(
        return_value(&add_alarm(&mut h, "old", "2026-11-29T09:00:00Z")),
        "36"
    );
    assert_eq!(
        return_value(&add_alarm(&mut h, "wake", "2026-11-29T12:00:00Z")),
        "2058"
    );
    assert_eq!(return_value(&add_alarm(&mut h, "bad", "tomorrow")), "36");
    let get = h.ok(&envelope(
        "IPS_AlarmClockOccurrence",
        &format!("{TRANSFER}Get"),
        &instance_id_selector("wake"),
        "",
    ));
    assert_same_structure(
        &get,
        &firmware("IPS_AlarmClockOccurrence", "Get.response.xml"),
        &[],
    );
    assert_eq!(values(&get, "StartTime"), ["2026-11-29T11:00:00Z"]);
    assert_eq!(
        values(&h.pull("IPS_AlarmClockOccurrence"), "InstanceID"),
        ["wake"]
    );

    let deleted = h.ok(&envelope(
        "IPS_AlarmClockOccurrence",
        &format!("{TRANSFER}Delete"),
        &instance_id_selector("wake"),
        "",
    ));
    assert_same_structure(
        &deleted,
        &firmware("IPS_AlarmClockOccurrence", "Delete.response.xml"),
        &[],
    );
    let again = h.send(&envelope(
        "IPS_AlarmClockOccurrence",
        &format!("{TRANSFER}Delete"),
        &instance_id_selector("wake"),
        "",
    ));
    assert_eq!(fault_codes(&again).1.as_deref(), Some("e:InvalidSelectors"));

    assert_eq!(
        return_value(&add_alarm(&mut h, "wake", "2026-11-29T11:00:00Z")),
        "0"
    );
    assert_eq!(h.power(8), "0");
    h.device.tick(NOW + time::Duration::minutes(59));
    assert_eq!(h.device.power_state(), PowerState::SoftOff);
    h.device.tick(NOW + time::Duration::hours(1));
    assert_eq!(h.device.power_state(), PowerState::On);
    assert!(values(&h.pull("IPS_AlarmClockOccurrence"), "InstanceID").is_empty());
}

#[test]
fn the_event_log_reads_back_what_happened() {
    let mut h = Host::new();
    h.power(8);
    h.power(2);
    let first = h.invoke("AMT_MessageLog", "PositionToFirstRecord", "");
    assert_same_structure(
        &first,
        &firmware("AMT_MessageLog", "PositionToFirstRecord.response.xml"),
        &[],
    );
    let records = h.invoke(
        "AMT_MessageLog",
        "GetRecords",
        "<h:IterationIdentifier>1</h:IterationIdentifier><h:MaxReadRecords>390</h:MaxReadRecords>",
    );
    assert_same_structure(
        &records,
        &firmware("AMT_MessageLog", "GetRecords.response.xml"),
        &[],
    );
    assert_eq!(values(&records, "NoMoreRecords"), ["true"]);
    let decoded: Vec<Vec<u8>> = values(&records, "RecordArray")
        .iter()
        .map(|r| base64::engine::general_purpose::STANDARD.decode(r).unwrap())
        .collect();
    // Soft off (ACPI S5), on (S0), then the boot (firmware progress).
    let kinds: Vec<(u8, u8)> = decoded.iter().map(|r| (r[5], r[7])).collect();
    assert_eq!(kinds, [(0x22, 0x05), (0x22, 0x00), (0x0F, 0x02)]);
    assert!(decoded.iter().all(|r| r.len() == 21));
    let t = u32::from_le_bytes([decoded[0][0], decoded[0][1], decoded[0][2], decoded[0][3]]);
    assert_eq!(i64::from(t), NOW.unix_timestamp());

    // Paging: one at a time.
    let page = h.invoke(
        "AMT_MessageLog",
        "GetRecords",
        "<h:IterationIdentifier>2</h:IterationIdentifier><h:MaxReadRecords>1</h:MaxReadRecords>",
    );
    assert_eq!(values(&page, "IterationIdentifier"), ["3"]);
    assert_eq!(values(&page, "NoMoreRecords"), ["false"]);
    let bad = h.invoke(
        "AMT_MessageLog",
        "GetRecords",
        "<h:IterationIdentifier>9</h:IterationIdentifier>",
    );
    assert_eq!(return_value(&bad), "36");
    assert!(values(&h.get("AMT_MessageLog"), "CurrentNumberOfRecords") == ["3"]);
}

#[test]
fn a_put_built_from_scratch_ignores_the_read_only_properties() {
    // What the Open AMT console sends: read-only properties at their zero
    // values (real firmware accepts it).
    let mut h = Host::new();
    let read = h.get("AMT_BootSettingData");
    let put = h.ok(&boot_settings_put(
        &read,
        &[
            ("BIOSSetup", "true"),
            ("OptionsCleared", "true"),
            ("BootguardStatus", "0"),
            ("UEFIHTTPSBootEnabled", "false"),
            ("OwningEntity", ""),
            ("ElementName", ""),
        ],
    ));
    assert_eq!(values(&put, "BIOSSetup"), ["true"]);
    assert_eq!(values(&put, "OptionsCleared"), ["false"]);
    assert_eq!(values(&put, "UEFIHTTPSBootEnabled"), ["true"]);
    assert_eq!(values(&put, "OwningEntity"), ["Intel(r) AMT"]);
}

/// `CIM_ComputerSystem` and `CIM_ElementSettingData` have no capture (their
/// shapes are inferred, docs/wsman.md): the EPRs consoles send in power
/// changes resolve, properties are in ASCII order, the host's EnabledState
/// follows its power and the boot setting's IsNext follows SetBootConfigRole.
#[test]
fn the_systems_every_epr_names_answer_and_follow_the_host() {
    let mut h = Host::new();
    let selectors = r#"<w:SelectorSet><w:Selector Name="CreationClassName">CIM_ComputerSystem</w:Selector><w:Selector Name="Name">ManagedSystem</w:Selector></w:SelectorSet>"#;
    let get = |h: &mut Host| {
        h.ok(&envelope(
            "CIM_ComputerSystem",
            &format!("{TRANSFER}Get"),
            selectors,
            "",
        ))
    };
    let host = get(&mut h);
    assert_eq!(values(&host, "Name"), ["ManagedSystem"]);
    assert_eq!(values(&host, "EnabledState"), ["2"]);
    let t = amt_wsman::xml::parse(host.as_bytes(), Default::default()).unwrap();
    let item = find(&t, &uri("CIM_ComputerSystem"), "CIM_ComputerSystem").expect("the instance");
    let names: Vec<&str> = item
        .children
        .iter()
        .map(|c| c.local_name.as_str())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "ASCII order");
    let all = h.pull("CIM_ComputerSystem");
    assert_eq!(values(&all, "Name"), ["ManagedSystem", "Intel(r) AMT"]);
    assert_eq!(h.power(8), "0");
    assert_eq!(
        values(&get(&mut h), "EnabledState"),
        ["3"],
        "off is disabled"
    );
    assert_eq!(h.device.power_state(), PowerState::SoftOff);

    let pull = h.pull("CIM_ElementSettingData");
    assert_eq!(values(&pull, "IsNext"), ["2"]);
    assert!(
        pull.contains("ManagedSystem") && pull.contains("Intel(r) AMT: Boot Configuration 0"),
        "{pull}"
    );
    assert_eq!(return_value(&set_role(&mut h)), "0");
    assert_eq!(values(&h.pull("CIM_ElementSettingData"), "IsNext"), ["1"]);
}
