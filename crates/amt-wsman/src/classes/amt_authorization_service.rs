//! `AMT_AuthorizationService`: the admin account (Intel AMT SDK class reference).
//!
//! Get has the recorded shape (`fixtures/firmware/AMT_AuthorizationService/
//! Get.response.xml`). Methods: `SetAdminAclEntryEx` (RPS and rpc-go set the
//! admin password with it after ACM or TLS activation), `GetAdminAclEntry`,
//! `GetAdminAclEntryStatus` and `GetAdminNetAclEntryStatus`; the user ACL
//! (MeshCentral's user-accounts page, RPS's and rpc-go's ACL calls):
//! `AddUserAclEntryEx`, `EnumerateUserAclEntries`, `GetUserAclEntryEx`,
//! `UpdateUserAclEntryEx`, `RemoveUserAclEntry`, `SetAclEnabledState`,
//! `GetAclEnabledState` (the entries live in
//! `amt_device::accounts`). ReturnValues are PT_STATUS; outputs are in the
//! method's schema order, as the replies in
//! `fixtures/firmware/AMT_AuthorizationService/` show.

use amt_device::accounts::{AclUser, UserAclRequest};
use amt_device::device::ADMIN_USER;
use amt_device::{Device, PtStatus};

use crate::method_input::{method_outcome, return_value, MethodInput};
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
            | "GetAdminNetAclEntryStatus"
            | "AddUserAclEntryEx"
            | "EnumerateUserAclEntries"
            | "GetUserAclEntryEx"
            | "UpdateUserAclEntryEx"
            | "RemoveUserAclEntry"
            | "SetAclEnabledState"
            | "GetAclEnabledState" => MethodInput::of(&self.info(), method, input)?,
            _ => {
                return Err(Fault::unknown_method(RESOURCE_URI, method))
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
            "AddUserAclEntryEx" => Ok(method_outcome(
                user_acl_request(&input).and_then(|r| {
                    let handle = device.add_user_acl_entry(r)?;
                    Ok(vec![("Handle", Value::Text(handle.to_string()))])
                }),
                true,
            )),
            "UpdateUserAclEntryEx" => Ok(method_outcome(
                input.required_u32("Handle").and_then(|handle| {
                    device.update_user_acl_entry(handle, user_acl_request(&input)?)?;
                    Ok(Vec::new())
                }),
                true,
            )),
            "RemoveUserAclEntry" => Ok(method_outcome(
                input.required_u32("Handle").and_then(|handle| {
                    device.remove_user_acl_entry(handle)?;
                    Ok(Vec::new())
                }),
                true,
            )),
            "SetAclEnabledState" => Ok(method_outcome(
                input.required_u32("Handle").and_then(|handle| {
                    let enabled = input
                        .boolean("Enabled")
                        .ok_or(PtStatus::INVALID_PARAMETER)?;
                    device.set_user_acl_enabled(handle, enabled)?;
                    Ok(Vec::new())
                }),
                true,
            )),
            "GetAclEnabledState" => Ok(method_outcome(
                input.required_u32("Handle").and_then(|handle| {
                    let entry = device
                        .accounts()
                        .entry(handle)
                        .ok_or(PtStatus::INVALID_HANDLE)?;
                    Ok(vec![(
                        "Enabled",
                        Value::Text(bool_text(entry.enabled).into()),
                    )])
                }),
                false,
            )),
            "EnumerateUserAclEntries" => Ok(method_outcome(
                enumerate_user_acl_entries(device, &input),
                false,
            )),
            "GetUserAclEntryEx" => Ok(method_outcome(
                get_user_acl_entry(device, &input),
                false,
            )),
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

/// The user, access and realms of AddUserAclEntryEx / UpdateUserAclEntryEx:
/// either `DigestUsername` with `DigestPassword` (the base64 of the 16
/// bytes of MD5(`user:<realm>:<password>`), AMT SDK; anything else is 36,
/// as for `SetAdminAclEntryEx`) or `KerberosUserSid` (base64 of the binary
/// SID), never both; `AccessPermission`; one or more `Realms`.
fn user_acl_request(input: &MethodInput<'_>) -> Result<UserAclRequest, PtStatus> {
    let user = match (
        input.text("DigestUsername"),
        input.text("DigestPassword"),
        input.text("KerberosUserSid"),
    ) {
        (Some(name), Some(_), None) => {
            let ha1: [u8; 16] = input
                .required_base64("DigestPassword")?
                .try_into()
                .map_err(|_| PtStatus::INVALID_PARAMETER)?;
            AclUser::Digest {
                name: name.to_string(),
                ha1,
            }
        }
        (None, None, Some(_)) => AclUser::Kerberos {
            sid: input.required_base64("KerberosUserSid")?,
        },
        _ => return Err(PtStatus::INVALID_PARAMETER),
    };
    let realms = input
        .texts("Realms")
        .into_iter()
        .map(|t| t.parse::<u32>().map_err(|_| PtStatus::INVALID_PARAMETER))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(UserAclRequest {
        user,
        access: input.required_u32("AccessPermission")?,
        realms,
    })
}

/// `EnumerateUserAclEntries(StartIndex)` → `TotalCount`, `HandlesCount`,
/// `Handles` (one element per handle, none when empty), as the canned reply
/// shows. A missing `StartIndex` is 1, as wsman-messages defaults it.
fn enumerate_user_acl_entries(
    device: &Device,
    input: &MethodInput<'_>,
) -> Result<Vec<(&'static str, Value)>, PtStatus> {
    let start = match input.text("StartIndex") {
        None => 1,
        Some(t) => t.parse().map_err(|_| PtStatus::INVALID_PARAMETER)?,
    };
    let (total, handles) = device.user_acl_handles(start)?;
    let mut out = vec![
        ("TotalCount", Value::Text(total.to_string())),
        ("HandlesCount", Value::Text(handles.len().to_string())),
    ];
    if !handles.is_empty() {
        out.push((
            "Handles",
            Value::List(handles.iter().map(u32::to_string).collect()),
        ));
    }
    Ok(out)
}

/// `GetUserAclEntryEx(Handle)` → `DigestUsername` or `KerberosUserSid`,
/// `AccessPermission`, `Realms` (one element each). Never the HA1.
fn get_user_acl_entry(
    device: &Device,
    input: &MethodInput<'_>,
) -> Result<Vec<(&'static str, Value)>, PtStatus> {
    use base64::Engine;
    let handle = input.required_u32("Handle")?;
    let entry = device
        .accounts()
        .entry(handle)
        .ok_or(PtStatus::INVALID_HANDLE)?;
    let who = match &entry.user {
        AclUser::Digest { name, .. } => ("DigestUsername", Value::Text(name.clone())),
        AclUser::Kerberos { sid } => (
            "KerberosUserSid",
            Value::Text(base64::engine::general_purpose::STANDARD.encode(sid)),
        ),
    };
    Ok(vec![
        who,
        ("AccessPermission", Value::Text(entry.access.number().to_string())),
        (
            "Realms",
            Value::List(entry.realms.iter().map(|r| r.number().to_string()).collect()),
        ),
    ])
}
