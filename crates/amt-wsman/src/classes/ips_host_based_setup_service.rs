//! `IPS_HostBasedSetupService`: control mode, the configuration nonce and
//! the provisioning certificate chain state (reference §5.3; the capture
//! `fixtures/firmware/IPS_HostBasedSetupService/Get--capture-rps-activator.response.xml`
//! shows `AllowedControlModes` as one element per value, 2 then 1).
//! `Setup`, `AdminSetup`, `AddNextCertInChain` and `UpgradeClientToAdmin`
//! are added by later work.

use amt_device::Device;
use base64::Engine;

use super::{ClassHandler, ClassInfo, Instance, SYSTEM_CREATION_CLASS_NAME, SYSTEM_NAME};
use crate::fault::Fault;

pub const CLASS_NAME: &str = "IPS_HostBasedSetupService";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/ips-schema/1/IPS_HostBasedSetupService";
pub const NAME: &str = "Intel(r) AMT Host Based Setup Service";

pub struct IpsHostBasedSetupService;

impl ClassHandler for IpsHostBasedSetupService {
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
        let nonce = base64::engine::general_purpose::STANDARD.encode(device.configuration_nonce());
        Ok(vec![Instance::new()
            .with_list("AllowedControlModes", vec!["2".into(), "1".into()])
            .with("CertChainStatus", device.cert_chain_status())
            .with("ConfigurationNonce", nonce)
            .with("CreationClassName", CLASS_NAME)
            .with("CurrentControlMode", device.control_mode().as_u8())
            .with("ElementName", NAME)
            .with("Name", NAME)
            .with("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
            .with("SystemName", SYSTEM_NAME)
            .key("CreationClassName", CLASS_NAME)
            .key("Name", NAME)
            .key("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
            .key("SystemName", SYSTEM_NAME)])
    }
}
