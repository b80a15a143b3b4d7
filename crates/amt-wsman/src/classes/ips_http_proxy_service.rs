//! `IPS_HTTPProxyService`: adds the HTTP proxies CIRA may use
//! (`IPS_HTTPProxyAccessPoint`).
//!
//! `AddProxyAccessPoint(AccessInfo, InfoFormat, Port, NetworkDnsSuffix)`
//! answers the new access point's EPR (`ProxyAccessPoint`) then
//! `ReturnValue`, as go-wsman-messages' canned reply shows
//! (`fixtures/firmware/IPS_HTTPProxyService/AddProxyAccessPoint.response.xml`);
//! a proxy already there (same host and port) is 2058 DUPLICATE (the
//! canned `addproxyaccesspoint_2058` reply), a full table 23, a missing or
//! malformed parameter (`InfoFormat` other than 3 IPv4, 4 IPv6, 201 FQDN)
//! 36. **Inferred**, no reply of a Get exists: the service's `Name`
//! (`Intel(r) AMT HTTP Proxy Service`) and its properties (the four keys,
//! `ElementName`, `SyncEnabled` false, the fields go-wsman-messages
//! decodes).

use amt_device::network::HttpProxy;
use amt_device::{Device, PtStatus};

use super::ips_http_proxy_access_point::{self, name_of};
use super::{
    ClassHandler, ClassInfo, Instance, MethodOutput, Outcome, Value, SYSTEM_CREATION_CLASS_NAME,
    SYSTEM_NAME,
};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::method_input::{method_outcome, MethodInput};
use crate::references::to;
use crate::CallContext;

pub const CLASS_NAME: &str = "IPS_HTTPProxyService";
pub const RESOURCE_URI: &str = "http://intel.com/wbem/wscim/1/ips-schema/1/IPS_HTTPProxyService";
const NAME: &str = "Intel(r) AMT HTTP Proxy Service";

pub struct IpsHttpProxyService;

impl ClassHandler for IpsHttpProxyService {
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
            .with("CreationClassName", CLASS_NAME)
            .with("ElementName", NAME)
            .with("Name", NAME)
            .with("SyncEnabled", "false")
            .with("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
            .with("SystemName", SYSTEM_NAME)
            .service_keys(CLASS_NAME, NAME)])
    }

    fn invoke(
        &self,
        device: &mut Device,
        method: &str,
        input: Option<&Payload>,
        _request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<MethodOutput>, Fault> {
        if method != "AddProxyAccessPoint" {
            return Err(Fault::unknown_method(RESOURCE_URI, method));
        }
        let args = MethodInput::of(&self.info(), method, input)?;
        let result = (|| {
            let port = u16::try_from(args.required_u32("Port")?)
                .map_err(|_| PtStatus::INVALID_PARAMETER)?;
            let info_format = u16::try_from(args.required_u32("InfoFormat")?)
                .map_err(|_| PtStatus::INVALID_PARAMETER)?;
            let proxy = HttpProxy {
                access_info: args.required_text("AccessInfo")?.to_string(),
                info_format,
                port,
                network_dns_suffix: args.text("NetworkDnsSuffix").unwrap_or("").to_string(),
            };
            let handle = device.add_http_proxy(proxy)?;
            let epr = to(
                ips_http_proxy_access_point::RESOURCE_URI,
                &[
                    ("CreationClassName", ips_http_proxy_access_point::CLASS_NAME),
                    ("Name", &name_of(handle)),
                    ("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME),
                    ("SystemName", SYSTEM_NAME),
                ],
            );
            Ok(vec![("ProxyAccessPoint", Value::Reference(epr))])
        })();
        Ok(method_outcome(result, true))
    }
}
