//! `AMT_AuditPolicyRule`: which events the audit log records
//! (`crates/amt-device/src/audit_log.rs`).
//!
//! One instance, shaped as the canned Get reply in Open AMT's
//! wsman-messages tests shows it: `AuditApplicationEventID` (one per
//! audited event, AuditAppID << 16 | EventID), `CreationClassName`,
//! `ElementName`, `PolicyRuleName`, `PolicyType` (one per event, same
//! order), `SystemCreationClassName`, `SystemName`. The keys are
//! `CIM_PolicyRule`'s four.
//!
//! `SetAuditPolicy(Enable, AuditedAppID, EventID, PolicyType)` and
//! `SetAuditPolicyBulk` (the same parameters as arrays of one length)
//! answer a PT_STATUS `ReturnValue`: a missing or malformed parameter,
//! arrays of different lengths, a `PolicyType` other than 0/1 when
//! enabling, or disabling an always-audited Security Audit Log event is 36
//! INVALID_PARAMETER, and then nothing changes. The methods need the
//! Audit Log realm, like `AMT_AuditLog`.

use amt_device::audit_log::AuditPolicyChange;
use amt_device::{Device, PtStatus};

use super::{ClassHandler, ClassInfo, Instance, MethodOutput, Outcome, Value};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::method_input::{method_outcome, MethodInput};
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_AuditPolicyRule";
pub const RESOURCE_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_AuditPolicyRule";
pub const POLICY_RULE_NAME: &str = "Audit Policy Rule";

pub struct AmtAuditPolicyRule;

fn numbers<T: std::str::FromStr>(args: &MethodInput<'_>, name: &str) -> Result<Vec<T>, PtStatus> {
    args.texts(name)
        .into_iter()
        .map(|t| t.parse().map_err(|_| PtStatus::INVALID_PARAMETER))
        .collect()
}

fn booleans(args: &MethodInput<'_>, name: &str) -> Result<Vec<bool>, PtStatus> {
    args.texts(name)
        .into_iter()
        .map(|t| match t {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(PtStatus::INVALID_PARAMETER),
        })
        .collect()
}

/// The changes a call asks for. `SetAuditPolicy` takes one of each
/// (`PolicyType` optional on disable); the bulk form takes arrays of one
/// length.
fn changes(args: &MethodInput<'_>, bulk: bool) -> Result<Vec<AuditPolicyChange>, PtStatus> {
    let enable = booleans(args, "Enable")?;
    let apps: Vec<u16> = numbers(args, "AuditedAppID")?;
    let events: Vec<u16> = numbers(args, "EventID")?;
    let types: Vec<u32> = numbers(args, "PolicyType")?;
    let n = enable.len();
    let single_ok = !bulk && n == 1 && types.len() <= 1;
    let bulk_ok = bulk && n > 0 && types.len() == n;
    if apps.len() != n || events.len() != n || !(single_ok || bulk_ok) {
        return Err(PtStatus::INVALID_PARAMETER);
    }
    Ok((0..n)
        .map(|i| AuditPolicyChange {
            enable: enable[i],
            app_id: apps[i],
            event_id: events[i],
            policy_type: types.get(i).copied(),
        })
        .collect())
}

impl ClassHandler for AmtAuditPolicyRule {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn realm(&self, _op: crate::access::Operation<'_>) -> amt_device::accounts::Realm {
        amt_device::accounts::Realm::AuditLog
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        let policy = device.audit_log().policy();
        let mut instance = Instance::new();
        instance.properties.push((
            "AuditApplicationEventID",
            Value::List(
                policy
                    .iter()
                    .map(|e| e.application_event_id().to_string())
                    .collect(),
            ),
        ));
        let mut instance = instance
            .with("CreationClassName", CLASS_NAME)
            .with("ElementName", "Intel(r) AMT Audit Policy Rule")
            .with("PolicyRuleName", POLICY_RULE_NAME);
        instance.properties.push((
            "PolicyType",
            Value::List(policy.iter().map(|e| e.policy_type.to_string()).collect()),
        ));
        Ok(vec![instance
            .with("SystemCreationClassName", super::SYSTEM_CREATION_CLASS_NAME)
            .with("SystemName", super::SYSTEM_NAME)
            .key("CreationClassName", CLASS_NAME)
            .key("PolicyRuleName", POLICY_RULE_NAME)
            .key("SystemCreationClassName", super::SYSTEM_CREATION_CLASS_NAME)
            .key("SystemName", super::SYSTEM_NAME)])
    }

    fn invoke(
        &self,
        device: &mut Device,
        method: &str,
        input: Option<&Payload>,
        _request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<MethodOutput>, Fault> {
        let bulk = match method {
            "SetAuditPolicy" => false,
            "SetAuditPolicyBulk" => true,
            _ => {
                return Err(Fault::unknown_method(RESOURCE_URI, method))
            }
        };
        let args = MethodInput::of(&self.info(), method, input)?;
        let result = changes(&args, bulk).and_then(|c| device.set_audit_policy(&c));
        let changed = device.pending_effects().persist;
        Ok(method_outcome(result.map(|()| Vec::new()), changed))
    }
}
