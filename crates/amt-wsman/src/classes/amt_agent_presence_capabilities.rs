//! `AMT_AgentPresenceCapabilities`: the limits of the agent presence
//! (watchdog) feature, read by consoles before they list watchdogs.
//!
//! **Shape inferred:** no capture or canned reply exists. The properties
//! are the class's own (Intel's generated DSDK class: `MaxEacAgents`,
//! `MaxTotalActions`, `MaxTotalAgents`, `MinGuaranteedActionListSize`) plus
//! CIM_Capabilities' `ElementName` and key `InstanceID`, in ASCII order.
//! The numbers are placeholders of plausible size, not firmware values.

use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance};
use crate::fault::Fault;

pub const CLASS_NAME: &str = "AMT_AgentPresenceCapabilities";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_AgentPresenceCapabilities";
pub const INSTANCE_ID: &str = "Intel(r) AMT Agent Presence Capabilities";

pub struct AmtAgentPresenceCapabilities;

impl ClassHandler for AmtAgentPresenceCapabilities {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn instances(&self, _device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(vec![Instance::new()
            .with("ElementName", INSTANCE_ID)
            .with("InstanceID", INSTANCE_ID)
            .with("MaxEacAgents", 1)
            .with("MaxTotalActions", 64)
            .with("MaxTotalAgents", 16)
            .with("MinGuaranteedActionListSize", 8)
            .key("InstanceID", INSTANCE_ID)])
    }
}
