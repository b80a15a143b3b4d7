//! Remote access (CIRA): the Management Presence Servers the device dials
//! out to, the policies that say when, the user-initiated connection
//! switch, environment detection (the intranet DNS suffixes), and the state
//! of the tunnel as the driver reports it.
//!
//! Configured over WS-Man (`AMT_RemoteAccessService.AddMpServer`,
//! `AddRemoteAccessPolicyRule`, ...) in the order consoles send it
//! (docs/cira.md). The device keeps the MPS password in plain text, as the
//! firmware must to send it in the APF user authentication; it never leaves
//! the device over WS-Man.

use serde::{Deserialize, Serialize};

use crate::device::Device;
use crate::status::PtStatus;

/// `AMT_RemoteAccessCapabilities`: at most this many MPSs.
pub const MAX_TOTAL_MP_SERVERS: usize = 6;
/// At most this many MPSs per policy (primary and secondary).
pub const MAX_MPS_PER_POLICY: usize = 2;
/// Environment detection holds at most this many DNS suffixes.
pub const MAX_DETECTION_STRINGS: usize = 5;
/// Each suffix is at most this long.
pub const MAX_DETECTION_STRING_LEN: usize = 190;

/// How `AccessInfo` names the MPS (`InfoFormat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InfoFormat {
    Ipv4,
    Ipv6,
    Fqdn,
}

impl InfoFormat {
    pub fn from_code(code: u32) -> Option<Self> {
        match code {
            3 => Some(InfoFormat::Ipv4),
            4 => Some(InfoFormat::Ipv6),
            201 => Some(InfoFormat::Fqdn),
            _ => None,
        }
    }

    pub fn code(self) -> u32 {
        match self {
            InfoFormat::Ipv4 => 3,
            InfoFormat::Ipv6 => 4,
            InfoFormat::Fqdn => 201,
        }
    }
}

/// How the device authenticates to the MPS (`AuthMethod`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MpsAuth {
    /// 1: mutual TLS with the client certificate of this handle.
    Certificate { certificate_handle: u32 },
    /// 2: user name and password in the APF user authentication.
    UsernamePassword { username: String, password: String },
}

/// One `AMT_ManagementPresenceRemoteSAP`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MpServer {
    /// The `N` of `Intel(r) AMT:Management Presence Server N`.
    pub index: u32,
    pub access_info: String,
    pub info_format: InfoFormat,
    pub port: u16,
    /// The name the MPS certificate must carry: `CN` when given, else
    /// `AccessInfo`.
    pub cn: Option<String>,
    pub auth: MpsAuth,
}

impl MpServer {
    /// The name the MPS certificate is checked against.
    pub fn expected_cn(&self) -> &str {
        self.cn.as_deref().unwrap_or(&self.access_info)
    }
}

/// What starts a tunnel (`Trigger`); also the rule's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PolicyTrigger {
    UserInitiated,
    Alert,
    Periodic,
}

impl PolicyTrigger {
    pub fn from_code(code: u32) -> Option<Self> {
        match code {
            0 => Some(PolicyTrigger::UserInitiated),
            1 => Some(PolicyTrigger::Alert),
            2 => Some(PolicyTrigger::Periodic),
            _ => None,
        }
    }

    pub fn code(self) -> u32 {
        match self {
            PolicyTrigger::UserInitiated => 0,
            PolicyTrigger::Alert => 1,
            PolicyTrigger::Periodic => 2,
        }
    }

    /// `PolicyRuleName` as the firmware names each rule.
    pub fn rule_name(self) -> &'static str {
        match self {
            PolicyTrigger::UserInitiated => "User Initiated",
            PolicyTrigger::Alert => "Alert",
            PolicyTrigger::Periodic => "Periodic",
        }
    }

    pub fn from_rule_name(name: &str) -> Option<Self> {
        [
            PolicyTrigger::UserInitiated,
            PolicyTrigger::Alert,
            PolicyTrigger::Periodic,
        ]
        .into_iter()
        .find(|t| t.rule_name() == name)
    }

    /// The PROTOCOLVERSION trigger reason (1 user, 2 alert, 4 periodic).
    pub fn apf_reason(self) -> u32 {
        match self {
            PolicyTrigger::UserInitiated => 1,
            PolicyTrigger::Alert => 2,
            PolicyTrigger::Periodic => 4,
        }
    }
}

