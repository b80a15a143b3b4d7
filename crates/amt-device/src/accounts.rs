//! Digest and Kerberos user accounts beyond admin: the user ACL of
//! `AMT_AuthorizationService` (AddUserAclEntryEx and friends) and the
//! realms each entry may use.
//!
//! A digest entry keeps its password as HA1 = MD5(`user:realm:password`)
//! only, as the console hands it over (`DigestPassword` is the base64 of
//! those 16 bytes), so the emulator never holds a user's password. Kerberos
//! entries are stored with their SID; nothing logs in with them (the
//! emulator speaks digest only).
//!
//! Limits (chosen; the firmware's exact numbers are not in our sources):
//! [`MAX_USER_ACL_ENTRIES`] entries, user names of 1 to
//! [`MAX_USERNAME_LEN`] characters (the limit wsman-messages enforces and
//! documents), SIDs of 8 to 68 bytes (the size range of a Windows SID).

use serde::{Deserialize, Serialize};

use crate::device::{Device, ADMIN_USER};
use crate::effects::DeviceEvent;
use crate::status::PtStatus;

/// User entries a device holds.
pub const MAX_USER_ACL_ENTRIES: usize = 32;
/// Longest digest user name.
pub const MAX_USERNAME_LEN: usize = 16;
/// Handles `EnumerateUserAclEntries` answers per call (the firmware's page,
/// as wsman-messages documents it).
pub const HANDLES_PER_PAGE: usize = 50;
/// A binary Windows SID: revision, count, 6-byte authority, up to 15
/// sub-authorities of 4 bytes.
const SID_LEN: std::ops::RangeInclusive<usize> = 8..=68;

/// An AMT realm: a group of operations an ACL entry may be allowed. The
/// numbers are the `Realms` values of the ACL methods (AMT SDK
/// `AMT_AuthorizationService`; the same table consoles print in their audit
/// log viewers, e.g. Open AMT RPS `RealmNames`). 22 and 23 are unused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "u32", try_from = "u32")]
#[non_exhaustive]
pub enum Realm {
    Redirection,
    PtAdministration,
    HardwareAsset,
    RemoteControl,
    Storage,
    EventManager,
    StorageAdmin,
    AgentPresenceLocal,
    AgentPresenceRemote,
    CircuitBreaker,
    NetworkTime,
    GeneralInfo,
    FirmwareUpdate,
    Eit,
    LocalUn,
    EndpointAccessControl,
    EndpointAccessControlAdmin,
    EventLogReader,
    AuditLog,
    Acl,
    LocalSystem,
}

impl Realm {
    /// Every realm, in number order.
    pub const ALL: [Realm; 21] = [
        Realm::Redirection,
        Realm::PtAdministration,
        Realm::HardwareAsset,
        Realm::RemoteControl,
        Realm::Storage,
        Realm::EventManager,
        Realm::StorageAdmin,
        Realm::AgentPresenceLocal,
        Realm::AgentPresenceRemote,
        Realm::CircuitBreaker,
        Realm::NetworkTime,
        Realm::GeneralInfo,
        Realm::FirmwareUpdate,
        Realm::Eit,
        Realm::LocalUn,
        Realm::EndpointAccessControl,
        Realm::EndpointAccessControlAdmin,
        Realm::EventLogReader,
        Realm::AuditLog,
        Realm::Acl,
        Realm::LocalSystem,
    ];

    /// The realm's number on the wire.
    pub fn number(self) -> u32 {
        match self {
            Realm::LocalSystem => 24,
            // The others are 2..=21 in declaration order.
            other => {
                2 + Realm::ALL
                    .iter()
                    .position(|r| *r == other)
                    .unwrap_or_default() as u32
            }
        }
    }

    pub fn from_number(n: u32) -> Option<Realm> {
        Realm::ALL.into_iter().find(|r| r.number() == n)
    }
}

impl From<Realm> for u32 {
    fn from(r: Realm) -> u32 {
        r.number()
    }
}

impl TryFrom<u32> for Realm {
    type Error = String;
    fn try_from(n: u32) -> Result<Realm, String> {
        Realm::from_number(n).ok_or_else(|| format!("unknown realm {n}"))
    }
}

/// Where an entry may log in from (`AccessPermission`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "u32", try_from = "u32")]
pub enum AccessPermission {
    /// 0: the local (LMS) interface only.
    LocalOnly,
    /// 1: the network interface only.
    NetworkOnly,
    /// 2: both.
    Any,
}

