//! `AMT_SetupAndConfigurationService`: provisioning state and mode.
//!
//! Properties as the firmware writes them (reference §5.2 and
//! `fixtures/firmware/AMT_SetupAndConfigurationService/Get.response.xml`);
//! the optional DNS suffixes appear only when set, in ASCII order like
//! every other property. Methods (`CommitChanges`, `Unprovision`,
//! `SetMEBxPassword`, `GetUuid`) are added by later work.

use amt_device::Device;
use base64::Engine;

use super::{ClassHandler, ClassInfo, Instance, SYSTEM_CREATION_CLASS_NAME, SYSTEM_NAME};
use crate::fault::Fault;

pub const CLASS_NAME: &str = "AMT_SetupAndConfigurationService";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_SetupAndConfigurationService";
pub const NAME: &str = "Intel(r) AMT Setup and Configuration Service";

pub struct AmtSetupAndConfigurationService;

impl ClassHandler for AmtSetupAndConfigurationService {
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
        // A provisioning server one-time password is never set by the
        // flows we model: the firmware reports 32 zero bytes.
        let otp = base64::engine::general_purpose::STANDARD.encode([0u8; 32]);
        Ok(vec![Instance::new()
            .with("CreationClassName", CLASS_NAME)
            .with_opt("DhcpDNSSuffix", device.dhcp_dns_suffix())
            .with("ElementName", NAME)
            .with("EnabledState", 5)
            .with("Name", NAME)
            .with("PasswordModel", 1)
            .with(
                "ProvisioningMode",
                device.control_mode().provisioning_mode(),
            )
            .with("ProvisioningServerOTP", otp)
            .with("ProvisioningState", device.provisioning_state().as_u8())
            .with("RequestedState", 12)
            .with("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
            .with("SystemName", SYSTEM_NAME)
            .with_opt("TrustedDNSSuffix", device.pki_dns_suffix())
            .with("ZeroTouchConfigurationEnabled", "true")
            .key("CreationClassName", CLASS_NAME)
            .key("Name", NAME)
            .key("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
            .key("SystemName", SYSTEM_NAME)])
    }
}