/// Where an MPS of a policy is used (`MpsType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MpsType {
    /// 0: outside the intranet.
    External,
    /// 1: inside.
    Internal,
    /// 2: both.
    Both,
}

impl MpsType {
    pub fn from_code(code: u32) -> Option<Self> {
        match code {
            0 => Some(MpsType::External),
            1 => Some(MpsType::Internal),
            2 => Some(MpsType::Both),
            _ => None,
        }
    }

    pub fn code(self) -> u32 {
        match self {
            MpsType::External => 0,
            MpsType::Internal => 1,
            MpsType::Both => 2,
        }
    }

    fn applies(self, inside: bool) -> bool {
        match self {
            MpsType::External => !inside,
            MpsType::Internal => inside,
            MpsType::Both => true,
        }
    }
}

/// One `AMT_RemoteAccessPolicyAppliesToMPS`: an MPS of a policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyMps {
    pub mps_index: u32,
    pub mps_type: MpsType,
    /// 0 primary, 1 secondary.
    pub order_of_access: u32,
}

/// One `AMT_RemoteAccessPolicyRule`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRule {
    pub trigger: PolicyTrigger,
    /// Seconds the tunnel stays up; 0 = until closed.
    pub tunnel_lifetime: u32,
    /// Up to 32 bytes: for a periodic rule, u32 0 + u32 interval in seconds
    /// (or u32 1 + hour + minute for a daily rule), big-endian.
    pub extended_data: Vec<u8>,
    pub servers: Vec<PolicyMps>,
}

/// The schedule a periodic rule's `ExtendedData` describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeriodicSchedule {
    EverySeconds(u32),
    DailyAt { hour: u32, minute: u32 },
}

impl PolicyRule {
    pub fn schedule(&self) -> Option<PeriodicSchedule> {
        let word = |i: usize| {
            self.extended_data
                .get(i * 4..i * 4 + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
        };
        match word(0)? {
            0 => Some(PeriodicSchedule::EverySeconds(word(1)?)),
            1 => Some(PeriodicSchedule::DailyAt {
                hour: word(1)?,
                minute: word(2)?,
            }),
            _ => None,
        }
    }
}

/// `AMT_UserInitiatedConnectionService.EnabledState`.
pub const USER_INITIATED_DISABLED: u32 = 32768;
pub const USER_INITIATED_BIOS: u32 = 32769;
pub const USER_INITIATED_OS: u32 = 32770;
pub const USER_INITIATED_BIOS_AND_OS: u32 = 32771;

/// The tunnel as the CIRA driver last reported it (RAM only).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TunnelStatus {
    pub connected: bool,
    /// How many times `CloseRemoteAccessConnection` was called: the
    /// driver closes a tunnel that was up when this moved.
    pub close_requests: u64,
}

/// The remote access part of the device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RemoteAccess {
    pub mp_servers: Vec<MpServer>,
    pub policies: Vec<PolicyRule>,
    pub user_initiated_state: u32,
    pub detection_strings: Vec<String>,
    /// Set by the driver; a restart starts disconnected.
    #[serde(skip)]
    pub tunnel: TunnelStatus,
}

impl Default for RemoteAccess {
    fn default() -> Self {
        RemoteAccess {
            mp_servers: Vec::new(),
            policies: Vec::new(),
            user_initiated_state: USER_INITIATED_BIOS_AND_OS,
            detection_strings: Vec::new(),
            tunnel: TunnelStatus::default(),
        }
    }
}