impl AccessPermission {
    pub fn number(self) -> u32 {
        match self {
            AccessPermission::LocalOnly => 0,
            AccessPermission::NetworkOnly => 1,
            AccessPermission::Any => 2,
        }
    }

    pub fn from_number(n: u32) -> Option<AccessPermission> {
        match n {
            0 => Some(AccessPermission::LocalOnly),
            1 => Some(AccessPermission::NetworkOnly),
            2 => Some(AccessPermission::Any),
            _ => None,
        }
    }

    /// Whether a login over the local (`true`) or network interface is allowed.
    pub fn allows(self, local: bool) -> bool {
        match self {
            AccessPermission::LocalOnly => local,
            AccessPermission::NetworkOnly => !local,
            AccessPermission::Any => true,
        }
    }
}

impl From<AccessPermission> for u32 {
    fn from(a: AccessPermission) -> u32 {
        a.number()
    }
}

impl TryFrom<u32> for AccessPermission {
    type Error = String;
    fn try_from(n: u32) -> Result<AccessPermission, String> {
        AccessPermission::from_number(n).ok_or_else(|| format!("unknown access permission {n}"))
    }
}

/// Who an entry is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AclUser {
    /// A digest user and its HA1 (hex in the flash image, like admin's).
    Digest {
        name: String,
        #[serde(with = "hex_ha1")]
        ha1: [u8; 16],
    },
    /// A Kerberos user by its binary SID (hex in the flash image).
    Kerberos {
        #[serde(with = "hex_bytes")]
        sid: Vec<u8>,
    },
}

/// One user ACL entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserAclEntry {
    pub handle: u32,
    pub user: AclUser,
    pub access: AccessPermission,
    /// Sorted, without duplicates.
    pub realms: Vec<Realm>,
    /// `SetAclEnabledState`: a disabled entry stays listed but cannot log
    /// in or act.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

impl UserAclEntry {
    /// Whether the entry is enabled and holds `realm`.
    pub fn has_realm(&self, realm: Realm) -> bool {
        self.enabled && self.realms.contains(&realm)
    }

    /// The digest user name, if this is a digest entry.
    pub fn digest_username(&self) -> Option<&str> {
        match &self.user {
            AclUser::Digest { name, .. } => Some(name),
            AclUser::Kerberos { .. } => None,
        }
    }
}

/// What AddUserAclEntryEx and UpdateUserAclEntryEx carry, already decoded
/// from the wire (the WS-Man layer turns malformed values into
/// INVALID_PARAMETER before this).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserAclRequest {
    pub user: AclUser,
    /// The `AccessPermission` number as sent.
    pub access: u32,
    /// The `Realms` numbers as sent.
    pub realms: Vec<u32>,
}

/// The user ACL.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Accounts {
    entries: Vec<UserAclEntry>,
    /// The handle the next entry gets. Handles are never reused, so a
    /// request authenticated as a removed entry can never act as a newer
    /// one that took its handle.
    next_handle: u32,
}

impl Accounts {
    /// Entries in handle order.
    pub fn entries(&self) -> &[UserAclEntry] {
        &self.entries
    }

    pub fn entry(&self, handle: u32) -> Option<&UserAclEntry> {
        self.entries.iter().find(|e| e.handle == handle)
    }

