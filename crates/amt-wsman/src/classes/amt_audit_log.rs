//! `AMT_AuditLog`: the audit log the device writes as audited transitions
//! happen (`crates/amt-device/src/audit_log.rs`).
//!
//! Properties as go-wsman-messages' canned Get/Pull replies show them
//! (`fixtures/firmware/AMT_AuditLog/`), in ASCII order. `TimeOfLastRecord`
//! (a `cim:Datetime`) is the newest record's time; an empty log answers the
//! Unix epoch (inferred: what real firmware answers then is not captured,
//! and the property is kept so the shape is the same in every state).
//!
//! `ReadRecords(StartIndex)` (1-based) answers `TotalRecordCount`,
//! `RecordsReturned`, one base64 `EventRecords` per record (at most
//! [`amt_device::audit_log::RECORDS_PER_READ`]) and `ReturnValue`; a
//! StartIndex of 0 or one that is not an integer is 36 INVALID_PARAMETER.

use amt_device::audit_log::MAX_RECORDS;
use amt_device::Device;
use base64::Engine;

use super::{ClassHandler, ClassInfo, Instance, MethodOutput, Outcome, Value};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::method_input::{method_outcome, MethodInput};
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_AuditLog";
pub const RESOURCE_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_AuditLog";
pub const NAME: &str = "Intel(r) AMT:Audit Log";

pub struct AmtAuditLog;

impl ClassHandler for AmtAuditLog {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: true,
        }
    }

    fn realm(&self, _op: crate::access::Operation<'_>) -> amt_device::accounts::Realm {
        amt_device::accounts::Realm::AuditLog
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        let count = device.audit_log().records().len();
        let free = 100 - (count * 100 / MAX_RECORDS).min(100);
        let mut instance = Instance::new()
            // 16: the log is enabled and no auditor locks it (canned replies).
            .with("AuditState", 16)
            .with("CurrentNumberOfRecords", count)
            .with("ElementName", "Intel(r) AMT Audit Log")
            .with("EnabledState", 2)
            .with("MaxAllowedAuditors", 1)
            // The firmware reports 0 (storage is shared, PercentageFree says more).
            .with("MaxNumberOfRecords", 0)
            .with("Name", NAME)
            .with("OverwritePolicy", 2)
            .with("PercentageFree", free)
            .with("RequestedState", 2)
            .with("StoragePolicy", 1)
            .key("Name", NAME);
        {
            let t = device
                .audit_time_of_last_record()
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            let stamp = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            );
            instance
                .properties
                .push(("TimeOfLastRecord", Value::Datetime(stamp)));
        }
        Ok(vec![instance])
    }

    fn invoke(
        &self,
        device: &mut Device,
        method: &str,
        input: Option<&Payload>,
        _request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<MethodOutput>, Fault> {
        if method != "ReadRecords" {
            return Err(Fault::unknown_method(RESOURCE_URI, method));
        }
        let args = MethodInput::of(&self.info(), method, input)?;
        let b64 = base64::engine::general_purpose::STANDARD;
        Ok(method_outcome(
            args.required_u32("StartIndex")
                .and_then(|start| device.read_audit_records(start))
                .map(|page| {
                    vec![
                        (
                            "TotalRecordCount",
                            Value::Text(page.total_record_count.to_string()),
                        ),
                        (
                            "RecordsReturned",
                            Value::Text(page.records.len().to_string()),
                        ),
                        (
                            "EventRecords",
                            Value::List(page.records.iter().map(|r| b64.encode(r)).collect()),
                        ),
                    ]
                }),
            false,
        ))
    }
}