/// The arguments of `AddMpServer`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddMpServer {
    pub access_info: String,
    pub info_format: u32,
    pub port: u32,
    pub auth_method: u32,
    pub username: Option<String>,
    pub password: Option<String>,
    pub cn: Option<String>,
    pub certificate_handle: Option<u32>,
}

/// The arguments of `AddRemoteAccessPolicyRule`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddPolicyRule {
    pub trigger: u32,
    pub tunnel_lifetime: u32,
    pub extended_data: Vec<u8>,
    /// Indexes of the MPSs, primary first.
    pub servers: Vec<u32>,
}

fn valid_credential(s: &str) -> bool {
    !s.is_empty() && s.len() <= 16
}

impl Device {
    pub fn remote_access(&self) -> &RemoteAccess {
        &self.remote_access
    }

    /// `AddMpServer`: answers the new MPS's index.
    pub fn add_mp_server(&mut self, req: AddMpServer) -> Result<u32, PtStatus> {
        let ra = &mut self.remote_access;
        let info_format =
            InfoFormat::from_code(req.info_format).ok_or(PtStatus::INVALID_PARAMETER)?;
        if req.access_info.is_empty() || req.access_info.len() > 256 {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        let port = u16::try_from(req.port)
            .ok()
            .filter(|p| *p != 0)
            .ok_or(PtStatus::INVALID_PARAMETER)?;
        let auth = match req.auth_method {
            1 => {
                let handle = req.certificate_handle.ok_or(PtStatus::INVALID_PARAMETER)?;
                if self.certs.certificate(handle).is_none() {
                    return Err(PtStatus::INVALID_PARAMETER);
                }
                MpsAuth::Certificate {
                    certificate_handle: handle,
                }
            }
            2 => {
                let username = req.username.ok_or(PtStatus::INVALID_PARAMETER)?;
                let password = req.password.ok_or(PtStatus::INVALID_PARAMETER)?;
                if !valid_credential(&username)
                    || !username.bytes().all(|b| b.is_ascii_alphanumeric())
                    || !valid_credential(&password)
                {
                    return Err(PtStatus::INVALID_PARAMETER);
                }
                MpsAuth::UsernamePassword { username, password }
            }
            _ => return Err(PtStatus::INVALID_PARAMETER),
        };
        let cn = req.cn.filter(|c| !c.is_empty());
        if ra
            .mp_servers
            .iter()
            .any(|m| m.access_info == req.access_info && m.port == port)
        {
            return Err(PtStatus::DUPLICATE);
        }
        if ra.mp_servers.len() >= MAX_TOTAL_MP_SERVERS {
            return Err(PtStatus::MAX_LIMIT_REACHED);
        }
        // The lowest free index, as the firmware reuses `... Server 0`.
        let index = (0..)
            .find(|i| ra.mp_servers.iter().all(|m| m.index != *i))
            .unwrap_or(0);
        ra.mp_servers.push(MpServer {
            index,
            access_info: req.access_info,
            info_format,
            port,
            cn,
            auth,
        });
        self.note_persist();
        Ok(index)
    }

    /// `AMT_ManagementPresenceRemoteSAP` Delete. Refused while a policy
    /// still uses the MPS.
    pub fn delete_mp_server(&mut self, index: u32) -> Result<(), PtStatus> {
        let ra = &mut self.remote_access;
        let pos = ra
            .mp_servers
            .iter()
            .position(|m| m.index == index)
            .ok_or(PtStatus::NOT_FOUND)?;
        if ra
            .policies
            .iter()
            .any(|p| p.servers.iter().any(|s| s.mps_index == index))
        {
            return Err(PtStatus::NOT_PERMITTED);
        }
        ra.mp_servers.remove(pos);
        self.note_persist();
        Ok(())
    }

    /// `AMT_MPSUsernamePassword` Put: a new user name and, when given, a
    /// new password for the MPS at `index`.
    pub fn set_mps_credentials(
        &mut self,
        index: u32,
        username: &str,
        password: Option<&str>,
    ) -> Result<(), PtStatus> {
        let mps = self
            .remote_access
            .mp_servers
            .iter_mut()
            .find(|m| m.index == index)
            .ok_or(PtStatus::NOT_FOUND)?;
        let MpsAuth::UsernamePassword {
            username: u,
            password: p,
        } = &mut mps.auth
        else {
            return Err(PtStatus::NOT_FOUND);
        };
        if !valid_credential(username) || password.is_some_and(|p| !valid_credential(p)) {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        let changed = u != username || password.is_some_and(|new| new != p);
        *u = username.to_string();
        if let Some(new) = password {
            *p = new.to_string();
        }
        if changed {
            self.note_persist();
        }
        Ok(())
    }

    /// `AddRemoteAccessPolicyRule`: one rule per trigger.
    pub fn add_remote_access_policy(
        &mut self,
        req: AddPolicyRule,
    ) -> Result<PolicyTrigger, PtStatus> {
        let trigger = PolicyTrigger::from_code(req.trigger).ok_or(PtStatus::INVALID_PARAMETER)?;
        let ra = &mut self.remote_access;
        if req.servers.is_empty()
            || req.servers.len() > MAX_MPS_PER_POLICY
            || req.extended_data.len() > 32
        {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        if !req
            .servers
            .iter()
            .all(|i| ra.mp_servers.iter().any(|m| m.index == *i))
        {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        if ra.policies.iter().any(|p| p.trigger == trigger) {
            return Err(PtStatus::DUPLICATE);
        }
        let rule = PolicyRule {
            trigger,
            tunnel_lifetime: req.tunnel_lifetime,
            extended_data: req.extended_data,
            servers: req
                .servers
                .iter()
                .enumerate()
                .map(|(order, i)| PolicyMps {
                    mps_index: *i,
                    mps_type: MpsType::External,
                    order_of_access: order as u32,
                })
                .collect(),
        };
        if trigger == PolicyTrigger::Periodic && rule.schedule().is_none() {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        ra.policies.push(rule);
        ra.policies.sort_by_key(|p| p.trigger);
        self.note_persist();
        Ok(trigger)
    }

    /// `AMT_RemoteAccessPolicyRule` Delete.
    pub fn delete_remote_access_policy(&mut self, trigger: PolicyTrigger) -> Result<(), PtStatus> {
        let ra = &mut self.remote_access;
        let pos = ra
            .policies
            .iter()
            .position(|p| p.trigger == trigger)
            .ok_or(PtStatus::NOT_FOUND)?;
        ra.policies.remove(pos);
        self.note_persist();
        Ok(())
    }

    /// `AMT_RemoteAccessPolicyRule` Put: lifetime and extended data.
    pub fn put_remote_access_policy(
        &mut self,
        trigger: PolicyTrigger,
        tunnel_lifetime: u32,
        extended_data: Vec<u8>,
    ) -> Result<(), PtStatus> {
        if extended_data.len() > 32 {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        let rule = self
            .remote_access
            .policies
            .iter_mut()
            .find(|p| p.trigger == trigger)
            .ok_or(PtStatus::NOT_FOUND)?;
        let mut next = rule.clone();
        next.tunnel_lifetime = tunnel_lifetime;
        next.extended_data = extended_data;
        if trigger == PolicyTrigger::Periodic && next.schedule().is_none() {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        if *rule != next {
            *rule = next;
            self.note_persist();
        }
        Ok(())
    }

    /// `AMT_RemoteAccessPolicyAppliesToMPS` Put: where and in which order
    /// the MPS serves the policy.
    pub fn put_policy_mps(
        &mut self,
        trigger: PolicyTrigger,
        mps_index: u32,
        mps_type: u32,
        order_of_access: u32,
    ) -> Result<(), PtStatus> {
        let mps_type = MpsType::from_code(mps_type).ok_or(PtStatus::INVALID_PARAMETER)?;
        if order_of_access as usize >= MAX_MPS_PER_POLICY {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        let entry = self
            .remote_access
            .policies
            .iter_mut()
            .find(|p| p.trigger == trigger)
            .and_then(|p| p.servers.iter_mut().find(|s| s.mps_index == mps_index))
            .ok_or(PtStatus::NOT_FOUND)?;
        if entry.mps_type != mps_type || entry.order_of_access != order_of_access {
            entry.mps_type = mps_type;
            entry.order_of_access = order_of_access;
            self.note_persist();
        }
        Ok(())
    }

    /// `AMT_UserInitiatedConnectionService.RequestStateChange`.
    pub fn set_user_initiated_state(&mut self, state: u32) -> Result<(), PtStatus> {
        if !(USER_INITIATED_DISABLED..=USER_INITIATED_BIOS_AND_OS).contains(&state) {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        if self.remote_access.user_initiated_state != state {
            self.remote_access.user_initiated_state = state;
            self.note_persist();
        }
        Ok(())
    }

    /// `AMT_EnvironmentDetectionSettingData` Put.
    pub fn set_detection_strings(&mut self, strings: Vec<String>) -> Result<(), PtStatus> {
        if strings.len() > MAX_DETECTION_STRINGS
            || strings
                .iter()
                .any(|s| s.is_empty() || s.len() > MAX_DETECTION_STRING_LEN)
        {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        if self.remote_access.detection_strings != strings {
            self.remote_access.detection_strings = strings;
            self.note_persist();
        }
        Ok(())
    }

    /// Whether the device believes it is inside the enterprise network:
    /// the DNS suffix DHCP gave ends with one of the detection strings.
    /// Without a DHCP suffix (static IP) no detection happens and the
    /// device counts as outside.
    pub fn inside_intranet(&self) -> bool {
        let Some(suffix) = self.dhcp_dns_suffix() else {
            return false;
        };
        let suffix = suffix.trim_end_matches('.').to_ascii_lowercase();
        self.remote_access.detection_strings.iter().any(|d| {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            suffix == d || suffix.ends_with(&format!(".{d}"))
        })
    }

    /// The MPSs the policy for `trigger` would dial now, primary first,
    /// given where the device is. Empty when no rule applies.
    pub fn cira_targets(&self, trigger: PolicyTrigger) -> Vec<&MpServer> {
        let inside = self.inside_intranet();
        let ra = &self.remote_access;
        if trigger == PolicyTrigger::UserInitiated
            && ra.user_initiated_state == USER_INITIATED_DISABLED
        {
            return Vec::new();
        }
        let Some(rule) = ra.policies.iter().find(|p| p.trigger == trigger) else {
            return Vec::new();
        };
        let mut servers: Vec<&PolicyMps> = rule
            .servers
            .iter()
            .filter(|s| s.mps_type.applies(inside))
            .collect();
        servers.sort_by_key(|s| s.order_of_access);
        servers
            .into_iter()
            .filter_map(|s| ra.mp_servers.iter().find(|m| m.index == s.mps_index))
            .collect()
    }

    /// The driver reports whether the tunnel is up
    /// (`AMT_RemoteAccessService.IsRemoteTunnelConnected`).
    pub fn set_remote_tunnel_connected(&mut self, connected: bool) {
        self.remote_access.tunnel.connected = connected;
    }

    /// `CloseRemoteAccessConnection`: the driver hears of it as an event.
    pub fn close_remote_access_connection(&mut self) {
        self.remote_access.tunnel.close_requests += 1;
        self.note_event(crate::DeviceEvent::RemoteAccessCloseRequested);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DeviceConfig, Entropy, FirmwareProfile};
    use time::macros::datetime;

    fn device() -> Device {
        let config = DeviceConfig {
            profile: FirmwareProfile::new("15.0.23".parse().unwrap()),
            ..DeviceConfig::default()
        };
        Device::new(
            config,
            Entropy::from_seed(3),
            datetime!(2026-11-29 10:00 UTC),
        )
        .unwrap()
    }

    fn mps(host: &str) -> AddMpServer {
        AddMpServer {
            access_info: host.into(),
            info_format: 201,
            port: 4433,
            auth_method: 2,
            username: Some("admin".into()),
            password: Some("P@ssw0rd".into()),
            cn: None,
            certificate_handle: None,
        }
    }

    fn periodic(servers: Vec<u32>) -> AddPolicyRule {
        let mut data = 0u32.to_be_bytes().to_vec();
        data.extend(25u32.to_be_bytes());
        AddPolicyRule {
            trigger: 2,
            tunnel_lifetime: 0,
            extended_data: data,
            servers,
        }
    }

    #[test]
    fn mps_then_policy_then_targets() {
        let mut d = device();
        let i = d.add_mp_server(mps("mps.example.com")).unwrap();
        assert_eq!(i, 0);
        assert_eq!(
            d.add_mp_server(mps("mps.example.com")),
            Err(PtStatus::DUPLICATE)
        );
        assert_eq!(
            d.add_remote_access_policy(periodic(vec![7])),
            Err(PtStatus::INVALID_PARAMETER)
        );
        d.add_remote_access_policy(periodic(vec![0])).unwrap();
        assert_eq!(
            d.remote_access().policies[0].schedule(),
            Some(PeriodicSchedule::EverySeconds(25))
        );
        assert_eq!(d.cira_targets(PolicyTrigger::Periodic).len(), 1);
        // An MPS in use cannot be deleted.
        assert_eq!(d.delete_mp_server(0), Err(PtStatus::NOT_PERMITTED));
        d.delete_remote_access_policy(PolicyTrigger::Periodic)
            .unwrap();
        d.delete_mp_server(0).unwrap();
        assert!(d.remote_access().mp_servers.is_empty());
    }

    #[test]
    fn bad_arguments_are_invalid_parameter() {
        let mut d = device();
        let mut m = mps("x");
        m.info_format = 5;
        assert_eq!(d.add_mp_server(m), Err(PtStatus::INVALID_PARAMETER));
        let mut m = mps("x");
        m.username = Some("seventeen-chars-x".into());
        assert_eq!(d.add_mp_server(m), Err(PtStatus::INVALID_PARAMETER));
        let mut m = mps("x");
        m.port = 70000;
        assert_eq!(d.add_mp_server(m), Err(PtStatus::INVALID_PARAMETER));
        assert_eq!(
            d.set_user_initiated_state(5),
            Err(PtStatus::INVALID_PARAMETER)
        );
    }

    #[test]
    fn an_internal_only_mps_is_not_used_outside() {
        let mut d = device();
        d.add_mp_server(mps("mps")).unwrap();
        d.add_remote_access_policy(periodic(vec![0])).unwrap();
        d.set_detection_strings(vec!["corp.example".into()])
            .unwrap();
        d.set_dhcp_dns_suffix(Some("site.corp.example".into()));
        assert!(d.inside_intranet());
        // External (the default) is not used inside.
        assert!(d.cira_targets(PolicyTrigger::Periodic).is_empty());
        d.put_policy_mps(PolicyTrigger::Periodic, 0, 2, 0).unwrap();
        assert_eq!(d.cira_targets(PolicyTrigger::Periodic).len(), 1);
        d.set_dhcp_dns_suffix(Some("home.example".into()));
        assert!(!d.inside_intranet());
    }

    #[test]
    fn remote_access_survives_the_flash_image() {
        let mut d = device();
        d.add_mp_server(mps("mps")).unwrap();
        d.add_remote_access_policy(periodic(vec![0])).unwrap();
        d.set_remote_tunnel_connected(true);
        let back = crate::flash::decode(&crate::flash::encode(&d), Entropy::from_seed(3)).unwrap();
        assert_eq!(
            back.remote_access().mp_servers,
            d.remote_access().mp_servers
        );
        assert_eq!(back.remote_access().policies, d.remote_access().policies);
        assert!(!back.remote_access().tunnel.connected);
    }
}