    /// Full unprovision removes every entry (handles still are not reused).
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// What a loaded flash image must satisfy: every entry would have been
    /// accepted by [`Device::add_user_acl_entry`], handles are unique and
    /// below the counter.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.entries.len() > MAX_USER_ACL_ENTRIES {
            return Err("too many user ACL entries".into());
        }
        for (i, e) in self.entries.iter().enumerate() {
            if e.handle == 0 || e.handle >= self.next_handle.max(1) {
                return Err(format!("user ACL handle {} out of range", e.handle));
            }
            let request = UserAclRequest {
                user: e.user.clone(),
                access: e.access.number(),
                realms: e.realms.iter().map(|r| r.number()).collect(),
            };
            let others = Accounts {
                entries: self.entries[..i].to_vec(),
                next_handle: self.next_handle,
            };
            others
                .validate(request, None)
                .map_err(|s| format!("user ACL entry {}: {s}", e.handle))?;
        }
        Ok(())
    }

    /// Checks a request against the firmware's rules and the other entries
    /// (`except` is the entry being updated); answers the entry's user,
    /// access and realms.
    fn validate(
        &self,
        request: UserAclRequest,
        except: Option<u32>,
    ) -> Result<(AclUser, AccessPermission, Vec<Realm>), PtStatus> {
        let access =
            AccessPermission::from_number(request.access).ok_or(PtStatus::INVALID_PARAMETER)?;
        if request.realms.is_empty() {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        let mut realms = request
            .realms
            .iter()
            .map(|n| Realm::from_number(*n).ok_or(PtStatus::INVALID_REALM))
            .collect::<Result<Vec<_>, _>>()?;
        realms.sort_unstable();
        realms.dedup();
        match &request.user {
            AclUser::Digest { name, .. } => {
                let printable = name
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b':' && b != b'"');
                // `admin` and the `$$` system accounts are the firmware's own.
                if name.is_empty()
                    || name.len() > MAX_USERNAME_LEN
                    || !printable
                    || name == ADMIN_USER
                    || name.starts_with("$$")
                {
                    return Err(PtStatus::INVALID_NAME);
                }
            }
            AclUser::Kerberos { sid } => {
                if !SID_LEN.contains(&sid.len()) {
                    return Err(PtStatus::INVALID_PARAMETER);
                }
            }
        }
        let clash = self.entries.iter().any(|e| {
            Some(e.handle) != except
                && match (&e.user, &request.user) {
                    (AclUser::Digest { name: a, .. }, AclUser::Digest { name: b, .. }) => a == b,
                    (AclUser::Kerberos { sid: a }, AclUser::Kerberos { sid: b }) => a == b,
                    _ => false,
                }
        });
        if clash {
            return Err(PtStatus::DUPLICATE);
        }
        Ok((request.user, access, realms))
    }
}

impl Device {
    /// The user ACL.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// `AddUserAclEntryEx`: answers the new entry's handle.
    pub fn add_user_acl_entry(&mut self, request: UserAclRequest) -> Result<u32, PtStatus> {
        let (user, access, realms) = self.accounts.validate(request, None)?;
        if self.accounts.entries.len() >= MAX_USER_ACL_ENTRIES {
            return Err(PtStatus::MAX_LIMIT_REACHED);
        }
        let handle = self.accounts.next_handle.max(1);
        self.accounts.next_handle = handle.checked_add(1).ok_or(PtStatus::MAX_LIMIT_REACHED)?;
        self.accounts.entries.push(UserAclEntry {
            handle,
            user,
            access,
            realms,
            enabled: true,
        });
        self.accounts_changed();
        self.audit(None, crate::audit_log::AuditedEvent::AclEntryAdded);
        Ok(handle)
    }

    /// `UpdateUserAclEntryEx`: replaces the entry's user, access and realms.
    pub fn update_user_acl_entry(
        &mut self,
        handle: u32,
        request: UserAclRequest,
    ) -> Result<(), PtStatus> {
        if self.accounts.entry(handle).is_none() {
            return Err(PtStatus::INVALID_HANDLE);
        }
        let (user, access, realms) = self.accounts.validate(request, Some(handle))?;
        if let Some(e) = self
            .accounts
            .entries
            .iter_mut()
            .find(|e| e.handle == handle)
        {
            e.user = user;
            e.access = access;
            e.realms = realms;
        }
        self.accounts_changed();
        self.audit(None, crate::audit_log::AuditedEvent::AclEntryModified);
        Ok(())
    }

    /// `SetAclEnabledState(Handle, Enabled)`.
    pub fn set_user_acl_enabled(&mut self, handle: u32, enabled: bool) -> Result<(), PtStatus> {
        let entry = self
            .accounts
            .entries
            .iter_mut()
            .find(|e| e.handle == handle)
            .ok_or(PtStatus::INVALID_HANDLE)?;
        entry.enabled = enabled;
        self.accounts_changed();
        self.audit(None, crate::audit_log::AuditedEvent::AclEntryModified);
        Ok(())
    }

    /// `RemoveUserAclEntry`.
    pub fn remove_user_acl_entry(&mut self, handle: u32) -> Result<(), PtStatus> {
        let before = self.accounts.entries.len();
        self.accounts.entries.retain(|e| e.handle != handle);
        if self.accounts.entries.len() == before {
            return Err(PtStatus::INVALID_HANDLE);
        }
        self.accounts_changed();
        self.audit(None, crate::audit_log::AuditedEvent::AclEntryRemoved);
        Ok(())
    }

