//! `IPS_OptInService`: user consent (Intel AMT SDK class reference; device side in
//! `amt_device::user_consent`).
//!
//! Properties and order from the real device's reply
//! (`fixtures/firmware/IPS_OptInService/Get--capture-rps-featuresConfiguration.response.xml`).
//! Put takes the instance as read (or an empty one): `OptInRequired`,
//! `OptInCodeTimeout` and `OptInDisplayTimeout` are writable, the rest is
//! ignored. A refusal (client control mode and `OptInRequired` 0, a
//! timeout out of range) is the fault of its PT_STATUS
//! ([`crate::checks::refusal`]). The methods answer the class's own
//! ReturnValue table (0 success, 1 internal error, 2 invalid state,
//! 3 blocked), never a fault.

use amt_device::user_consent::OptInPut;
use amt_device::Device;

use super::{
    ClassHandler, ClassInfo, Instance, MethodOutput, Outcome, SYSTEM_CREATION_CLASS_NAME,
    SYSTEM_NAME,
};
use crate::checks::{instance_body, optional_u32, refusal};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::method_input::{return_value, MethodInput};
use crate::CallContext;

pub const CLASS_NAME: &str = "IPS_OptInService";
pub const RESOURCE_URI: &str = "http://intel.com/wbem/wscim/1/ips-schema/1/IPS_OptInService";
pub const NAME: &str = "Intel(r) AMT OptIn Service";

pub struct IpsOptInService;

impl ClassHandler for IpsOptInService {
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
        let consent = device.user_consent();
        Ok(vec![Instance::new()
            .with("CanModifyOptInPolicy", 1)
            .with("CreationClassName", CLASS_NAME)
            .with("ElementName", NAME)
            .with("Name", NAME)
            .with("OptInCodeTimeout", consent.code_timeout())
            .with("OptInDisplayTimeout", consent.display_timeout())
            .with("OptInRequired", device.opt_in_required().value())
            .with("OptInState", consent.state().value())
            .with("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
            .with("SystemName", SYSTEM_NAME)
            .service_keys(CLASS_NAME, NAME)])
    }

    fn put(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<Instance>, Fault> {
        self.get(device, &request.selectors)?;
        let body = instance_body(request, &self.info())?;
        let put = OptInPut {
            required: optional_u32(body, "OptInRequired")?,
            code_timeout: optional_u32(body, "OptInCodeTimeout")?,
            display_timeout: optional_u32(body, "OptInDisplayTimeout")?,
        };
        device.put_opt_in_service(put).map_err(refusal)?;
        Ok(Outcome {
            value: self.get(device, &request.selectors)?,
            device_changed: device.pending_effects().persist,
        })
    }

    fn invoke(
        &self,
        device: &mut Device,
        method: &str,
        input: Option<&Payload>,
        _request: &Request,
        ctx: &CallContext,
    ) -> Result<Outcome<MethodOutput>, Fault> {
        if !matches!(method, "StartOptIn" | "CancelOptIn" | "SendOptInCode") {
            return Err(Fault::unknown_method(RESOURCE_URI, method));
        }
        let args = MethodInput::of(&self.info(), method, input)?;
        let status = match method {
            "StartOptIn" => device.start_opt_in(ctx.now),
            "CancelOptIn" => device.cancel_opt_in(ctx.now),
            // SendOptInCode. Not a number: no code the screen could show.
            _ => match args.u32("OptInCode") {
                Some(code) => device.send_opt_in_code(code, ctx.now),
                None => amt_device::user_consent::OptInStatus::InternalError,
            },
        };
        // Consent in progress lives in RAM: nothing to write to flash.
        Ok(Outcome {
            value: return_value(status.code()),
            device_changed: false,
        })
    }
}
