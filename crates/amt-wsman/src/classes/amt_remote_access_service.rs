//! `AMT_RemoteAccessService`: the CIRA configuration entry point
//! (docs/cira.md). Properties from
//! `fixtures/firmware/AMT_RemoteAccessService/Get.response.xml`;
//! `IsRemoteTunnelConnected` is what the CIRA driver last reported.
//!
//! - `AddMpServer(AccessInfo, InfoFormat 3/4/201, Port, AuthMethod 1/2,
//!   Username, Password, CN, Certificate)` → `MpServer` EPR (capture
//!   `AddMpServer--capture-rps-ciraConfigurator`).
//! - `AddRemoteAccessPolicyRule(Trigger, TunnelLifeTime, ExtendedData,
//!   MpServer...)` → `PolicyRule` EPR.
//! - `CloseRemoteAccessConnection()` → 0; the driver closes the tunnel.
//!
//! Failures are PT_STATUS `ReturnValue`s without out parameters: 36
//! invalid parameter, 23 limit reached, 2058 duplicate.

use amt_device::remote_access::{AddMpServer, AddPolicyRule};
use amt_device::{Device, PtStatus};

use super::amt_management_presence_remote_sap as sap;
use super::amt_public_key_certificate as certificate;
use super::amt_remote_access_policy_rule as rule;
use super::{ClassHandler, ClassInfo, Instance, MethodOutput, Outcome, Value};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::method_input::{method_outcome, MethodInput};
use crate::references;
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_RemoteAccessService";
pub const RESOURCE_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_RemoteAccessService";
pub const NAME: &str = "Intel(r) AMT Remote Access Service";

/// The firmware reports no keep-alive timeout of its own.
const KEEP_ALIVE_TIMEOUT: u32 = u32::MAX;

pub struct AmtRemoteAccessService;

fn add_mp_server(device: &mut Device, args: &MethodInput<'_>) -> Result<u32, PtStatus> {
    let text = |name: &str| args.text(name).map(str::to_string);
    let certificate_handle = args
        .payload()
        .and_then(|p| p.properties().find(|p| p.name == "Certificate"))
        .and_then(|p| p.endpoint_reference())
        .and_then(|epr| {
            references::selector(&epr, "InstanceID")
                .and_then(|id| references::parse_handle(id, certificate::ELEMENT_NAME))
        });
    device.add_mp_server(AddMpServer {
        access_info: args.required_text("AccessInfo")?.to_string(),
        info_format: args.required_u32("InfoFormat")?,
        port: args.required_u32("Port")?,
        auth_method: args.required_u32("AuthMethod")?,
        username: text("Username"),
        password: text("Password"),
        cn: text("CN"),
        certificate_handle,
    })
}

fn add_policy_rule(
    device: &mut Device,
    args: &MethodInput<'_>,
) -> Result<amt_device::remote_access::PolicyTrigger, PtStatus> {
    let servers = args
        .payload()
        .map(|p| {
            p.properties()
                .filter(|p| p.name == "MpServer")
                .map(|p| {
                    p.endpoint_reference()
                        .as_ref()
                        .and_then(sap::index_of)
                        .ok_or(PtStatus::INVALID_PARAMETER)
                })
                .collect::<Result<Vec<u32>, PtStatus>>()
        })
        .transpose()?
        .unwrap_or_default();
    let extended_data = match args.text("ExtendedData") {
        None | Some("") => Vec::new(),
        Some(_) => args.required_base64("ExtendedData")?,
    };
    device.add_remote_access_policy(AddPolicyRule {
        trigger: args.required_u32("Trigger")?,
        tunnel_lifetime: args.u32("TunnelLifeTime").unwrap_or(0),
        extended_data,
        servers,
    })
}

impl ClassHandler for AmtRemoteAccessService {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: true,
        }
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn secret_parameters(&self) -> &'static [&'static str] {
        &["Password"]
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(vec![Instance::new()
            .with("CreationClassName", CLASS_NAME)
            .with("ElementName", NAME)
            .with(
                "IsRemoteTunnelConnected",
                super::bool_text(device.remote_access().tunnel.connected),
            )
            .with("Name", NAME)
            .with("RemoteTunnelKeepAliveTimeout", KEEP_ALIVE_TIMEOUT)
            .with("SystemCreationClassName", super::SYSTEM_CREATION_CLASS_NAME)
            .with("SystemName", super::SYSTEM_NAME)
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
        let args = MethodInput::of(&self.info(), method, input)?;
        match method {
            "AddMpServer" => {
                let result = add_mp_server(device, &args)
                    .map(|i| vec![("MpServer", Value::Reference(sap::reference(i)))]);
                Ok(method_outcome(result, true))
            }
            "AddRemoteAccessPolicyRule" => {
                let result = add_policy_rule(device, &args)
                    .map(|t| vec![("PolicyRule", Value::Reference(rule::reference(t)))]);
                Ok(method_outcome(result, true))
            }
            "CloseRemoteAccessConnection" => {
                device.close_remote_access_connection();
                Ok(method_outcome(Ok(Vec::new()), false))
            }
            _ => Err(Fault::unknown_method(RESOURCE_URI, method)),
        }
    }
}
