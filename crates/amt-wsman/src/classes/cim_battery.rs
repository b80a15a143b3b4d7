//! `CIM_Battery`: the system battery (SMBIOS type 22). MeshCommander Gets
//! it without selectors. A desktop has none, so by default the class
//! enumerates nothing and a Get is `InvalidSelectors`; a scenario gives a
//! laptop its battery (`[hardware.battery]`). Shape: DMT's canned reply
//! (`fixtures/firmware/CIM_Battery/Get.response.xml`), whose `DeviceID` is
//! the battery's serial number and whose `ElementName` is empty.

use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance, SYSTEM_CREATION_CLASS_NAME};
use crate::fault::Fault;
use crate::references::MANAGED_SYSTEM_NAME;

pub const CLASS_NAME: &str = "CIM_Battery";
pub const RESOURCE_URI: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_Battery";

pub struct CimBattery;

impl ClassHandler for CimBattery {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: true,
        }
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(device
            .hardware()
            .battery
            .into_iter()
            .map(|b| {
                Instance::new()
                    .with("BatteryStatus", b.battery_status)
                    .with("ChargingStatus", "0")
                    .with("Chemistry", b.chemistry)
                    .with("CreationClassName", CLASS_NAME)
                    .with("DesignCapacity", b.design_capacity)
                    .with("DesignVoltage", b.design_voltage)
                    .with("DeviceID", &b.device_id)
                    .with("ElementName", "")
                    .with("EnabledState", "2")
                    .with("EstimatedChargeRemaining", b.estimated_charge_remaining)
                    .with("FullChargeCapacity", b.full_charge_capacity)
                    .with("HealthState", "0")
                    .with("RequestedState", "2")
                    .with("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
                    .with("SystemName", MANAGED_SYSTEM_NAME)
                    .key("CreationClassName", CLASS_NAME)
                    .key("DeviceID", b.device_id)
                    .key("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
                    .key("SystemName", MANAGED_SYSTEM_NAME)
            })
            .collect())
    }
}
