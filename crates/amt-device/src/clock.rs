//! The BIOS/host clock the firmware reads when it mints a certificate.

use serde::{Deserialize, Serialize};
use time::macros::datetime;
use time::OffsetDateTime;

/// The time the firmware uses as notBefore when the BIOS clock was never
/// set (a fresh board, a cleared CMOS).
pub const UNSET_BIOS_TIME: OffsetDateTime = datetime!(2020-01-01 00:00:00 UTC);

/// The platform clock as the firmware sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum BiosClock {
    /// The BIOS clock is set and agrees with the host's clock.
    #[default]
    Host,
    /// The BIOS clock was set to `at` when the host clock read `host_at`;
    /// it ticks along with the host from there, as an RTC does.
    Set {
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        #[serde(with = "time::serde::rfc3339")]
        host_at: OffsetDateTime,
    },
    /// The BIOS time is not configured.
    Unset,
}

impl BiosClock {
    /// A clock set to `at` at host time `host_now`.
    pub fn set(at: OffsetDateTime, host_now: OffsetDateTime) -> Self {
        BiosClock::Set {
            at,
            host_at: host_now,
        }
    }

    /// The BIOS time at host time `host_now`, or `None` when it is unset.
    pub fn now(&self, host_now: OffsetDateTime) -> Option<OffsetDateTime> {
        match *self {
            BiosClock::Host => Some(host_now),
            BiosClock::Set { at, host_at } => Some(at + (host_now - host_at)),
            BiosClock::Unset => None,
        }
    }

    /// The time the firmware stamps on a certificate it mints now: the BIOS
    /// time to the second, or 2020-01-01 when the BIOS time is not set.
    pub fn certificate_time(&self, host_now: OffsetDateTime) -> OffsetDateTime {
        let t = self.now(host_now).unwrap_or(UNSET_BIOS_TIME);
        t.replace_nanosecond(0).unwrap_or(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    #[test]
    fn unset_clock_stamps_2020() {
        let host = datetime!(2026-11-29 10:00:00.5 UTC);
        assert_eq!(BiosClock::Unset.now(host), None);
        assert_eq!(BiosClock::Unset.certificate_time(host), UNSET_BIOS_TIME);
    }

    #[test]
    fn set_clock_ticks_with_the_host() {
        let host = datetime!(2026-11-29 10:00:00 UTC);
        let bios = datetime!(2023-05-01 12:00:00 UTC);
        let clock = BiosClock::set(bios, host);
        assert_eq!(clock.certificate_time(host), bios);
        assert_eq!(
            clock.now(host + Duration::seconds(90)),
            Some(bios + Duration::seconds(90))
        );
    }

    #[test]
    fn host_clock_truncates_to_seconds() {
        let host = datetime!(2026-11-29 10:00:00.75 UTC);
        assert_eq!(
            BiosClock::Host.certificate_time(host),
            datetime!(2026-11-29 10:00:00 UTC)
        );
    }
}
