//! `CIM_BootConfigSetting`: the boot configuration the next boot uses
//! (DMT canned replies `fixtures/firmware/CIM_BootConfigSetting/`).
//!
//! `ChangeBootOrder(Source)`: `Source` is the EPR of a
//! `CIM_BootSourceSetting` by `InstanceID`; no `Source` clears the choice.
//! ReturnValue 0 done, 4 when the EPR names no boot source (invalid
//! reference), 5 when `Source` is not an EPR (invalid parameter).

use amt_device::{BootSource, Device};

use super::{cim_boot_source_setting as bss, ClassHandler, ClassInfo, Instance, MethodOutput, Outcome};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::method_input::{return_value, MethodInput};
use crate::references::{names_class, selector};
use crate::CallContext;

pub const CLASS_NAME: &str = "CIM_BootConfigSetting";
pub const RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_BootConfigSetting";
pub const INSTANCE_ID: &str = "Intel(r) AMT: Boot Configuration 0";

/// `ChangeBootOrder` / `SetBootConfigRole` ReturnValues.
pub const COMPLETED: u32 = 0;
pub const INVALID_REFERENCE: u32 = 4;
pub const INVALID_PARAMETER: u32 = 5;

pub struct CimBootConfigSetting;

fn outcome(code: u32) -> Outcome<MethodOutput> {
    Outcome {
        value: return_value(code),
        device_changed: code == COMPLETED,
    }
}

impl ClassHandler for CimBootConfigSetting {
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

    fn instances(&self, _device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(vec![Instance::new()
            .with("ElementName", "Intel(r) AMT: Boot Configuration")
            .with("InstanceID", INSTANCE_ID)
            .key("InstanceID", INSTANCE_ID)])
    }

    /// One instance: consoles Get it without selectors too.
    fn is_singleton(&self) -> bool {
        true
    }

    fn invoke(
        &self,
        device: &mut Device,
        method: &str,
        input: Option<&Payload>,
        _request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<MethodOutput>, Fault> {
        if method != "ChangeBootOrder" {
            return Err(Fault::unknown_method(RESOURCE_URI, method));
        }
        let args = MethodInput::of(&self.info(), method, input)?;
        let Some(source) = args
            .payload()
            .and_then(|p| p.properties().find(|q| q.name == "Source"))
        else {
            device.change_boot_order(None);
            return Ok(outcome(COMPLETED));
        };
        let Some(epr) = source.endpoint_reference() else {
            return Ok(outcome(INVALID_PARAMETER));
        };
        let found = names_class(&epr, bss::RESOURCE_URI)
            .then(|| selector(&epr, "InstanceID"))
            .flatten()
            .and_then(BootSource::from_instance_id);
        match found {
            Some(s) => {
                device.change_boot_order(Some(s));
                Ok(outcome(COMPLETED))
            }
            None => Ok(outcome(INVALID_REFERENCE)),
        }
    }
}
