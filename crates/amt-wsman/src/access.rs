//! Who may call what.
//!
//! The server authenticates (HTTP digest); this module authorises. `admin`
//! may do everything. The local system account `$$OsAdmin` exists for the
//! host agent (rpc via LMS) to provision the device, so it reaches only
//! what a host agent calls before and during provisioning; once the device
//! is provisioned it can still read the realm, the control mode and the
//! firmware version, nothing else. A user of the user ACL
//! (`AddUserAclEntryEx`) may do what its entry's realms allow: each class
//! names the realm an operation belongs to ([`ClassHandler::realm`]).
//!
//! A refusal is `e:AccessDenied`, the fault DSP0226 defines for "the sender
//! was not authorized to access the resource", which is what AMT answers
//! for a realm or ACL denial (Intel AMT SDK).

use amt_device::accounts::Realm;
use amt_device::{Device, ProvisioningState};

use crate::classes::ClassHandler;
use crate::fault::Fault;
use crate::Principal;

/// The operation asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation<'a> {
    Get,
    Put,
    Create,
    Delete,
    Enumerate,
    Pull,
    Release,
    Invoke(&'a str),
}

impl Operation<'_> {
    /// Get, Enumerate, Pull and Release: what never changes the device.
    pub fn is_read(&self) -> bool {
        matches!(
            self,
            Operation::Get | Operation::Enumerate | Operation::Pull | Operation::Release
        )
    }
}

/// Where the device is in provisioning, as the local account's rights
/// depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalStage {
    /// Pre- or in-provisioning: the host agent may provision.
    Provisioning,
    /// Post-provisioning: reads of the realm, control mode and version.
    Provisioned,
}

impl LocalStage {
    pub fn of(device: &Device) -> Self {
        if device.provisioning_state() == ProvisioningState::PostProvisioning {
            LocalStage::Provisioned
        } else {
            LocalStage::Provisioning
        }
    }
}

/// Checks that `principal` may perform `op` on `class`: each class
/// declares the local account's rule next to its handler
/// ([`ClassHandler::local_access`]) and the realm of each operation
/// ([`ClassHandler::realm`]), which an ACL user's entry must hold.
pub fn authorise(
    principal: Principal,
    device: &Device,
    class: &dyn ClassHandler,
    op: Operation<'_>,
) -> Result<(), Fault> {
    let allowed = match principal {
        Principal::Admin => true,
        Principal::LocalSystemAccount => class.local_access(LocalStage::of(device), op),
        Principal::AclUser { handle } => acl_user_may(device, handle, class.realm(op)),
    };
    if allowed {
        Ok(())
    } else {
        Err(Fault::AccessDenied)
    }
}

/// Whether the user ACL entry `handle` still exists and holds `realm`.
pub fn acl_user_may(device: &Device, handle: u32, realm: Realm) -> bool {
    device
        .accounts()
        .entry(handle)
        .is_some_and(|e| e.has_realm(realm))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classes::{
        amt_authorization_service, amt_general_settings, amt_setup_and_configuration_service,
        cim_software_identity, class_for, ips_host_based_setup_service, registry,
    };

    fn rule(stage: LocalStage) -> impl Fn(&str, Operation<'_>) -> bool {
        move |name, op| {
            registry()
                .iter()
                .find(|c| c.info().name == name)
                .is_some_and(|c| c.local_access(stage, op))
        }
    }

    fn post_provisioning_local(name: &str, op: Operation<'_>) -> bool {
        rule(LocalStage::Provisioned)(name, op)
    }

    fn provisioning_local(name: &str, op: Operation<'_>) -> bool {
        rule(LocalStage::Provisioning)(name, op)
    }

    #[test]
    fn registry_lookup_works_for_rules() {
        assert!(class_for(ips_host_based_setup_service::RESOURCE_URI).is_some());
    }

    #[test]
    fn local_account_after_provisioning_reads_three_classes_only() {
        assert!(post_provisioning_local(
            amt_general_settings::CLASS_NAME,
            Operation::Get
        ));
        assert!(!post_provisioning_local(
            amt_general_settings::CLASS_NAME,
            Operation::Enumerate
        ));
        assert!(post_provisioning_local(
            ips_host_based_setup_service::CLASS_NAME,
            Operation::Get
        ));
        assert!(!post_provisioning_local(
            ips_host_based_setup_service::CLASS_NAME,
            Operation::Invoke("Setup")
        ));
        assert!(post_provisioning_local(
            cim_software_identity::CLASS_NAME,
            Operation::Pull
        ));
        assert!(!post_provisioning_local(
            amt_setup_and_configuration_service::CLASS_NAME,
            Operation::Get
        ));
    }

    #[test]
    fn local_account_before_provisioning_can_activate() {
        assert!(provisioning_local(
            ips_host_based_setup_service::CLASS_NAME,
            Operation::Invoke("Setup")
        ));
        assert!(provisioning_local(
            ips_host_based_setup_service::CLASS_NAME,
            Operation::Invoke("AdminSetup")
        ));
        assert!(!provisioning_local(
            amt_setup_and_configuration_service::CLASS_NAME,
            Operation::Invoke("Unprovision")
        ));
        assert!(!provisioning_local("AMT_TLSSettingData", Operation::Put));
    }

    #[test]
    fn provisioning_methods_need_the_right_principal_and_state() {
        // Before provisioning completes: the host agent provisions.
        for m in ["Setup", "AdminSetup", "AddNextCertInChain"] {
            assert!(provisioning_local(
                ips_host_based_setup_service::CLASS_NAME,
                Operation::Invoke(m)
            ));
            // Afterwards the local account's rights shrink to reads.
            assert!(!post_provisioning_local(
                ips_host_based_setup_service::CLASS_NAME,
                Operation::Invoke(m)
            ));
        }
        // The upgrade is the AMT admin's call, never the local account's.
        for local in [
            provisioning_local as fn(&str, Operation<'_>) -> bool,
            post_provisioning_local,
        ] {
            assert!(!local(
                ips_host_based_setup_service::CLASS_NAME,
                Operation::Invoke("UpgradeClientToAdmin")
            ));
        }
        assert!(provisioning_local(
            amt_authorization_service::CLASS_NAME,
            Operation::Invoke("SetAdminAclEntryEx")
        ));
        assert!(!post_provisioning_local(
            amt_authorization_service::CLASS_NAME,
            Operation::Invoke("SetAdminAclEntryEx")
        ));
        assert!(!provisioning_local(
            "AMT_ProvisioningCertificateHash",
            Operation::Create
        ));
    }
}
