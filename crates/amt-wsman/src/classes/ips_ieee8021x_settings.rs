//! `IPS_IEEE8021xSettings`: wired 802.1x. One instance, Get without
//! selectors (RPS); properties as in go-wsman-messages' canned Get
//! (`fixtures/firmware/IPS_IEEE8021xSettings/Get.response.xml`), with
//! `AuthenticationProtocol` and `Username` when a profile is set.
//!
//! Put takes the instance: `Enabled` is required (2 enabled, 3 disabled,
//! 6 enabled without certificate check; anything else is
//! `InvalidParameter`). Disabling drops the profile's protocol and user
//! name; RPS's cleanup Puts the read instance with `Enabled` 3 and without
//! credentials. Passwords and keys are accepted and not kept (the device
//! does no 802.1x handshake). The reply is the stored instance.

use amt_device::network::Ieee8021xPut;
use amt_device::Device;

use super::{bool_text, ClassHandler, ClassInfo, Instance, Outcome};
use crate::checks::{instance_body, optional_boolean, optional_number, refusal};
use crate::envelope::Request;
use crate::fault::Fault;
use crate::CallContext;

pub const CLASS_NAME: &str = "IPS_IEEE8021xSettings";
pub const RESOURCE_URI: &str = "http://intel.com/wbem/wscim/1/ips-schema/1/IPS_IEEE8021xSettings";
pub const INSTANCE_ID: &str = "Intel(r) AMT: 8021X Settings";

pub struct IpsIeee8021xSettings;

impl ClassHandler for IpsIeee8021xSettings {
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
        &["Password", "PSK", "PACPassword", "ProtectedAccessCredential"]
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        let s = &device.network().ieee8021x;
        Ok(vec![Instance::new()
            .with_opt("AuthenticationProtocol", s.authentication_protocol)
            .with("AvailableInS0", bool_text(s.available_in_s0))
            .with("ElementName", INSTANCE_ID)
            .with("Enabled", s.enabled)
            .with("InstanceID", INSTANCE_ID)
            .with("PxeTimeout", s.pxe_timeout)
            .with_opt("Username", s.username.clone())
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
        let put = Ieee8021xPut {
            enabled: optional_number(body, "Enabled")?
                .ok_or_else(|| Fault::InvalidRepresentation("Enabled is required".into()))?,
            authentication_protocol: optional_number(body, "AuthenticationProtocol")?,
            username: body
                .values("Username")
                .next()
                .filter(|u| !u.is_empty())
                .map(str::to_string),
            pxe_timeout: optional_number(body, "PxeTimeout")?,
            available_in_s0: optional_boolean(body, "AvailableInS0")?,
        };
        device.put_ieee8021x_settings(put).map_err(refusal)?;
        let changed = device.pending_effects().persist;
        Ok(Outcome {
            value: self.get(device, &request.selectors)?,
            device_changed: changed,
        })
    }
}
