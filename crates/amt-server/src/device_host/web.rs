//! Changes asked for from the firmware web UI (a power action on
//! `remote.htm`): the same path as a WS-Man call that changes the device —
//! one request at a time, audited as the logged-in user, flash written
//! outside the device lock before the page answers, rolled back if flash
//! cannot be written, events published.

use std::sync::Arc;

use amt_device::Device;
use time::OffsetDateTime;

use super::{DeviceHost, Principal};

/// Why a web UI change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WebChangeError {
    /// Flash could not be written; the change was rolled back.
    #[error("the change could not be saved to flash and was rolled back")]
    Flash,
}

impl DeviceHost {
    /// Runs `f` on the device as `principal` and makes what it changed
    /// durable. `f`'s own refusal (a power action the state does not
    /// allow) is its result; whatever it changed is persisted regardless.
    pub async fn web_change<R>(
        self: &Arc<Self>,
        principal: Principal,
        f: impl FnOnce(&mut Device, OffsetDateTime) -> R,
    ) -> Result<R, WebChangeError> {
        let now = OffsetDateTime::now_utc();
        let _turn = self.turn.lock().await;
        let (result, effects, change, delivery) = {
            let mut st = self.lock();
            self.tick_device(&mut st, now);
            // What a direct call left behind is not this change's.
            let _ = st.device.take_effects();
            let before = st.device.clone();
            let initiator = principal.audit_initiator(&st.device);
            st.device.begin_audited_call(now, initiator);
            let result = f(&mut st.device, now);
            let effects = st.device.take_effects();
            let delivery = (!effects.events.is_empty()).then(|| {
                (
                    before.subscriptions().clone(),
                    st.device.bios_clock().certificate_time(now),
                )
            });
            let change = effects.persist.then(|| {
                st.generation += 1;
                (st.generation, st.device.clone(), Some(before))
            });
            (result, effects, change, delivery)
        };
        if let Some((generation, snapshot, before)) = change {
            self.persist_change(generation, snapshot, before)
                .await
                .map_err(|()| WebChangeError::Flash)?;
        }
        self.after_change(&effects, delivery).await;
        Ok(result)
    }
}