    /// `EnumerateUserAclEntries(StartIndex)`: the total count and up to
    /// [`HANDLES_PER_PAGE`] handles from the 1-based `start_index`. Index 0
    /// is INVALID_INDEX; past the end the page is empty.
    pub fn user_acl_handles(&self, start_index: u32) -> Result<(usize, Vec<u32>), PtStatus> {
        let skip = start_index.checked_sub(1).ok_or(PtStatus::INVALID_INDEX)?;
        let handles = self
            .accounts
            .entries
            .iter()
            .skip(skip as usize)
            .take(HANDLES_PER_PAGE)
            .map(|e| e.handle)
            .collect();
        Ok((self.accounts.entries.len(), handles))
    }

    /// The digest entry `name` may log in with over the local (`true`) or
    /// network interface: its handle and HA1.
    pub fn digest_user_login(&self, name: &str, local: bool) -> Option<(u32, [u8; 16])> {
        self.accounts.entries.iter().find_map(|e| match &e.user {
            AclUser::Digest { name: n, ha1 }
                if n == name && e.enabled && e.access.allows(local) =>
            {
                Some((e.handle, *ha1))
            }
            _ => None,
        })
    }

    fn accounts_changed(&mut self) {
        self.note_persist();
        self.note_event(DeviceEvent::AccountsChanged);
    }
}

