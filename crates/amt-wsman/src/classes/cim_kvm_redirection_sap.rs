//! `CIM_KVMRedirectionSAP`: the KVM switch (Intel AMT SDK class reference; device side in
//! `amt_device::redirection`).
//!
//! Properties and order from the real device's replies
//! (`fixtures/firmware/CIM_KVMRedirectionSAP/Get--capture-rps-featuresConfiguration*.response.xml`):
//! `SystemName` is the host (`ManagedSystem`), not `Intel(r) AMT`.
//! `EnabledState` is 6 (enabled, no session) or 3 (disabled);
//! `RequestedState` is the last request (5 "no change" from the factory,
//! as go-wsman-messages' canned Pull shows). `RequestStateChange` takes 2
//! (enable) or 3 (disable); anything else is 5 (invalid parameter).

use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance, MethodOutput, Outcome, SYSTEM_CREATION_CLASS_NAME};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::method_input::RequestedStates;
use crate::references::MANAGED_SYSTEM_NAME;
use crate::CallContext;

pub const CLASS_NAME: &str = "CIM_KVMRedirectionSAP";
pub const RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_KVMRedirectionSAP";
pub const NAME: &str = "KVM Redirection Service Access Point";
/// `KVMProtocol` 4: VNC-RFB.
const KVM_PROTOCOL_RFB: u8 = 4;

pub struct CimKvmRedirectionSap;

/// `RequestStateChange`: 2 enable, 3 disable.
const STATES: RequestedStates<'static> = RequestedStates {
    accepted: &[2..=3],
    unsupported: amt_device::redirection::RSC_INVALID_PARAMETER,
};

impl ClassHandler for CimKvmRedirectionSap {
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
            .with("EnabledState", r.kvm_enabled_state())
            .with("KVMProtocol", KVM_PROTOCOL_RFB)
            .with("Name", NAME)
            .with("RequestedState", r.kvm_requested_state())
            .with("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
            .with("SystemName", MANAGED_SYSTEM_NAME)
            .key("CreationClassName", CLASS_NAME)
            .key("Name", NAME)
            .key("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
            .key("SystemName", MANAGED_SYSTEM_NAME)])
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
            |d, state| d.request_kvm_state(state),
        )
    }
}
