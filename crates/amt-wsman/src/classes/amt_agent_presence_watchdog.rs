//! `AMT_AgentPresenceWatchdog`: the watchdogs of registered host agents (RegisterAgent, AssertPresence).
//!
//! The device model has no host agents, so there are none: Enumerate/Pull
//! answer an empty list (what MeshCommander's reference device answered
//! for `AMT_AgentPresenceWatchdog`), Get `InvalidSelectors`. Registering
//! agents and actions is not modelled (`ActionNotSupported`).

use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance};
use crate::fault::Fault;

pub const CLASS_NAME: &str = "AMT_AgentPresenceWatchdog";
pub const RESOURCE_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_AgentPresenceWatchdog";

pub struct AmtAgentPresenceWatchdog;

impl ClassHandler for AmtAgentPresenceWatchdog {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn instances(&self, _device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(Vec::new())
    }
}
