//! `acl.htm`, User Accounts: the admin account and the user ACL entries
//! with their access and realms. Never a password or a digest hash.

use amt_device::accounts::{AccessPermission, AclUser, Realm};
use amt_device::device::ADMIN_USER;
use amt_device::Device;

use super::layout::{escape, page};

/// Realm names as the Intel AMT SDK spells them (`AMT_AuthorizationService`
/// `RealmValues`).
fn realm_name(realm: Realm) -> &'static str {
    match realm {
        Realm::Redirection => "Redirection",
        Realm::PtAdministration => "PT Administration",
        Realm::HardwareAsset => "Hardware Asset",
        Realm::RemoteControl => "Remote Control",
        Realm::Storage => "Storage",
        Realm::EventManager => "Event Manager",
        Realm::StorageAdmin => "Storage Admin",
        Realm::AgentPresenceLocal => "Agent Presence Local",
        Realm::AgentPresenceRemote => "Agent Presence Remote",
        Realm::CircuitBreaker => "Circuit Breaker",
        Realm::NetworkTime => "Network Time",
        Realm::GeneralInfo => "General Information",
        Realm::FirmwareUpdate => "Firmware Update",
        Realm::Eit => "EIT",
        Realm::LocalUn => "Local User Notification",
        Realm::EndpointAccessControl => "Endpoint Access Control",
        Realm::EndpointAccessControlAdmin => "Endpoint Access Control Admin",
        Realm::EventLogReader => "Event Log Reader",
        Realm::AuditLog => "Audit Log",
        Realm::Acl => "User Access Control",
        Realm::LocalSystem => "Local System",
        _ => "Other",
    }
}

fn access_name(access: AccessPermission) -> &'static str {
    match access {
        AccessPermission::LocalOnly => "Local",
        AccessPermission::NetworkOnly => "Network",
        AccessPermission::Any => "Local and network",
    }
}

pub fn render(device: &Device) -> String {
    let mut body = String::from(
        "<table class=log id=accounts cellspacing=0 cellpadding=0>\n<tr><th>User name</th><th>Access</th><th>Enabled</th><th>Realms</th></tr>\n",
    );
    body.push_str(&format!(
        "<tr class=account><td class=r1>{ADMIN_USER}</td><td class=r1>Local and network</td><td class=r1>Yes</td><td class=r1>Administrator (all realms)</td></tr>\n"
    ));
    for e in device.accounts().entries() {
        let name = match &e.user {
            AclUser::Digest { name, .. } => escape(name),
            AclUser::Kerberos { .. } => "(Kerberos user)".into(),
        };
        let realms: Vec<&str> = e.realms.iter().map(|r| realm_name(*r)).collect();
        body.push_str(&format!(
            "<tr class=account><td class=r1>{name}</td><td class=r1>{}</td><td class=r1>{}</td><td class=r1>{}</td></tr>\n",
            access_name(e.access),
            if e.enabled { "Yes" } else { "No" },
            escape(&realms.join(", ")),
        ));
    }
    body.push_str("</table>\n");
    page(device, "User Accounts", &body)
}
