//! The hardware inventory classes against DMT's canned firmware replies
//! (`fixtures/firmware/CIM_*`, element structure), addressed as consoles
//! address them: singletons with a bare Get, the rest enumerated, and the
//! values taken from the device's hardware description.

mod support;

use amt_device::hardware::{BatterySpec, DiskSpec, HardwareSpec, PackageSpec, ProcessorSpec};
use amt_device::Device;
use amt_wsman::namespaces::action;
use amt_wsman::{WsmanReply, WsmanService};
use support::structure::assert_same_structure;
use support::*;

const CIM: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/";

/// A request as wsman-messages writes it, with optional selectors.
fn envelope(action: &str, class: &str, selectors: &str, body: &str) -> String {
    let set = if selectors.is_empty() {
        String::new()
    } else {
        format!("<w:SelectorSet>{selectors}</w:SelectorSet>")
    };
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns="http://www.w3.org/2003/05/soap-envelope"><Header><a:Action>{action}</a:Action><a:To>/wsman</a:To><w:ResourceURI>{CIM}{class}</w:ResourceURI><a:MessageID>0</a:MessageID><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><w:OperationTimeout>PT60S</w:OperationTimeout>{set}</Header><Body>{body}</Body></Envelope>"#
    )
}

fn run(s: &mut WsmanService, d: &mut Device, body: &str) -> WsmanReply {
    s.handle(d, body.as_bytes(), &admin())
}

fn get(s: &mut WsmanService, d: &mut Device, class: &str, selectors: &str) -> WsmanReply {
    run(s, d, &envelope(action::GET, class, selectors, ""))
}

fn get_ok(s: &mut WsmanService, d: &mut Device, class: &str) -> String {
    let r = get(s, d, class, "");
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(action(&r), format!("{}Response", action::GET));
    text(&r)
}

