//! `IPS_ScreenSettingData`: the host's screens as the KVM server sees them
//! (Intel AMT SDK class reference). Read-only; four slots, one value per slot in each
//! array property, order from go-wsman-messages' canned Get
//! (`fixtures/firmware/IPS_ScreenSettingData/Get.response.xml`, whose
//! `ElementName` "test" is an edit: the emulator answers the `InstanceID`).

use amt_device::Device;

use super::{bool_text, ClassHandler, ClassInfo, Instance};
use crate::fault::Fault;

pub const CLASS_NAME: &str = "IPS_ScreenSettingData";
pub const RESOURCE_URI: &str = "http://intel.com/wbem/wscim/1/ips-schema/1/IPS_ScreenSettingData";
pub const INSTANCE_ID: &str = "Intel(r) Screen Settings";

pub struct IpsScreenSettingData;

impl ClassHandler for IpsScreenSettingData {
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

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        let screens = device.screens();
        let each = |f: &dyn Fn(&amt_device::redirection::Screen) -> String| {
            screens.iter().map(f).collect::<Vec<_>>()
        };
        Ok(vec![Instance::new()
            .with("ElementName", INSTANCE_ID)
            .with("InstanceID", INSTANCE_ID)
            .with_list("IsActive", each(&|s| bool_text(s.is_active).to_string()))
            // Slots are 1-based: primary 1, secondary 2 and so on.
            .with("PrimaryIndex", 1)
            .with("QuadraryIndex", 4)
            .with_list("ResolutionX", each(&|s| s.resolution_x.to_string()))
            .with_list("ResolutionY", each(&|s| s.resolution_y.to_string()))
            .with("SecondaryIndex", 2)
            .with("TertiaryIndex", 3)
            .with_list("UpperLeftX", each(&|s| s.upper_left_x.to_string()))
            .with_list("UpperLeftY", each(&|s| s.upper_left_y.to_string()))
            .key("InstanceID", INSTANCE_ID)])
    }
}
