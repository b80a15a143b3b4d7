//! `AMT_BootCapabilities`: which boot options this firmware offers (DMT
//! canned reply `fixtures/firmware/AMT_BootCapabilities/Get.response.xml`):
//! the ones the host model boots into are true.

use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance};
use crate::fault::Fault;

pub const CLASS_NAME: &str = "AMT_BootCapabilities";
pub const RESOURCE_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_BootCapabilities";
pub const INSTANCE_ID: &str = "Intel(r) AMT:BootCapabilities 0";

pub struct AmtBootCapabilities;

impl ClassHandler for AmtBootCapabilities {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn realm(&self, _op: crate::access::Operation<'_>) -> amt_device::accounts::Realm {
        amt_device::accounts::Realm::RemoteControl
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn instances(&self, _device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(vec![Instance::new()
            .with("BIOSPause", "true")
            .with("BIOSReflash", "true")
            .with("BIOSSecureBoot", "true")
            .with("BIOSSetup", "true")
            .with("ConfigurationDataReset", "false")
            .with("ElementName", "Intel(r) AMT: Boot Capabilities")
            .with("ForceCDorDVDBoot", "true")
            .with("ForceDiagnosticBoot", "false")
            .with("ForceHardDriveBoot", "true")
            .with("ForceHardDriveSafeModeBoot", "true")
            .with("ForcePXEBoot", "true")
            .with("ForcedProgressEvents", "true")
            .with("IDER", "true")
            .with("InstanceID", INSTANCE_ID)
            .with("KeyboardLock", "true")
            .with("PowerButtonLock", "false")
            .with("ResetButtonLock", "false")
            .with("SOL", "true")
            .with("SecureErase", "false")
            .with("SleepButtonLock", "false")
            .with("UserPasswordBypass", "true")
            .with("VerbosityQuiet", "false")
            .with("VerbosityScreenBlank", "false")
            .with("VerbosityVerbose", "false")
            .key("InstanceID", INSTANCE_ID)])
    }
}