/// Enumerate, then one Pull of at most `max` items.
fn pull(s: &mut WsmanService, d: &mut Device, class: &str, max: u32) -> String {
    let e = run(
        s,
        d,
        &envelope(
            action::ENUMERATE,
            class,
            "",
            r#"<Enumerate xmlns="http://schemas.xmlsoap.org/ws/2004/09/enumeration" />"#,
        ),
    );
    assert_eq!(e.status, 200, "{}", text(&e));
    let ctx = enumeration_context(&e).expect("a context");
    let p = run(
        s,
        d,
        &envelope(
            action::PULL,
            class,
            "",
            &format!(
                r#"<Pull xmlns="http://schemas.xmlsoap.org/ws/2004/09/enumeration"><EnumerationContext>{ctx}</EnumerationContext><MaxElements>{max}</MaxElements><MaxCharacters>99999</MaxCharacters></Pull>"#
            ),
        ),
    );
    assert_eq!(p.status, 200, "{}", text(&p));
    text(&p)
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn singletons_answer_a_bare_get_in_the_firmware_shape() {
    let mut d = legacy_device();
    let mut s = WsmanService::new();
    for class in [
        "CIM_Chassis",
        "CIM_Card",
        "CIM_BIOSElement",
        "CIM_ComputerSystemPackage",
        "CIM_Processor",
        "CIM_Chip",
    ] {
        let body = get_ok(&mut s, &mut d, class);
        assert_same_structure(&body, &firmware(class, "Get.response.xml"), &[]);
        if class != "CIM_Chip" {
            // (The chip pull is compared below: DMT's is not a last page.)
            let p = pull(&mut s, &mut d, class, 10);
            assert_same_structure(&p, &firmware(class, "Pull.response.xml"), &[]);
        }
    }
}

#[test]
fn enumerated_classes_have_the_firmware_shape() {
    let mut d = legacy_device();
    let mut s = WsmanService::new();
    for class in ["CIM_PhysicalMemory", "CIM_MediaAccessDevice"] {
        let p = pull(&mut s, &mut d, class, 10);
        assert_same_structure(&p, &firmware(class, "Pull.response.xml"), &[]);
    }
    // DMT's chip and package pulls are pages that are not the last.
    let p = pull(&mut s, &mut d, "CIM_Chip", 10);
    assert_same_structure(
        &p,
        &firmware("CIM_Chip", "Pull.response.xml"),
        &["EnumerationContext", "EndOfSequence"],
    );
    let first_page = pull(&mut s, &mut d, "CIM_PhysicalPackage", 1);
    assert_same_structure(
        &first_page,
        &firmware("CIM_PhysicalPackage", "Pull.response.xml"),
        &["EndOfSequence"],
    );
}

#[test]
fn the_default_machine_is_a_desktop_with_two_dimms_and_a_disk() {
    let mut d = legacy_device();
    let mut s = WsmanService::new();
    let hw = d.hardware();

    let chassis = get_ok(&mut s, &mut d, "CIM_Chassis");
    assert!(chassis.contains("<g:ChassisPackageType>3</g:ChassisPackageType>"));
    assert!(chassis.contains("<g:PackageType>3</g:PackageType>"));
    assert!(chassis.contains(&format!(
        "<g:SerialNumber>{}</g:SerialNumber>",
        hw.chassis.serial_number
    )));
    let card = get_ok(&mut s, &mut d, "CIM_Card");
    assert!(card.contains("<g:Model>NUC12WSBi7</g:Model>"));
    assert!(card.contains("<g:PackageType>9</g:PackageType>"));

    let bios = get_ok(&mut s, &mut d, "CIM_BIOSElement");
    assert!(
        bios.contains(
            "<g:ReleaseDate><h:Datetime>2023-05-05T00:00:00Z</h:Datetime></g:ReleaseDate>"
        ),
        "{bios}"
    );
    assert!(bios.contains("<g:Version>WSADL357.0088.2023.0505.1623</g:Version>"));

    let cpu = get_ok(&mut s, &mut d, "CIM_Processor");
    assert!(cpu.contains("<g:Family>198</g:Family>"));
    assert!(cpu.contains("<g:MaxClockSpeed>4800</g:MaxClockSpeed>"));
    assert!(cpu.contains("<g:DeviceID>CPU 0</g:DeviceID>"));
    let chip = get_ok(&mut s, &mut d, "CIM_Chip");
    assert!(chip.contains("<g:Version>12th Gen Intel(R) Core(TM) i7-1270P</g:Version>"));

    let memory = pull(&mut s, &mut d, "CIM_PhysicalMemory", 10);
    assert_eq!(count(&memory, "<h:CIM_PhysicalMemory>"), 2);
    assert!(memory.contains("<h:Capacity>17179869184</h:Capacity>"));
    assert!(memory.contains("<h:Tag>9876543210 (#1)</h:Tag>"));
    assert!(memory.contains(&format!(
        "<h:SerialNumber>{}</h:SerialNumber>",
        hw.memory[1].serial_number
    )));
    let disks = pull(&mut s, &mut d, "CIM_MediaAccessDevice", 10);
    assert_eq!(count(&disks, "<h:CIM_MediaAccessDevice>"), 1);
    assert!(disks.contains("<h:MaxMediaSize>500107862</h:MaxMediaSize>"));

    // A desktop has no battery.
    let battery = pull(&mut s, &mut d, "CIM_Battery", 10);
    assert_eq!(count(&battery, "CIM_Battery>"), 0, "{battery}");
    let r = get(&mut s, &mut d, "CIM_Battery", "");
    assert_eq!(fault_codes(&r).1.as_deref(), Some("e:InvalidSelectors"));
}

#[test]
fn platform_guid_is_the_uuid_in_smbios_order() {
    let mut d = legacy_device();
    let mut s = WsmanService::new();
    let body = get_ok(&mut s, &mut d, "CIM_ComputerSystemPackage");
    let u = d.uuid().replace('-', "").to_uppercase();
    let swapped = format!(
        "{}{}{}{}{}{}{}{}{}",
        &u[6..8],
        &u[4..6],
        &u[2..4],
        &u[0..2],
        &u[10..12],
        &u[8..10],
        &u[14..16],
        &u[12..14],
        &u[16..]
    );
    assert!(
        body.contains(&format!("<g:PlatformGUID>{swapped}</g:PlatformGUID>")),
        "{body}"
    );
    assert!(body.contains(r#"<c:Selector Name="Tag">CIM_Chassis</c:Selector>"#));
    assert!(body.contains(r#"<c:Selector Name="Name">ManagedSystem</c:Selector>"#));
    // The Antecedent's selectors address the chassis.
    let chassis = get(
        &mut s,
        &mut d,
        "CIM_Chassis",
        r#"<w:Selector Name="CreationClassName">CIM_Chassis</w:Selector><w:Selector Name="Tag">CIM_Chassis</w:Selector>"#,
    );
    assert_eq!(chassis.status, 200, "{}", text(&chassis));
    let wrong = get(
        &mut s,
        &mut d,
        "CIM_Chassis",
        r#"<w:Selector Name="Tag">CIM_Card</w:Selector>"#,
    );
    assert_eq!(fault_codes(&wrong).1.as_deref(), Some("e:InvalidSelectors"));

    // CIM_SystemPackaging lists the association as its subclass.
    let p = pull(&mut s, &mut d, "CIM_SystemPackaging", 10);
    assert!(p.contains("<h:CIM_ComputerSystemPackage>"), "{p}");
    assert!(p.contains(&format!("{CIM}CIM_ComputerSystemPackage")));
    assert!(p.contains(&swapped));
    assert_same_structure(
        &p,
        &firmware("CIM_ComputerSystemPackage", "Pull.response.xml"),
        &[],
    );
}

#[test]
fn physical_package_lists_the_board_then_the_chassis() {
    let mut d = legacy_device();
    let mut s = WsmanService::new();
    let p = pull(&mut s, &mut d, "CIM_PhysicalPackage", 10);
    let card = p.find("<h:CIM_Card>").expect("the card");
    let chassis = p
        .find(&format!(r#"<h:CIM_Chassis xmlns:h="{CIM}CIM_Chassis">"#))
        .expect("the chassis, rebinding h");
    assert!(card < chassis);
    assert!(p.contains("<g:EndOfSequence>"));
    let r = get(&mut s, &mut d, "CIM_PhysicalPackage", "");
    assert_eq!(fault_codes(&r).1.as_deref(), Some("b:ActionNotSupported"));
}

#[test]
fn multi_instance_classes_take_selectors_and_a_bare_get_answers_the_first() {
    let mut d = legacy_device();
    d.set_hardware(HardwareSpec {
        processors: Some(vec![
            ProcessorSpec::default(),
            ProcessorSpec {
                version: Some("Second <CPU> & co".into()),
                ..ProcessorSpec::default()
            },
        ]),
        disks: Some(vec![
            DiskSpec::default(),
            DiskSpec {
                max_media_size: Some(960_197_124),
            },
        ]),
        ..HardwareSpec::default()
    });
    let mut s = WsmanService::new();
    let first = get_ok(&mut s, &mut d, "CIM_Processor");
    assert!(first.contains("<g:DeviceID>CPU 0</g:DeviceID>"));
    let keys = |id: &str| {
        format!(
            r#"<w:Selector Name="CreationClassName">CIM_Processor</w:Selector><w:Selector Name="DeviceID">{id}</w:Selector><w:Selector Name="SystemCreationClassName">CIM_ComputerSystem</w:Selector><w:Selector Name="SystemName">ManagedSystem</w:Selector>"#
        )
    };
    let second = get(&mut s, &mut d, "CIM_Processor", &keys("CPU 1"));
    assert_eq!(second.status, 200, "{}", text(&second));
    assert!(text(&second).contains("<g:DeviceID>CPU 1</g:DeviceID>"));
    let none = get(&mut s, &mut d, "CIM_Processor", &keys("CPU 7"));
    assert_eq!(fault_codes(&none).1.as_deref(), Some("e:InvalidSelectors"));

    let chip = get(
        &mut s,
        &mut d,
        "CIM_Chip",
        r#"<w:Selector Name="CreationClassName">CIM_Chip</w:Selector><w:Selector Name="Tag">CPU 1</w:Selector>"#,
    );
    assert!(
        text(&chip).contains("<g:Version>Second &lt;CPU&gt; &amp; co</g:Version>"),
        "{}",
        text(&chip)
    );
    let disks = pull(&mut s, &mut d, "CIM_MediaAccessDevice", 10);
    assert!(disks.contains("<h:DeviceID>MEDIA DEV 1</h:DeviceID>"));
    assert!(disks.contains("<h:MaxMediaSize>960197124</h:MaxMediaSize>"));
}

#[test]
fn a_laptop_has_its_battery() {
    let mut d = legacy_device();
    d.set_hardware(HardwareSpec {
        chassis: Some(PackageSpec {
            chassis_package_type: Some(10),
            ..PackageSpec::default()
        }),
        battery: Some(BatterySpec {
            device_id: Some("CC03056XL".into()),
            estimated_charge_remaining: Some(87),
            ..BatterySpec::default()
        }),
        ..HardwareSpec::default()
    });
    let mut s = WsmanService::new();
    let body = get_ok(&mut s, &mut d, "CIM_Battery");
    assert_same_structure(&body, &firmware("CIM_Battery", "Get.response.xml"), &[]);
    assert!(body.contains("<g:DeviceID>CC03056XL</g:DeviceID>"));
    assert!(body.contains("<g:EstimatedChargeRemaining>87</g:EstimatedChargeRemaining>"));
    let p = pull(&mut s, &mut d, "CIM_Battery", 10);
    assert_same_structure(&p, &firmware("CIM_Battery", "Pull.response.xml"), &[]);
    let chassis = get_ok(&mut s, &mut d, "CIM_Chassis");
    assert!(chassis.contains("<g:ChassisPackageType>10</g:ChassisPackageType>"));
}

#[test]
fn inventory_is_read_only() {
    let mut d = legacy_device();
    let mut s = WsmanService::new();
    let body = get_ok(&mut s, &mut d, "CIM_Chassis");
    let start = body.find("<g:CIM_Chassis>").unwrap();
    let end = body.find("</a:Body>").unwrap();
    let put = envelope(action::PUT, "CIM_Chassis", "", &body[start..end]);
    let r = run(&mut s, &mut d, &put);
    assert_eq!(fault_codes(&r).1.as_deref(), Some("b:ActionNotSupported"));
    assert!(!r.effects.persist);
}
