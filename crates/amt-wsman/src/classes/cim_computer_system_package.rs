//! `CIM_ComputerSystemPackage`: the association of the chassis
//! (`Antecedent`) with the host computer system (`Dependent`), whose
//! `PlatformGUID` is the system UUID: the 16 bytes in SMBIOS order (first
//! three fields little-endian, as `GetUuid` answers them) as 32 upper-case
//! hex digits. MeshCommander shows it as the System ID after swapping the
//! fields back. Consoles Get it without selectors. Shape: DMT's canned
//! reply (`fixtures/firmware/CIM_ComputerSystemPackage/Get.response.xml`).

use amt_device::Device;

use super::amt_setup_and_configuration_service::smbios_uuid;
use super::{cim_chassis, ClassHandler, ClassInfo, Instance, Reference};
use crate::fault::Fault;
use crate::references::{managed_system, to};

pub const CLASS_NAME: &str = "CIM_ComputerSystemPackage";
pub const RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ComputerSystemPackage";

pub struct CimComputerSystemPackage;

fn chassis_reference() -> Reference {
    to(
        cim_chassis::RESOURCE_URI,
        &[
            ("CreationClassName", cim_chassis::CLASS_NAME),
            ("Tag", cim_chassis::CLASS_NAME),
        ],
    )
}

/// The association instance (also listed by `CIM_SystemPackaging`).
pub fn computer_system_package(device: &Device) -> Result<Instance, Fault> {
    let guid = smbios_uuid(&device.uuid()).ok_or(Fault::InternalError(None))?;
    Ok(Instance::new()
        .with_reference("Antecedent", chassis_reference())
        .with_reference("Dependent", managed_system())
        .with("PlatformGUID", hex::encode_upper(guid))
        .reference_key("Antecedent", chassis_reference())
        .reference_key("Dependent", managed_system()))
}

impl ClassHandler for CimComputerSystemPackage {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            // The DMT reply declares no WS-CIM common namespace here.
            declares_common_namespace: false,
        }
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(vec![computer_system_package(device)?])
    }
}