mod hex_ha1 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ha1: &[u8; 16], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(ha1))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 16], D::Error> {
        let text = String::deserialize(d)?;
        let bytes = hex::decode(&text).map_err(serde::de::Error::custom)?;
        bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("an HA1 is 16 bytes"))
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        hex::decode(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DeviceConfig, Entropy};
    use time::macros::datetime;

    fn device() -> Device {
        let config = DeviceConfig {
            profile: crate::FirmwareProfile::new("15.0.23".parse().unwrap()),
            ..DeviceConfig::default()
        };
        Device::new(
            config,
            Entropy::from_seed(3),
            datetime!(2026-11-29 10:00 UTC),
        )
        .unwrap()
    }

    #[test]
    fn acl_changes_are_audited() {
        let mut d = device();
        let ids = |d: &Device| -> Vec<(u16, u16)> {
            d.audit_log()
                .records()
                .iter()
                .map(|r| (r.app_id, r.event_id))
                .collect()
        };
        let h = d.add_user_acl_entry(digest("ops", &[4])).unwrap();
        d.update_user_acl_entry(h, digest("ops2", &[4, 5])).unwrap();
        d.remove_user_acl_entry(h).unwrap();
        assert_eq!(ids(&d), [(16, 2), (16, 3), (16, 4)]);
        assert!(d.remove_user_acl_entry(h).is_err());
        assert_eq!(ids(&d).len(), 3, "a refusal is not audited");
    }

    fn digest(name: &str, realms: &[u32]) -> UserAclRequest {
        UserAclRequest {
            user: AclUser::Digest {
                name: name.into(),
                ha1: [1; 16],
            },
            access: 2,
            realms: realms.to_vec(),
        }
    }

    #[test]
    fn realm_numbers_are_the_sdk_s() {
        assert_eq!(Realm::Redirection.number(), 2);
        assert_eq!(Realm::PtAdministration.number(), 3);
        assert_eq!(Realm::HardwareAsset.number(), 4);
        assert_eq!(Realm::RemoteControl.number(), 5);
        assert_eq!(Realm::NetworkTime.number(), 12);
        assert_eq!(Realm::GeneralInfo.number(), 13);
        assert_eq!(Realm::Acl.number(), 21);
        assert_eq!(Realm::LocalSystem.number(), 24);
        for n in [0, 1, 22, 23, 25] {
            assert_eq!(Realm::from_number(n), None);
        }
        for r in Realm::ALL {
            assert_eq!(Realm::from_number(r.number()), Some(r));
        }
    }

    #[test]
    fn entries_are_added_updated_and_removed_with_fresh_handles() {
        let mut d = device();
        let a = d.add_user_acl_entry(digest("alice", &[13, 4, 4])).unwrap();
        let b = d.add_user_acl_entry(digest("bob", &[3])).unwrap();
        assert_eq!((a, b), (1, 2));
        assert_eq!(
            d.accounts().entry(a).unwrap().realms,
            [Realm::HardwareAsset, Realm::GeneralInfo]
        );
        assert!(d.take_effects().persist);
        assert_eq!(
            d.add_user_acl_entry(digest("alice", &[3])),
            Err(PtStatus::DUPLICATE)
        );
        d.update_user_acl_entry(a, digest("carol", &[5])).unwrap();
        assert_eq!(d.digest_user_login("alice", false), None);
        assert_eq!(d.digest_user_login("carol", false), Some((a, [1; 16])));
        d.set_user_acl_enabled(a, false).unwrap();
        assert_eq!(d.digest_user_login("carol", false), None, "disabled");
        assert!(!d
            .accounts()
            .entry(a)
            .unwrap()
            .has_realm(Realm::RemoteControl));
        d.set_user_acl_enabled(a, true).unwrap();
        assert!(d
            .accounts()
            .entry(a)
            .unwrap()
            .has_realm(Realm::RemoteControl));
        assert_eq!(
            d.set_user_acl_enabled(99, true),
            Err(PtStatus::INVALID_HANDLE)
        );
        d.remove_user_acl_entry(a).unwrap();
        assert_eq!(d.remove_user_acl_entry(a), Err(PtStatus::INVALID_HANDLE));
        let c = d.add_user_acl_entry(digest("alice", &[3])).unwrap();
        assert_eq!(c, 3, "a removed handle is not reused");
        assert_eq!(d.user_acl_handles(1).unwrap(), (2, vec![2, 3]));
        assert_eq!(d.user_acl_handles(2).unwrap(), (2, vec![3]));
        assert_eq!(d.user_acl_handles(9).unwrap(), (2, vec![]));
        assert_eq!(d.user_acl_handles(0), Err(PtStatus::INVALID_INDEX));
    }

    #[test]
    fn refusals() {
        let mut d = device();
        for bad in [
            "",
            "admin",
            "$$OsAdmin",
            "a:b",
            "with space",
            "seventeen-chars-x",
        ] {
            assert_eq!(
                d.add_user_acl_entry(digest(bad, &[3])),
                Err(PtStatus::INVALID_NAME),
                "{bad:?}"
            );
        }
        assert_eq!(
            d.add_user_acl_entry(digest("u", &[3, 22])),
            Err(PtStatus::INVALID_REALM)
        );
        assert_eq!(
            d.add_user_acl_entry(digest("u", &[])),
            Err(PtStatus::INVALID_PARAMETER)
        );
        let mut r = digest("u", &[3]);
        r.access = 3;
        assert_eq!(d.add_user_acl_entry(r), Err(PtStatus::INVALID_PARAMETER));
        for i in 0..MAX_USER_ACL_ENTRIES {
            d.add_user_acl_entry(digest(&format!("u{i}"), &[3]))
                .unwrap();
        }
        assert_eq!(
            d.add_user_acl_entry(digest("one-more", &[3])),
            Err(PtStatus::MAX_LIMIT_REACHED)
        );
        assert!(d.accounts().entries().len() == MAX_USER_ACL_ENTRIES);
    }

    #[test]
    fn a_loaded_acl_is_checked() {
        let mut d = device();
        d.add_user_acl_entry(digest("alice", &[3])).unwrap();
        d.add_user_acl_entry(digest("bob", &[4])).unwrap();
        assert_eq!(d.accounts().check(), Ok(()));
        let json = serde_json::to_string(d.accounts()).unwrap();
        let back: Accounts = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, d.accounts());
        for bad in [
            json.replace("\"bob\"", "\"alice\""),
            json.replace("\"next_handle\":3", "\"next_handle\":2"),
            json.replace("\"name\":\"bob\"", "\"name\":\"admin\""),
        ] {
            let a: Accounts = serde_json::from_str(&bad).unwrap();
            assert!(a.check().is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<Accounts>(
            &json.replace("\"realms\":[3]", "\"realms\":[22]")
        )
        .is_err());
        assert!(serde_json::from_str::<Accounts>(
            &json.replace("\"entries\"", "\"x\":1,\"entries\"")
        )
        .is_err());
    }

    #[test]
    fn access_permission_decides_the_interface() {
        let mut d = device();
        let mut local = digest("loc", &[3]);
        local.access = 0;
        d.add_user_acl_entry(local).unwrap();
        assert!(d.digest_user_login("loc", true).is_some());
        assert!(d.digest_user_login("loc", false).is_none());
        let kerberos = UserAclRequest {
            user: AclUser::Kerberos { sid: vec![1; 28] },
            access: 2,
            realms: vec![3],
        };
        d.add_user_acl_entry(kerberos.clone()).unwrap();
        assert_eq!(d.add_user_acl_entry(kerberos), Err(PtStatus::DUPLICATE));
    }
}
