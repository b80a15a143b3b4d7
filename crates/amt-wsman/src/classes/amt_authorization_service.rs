//! `AMT_AuthorizationService`: the admin account (reference §5.4).
//!
//! Get has the recorded shape (`fixtures/firmware/AMT_AuthorizationService/
//! Get.response.xml`). Methods: `SetAdminAclEntryEx` (RPS and rpc-go set the
//! admin password with it after ACM or TLS activation), `GetAdminAclEntry`,
//! `GetAdminAclEntryStatus` and `GetAdminNetAclEntryStatus`. The user ACL
//! methods (`AddUserAclEntryEx` and friends) are not modelled and answer
//! `ActionNotSupported`. ReturnValues are PT_STATUS.

use amt_device::device::ADMIN_USER;
use amt_device::{Device, PtStatus};

use crate::method_input::{return_value, MethodInput};
use crate::access::{LocalStage, Operation};
use super::{
    bool_text, ClassHandler, ClassInfo, Instance, MethodOutput, Outcome, Value,
    SYSTEM_CREATION_CLASS_NAME, SYSTEM_NAME,
};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_AuthorizationService";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_AuthorizationService";
pub const NAME: &str = "Intel(r) AMT Authorization Service";

pub struct AmtAuthorizationService;

impl ClassHandler for AmtAuthorizationService {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: true,
        }
    }

    /// AMT 19+ TLS activation sets the admin password before committing.
    fn local_access(&self, stage: LocalStage, op: Operation<'_>) -> bool {
        stage == LocalStage::Provisioning && op == Operation::Invoke("SetAdminAclEntryEx")
    }

    fn secret_parameters(&self) -> &'static [&'static str] {
        &["DigestPassword", "Password"]
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn instances(&self, _device: &Device) -> Result<Vec<Instance>, Fault> {
        // The digest listener offers qop=auth only, which is what
        // AllowHttpQopAuthOnly = 1 says.
        Ok(vec![Instance::new()
            .with("AllowHttpQopAuthOnly", 1)
            .with("CreationClassName", CLASS_NAME)
            .with("ElementName", NAME)
            .with("EnabledState", 5)
            .with("Name", NAME)
            .with("RequestedState", 12)
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
        let input = match method {
            "SetAdminAclEntryEx"
            | "GetAdminAclEntry"
            | "GetAdminAclEntryStatus"
            | "GetAdminNetAclEntryStatus" => MethodInput::of(&self.info(), method, input)?,
            _ => {
                return Err(Fault::ActionNotSupported(format!(
                    "{RESOURCE_URI}/{method}"
                )))
            }
        };
        let unchanged = |value| Outcome {
            value,
            device_changed: false,
        };
        match method {
            "SetAdminAclEntryEx" => {
                let status = set_admin_acl_entry(device, &input);
                Ok(Outcome {
                    value: return_value(status.code()),
                    device_changed: status == PtStatus::SUCCESS,
                })
            }
            "GetAdminAclEntry" => Ok(unchanged(MethodOutput {
                parameters: vec![
                    ("Username", Value::Text(ADMIN_USER.to_string())),
                    ("ReturnValue", Value::Text("0".into())),
                ],
            })),
            // The admin entry is "default" until a password is set (by
            // Setup, AdminSetup or SetAdminAclEntryEx). The network and
            // local entries are one account here, so both report the same.
            _ => Ok(unchanged(MethodOutput {
                parameters: vec![
                    (
                        "IsDefault",
                        Value::Text(bool_text(device.admin_password_ha1().is_none()).into()),
                    ),
                    ("ReturnValue", Value::Text("0".into())),
                ],
            })),
        }
    }
}

/// `SetAdminAclEntryEx(Username, DigestPassword)`; `DigestPassword` is the
/// base64 of the 16 raw bytes of MD5(`admin:<realm>:<password>`).
fn set_admin_acl_entry(device: &mut Device, input: &MethodInput<'_>) -> PtStatus {
    let (Some(username), Some(digest_password)) =
        (input.text("Username"), input.base64("DigestPassword"))
    else {
        return PtStatus::INVALID_PARAMETER;
    };
    match device.set_admin_acl_entry(username, &digest_password) {
        Ok(()) => PtStatus::SUCCESS,
        Err(status) => status,
    }
}
