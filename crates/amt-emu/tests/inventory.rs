//! The hardware-information read of the Open AMT console and MPS (the DMT
//! console's `GetHardwareInfo`, MPS `getHardwareInfo`, MeshCommander's
//! hardware batch), with requests built by Intel's wsman-messages and
//! posted with curl --digest to the real `amt-emu serve` binary: the
//! singletons by a bare Get, every inventory class by Enumerate + Pull.
//! `CIM_Battery` is not in wsman-messages; MeshCommander Gets it without
//! selectors, so the test sends wsman-messages' chassis Get with the
//! battery's ResourceURI.
//!
//! Port offsets 13400..13499 are this file's.

mod support;

use std::path::Path;

use support::*;

const CIM: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2";

/// A bare Get of `CIM_{class}` as wsman-messages builds it.
fn get(url: &str, class: &str, dir: &Path) -> Reply {
    let r = post(url, &wsman_messages("CIM", class, "Get", None), dir);
    assert_eq!(r.status, 200, "CIM_{class} Get: {}", r.body);
    assert_eq!(reply_action(&r.body), format!("{TRANSFER}/GetResponse"));
    assert_eq!(
        text(&r.body, "c:ResourceURI"),
        Some(format!("{CIM}/CIM_{class}"))
    );
    assert!(r.body.contains(&format!("<g:CIM_{class}>")), "{}", r.body);
    r
}

/// Enumerate + Pull of `CIM_{class}` as wsman-messages builds them; the
/// Pull reply (the whole set: one page, as consoles pull it).
fn pull(url: &str, class: &str, dir: &Path) -> Reply {
    let e = post(url, &wsman_messages("CIM", class, "Enumerate", None), dir);
    assert_eq!(e.status, 200, "CIM_{class} Enumerate: {}", e.body);
    let context = text(&e.body, "g:EnumerationContext").expect("a context");
    let args = format!("[\"{context}\"]");
    let p = post(url, &wsman_messages("CIM", class, "Pull", Some(&args)), dir);
    assert_eq!(p.status, 200, "CIM_{class} Pull: {}", p.body);
    assert_eq!(reply_action(&p.body), format!("{ENUMERATION}/PullResponse"));
    assert!(p.body.contains("<g:EndOfSequence"), "{}", p.body);
    p
}

/// `CIM_Battery` Get: wsman-messages' chassis Get, retargeted.
fn battery_get(url: &str, dir: &Path) -> Reply {
    let chassis = wsman_messages("CIM", "Chassis", "Get", None);
    let request = chassis.replace(&format!("{CIM}/CIM_Chassis"), &format!("{CIM}/CIM_Battery"));
    assert_ne!(request, chassis);
    post(url, &request, dir)
}

