//! `IPS_AlarmClockOccurrence`: the alarms set with
//! `AMT_AlarmClockService.AddAlarm`, keyed by `InstanceID`; Get, Enumerate
//! and Delete. Property order as DMT's canned Get reply
//! (`fixtures/firmware/IPS_AlarmClockOccurrence/Get.response.xml`);
//! `StartTime` is written as the bare UTC time (that reply shows no
//! `cim:Datetime` wrapper), `Interval` in minutes as the console sent it,
//! 0 for a one-shot alarm.

use amt_device::Device;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{bool_text, select, ClassHandler, ClassInfo, Instance, Outcome, Reference};
use crate::envelope::Request;
use crate::fault::Fault;
use crate::references::to;
use crate::CallContext;

pub const CLASS_NAME: &str = "IPS_AlarmClockOccurrence";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/ips-schema/1/IPS_AlarmClockOccurrence";

pub struct IpsAlarmClockOccurrence;

/// The EPR of an occurrence.
pub fn reference(instance_id: &str) -> Reference {
    to(RESOURCE_URI, &[("InstanceID", instance_id)])
}

fn interval_text(seconds: i64) -> String {
    if seconds == 0 {
        return "0".into();
    }
    let minutes = seconds / 60;
    format!("P{}DT{}H{}M", minutes / 1440, (minutes / 60) % 24, minutes % 60)
}

impl ClassHandler for IpsAlarmClockOccurrence {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(device
            .host()
            .alarms
            .iter()
            .map(|a| {
                let start = OffsetDateTime::from_unix_timestamp(a.start_time)
                    .ok()
                    .and_then(|t| t.format(&Rfc3339).ok())
                    .unwrap_or_default();
                Instance::new()
                    .with("ElementName", &a.element_name)
                    .with("InstanceID", &a.instance_id)
                    .with("StartTime", start)
                    .with("Interval", interval_text(a.interval))
                    .with("DeleteOnCompletion", bool_text(a.delete_on_completion))
                    .key("InstanceID", &a.instance_id)
            })
            .collect())
    }

    fn delete(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<()>, Fault> {
        let target = select(self.instances(device)?, &request.selectors, false)?;
        let id = target.text("InstanceID").ok_or(Fault::InvalidSelectors)?;
        device
            .delete_alarm(id)
            .map_err(|_| Fault::InvalidSelectors)?;
        Ok(Outcome {
            value: (),
            device_changed: true,
        })
    }
}
