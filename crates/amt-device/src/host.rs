//! The machine behind the firmware: power state, boot settings and the record of what the host booted, the alarm clock.

use serde::{Deserialize, Serialize};

/// The host as the firmware sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostMachine {}
