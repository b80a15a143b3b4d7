//! `CIM_PowerManagementCapabilities`: what power changes the firmware
//! supports (DMT canned reply
//! `fixtures/firmware/CIM_PowerManagementCapabilities/Get.response.xml`).

use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance};
use crate::fault::Fault;

pub const CLASS_NAME: &str = "CIM_PowerManagementCapabilities";
pub const RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_PowerManagementCapabilities";
pub const INSTANCE_ID: &str = "Intel(r) AMT:PowerManagementCapabilities 0";

pub struct CimPowerManagementCapabilities;

fn list(values: &[u16]) -> Vec<String> {
    values.iter().map(u16::to_string).collect()
}

impl ClassHandler for CimPowerManagementCapabilities {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn instances(&self, _device: &Device) -> Result<Vec<Instance>, Fault> {
        // The firmware's order, not sorted.
        let states = [5, 8, 2, 10, 11, 12, 14];
        Ok(vec![Instance::new()
            .with("ElementName", "Power Management Capabilities")
            .with("InstanceID", INSTANCE_ID)
            .with("OtherPowerChangeCapabilities", "")
            .with_list("PowerChangeCapabilities", list(&[2, 3, 4, 7, 8]))
            .with_list("PowerStatesSupported", list(&states))
            .with_list("RequestedPowerStatesSupported", list(&states))
            .key("InstanceID", INSTANCE_ID)])
    }
}
