//! `AMT_RedirectionService`: the redirection listener and the IDE-R / SOL
//! switches (Intel AMT SDK class reference; device side in
//! `amt_device::redirection`).
//!
//! Properties and order from the real device's replies
//! (`fixtures/firmware/AMT_RedirectionService/Get--capture-rps-featuresConfiguration*.response.xml`).
//! `EnabledState` is 32768 + 1 (IDE-R) + 2 (SOL) and moves only by
//! `RequestStateChange` (32768–32771, anything else 5 invalid parameter);
//! Put writes `ListenerEnabled` and ignores the rest, as RPS sends back
//! the whole instance it read (capture `Put--capture-rps-featuresConfiguration`).

use amt_device::Device;

use super::{
    bool_text, ClassHandler, ClassInfo, Instance, MethodOutput, Outcome,
    SYSTEM_CREATION_CLASS_NAME, SYSTEM_NAME,
};
use crate::checks::{instance_body, optional_boolean};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::method_input::RequestedStates;
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_RedirectionService";
pub const RESOURCE_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_RedirectionService";
pub const NAME: &str = "Intel(r) AMT Redirection Service";

pub struct AmtRedirectionService;

/// `RequestStateChange`: 32768 + 1 (IDE-R) + 2 (SOL).
const STATES: RequestedStates<'static> = RequestedStates {
    accepted: &[32768..=32771],
    unsupported: amt_device::redirection::RSC_INVALID_PARAMETER,
};

impl ClassHandler for AmtRedirectionService {
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
        let r = device.redirection();
        Ok(vec![Instance::new()
            .with("CreationClassName", CLASS_NAME)
            .with("ElementName", NAME)
            .with("EnabledState", r.enabled_state())
            .with("ListenerEnabled", bool_text(r.listener_enabled()))
            .with("Name", NAME)
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
        if let Some(enabled) = optional_boolean(body, "ListenerEnabled")? {
            device.set_redirection_listener(enabled);
        }
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
        _ctx: &CallContext,
    ) -> Result<Outcome<MethodOutput>, Fault> {
        crate::method_input::request_state_change(
            &self.info(),
            method,
            input,
            device,
            &STATES,
            |d, state| d.request_redirection_state(state),
        )
    }
}
