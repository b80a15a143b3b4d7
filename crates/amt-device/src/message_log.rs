//! AMT_MessageLog: the firmware's event log, appended by real events (power changes, boots, provisioning, alarms).

use serde::{Deserialize, Serialize};

/// The event log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MessageLog {}
