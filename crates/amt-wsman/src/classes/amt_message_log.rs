//! `AMT_MessageLog`: the event log (DMT canned replies
//! `fixtures/firmware/AMT_MessageLog/`). Records are the device's 21-byte
//! PET records (`amt_device::message_log`), oldest first, base64 in
//! `RecordArray`.
//!
//! - `PositionToFirstRecord()` → `IterationIdentifier` 1, ReturnValue 0.
//! - `GetRecords(IterationIdentifier, MaxReadRecords)` → up to
//!   `MaxReadRecords` records from that position, the next
//!   `IterationIdentifier`, `NoMoreRecords`, ReturnValue 0. A position that
//!   is not one `PositionToFirstRecord`/`GetRecords` could have given is
//!   36 INVALID_PARAMETER.
//! - `ClearLog()` empties the log (one "log cleared" record remains).

use amt_device::message_log::{MAX_RECORDS, RECORD_SIZE};
use amt_device::{Device, PtStatus};
use base64::Engine;

use super::{bool_text, ClassHandler, ClassInfo, Instance, MethodOutput, Outcome, Value};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::method_input::{method_outcome, MethodInput};
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_MessageLog";
pub const RESOURCE_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_MessageLog";
pub const NAME: &str = "Intel(r) AMT:MessageLog 1";

pub struct AmtMessageLog;

impl ClassHandler for AmtMessageLog {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: true,
        }
    }

    fn realm(&self, _op: crate::access::Operation<'_>) -> amt_device::accounts::Realm {
        amt_device::accounts::Realm::EventLogReader
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        let n = device.message_log().records.len();
        Ok(vec![Instance::new()
            .with_list(
                "Capabilities",
                ["5", "6", "8", "7"].map(String::from).to_vec(),
            )
            .with("CharacterSet", 10)
            .with("CreationClassName", CLASS_NAME)
            .with("CurrentNumberOfRecords", n)
            .with("ElementName", NAME)
            .with("EnabledDefault", 2)
            .with("EnabledState", 2)
            .with("HealthState", 5)
            .with("IsFrozen", bool_text(false))
            .with("LastChange", 0)
            .with("LogState", 4)
            .with("MaxLogSize", 0)
            .with("MaxNumberOfRecords", MAX_RECORDS)
            .with("MaxRecordSize", RECORD_SIZE)
            .with("Name", NAME)
            .with("OperationalStatus", 2)
            .with("OverwritePolicy", 2)
            .with("PercentageNearFull", n * 100 / MAX_RECORDS)
            .with("RequestedState", 12)
            .with("SizeOfHeader", 0)
            .with("SizeOfRecordHeader", 0)
            .with("Status", "OK")
            .key("CreationClassName", CLASS_NAME)
            .key("Name", NAME)])
    }

    fn invoke(
        &self,
        device: &mut Device,
        method: &str,
        input: Option<&Payload>,
        _request: &Request,
        ctx: &CallContext,
    ) -> Result<Outcome<MethodOutput>, Fault> {
        let args = MethodInput::of(&self.info(), method, input)?;
        match method {
            "PositionToFirstRecord" => Ok(method_outcome(
                Ok(vec![("IterationIdentifier", Value::Text("1".into()))]),
                false,
            )),
            "GetRecords" => {
                let records = &device.message_log().records;
                let result = (|| {
                    let start = args.required_u32("IterationIdentifier")? as usize;
                    if start == 0 || start > records.len() + 1 {
                        return Err(PtStatus::INVALID_PARAMETER);
                    }
                    let max = match args.text("MaxReadRecords") {
                        None => MAX_RECORDS,
                        Some(_) => args.required_u32("MaxReadRecords")? as usize,
                    };
                    let page: Vec<String> = records[start - 1..]
                        .iter()
                        .take(max)
                        .map(|r| base64::engine::general_purpose::STANDARD.encode(r.to_bytes()))
                        .collect();
                    let next = start + page.len();
                    let done = next > records.len();
                    let mut out = vec![
                        ("IterationIdentifier", Value::Text(next.to_string())),
                        ("NoMoreRecords", Value::Text(bool_text(done).into())),
                    ];
                    if !page.is_empty() {
                        out.push(("RecordArray", Value::List(page)));
                    }
                    Ok(out)
                })();
                Ok(method_outcome(result, false))
            }
            "ClearLog" => {
                device.clear_message_log(ctx.now);
                Ok(method_outcome(Ok(Vec::new()), true))
            }
            _ => Err(Fault::unknown_method(RESOURCE_URI, method)),
        }
    }
}
