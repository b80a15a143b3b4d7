//! `IPS_HTTPProxyAccessPoint`: the HTTP proxies CIRA may use, added with
//! `IPS_HTTPProxyService.AddProxyAccessPoint` (or by the scenario).
//!
//! Keys as in the EPR `AddProxyAccessPoint` answers (canned reply
//! `fixtures/firmware/IPS_HTTPProxyService/AddProxyAccessPoint.response.xml`):
//! `CreationClassName`, `Name` `Intel(r) ME:HTTP Proxy Access Point N`,
//! `SystemCreationClassName`, `SystemName`. **Inferred**, no capture or
//! canned pull exists: the property set (the keys, `ElementName`, and the
//! `AddProxyAccessPoint` inputs `AccessInfo`, `InfoFormat`, `Port`,
//! `NetworkDnsSuffix`), in ASCII order as everywhere else.
//!
//! Get and Delete accept the `Name` selector alone: RPS's cleanup deletes
//! each pulled proxy by `Name` only.

use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance, Outcome, SYSTEM_CREATION_CLASS_NAME, SYSTEM_NAME};
use crate::checks::refusal;
use crate::envelope::{Request, Selector};
use crate::fault::Fault;
use crate::CallContext;

pub const CLASS_NAME: &str = "IPS_HTTPProxyAccessPoint";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/ips-schema/1/IPS_HTTPProxyAccessPoint";
const NAME_PREFIX: &str = "Intel(r) ME:HTTP Proxy Access Point ";

/// The `Name` of the proxy with `handle`.
pub fn name_of(handle: u32) -> String {
    format!("{NAME_PREFIX}{handle}")
}

pub struct IpsHttpProxyAccessPoint;

impl IpsHttpProxyAccessPoint {
    /// The instance the selectors name: `Name` is required, the other keys
    /// must match when given.
    fn selected(&self, device: &Device, selectors: &[Selector]) -> Result<Instance, Fault> {
        let given: Vec<&Selector> = selectors
            .iter()
            .filter(|s| s.name != "__cimnamespace")
            .collect();
        if !given.iter().any(|s| s.name == "Name") {
            return Err(Fault::InvalidSelectors);
        }
        self.instances(device)?
            .into_iter()
            .find(|inst| {
                given.iter().all(|s| {
                    inst.keys
                        .iter()
                        .any(|(k, v)| *k == s.name && s.text().map(str::trim) == Some(v.as_str()))
                })
            })
            .ok_or(Fault::InvalidSelectors)
    }
}

impl ClassHandler for IpsHttpProxyAccessPoint {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(device
            .network()
            .http_proxies
            .iter()
            .map(|p| {
                let name = name_of(p.handle);
                Instance::new()
                    .with("AccessInfo", &p.proxy.access_info)
                    .with("CreationClassName", CLASS_NAME)
                    .with("ElementName", &name)
                    .with("InfoFormat", p.proxy.info_format)
                    .with("Name", &name)
                    .with("NetworkDnsSuffix", &p.proxy.network_dns_suffix)
                    .with("Port", p.proxy.port)
                    .with("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
                    .with("SystemName", SYSTEM_NAME)
                    .key("CreationClassName", CLASS_NAME)
                    .key("Name", name)
                    .key("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
                    .key("SystemName", SYSTEM_NAME)
            })
            .collect())
    }

    fn get(&self, device: &Device, selectors: &[Selector]) -> Result<Instance, Fault> {
        self.selected(device, selectors)
    }

    fn delete(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<()>, Fault> {
        let target = self.selected(device, &request.selectors)?;
        let handle = target
            .text("Name")
            .and_then(|n| n.strip_prefix(NAME_PREFIX))
            .and_then(|h| h.parse().ok())
            .ok_or(Fault::InvalidSelectors)?;
        device.delete_http_proxy(handle).map_err(refusal)?;
        Ok(Outcome {
            value: (),
            device_changed: true,
        })
    }
}
