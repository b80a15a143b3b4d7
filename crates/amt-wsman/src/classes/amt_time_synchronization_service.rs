//! `AMT_TimeSynchronizationService`: the firmware clock every TLS flow
//! syncs before enabling TLS (Intel AMT SDK class reference; properties from the Get
//! capture).
//!
//! - `GetLowAccuracyTimeSynch` → `Ta0`: the BIOS clock in Unix seconds.
//!   When the BIOS time is unset the firmware still runs from its default
//!   epoch, the same 2020-01-01 it stamps on certificates, so that is what
//!   it reports (never 0).
//! - `SetHighAccuracyTimeSynch(Ta0, Tm1, Tm2)` sets the clock to `Tm2`,
//!   the console's time just before the call (the round trip is not worth
//!   correcting for at one-second resolution). Non-integers or a time
//!   outside the uint32 range are 36 INVALID_PARAMETER.

use amt_device::accounts::Realm;
use amt_device::{BiosClock, Device, PtStatus};
use time::OffsetDateTime;

use crate::method_input::{method_outcome, MethodInput};
use super::{
    ClassHandler, ClassInfo, Instance, MethodOutput, Outcome, Value, SYSTEM_CREATION_CLASS_NAME,
    SYSTEM_NAME,
};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::access::Operation;
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_TimeSynchronizationService";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_TimeSynchronizationService";
pub const NAME: &str = "Intel(r) AMT Time Synchronization Service";

pub struct AmtTimeSynchronizationService;

impl ClassHandler for AmtTimeSynchronizationService {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: true,
        }
    }

    /// Reading and setting the clock is the Network Time realm's.
    fn realm(&self, _op: Operation<'_>) -> Realm {
        Realm::NetworkTime
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn instances(&self, _device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(vec![Instance::new()
            .with("CreationClassName", CLASS_NAME)
            .with("ElementName", NAME)
            .with("EnabledState", 5)
            .with("LocalTimeSyncEnabled", 0)
            .with("Name", NAME)
            .with("RequestedState", 12)
            .with("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
            .with("SystemName", SYSTEM_NAME)
            .with("TimeSource", 0)
            .service_keys(CLASS_NAME, NAME)])
    }

    fn invoke(
        &self,
        device: &mut Device,
        method: &str,
        input: Option<&Payload>,
        _request: &Request,
        ctx: &CallContext,
    ) -> Result<Outcome<MethodOutput>, Fault> {
        match method {
            "GetLowAccuracyTimeSynch" => {
                MethodInput::of(&self.info(), method, input)?;
                let ta0 = device
                    .bios_clock()
                    .certificate_time(ctx.now)
                    .unix_timestamp()
                    .clamp(0, i64::from(u32::MAX));
                Ok(method_outcome(
                    Ok(vec![("Ta0", Value::Text(ta0.to_string()))]),
                    false,
                ))
            }
            "SetHighAccuracyTimeSynch" => {
                let args = MethodInput::of(&self.info(), method, input)?;
                let result = (|| {
                    // Ta0 and Tm1 are checked for type only: the firmware
                    // takes the console's word for the time.
                    args.required_u32("Ta0")?;
                    args.required_u32("Tm1")?;
                    let tm2 = args.required_u32("Tm2")?;
                    let at = OffsetDateTime::from_unix_timestamp(i64::from(tm2))
                        .map_err(|_| PtStatus::INVALID_PARAMETER)?;
                    device.set_bios_clock(BiosClock::set(at, ctx.now));
                    Ok(Vec::new())
                })();
                Ok(method_outcome(result, true))
            }
            _ => Err(Fault::unknown_method(RESOURCE_URI, method)),
        }
    }
}
