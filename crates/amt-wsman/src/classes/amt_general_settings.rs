//! `AMT_GeneralSettings`: the singleton a console reads first (its
//! `DigestRealm` is the realm every digest login uses).
//!
//! Property set and order from real firmware captures
//! (`fixtures/firmware/AMT_GeneralSettings/Get--capture-rps-networkConfigurator.response.xml`).
//! `DHCPSyncRequiresHostname` is left out: only go-wsman-messages' edited
//! fixture shows it, no capture does.

use amt_device::Device;

use crate::access::{LocalStage, Operation};
use super::{bool_text, ClassHandler, ClassInfo, Instance};
use crate::fault::Fault;

pub const CLASS_NAME: &str = "AMT_GeneralSettings";
pub const RESOURCE_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings";
/// Both the `InstanceID` and the `ElementName`.
pub const INSTANCE_ID: &str = "Intel(r) AMT: General Settings";

pub struct AmtGeneralSettings;

impl ClassHandler for AmtGeneralSettings {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    /// The host agent reads the realm before and after provisioning; only
    /// a Get once provisioned.
    fn local_access(&self, stage: LocalStage, op: Operation<'_>) -> bool {
        match stage {
            LocalStage::Provisioning => op.is_read(),
            LocalStage::Provisioned => op == Operation::Get,
        }
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        let network = device.network_access_enabled();
        Ok(vec![Instance::new()
            .with("AMTNetworkEnabled", u8::from(network))
            .with("DDNSPeriodicUpdateInterval", 1440)
            .with("DDNSTTL", 900)
            .with("DDNSUpdateByDHCPServerEnabled", "true")
            .with("DDNSUpdateEnabled", "false")
            .with("DHCPv6ConfigurationTimeout", 0)
            .with("DigestRealm", device.digest_realm())
            .with("DomainName", device.domain_name())
            .with("ElementName", INSTANCE_ID)
            .with("HostName", device.host_name())
            .with("HostOSFQDN", "")
            .with("IdleWakeTimeout", 65535)
            .with("InstanceID", INSTANCE_ID)
            .with("NetworkInterfaceEnabled", bool_text(network))
            .with("PingResponseEnabled", "true")
            .with("PowerSource", 0)
            .with("PreferredAddressFamily", 0)
            .with("PresenceNotificationInterval", 0)
            .with("PrivacyLevel", 0)
            .with("RmcpPingResponseEnabled", "true")
            .with("SharedFQDN", "true")
            .with("ThunderboltDockEnabled", 0)
            .with("WsmanOnlyMode", "false")
            .key("InstanceID", INSTANCE_ID)])
    }
}
