//! `AMT_RemoteAccessPolicyRule`: when the device opens a tunnel. One rule
//! per trigger, named after it (`User Initiated`, `Alert`, `Periodic`),
//! added with `AMT_RemoteAccessService.AddRemoteAccessPolicyRule`.
//! Property order from `fixtures/firmware/AMT_RemoteAccessPolicyRule/Pull.response.xml`,
//! whose `ElementName` is spelt `Inte(r) AMT:Remote Access Policy`: kept
//! as captured. `ExtendedData` (base64) only when the rule has some.
//!
//! Put changes `TunnelLifeTime` and `ExtendedData` (the periodic
//! interval); Delete takes `PolicyRuleName` alone, as RPS sends it.

use amt_device::remote_access::{PolicyRule, PolicyTrigger};
use amt_device::Device;
use base64::Engine;

use super::amt_management_presence_remote_sap::select_by;
use super::{ClassHandler, ClassInfo, Instance, Outcome, Reference};
use crate::checks::{instance_body, refusal};
use crate::envelope::{Request, Selector};
use crate::fault::Fault;
use crate::references;
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_RemoteAccessPolicyRule";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_RemoteAccessPolicyRule";
pub const ELEMENT_NAME: &str = "Inte(r) AMT:Remote Access Policy";

/// The EPR of the rule for `trigger`.
pub fn reference(trigger: PolicyTrigger) -> Reference {
    references::to(
        RESOURCE_URI,
        &[
            ("CreationClassName", CLASS_NAME),
            ("PolicyRuleName", trigger.rule_name()),
            ("SystemCreationClassName", super::SYSTEM_CREATION_CLASS_NAME),
            ("SystemName", super::SYSTEM_NAME),
        ],
    )
}

/// The trigger an EPR a console sent names.
pub fn trigger_of(epr: &crate::envelope::EndpointReference) -> Option<PolicyTrigger> {
    if !references::names_class(epr, RESOURCE_URI) {
        return None;
    }
    PolicyTrigger::from_rule_name(references::selector(epr, "PolicyRuleName")?)
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn instance(p: &PolicyRule) -> Instance {
    let name = p.trigger.rule_name();
    Instance::new()
        .with("CreationClassName", CLASS_NAME)
        .with("ElementName", ELEMENT_NAME)
        .with_opt(
            "ExtendedData",
            (!p.extended_data.is_empty()).then(|| base64(&p.extended_data)),
        )
        .with("PolicyRuleName", name)
        .with("SystemCreationClassName", super::SYSTEM_CREATION_CLASS_NAME)
        .with("SystemName", super::SYSTEM_NAME)
        .with("Trigger", p.trigger.code())
        .with("TunnelLifeTime", p.tunnel_lifetime)
        .key("CreationClassName", CLASS_NAME)
        .key("PolicyRuleName", name)
        .key("SystemCreationClassName", super::SYSTEM_CREATION_CLASS_NAME)
        .key("SystemName", super::SYSTEM_NAME)
}

fn selected_trigger(instance: &Instance) -> Result<PolicyTrigger, Fault> {
    instance
        .text("PolicyRuleName")
        .and_then(PolicyTrigger::from_rule_name)
        .ok_or(Fault::InvalidSelectors)
}

pub struct AmtRemoteAccessPolicyRule;

impl ClassHandler for AmtRemoteAccessPolicyRule {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn get(&self, device: &Device, selectors: &[Selector]) -> Result<Instance, Fault> {
        super::amt_management_presence_remote_sap::select_or_only(self.instances(device)?, selectors)
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(device
            .remote_access()
            .policies
            .iter()
            .map(instance)
            .collect())
    }

    fn put(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<Instance>, Fault> {
        let target = select_by(self.instances(device)?, &request.selectors, "PolicyRuleName")?;
        let trigger = selected_trigger(&target)?;
        let body = instance_body(request, &self.info())?;
        let lifetime = match body.values("TunnelLifeTime").next() {
            None => target
                .text("TunnelLifeTime")
                .and_then(|t| t.parse().ok())
                .unwrap_or(0),
            Some(t) => t.trim().parse().map_err(|_| {
                Fault::InvalidRepresentation("TunnelLifeTime is not an integer".into())
            })?,
        };
        let data = match body.values("ExtendedData").next() {
            None => Vec::new(),
            Some(t) => {
                let compact: String = t.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .map_err(|_| Fault::InvalidRepresentation("ExtendedData is not base64".into()))?
            }
        };
        device
            .put_remote_access_policy(trigger, lifetime, data)
            .map_err(refusal)?;
        let stored = select_by(self.instances(device)?, &request.selectors, "PolicyRuleName")?;
        Ok(Outcome {
            value: stored,
            device_changed: true,
        })
    }

    fn delete(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<()>, Fault> {
        let target = select_by(self.instances(device)?, &request.selectors, "PolicyRuleName")?;
        device
            .delete_remote_access_policy(selected_trigger(&target)?)
            .map_err(refusal)?;
        Ok(Outcome {
            value: (),
            device_changed: true,
        })
    }
}