/// The whole hardware read; answers the Get replies by class and the Pull
/// replies by class.
struct HardwareRead {
    gets: Vec<(&'static str, Reply)>,
    pulls: Vec<(&'static str, Reply)>,
}

impl HardwareRead {
    fn run(url: &str, dir: &Path) -> HardwareRead {
        let gets = [
            "ComputerSystemPackage",
            "Chassis",
            "Card",
            "Chip",
            "BIOSElement",
            "Processor",
        ]
        .into_iter()
        .map(|c| (c, get(url, c, dir)))
        .collect();
        let pulls = [
            "ComputerSystemPackage",
            "SystemPackaging",
            "Chassis",
            "Chip",
            "Card",
            "BIOSElement",
            "Processor",
            "PhysicalMemory",
            "MediaAccessDevice",
            "PhysicalPackage",
        ]
        .into_iter()
        .map(|c| (c, pull(url, c, dir)))
        .collect();
        HardwareRead { gets, pulls }
    }

    fn get(&self, class: &str) -> &str {
        &self
            .gets
            .iter()
            .find(|(c, _)| *c == class)
            .expect(class)
            .1
            .body
    }

    fn pull(&self, class: &str) -> &str {
        &self
            .pulls
            .iter()
            .find(|(c, _)| *c == class)
            .expect(class)
            .1
            .body
    }
}

/// The UUID bytes `GetUuid` answers, as upper-case hex.
fn get_uuid_hex(url: &str, dir: &Path) -> String {
    let r = post(
        url,
        &wsman_messages("AMT", "SetupAndConfigurationService", "GetUuid", None),
        dir,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let b64 = text(&r.body, "g:UUID").expect("a UUID");
    base64_decode(&b64)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

#[test]
fn wsman_messages_reads_the_hardware_of_the_default_desktop() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emu::start(13400, &[]);
    let url = format!("https://{}/wsman", emu.addr("Tls", "Remote"));
    let hw = HardwareRead::run(&url, dir.path());

    // The association names the chassis and the host; PlatformGUID is the
    // UUID GetUuid answers.
    let csp = hw.get("ComputerSystemPackage");
    assert_eq!(
        text(csp, "g:PlatformGUID"),
        Some(get_uuid_hex(&url, dir.path()))
    );
    assert!(csp.contains(r#"<c:Selector Name="Tag">CIM_Chassis</c:Selector>"#));
    assert!(csp.contains(r#"<c:Selector Name="Name">ManagedSystem</c:Selector>"#));
    let packaging = hw.pull("SystemPackaging");
    assert_eq!(all_texts(packaging, "h:PlatformGUID").len(), 1);
    assert!(packaging.contains("<h:CIM_ComputerSystemPackage>"));

    let chassis = hw.get("Chassis");
    assert_eq!(
        text(chassis, "g:ChassisPackageType").as_deref(),
        Some("3"),
        "a desktop"
    );
    assert_eq!(
        text(chassis, "g:Manufacturer").as_deref(),
        Some("Intel(R) Client Systems")
    );
    let serial = text(chassis, "g:SerialNumber").unwrap();
    assert!(serial.starts_with("G6WS") && serial.len() == 12, "{serial}");
    let card = hw.get("Card");
    assert_eq!(text(card, "g:Model").as_deref(), Some("NUC12WSBi7"));
    assert_eq!(text(card, "g:PackageType").as_deref(), Some("9"));

    let bios = hw.get("BIOSElement");
    assert_eq!(text(bios, "g:Manufacturer").as_deref(), Some("Intel Corp."));
    assert!(bios.contains("<h:Datetime>2023-05-05T00:00:00Z</h:Datetime>"));
    assert!(hw
        .pull("BIOSElement")
        .contains("<i:Datetime>2023-05-05T00:00:00Z</i:Datetime>"));

    let cpu = hw.get("Processor");
    assert_eq!(text(cpu, "g:Family").as_deref(), Some("198"));
    assert_eq!(text(cpu, "g:MaxClockSpeed").as_deref(), Some("4800"));
    assert_eq!(text(cpu, "g:CurrentClockSpeed").as_deref(), Some("2200"));
    assert_eq!(all_texts(hw.pull("Processor"), "h:DeviceID"), ["CPU 0"]);
    assert_eq!(
        text(hw.get("Chip"), "g:Version").as_deref(),
        Some("12th Gen Intel(R) Core(TM) i7-1270P")
    );
    assert_eq!(all_texts(hw.pull("Chip"), "h:Tag"), ["CPU 0"]);

    let memory = hw.pull("PhysicalMemory");
    assert_eq!(all_texts(memory, "h:BankLabel"), ["BANK 0", "BANK 2"]);
    assert_eq!(
        all_texts(memory, "h:Capacity"),
        ["17179869184", "17179869184"]
    );
    assert_eq!(all_texts(memory, "h:MemoryType"), ["26", "26"]);
    assert_eq!(all_texts(memory, "h:FormFactor"), ["13", "13"]);
    assert_eq!(all_texts(memory, "h:MaxMemorySpeed"), ["3200", "3200"]);
    let serials = all_texts(memory, "h:SerialNumber");
    assert_ne!(serials[0], serials[1]);
    assert!(all_texts(memory, "h:PartNumber")
        .iter()
        .all(|p| !p.is_empty()));

    let disks = hw.pull("MediaAccessDevice");
    assert_eq!(all_texts(disks, "h:DeviceID"), ["MEDIA DEV 0"]);
    assert_eq!(all_texts(disks, "h:MaxMediaSize"), ["500107862"]);

    let packages = hw.pull("PhysicalPackage");
    assert_eq!(all_texts(packages, "h:Tag"), ["CIM_Card", "CIM_Chassis"]);

    // No battery in a desktop: the Get names no instance.
    let battery = battery_get(&url, dir.path());
    assert_eq!(battery.status, 400, "{}", battery.body);
    assert!(
        battery.body.contains("InvalidSelectors"),
        "{}",
        battery.body
    );
}

#[test]
fn a_scenario_s_hardware_reaches_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/scenarios/vpro-laptop-hardware.toml");
    let emu = Emu::start(13410, &["--scenario", scenario.to_str().unwrap()]);
    let url = format!("https://{}/wsman", emu.addr("Tls", "Remote"));
    let hw = HardwareRead::run(&url, dir.path());

    let chassis = hw.get("Chassis");
    assert_eq!(text(chassis, "g:Model").as_deref(), Some("ProBook 14 G10"));
    assert_eq!(
        text(chassis, "g:SerialNumber").as_deref(),
        Some("5CG3301X7Q")
    );
    assert_eq!(text(chassis, "g:ChassisPackageType").as_deref(), Some("10"));
    let card = hw.get("Card");
    assert_eq!(text(card, "g:Model").as_deref(), Some("8B41"));
    // Not in the scenario: derived from the seeded UUID.
    assert!(text(card, "g:SerialNumber").unwrap().starts_with("BTWS"));
    let bios = hw.get("BIOSElement");
    assert_eq!(
        text(bios, "g:Version").as_deref(),
        Some("V70 Ver. 01.05.02")
    );
    assert!(bios.contains("<h:Datetime>2024-03-18T00:00:00Z</h:Datetime>"));
    assert_eq!(
        text(hw.get("Processor"), "g:Family").as_deref(),
        Some("205")
    );
    assert_eq!(
        text(hw.get("Chip"), "g:Version").as_deref(),
        Some("13th Gen Intel(R) Core(TM) i5-1345U")
    );
    let memory = hw.pull("PhysicalMemory");
    assert_eq!(all_texts(memory, "h:Capacity"), ["34359738368"]);
    assert_eq!(all_texts(memory, "h:MemoryType"), ["34"]);
    assert_eq!(all_texts(memory, "h:Manufacturer"), ["80AD"]);
    assert_eq!(
        all_texts(hw.pull("MediaAccessDevice"), "h:MaxMediaSize"),
        ["976762584"]
    );

    let battery = battery_get(&url, dir.path());
    assert_eq!(battery.status, 200, "{}", battery.body);
    assert_eq!(
        text(&battery.body, "g:DeviceID").as_deref(),
        Some("SMP-7401")
    );
    assert_eq!(
        text(&battery.body, "g:EstimatedChargeRemaining").as_deref(),
        Some("93")
    );

    // The seed reproduces the machine: a second start answers the same.
    drop(emu);
    let again = Emu::start(13420, &["--scenario", scenario.to_str().unwrap()]);
    let url = format!("https://{}/wsman", again.addr("Tls", "Remote"));
    assert_eq!(
        text(&get(&url, "Card", dir.path()).body, "g:SerialNumber"),
        text(card, "g:SerialNumber")
    );
}
