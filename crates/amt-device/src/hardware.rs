//! The hardware description the firmware reports (system, board, chassis,
//! BIOS, processors, memory, disks, battery, chips, cards).
//!
//! AMT reads the host's SMBIOS tables and answers them as CIM inventory
//! classes. The device keeps only what a scenario overrode
//! ([`HardwareSpec`]); everything else is a default vPro machine, an Intel
//! NUC 12 Pro (board NUC12WSBi7, Core i7-1270P, two 16 GiB DDR4 SO-DIMMs,
//! a 512 GB NVMe disk, no battery), whose serial numbers are derived from
//! the device UUID so that every device of a fleet differs and a seed
//! reproduces them. [`Device::hardware`] resolves the two into the
//! [`Inventory`] the WS-Man classes render.
//!
//! Values are written as CIM encodes them: `Family` is the SMBIOS processor
//! family (198 = Core i7), clock speeds are MHz, `Capacity` bytes,
//! `MaxMediaSize` kilobytes, `MemoryType` 26 = DDR4, `FormFactor` 13 =
//! SODIMM, `ChassisPackageType` 3 = Desktop.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::device::Device;

/// The board's inventory as the device keeps it: the scenario's overrides.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Hardware {
    pub spec: HardwareSpec,
}

/// Overrides of the default hardware (the `[hardware]` table of a scenario
/// file). Every field is optional; what is absent keeps its default. A list
/// given replaces the default list; each entry's absent fields take the
/// default entry's values (serial numbers stay derived from the UUID).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HardwareSpec {
    /// The system enclosure (`CIM_Chassis`, SMBIOS type 3).
    pub chassis: Option<PackageSpec>,
    /// The base board (`CIM_Card`, SMBIOS type 2).
    pub board: Option<PackageSpec>,
    /// `CIM_BIOSElement` (SMBIOS type 0).
    pub bios: Option<BiosSpec>,
    /// `CIM_Processor` and its `CIM_Chip` (SMBIOS type 4), socket order.
    pub processors: Option<Vec<ProcessorSpec>>,
    /// `CIM_PhysicalMemory` (SMBIOS type 17), one per populated slot.
    pub memory: Option<Vec<MemorySpec>>,
    /// `CIM_MediaAccessDevice`, one per disk.
    pub disks: Option<Vec<DiskSpec>>,
    /// `CIM_Battery` (SMBIOS type 22): a laptop has one, a desktop none.
    pub battery: Option<BatterySpec>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PackageSpec {
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    pub version: Option<String>,
    /// Chassis only: CIM `ChassisPackageType` (3 Desktop, 9 Laptop, 10
    /// Notebook, 13 All in One, 0 Unknown...).
    pub chassis_package_type: Option<u16>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BiosSpec {
    pub manufacturer: Option<String>,
    pub version: Option<String>,
    /// `YYYY-MM-DD`.
    pub release_date: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessorSpec {
    pub manufacturer: Option<String>,
    /// The brand string (`CIM_Chip.Version`).
    pub version: Option<String>,
    /// SMBIOS processor family (198 Core i7, 205 Core i5, 206 Core i3).
    pub family: Option<u16>,
    /// MHz.
    pub max_clock_speed: Option<u32>,
    /// MHz.
    pub current_clock_speed: Option<u32>,
    /// MHz.
    pub external_bus_clock_speed: Option<u32>,
    pub stepping: Option<u16>,
    /// CIM `UpgradeMethod` (the socket).
    pub upgrade_method: Option<u16>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemorySpec {
    pub bank_label: Option<String>,
    /// Bytes.
    pub capacity: Option<u64>,
    /// MHz (`ConfiguredMemoryClockSpeed`).
    pub configured_speed: Option<u32>,
    /// MHz (`MaxMemorySpeed`).
    pub max_speed: Option<u32>,
    /// CIM `MemoryType` (24 DDR3, 26 DDR4, 34 DDR5 as SMBIOS encodes it).
    pub memory_type: Option<u16>,
    /// CIM `FormFactor` (8 DIMM, 13 SODIMM).
    pub form_factor: Option<u16>,
    /// JEDEC manufacturer code as SMBIOS reports it (`859B` Crucial,
    /// `80CE` Samsung, `80AD` SK hynix).
    pub manufacturer: Option<String>,
    pub part_number: Option<String>,
    pub serial_number: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiskSpec {
    /// Kilobytes (`MaxMediaSize`).
    pub max_media_size: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatterySpec {
    /// `DeviceID` (the battery's serial number in the DMT reply).
    pub device_id: Option<String>,
    /// CIM `BatteryStatus` (2 Unknown/AC, 1 discharging, 3 fully charged...).
    pub battery_status: Option<u16>,
    /// CIM `Chemistry` (2 Unknown, 6 Lithium-ion, 8 Lithium Polymer).
    pub chemistry: Option<u16>,
    /// mWh.
    pub design_capacity: Option<u32>,
    /// mV.
    pub design_voltage: Option<u32>,
    /// mWh.
    pub full_charge_capacity: Option<u32>,
    /// Percent.
    pub estimated_charge_remaining: Option<u16>,
}

/// A hardware description that cannot be reported.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidHardware {
    #[error("bios.release_date {0:?} is not YYYY-MM-DD")]
    ReleaseDate(String),
}

impl HardwareSpec {
    /// Checks what serde cannot: the BIOS release date is a calendar date.
    pub fn validate(&self) -> Result<(), InvalidHardware> {
        if let Some(date) = self.bios.as_ref().and_then(|b| b.release_date.as_ref()) {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(date, format)
                .map_err(|_| InvalidHardware::ReleaseDate(date.clone()))?;
        }
        Ok(())
    }
}

/// A physical package (chassis or base board).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    pub manufacturer: String,
    pub model: String,
    pub serial_number: String,
    pub version: String,
    pub chassis_package_type: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bios {
    pub manufacturer: String,
    pub version: String,
    pub release_date: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Processor {
    pub manufacturer: String,
    pub version: String,
    pub family: u16,
    pub max_clock_speed: u32,
    pub current_clock_speed: u32,
    pub external_bus_clock_speed: u32,
    pub stepping: u16,
    pub upgrade_method: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Memory {
    pub bank_label: String,
    pub capacity: u64,
    pub configured_speed: u32,
    pub max_speed: u32,
    pub memory_type: u16,
    pub form_factor: u16,
    pub manufacturer: String,
    pub part_number: String,
    pub serial_number: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disk {
    pub max_media_size: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Battery {
    pub device_id: String,
    pub battery_status: u16,
    pub chemistry: u16,
    pub design_capacity: u32,
    pub design_voltage: u32,
    pub full_charge_capacity: u32,
    pub estimated_charge_remaining: u16,
}

/// The hardware as the firmware reports it: defaults with the overrides
/// applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inventory {
    pub chassis: Package,
    pub board: Package,
    pub bios: Bios,
    pub processors: Vec<Processor>,
    pub memory: Vec<Memory>,
    pub disks: Vec<Disk>,
    pub battery: Option<Battery>,
}

/// A serial number of `len` characters from `alphabet`, derived from the
/// device UUID and a label: stable for a device, different across devices.
fn derived(uuid: &[u8; 16], label: &str, prefix: &str, len: usize, alphabet: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(uuid)
        .chain_update(label.as_bytes())
        .finalize();
    let mut s = String::from(prefix);
    for b in digest.iter().take(len) {
        s.push(alphabet[*b as usize % alphabet.len()] as char);
    }
    s
}

const UPPER_ALNUM: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
const HEX: &[u8] = b"0123456789ABCDEF";

fn pick<T: Clone>(value: &Option<T>, default: T) -> T {
    value.clone().unwrap_or(default)
}

impl Inventory {
    /// The default machine for a device with this UUID.
    pub fn default_for(uuid: &[u8; 16]) -> Inventory {
        Inventory {
            chassis: Package {
                manufacturer: "Intel(R) Client Systems".into(),
                model: "NUC12WSKi7".into(),
                serial_number: derived(uuid, "chassis", "G6WS", 8, UPPER_ALNUM),
                version: "M46434-302".into(),
                chassis_package_type: 3,
            },
            board: Package {
                manufacturer: "Intel Corporation".into(),
                model: "NUC12WSBi7".into(),
                serial_number: derived(uuid, "board", "BTWS", 8, UPPER_ALNUM),
                version: "M46425-302".into(),
                chassis_package_type: 0,
            },
            bios: Bios {
                manufacturer: "Intel Corp.".into(),
                version: "WSADL357.0088.2023.0505.1623".into(),
                release_date: "2023-05-05".into(),
            },
            processors: vec![Self::default_processor()],
            memory: (0..2).map(|i| Self::default_memory(uuid, i)).collect(),
            disks: vec![Disk {
                max_media_size: 500_107_862,
            }],
            battery: None,
        }
    }

    fn default_processor() -> Processor {
        Processor {
            manufacturer: "Intel(R) Corporation".into(),
            version: "12th Gen Intel(R) Core(TM) i7-1270P".into(),
            family: 198,
            max_clock_speed: 4800,
            current_clock_speed: 2200,
            external_bus_clock_speed: 100,
            stepping: 3,
            upgrade_method: 52,
        }
    }

    fn default_memory(uuid: &[u8; 16], index: usize) -> Memory {
        Memory {
            // The NUC's two SO-DIMM slots are banks 0 and 2 (one per
            // channel), as the DMT reply of a NUC shows.
            bank_label: format!("BANK {}", index * 2),
            capacity: 16 * 1024 * 1024 * 1024,
            configured_speed: 3200,
            max_speed: 3200,
            memory_type: 26,
            form_factor: 13,
            manufacturer: "859B".into(),
            part_number: "CT16G4SFRA32A.M16FR ".into(),
            serial_number: derived(uuid, &format!("dimm{index}"), "", 8, HEX),
        }
    }

    fn default_battery(uuid: &[u8; 16]) -> Battery {
        Battery {
            device_id: derived(uuid, "battery", "CC", 7, UPPER_ALNUM),
            battery_status: 2,
            chemistry: 6,
            design_capacity: 56_010,
            design_voltage: 11_550,
            full_charge_capacity: 54_200,
            estimated_charge_remaining: 100,
        }
    }

    /// The default machine with `spec`'s overrides.
    pub fn resolve(uuid: &[u8; 16], spec: &HardwareSpec) -> Inventory {
        let mut inv = Self::default_for(uuid);
        if let Some(s) = &spec.chassis {
            inv.chassis = package(&inv.chassis, s);
        }
        if let Some(s) = &spec.board {
            inv.board = package(&inv.board, s);
        }
        if let Some(s) = &spec.bios {
            let d = &inv.bios;
            inv.bios = Bios {
                manufacturer: pick(&s.manufacturer, d.manufacturer.clone()),
                // A key of the instance: selectors are compared trimmed.
                version: pick(&s.version, d.version.clone()).trim().to_string(),
                release_date: pick(&s.release_date, d.release_date.clone()),
            };
        }
        if let Some(list) = &spec.processors {
            let d = Self::default_processor();
            inv.processors = list
                .iter()
                .map(|s| Processor {
                    manufacturer: pick(&s.manufacturer, d.manufacturer.clone()),
                    version: pick(&s.version, d.version.clone()),
                    family: pick(&s.family, d.family),
                    max_clock_speed: pick(&s.max_clock_speed, d.max_clock_speed),
                    current_clock_speed: pick(&s.current_clock_speed, d.current_clock_speed),
                    external_bus_clock_speed: pick(
                        &s.external_bus_clock_speed,
                        d.external_bus_clock_speed,
                    ),
                    stepping: pick(&s.stepping, d.stepping),
                    upgrade_method: pick(&s.upgrade_method, d.upgrade_method),
                })
                .collect();
        }
        if let Some(list) = &spec.memory {
            inv.memory = list
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let d = Self::default_memory(uuid, i);
                    Memory {
                        bank_label: pick(&s.bank_label, d.bank_label),
                        capacity: pick(&s.capacity, d.capacity),
                        configured_speed: pick(&s.configured_speed, d.configured_speed),
                        max_speed: pick(&s.max_speed, d.max_speed),
                        memory_type: pick(&s.memory_type, d.memory_type),
                        form_factor: pick(&s.form_factor, d.form_factor),
                        manufacturer: pick(&s.manufacturer, d.manufacturer),
                        part_number: pick(&s.part_number, d.part_number),
                        serial_number: pick(&s.serial_number, d.serial_number),
                    }
                })
                .collect();
        }
        if let Some(list) = &spec.disks {
            inv.disks = list
                .iter()
                .map(|s| Disk {
                    max_media_size: pick(&s.max_media_size, 500_107_862),
                })
                .collect();
        }
        if let Some(s) = &spec.battery {
            let d = Self::default_battery(uuid);
            inv.battery = Some(Battery {
                // A key of the instance: selectors are compared trimmed.
                device_id: pick(&s.device_id, d.device_id).trim().to_string(),
                battery_status: pick(&s.battery_status, d.battery_status),
                chemistry: pick(&s.chemistry, d.chemistry),
                design_capacity: pick(&s.design_capacity, d.design_capacity),
                design_voltage: pick(&s.design_voltage, d.design_voltage),
                full_charge_capacity: pick(&s.full_charge_capacity, d.full_charge_capacity),
                estimated_charge_remaining: pick(
                    &s.estimated_charge_remaining,
                    d.estimated_charge_remaining,
                ),
            });
        }
        inv
    }
}

fn package(d: &Package, s: &PackageSpec) -> Package {
    Package {
        manufacturer: pick(&s.manufacturer, d.manufacturer.clone()),
        model: pick(&s.model, d.model.clone()),
        serial_number: pick(&s.serial_number, d.serial_number.clone()),
        version: pick(&s.version, d.version.clone()),
        chassis_package_type: pick(&s.chassis_package_type, d.chassis_package_type),
    }
}

impl Device {
    /// The hardware as the firmware reports it.
    pub fn hardware(&self) -> Inventory {
        Inventory::resolve(&self.uuid, &self.hardware.spec)
    }

    /// The overrides in force.
    pub fn hardware_spec(&self) -> &HardwareSpec {
        &self.hardware.spec
    }

    /// Replaces the overrides (a scenario, or a test shaping a machine).
    pub fn set_hardware(&mut self, spec: HardwareSpec) {
        if self.hardware.spec != spec {
            self.hardware.spec = spec;
            self.note_persist();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DeviceConfig, Entropy};
    use time::macros::datetime;

    fn device(seed: u64) -> Device {
        let config = DeviceConfig {
            profile: crate::FirmwareProfile::new("15.0.23".parse().unwrap()),
            ..DeviceConfig::default()
        };
        Device::new(
            config,
            Entropy::from_seed(seed),
            datetime!(2026-11-29 10:00 UTC),
        )
        .unwrap()
    }

    #[test]
    fn defaults_are_a_desktop_whose_serials_follow_the_uuid() {
        let a = device(1).hardware();
        assert_eq!(a, device(1).hardware(), "a seed reproduces the machine");
        let b = device(2).hardware();
        assert_ne!(a.chassis.serial_number, b.chassis.serial_number);
        assert_ne!(a.memory[0].serial_number, b.memory[0].serial_number);
        assert_ne!(a.memory[0].serial_number, a.memory[1].serial_number);
        assert_eq!(a.chassis.chassis_package_type, 3);
        assert_eq!(a.memory.len(), 2);
        assert_eq!(a.memory[1].bank_label, "BANK 2");
        assert_eq!(a.processors[0].family, 198);
        assert!(a.battery.is_none());
        assert_eq!(a.memory[0].serial_number.len(), 8);
    }

    #[test]
    fn overrides_replace_only_what_they_name_and_persist() {
        let mut d = device(3);
        let before = d.hardware();
        let spec: HardwareSpec = serde_json::from_str(
            r#"{"chassis":{"model":"OptiPlex 7010"},"memory":[{"capacity":8589934592}],"battery":{}}"#,
        )
        .unwrap();
        d.set_hardware(spec.clone());
        assert!(d.take_effects().persist);
        let after = d.hardware();
        assert_eq!(after.chassis.model, "OptiPlex 7010");
        assert_eq!(after.chassis.serial_number, before.chassis.serial_number);
        assert_eq!(after.memory.len(), 1);
        assert_eq!(after.memory[0].capacity, 8 << 30);
        assert_eq!(
            after.memory[0].serial_number,
            before.memory[0].serial_number
        );
        assert!(after.battery.is_some());
        d.set_hardware(spec);
        assert!(!d.take_effects().persist, "the same spec changes nothing");
    }

    #[test]
    fn release_dates_are_dates() {
        let spec = |d: &str| HardwareSpec {
            bios: Some(BiosSpec {
                release_date: Some(d.into()),
                ..BiosSpec::default()
            }),
            ..HardwareSpec::default()
        };
        assert!(spec("2024-02-29").validate().is_ok());
        assert!(spec("2023-02-29").validate().is_err());
        assert!(spec("May 2023").validate().is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(serde_json::from_str::<HardwareSpec>(r#"{"chassis":{"colour":"red"}}"#).is_err());
    }
}
