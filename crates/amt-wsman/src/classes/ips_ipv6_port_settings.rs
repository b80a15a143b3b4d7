//! `IPS_IPv6PortSettings`: IPv6 on the wired port. Properties as in
//! go-wsman-messages' canned replies
//! (`fixtures/firmware/IPS_IPv6PortSettings/Get.response.xml`,
//! `Pull.response.xml`): one instance, `Intel(r) IPS IPv6 Settings 0`.
//! The emulated LAN is IPv4 only, so every address is `::` (IPv6 not
//! configured), as in those replies. Put is not modelled.

use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance};
use crate::fault::Fault;

pub const CLASS_NAME: &str = "IPS_IPv6PortSettings";
pub const RESOURCE_URI: &str = "http://intel.com/wbem/wscim/1/ips-schema/1/IPS_IPv6PortSettings";
const INSTANCE_ID: &str = "Intel(r) IPS IPv6 Settings 0";

pub struct IpsIpv6PortSettings;

impl ClassHandler for IpsIpv6PortSettings {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn instances(&self, _device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(vec![Instance::new()
            .with("CurrentDefaultRouter", "::")
            .with("CurrentPrimaryDNS", "::")
            .with("CurrentSecondaryDNS", "::")
            .with("DefaultRouter", "::")
            .with("ElementName", INSTANCE_ID)
            .with("IPv6Address", "::")
            .with("InstanceID", INSTANCE_ID)
            .with("InterfaceIDType", 0)
            .with("ManualInterfaceID", "0000000000000000")
            .with("PrimaryDNS", "::")
            .with("SecondaryDNS", "::")
            .key("InstanceID", INSTANCE_ID)])
    }
}
