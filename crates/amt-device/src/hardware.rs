//! The hardware description the firmware reports (system, board, chassis, BIOS, processors, memory, disks, battery, chips, cards).

use serde::{Deserialize, Serialize};

/// The board's inventory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Hardware {}
