//! `AMT_RemoteAccessPolicyAppliesToMPS`: which MPSs a policy dials, in
//! which order (`OrderOfAccess` 0 primary, 1 secondary) and where
//! (`MpsType` 0 outside the intranet, 1 inside, 2 both). One instance per
//! MPS of each policy, keyed by two EPRs: `ManagedElement` (the
//! `AMT_ManagementPresenceRemoteSAP`) and `PolicySet` (the
//! `AMT_RemoteAccessPolicyRule`). Property order from
//! `fixtures/firmware/AMT_RemoteAccessPolicyAppliesToMPS/Pull.response.xml`.
//!
//! Put (RPS sets `MpsType` 2): the instance is named by the EPR-valued
//! selectors in the header, or, when there are none (wsman-messages'
//! builder), by the EPRs in the body; with neither, a device with one
//! such instance takes that one. Only `MpsType` and `OrderOfAccess`
//! change. The reply is the stored instance.

use amt_device::remote_access::PolicyTrigger;
use amt_device::Device;

use super::amt_management_presence_remote_sap as sap;
use super::amt_remote_access_policy_rule as rule;
use super::{ClassHandler, ClassInfo, Instance, Outcome};
use crate::checks::{instance_body, refusal};
use crate::envelope::{EndpointReference, Request, Selector, SelectorValue};
use crate::fault::Fault;
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_RemoteAccessPolicyAppliesToMPS";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_RemoteAccessPolicyAppliesToMPS";

/// (policy, MPS index) of each instance, in enumeration order.
fn pairs(device: &Device) -> Vec<(PolicyTrigger, u32, u32, u32)> {
    device
        .remote_access()
        .policies
        .iter()
        .flat_map(|p| {
            p.servers
                .iter()
                .map(|s| (p.trigger, s.mps_index, s.mps_type.code(), s.order_of_access))
        })
        .collect()
}

fn instance(trigger: PolicyTrigger, index: u32, mps_type: u32, order: u32) -> Instance {
    Instance::new()
        .with_reference("ManagedElement", sap::reference(index))
        .with("MpsType", mps_type)
        .with("OrderOfAccess", order)
        .with_reference("PolicySet", rule::reference(trigger))
        .reference_key("ManagedElement", sap::reference(index))
        .reference_key("PolicySet", rule::reference(trigger))
}

/// What a set of EPRs names: (policy, MPS), either possibly unnamed.
fn named(
    managed_element: Option<&EndpointReference>,
    policy_set: Option<&EndpointReference>,
) -> Result<(Option<PolicyTrigger>, Option<u32>), Fault> {
    let trigger = match policy_set {
        Some(epr) => Some(rule::trigger_of(epr).ok_or(Fault::InvalidSelectors)?),
        None => None,
    };
    let index = match managed_element {
        Some(epr) => Some(sap::index_of(epr).ok_or(Fault::InvalidSelectors)?),
        None => None,
    };
    Ok((trigger, index))
}

fn header_names(selectors: &[Selector]) -> Result<(Option<PolicyTrigger>, Option<u32>), Fault> {
    let mut managed = None;
    let mut policy = None;
    for s in selectors.iter().filter(|s| s.name != "__cimnamespace") {
        let SelectorValue::EndpointReference(epr) = &s.value else {
            return Err(Fault::InvalidSelectors);
        };
        match s.name.as_str() {
            "ManagedElement" => managed = Some(epr),
            "PolicySet" => policy = Some(epr),
            _ => return Err(Fault::InvalidSelectors),
        }
    }
    named(managed, policy)
}

/// The one pair matching what was named (`None` = anything).
fn pick(
    device: &Device,
    (trigger, index): (Option<PolicyTrigger>, Option<u32>),
) -> Result<(PolicyTrigger, u32, u32, u32), Fault> {
    let mut found = pairs(device)
        .into_iter()
        .filter(|(t, i, _, _)| trigger.is_none_or(|x| x == *t) && index.is_none_or(|x| x == *i));
    match (found.next(), found.next()) {
        (Some(one), None) => Ok(one),
        _ => Err(Fault::InvalidSelectors),
    }
}

pub struct AmtRemoteAccessPolicyAppliesToMps;

impl ClassHandler for AmtRemoteAccessPolicyAppliesToMps {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(pairs(device)
            .into_iter()
            .map(|(t, i, ty, o)| instance(t, i, ty, o))
            .collect())
    }

    fn get(&self, device: &Device, selectors: &[Selector]) -> Result<Instance, Fault> {
        let (t, i, ty, o) = pick(device, header_names(selectors)?)?;
        Ok(instance(t, i, ty, o))
    }

    fn put(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<Instance>, Fault> {
        let body = instance_body(request, &self.info())?;
        let from_header = header_names(&request.selectors)?;
        let names = if from_header == (None, None) {
            let epr = |name: &str| {
                body.properties()
                    .find(|p| p.name == name)
                    .and_then(|p| p.endpoint_reference())
                    .filter(|e| e.resource_uri.is_some())
            };
            let (m, p) = (epr("ManagedElement"), epr("PolicySet"));
            named(m.as_ref(), p.as_ref())?
        } else {
            from_header
        };
        let (trigger, index, old_type, old_order) = pick(device, names)?;
        let number = |name: &str, old: u32| -> Result<u32, Fault> {
            match body.values(name).next() {
                None => Ok(old),
                Some(t) => t
                    .trim()
                    .parse()
                    .map_err(|_| Fault::InvalidRepresentation(format!("{name} is not an integer"))),
            }
        };
        let mps_type = number("MpsType", old_type)?;
        let order = number("OrderOfAccess", old_order)?;
        device
            .put_policy_mps(trigger, index, mps_type, order)
            .map_err(refusal)?;
        let (t, i, ty, o) = pick(device, (Some(trigger), Some(index)))?;
        Ok(Outcome {
            value: instance(t, i, ty, o),
            device_changed: true,
        })
    }
}
