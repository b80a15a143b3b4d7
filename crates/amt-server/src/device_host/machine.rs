//! Device time for the host machine. The device is pure: its alarms fire
//! only when the driver lets time pass ([`amt_device::Device::tick`]). The
//! server does so before every WS-Man request and once a second.

use std::sync::{Arc, Weak};
use std::time::Duration;

use time::OffsetDateTime;

use super::{DeviceHost, HostState};

/// How often the server lets device time pass without requests.
pub const TICK_INTERVAL: Duration = Duration::from_secs(1);

impl DeviceHost {
    /// Lets device time pass up to now: alarms due fire (and power the host
    /// on). Flash is written only when something changed.
    pub fn tick(&self) {
        let mut st = self.lock();
        self.tick_device(&mut st, OffsetDateTime::now_utc());
    }

    pub(super) fn tick_device(&self, st: &mut HostState, now: OffsetDateTime) {
        st.device.tick(now);
        let effects = st.device.take_effects();
        if effects.persist {
            st.generation += 1;
            if let Err(e) = self.write_flash(st.generation, &st.device) {
                tracing::error!(error = %e, "flash write failed after an alarm fired");
            }
        }
        for event in &effects.events {
            tracing::info!(?event, "host event");
        }
        let device_time = st.device.bios_clock().certificate_time(now);
        self.delivery
            .deliver(st.device.subscriptions(), &effects.events, device_time);
        self.publish(&effects);
    }
}

/// Ticks `host` every [`TICK_INTERVAL`] for as long as it exists.
pub fn spawn_ticker(host: &Arc<DeviceHost>) {
    let weak: Weak<DeviceHost> = Arc::downgrade(host);
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(TICK_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            interval.tick().await;
            match weak.upgrade() {
                Some(host) => host.tick(),
                None => break,
            }
        }
    });
}
