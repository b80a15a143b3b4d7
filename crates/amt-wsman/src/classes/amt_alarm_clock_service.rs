//! `AMT_AlarmClockService`: sets alarms that power the host on (DMT canned
//! replies `fixtures/firmware/AMT_AlarmClockService/`; note its
//! `SystemName` is the host, `ManagedSystem`).
//!
//! `AddAlarm(AlarmTemplate)`: the template is an `IPS_AlarmClockOccurrence`
//! (`InstanceID`, `ElementName`, `StartTime` as `cim:Datetime`, optional
//! `Interval` as `cim:Interval` `P<d>DT<h>H<m>M`, `DeleteOnCompletion`).
//! The answer is the new occurrence's EPR (`AlarmClock`) and ReturnValue
//! 0; a start time that is not in the device clock's future, or a
//! template that is missing or malformed, is 36 INVALID_PARAMETER; an
//! existing `InstanceID` 2058 DUPLICATE; more than five alarms 23
//! MAX_LIMIT_REACHED. Alarms fire when the driver lets device time pass
//! (`Device::tick`).

use amt_device::{Alarm, AlarmError, Device, PtStatus};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{ips_alarm_clock_occurrence as occ, ClassHandler, ClassInfo, Instance, MethodOutput, Outcome, Value, SYSTEM_CREATION_CLASS_NAME};
use crate::checks::boolean;
use crate::envelope::{parse_duration, Payload, Request};
use crate::fault::Fault;
use crate::method_input::{method_outcome, MethodInput};
use crate::references::MANAGED_SYSTEM_NAME;
use crate::xml::Element;
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_AlarmClockService";
pub const RESOURCE_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_AlarmClockService";
pub const NAME: &str = "Intel(r) AMT Alarm Clock Service";

pub struct AmtAlarmClockService;

/// The text of a template property, looking through a `cim:Datetime` /
/// `cim:Interval` wrapper.
fn value_of<'a>(template: &'a Element, name: &str) -> Option<&'a str> {
    let e = template.children.iter().find(|c| c.local_name == name)?;
    match e.children.first() {
        Some(inner) => Some(inner.trimmed_text()),
        None => Some(e.trimmed_text()),
    }
}

fn alarm_from(template: &Element) -> Result<Alarm, PtStatus> {
    let invalid = PtStatus::INVALID_PARAMETER;
    let instance_id = value_of(template, "InstanceID").ok_or(invalid)?;
    let start = value_of(template, "StartTime").ok_or(invalid)?;
    let start = OffsetDateTime::parse(start, &Rfc3339).map_err(|_| invalid)?;
    let interval = match value_of(template, "Interval") {
        None | Some("0") => 0,
        Some(text) => parse_duration(text).ok_or(invalid)? as i64,
    };
    let delete_on_completion = match value_of(template, "DeleteOnCompletion") {
        None => true,
        Some(v) => boolean(v).ok_or(invalid)?,
    };
    Ok(Alarm {
        instance_id: instance_id.to_string(),
        element_name: value_of(template, "ElementName")
            .unwrap_or(instance_id)
            .to_string(),
        start_time: start.unix_timestamp(),
        interval,
        delete_on_completion,
        fired: false,
    })
}

impl ClassHandler for AmtAlarmClockService {
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

    fn instances(&self, _device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(vec![Instance::new()
            .with("CreationClassName", CLASS_NAME)
            .with("ElementName", NAME)
            .with("Name", NAME)
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
        ctx: &CallContext,
    ) -> Result<Outcome<MethodOutput>, Fault> {
        if method != "AddAlarm" {
            return Err(Fault::unknown_method(RESOURCE_URI, method));
        }
        let args = MethodInput::of(&self.info(), method, input)?;
        let result = (|| {
            let template = args
                .payload()
                .and_then(|p| p.properties().find(|q| q.name == "AlarmTemplate"))
                .ok_or(PtStatus::INVALID_PARAMETER)?;
            let alarm = alarm_from(template.element)?;
            let id = alarm.instance_id.clone();
            device.add_alarm(alarm, ctx.now).map_err(|e| match e {
                AlarmError::Duplicate => PtStatus::DUPLICATE,
                AlarmError::TooMany => PtStatus::MAX_LIMIT_REACHED,
                _ => PtStatus::INVALID_PARAMETER,
            })?;
            Ok(vec![("AlarmClock", Value::Reference(occ::reference(&id)))])
        })();
        Ok(method_outcome(result, true))
    }
}
