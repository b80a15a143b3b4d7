//! `CIM_WiFiEndpointSettings`: the Wi-Fi profiles stored on the device,
//! keyed by `InstanceID` (the profile name). Properties as in
//! go-wsman-messages' canned pull
//! (`fixtures/firmware/CIM_WiFiEndpointSettings/Pull.response.xml`); the
//! pass phrase is never read back. `InstanceID` is what the console gave
//! (RPS: `Intel(r) AMT:WiFi Endpoint Settings <name>`), `ElementName` the
//! profile name. Profiles are added with
//! `AMT_WiFiPortConfigurationService.AddWiFiSettings` (or by the
//! scenario); Delete by `InstanceID` removes one (RPS's cleanup deletes
//! each it pulled). An empty list on a board without Wi-Fi.

use amt_device::Device;

use super::{select, ClassHandler, ClassInfo, Instance, Outcome};
use crate::checks::refusal;
use crate::envelope::Request;
use crate::fault::Fault;
use crate::CallContext;

pub const CLASS_NAME: &str = "CIM_WiFiEndpointSettings";
pub const RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_WiFiEndpointSettings";

pub struct CimWiFiEndpointSettings;

impl ClassHandler for CimWiFiEndpointSettings {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(device
            .network()
            .wifi_profiles
            .iter()
            .map(|p| {
                Instance::new()
                    .with("AuthenticationMethod", p.authentication_method)
                    .with("BSSType", 3)
                    .with("ElementName", &p.name)
                    .with("EncryptionMethod", p.encryption_method)
                    .with("InstanceID", p.instance_id())
                    .with("Priority", p.priority)
                    .with("SSID", &p.ssid)
                    .key("InstanceID", p.instance_id())
            })
            .collect())
    }

    fn delete(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<()>, Fault> {
        let target = select(self.instances(device)?, &request.selectors, false)?;
        let name = target.text("InstanceID").unwrap_or_default().to_string();
        device.delete_wifi_profile(&name).map_err(refusal)?;
        Ok(Outcome {
            value: (),
            device_changed: true,
        })
    }
}
