//! `IPS_KVMRedirectionSettingData`: KVM settings (Intel AMT SDK class reference;
//! device side in `amt_device::redirection`).
//!
//! Properties and order from go-wsman-messages' canned Get
//! (`fixtures/firmware/IPS_KVMRedirectionSettingData/Get.response.xml`; no
//! capture exists). `RFBPassword` is write-only: it always reads empty.
//! `OptInPolicy` mirrors `IPS_OptInService.OptInRequired` (consent for
//! KVM) and `OptInPolicyTimeout` its `OptInDisplayTimeout`. The properties
//! newer firmware adds in its Put reply (`DoubleBufferEnabled` and the
//! like, canned `Put.response.xml`) are not modelled.
//!
//! Put: `Is5900PortEnabled`, `OptInPolicy`, `RFBPassword` (empty keeps the
//! stored one), `SessionTimeout`, `DefaultScreen`, `BackToBackFbMode`; the
//! rest is ignored. A weak RFB password is `InvalidParameter`; enabling
//! 5900 without a password is `InternalError` `AMT-STATUS 16`; so is
//! `OptInPolicy` false in client control mode.

use amt_device::redirection::KvmSettingsPut;
use amt_device::Device;

use super::{bool_text, ClassHandler, ClassInfo, Instance, Outcome};
use crate::checks::{instance_body, optional_boolean, optional_u32, refusal};
use crate::envelope::Request;
use crate::fault::Fault;
use crate::CallContext;

pub const CLASS_NAME: &str = "IPS_KVMRedirectionSettingData";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/ips-schema/1/IPS_KVMRedirectionSettingData";
/// Both the `InstanceID` and the `ElementName`.
pub const INSTANCE_ID: &str = "Intel(r) KVM Redirection Settings";

pub struct IpsKvmRedirectionSettingData;

impl ClassHandler for IpsKvmRedirectionSettingData {
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

    fn secret_parameters(&self) -> &'static [&'static str] {
        &["RFBPassword"]
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        let r = device.redirection();
        Ok(vec![Instance::new()
            .with("BackToBackFbMode", bool_text(r.back_to_back_fb_mode()))
            .with("DefaultScreen", r.default_screen())
            .with("ElementName", INSTANCE_ID)
            .with("EnabledByMEBx", "true")
            .with("InstanceID", INSTANCE_ID)
            .with("Is5900PortEnabled", bool_text(r.port_5900_enabled()))
            .with("OptInPolicy", bool_text(device.kvm_opt_in_policy()))
            .with("OptInPolicyTimeout", device.user_consent().display_timeout())
            .with("RFBPassword", "")
            .with("SessionTimeout", r.session_timeout())
            .key("InstanceID", INSTANCE_ID)])
    }

    fn put(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<Instance>, Fault> {
        self.get(device, &request.selectors)?;
        let body = instance_body(request, &self.info())?;
        let put = KvmSettingsPut {
            is_5900_port_enabled: optional_boolean(body, "Is5900PortEnabled")?,
            opt_in_policy: optional_boolean(body, "OptInPolicy")?,
            rfb_password: body.values("RFBPassword").next().map(str::to_string),
            session_timeout: optional_u32(body, "SessionTimeout")?,
            default_screen: optional_u32(body, "DefaultScreen")?,
            back_to_back_fb_mode: optional_boolean(body, "BackToBackFbMode")?,
        };
        device.put_kvm_settings(put).map_err(refusal)?;
        Ok(Outcome {
            value: self.get(device, &request.selectors)?,
            device_changed: device.pending_effects().persist,
        })
    }
}
