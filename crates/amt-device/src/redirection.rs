//! Redirection and KVM settings (`AMT_RedirectionService`,
//! `CIM_KVMRedirectionSAP`, `IPS_KVMRedirectionSettingData`, the screen
//! settings) that redirection sessions obey.
//!
//! The redirection protocol itself is not modelled yet; what it will obey
//! is here: [`Device::redirection_policy`] and [`Device::check_rfb_password`],
//! with consent from [`crate::user_consent`].

use serde::{Deserialize, Serialize};

use crate::audit_log::{AuditInitiator, AuditedEvent};
use crate::device::Device;
use crate::status::PtStatus;
use crate::user_consent::{ConsentFeature, OptInRequired};

/// A redirection session's kind, as consent and the audit log see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectionKind {
    Sol,
    Ider,
    /// Over 16994/16995 or the standard RFB port 5900.
    Kvm,
}

impl RedirectionKind {
    /// The Redirection Manager (AuditAppID 18) events of the session's
    /// start and end (the SDK's audit event list, MPS's `AMTAuditStringTable`:
    /// 1800/1801 IDE-R session opened/closed, 1804/1805 SoL session
    /// opened/closed, 1808/1809 KVM session started/ended).
    pub fn audit_event_ids(self) -> (u16, u16) {
        match self {
            RedirectionKind::Ider => (0, 1),
            RedirectionKind::Sol => (4, 5),
            RedirectionKind::Kvm => (8, 9),
        }
    }

    /// The feature consent knows the session as.
    pub fn consent_feature(self) -> ConsentFeature {
        match self {
            RedirectionKind::Sol => ConsentFeature::Sol,
            RedirectionKind::Ider => ConsentFeature::StorageRedirection,
            RedirectionKind::Kvm => ConsentFeature::Kvm,
        }
    }
}

/// Who opened a redirection session, as its audit records name them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedirectionUser {
    /// The digest (or type-1) login of the redirection protocol.
    Digest(String),
    /// A VNC viewer on port 5900, which has no user name (InitiatorType 3,
    /// "KVM default port", in the record).
    KvmDefaultPort,
}

impl RedirectionUser {
    fn audit_initiator(&self) -> AuditInitiator {
        match self {
            RedirectionUser::Digest(name) => AuditInitiator::DigestUser(name.clone()),
            RedirectionUser::KvmDefaultPort => AuditInitiator::KvmDefaultPort,
        }
    }
}

/// `AMT_RedirectionService.EnabledState` values (32768 + IDER bit 1 + SOL bit 2).
pub const REDIRECTION_NONE: u16 = 32768;
pub const REDIRECTION_IDER: u16 = 32769;
pub const REDIRECTION_SOL: u16 = 32770;
pub const REDIRECTION_IDER_AND_SOL: u16 = 32771;

/// CIM `RequestStateChange` ReturnValues used here.
pub const RSC_COMPLETED: u32 = 0;
pub const RSC_INVALID_PARAMETER: u32 = 5;

/// `RFBPassword` length: VNC authentication keys DES with exactly 8 bytes.
pub const RFB_PASSWORD_LEN: usize = 8;

/// The redirection settings (all persisted).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RedirectionSettings {
    pub(crate) sol_enabled: bool,
    pub(crate) ider_enabled: bool,
    pub(crate) listener_enabled: bool,
    pub(crate) kvm_enabled: bool,
    /// `CIM_KVMRedirectionSAP.RequestedState`: 5 (no change) until a
    /// console asks for 2 or 3.
    pub(crate) kvm_requested_state: u16,
    pub(crate) port_5900_enabled: bool,
    /// Kept in the clear: VNC authentication needs the key itself.
    pub(crate) rfb_password: Option<String>,
    pub(crate) session_timeout: u16,
    pub(crate) default_screen: u8,
    pub(crate) back_to_back_fb_mode: bool,
    /// An open screen-blanking session and the reboots it survives
    /// (`IPS_ScreenConfigurationService.SetSessionState`; RAM only).
    #[serde(skip)]
    pub(crate) screen_blanking: Option<u8>,
}

impl Default for RedirectionSettings {
    /// As the captures show a device before a console configures it
    /// (`fixtures/firmware/AMT_RedirectionService/Get--capture-rps-featuresConfiguration`,
    /// `CIM_KVMRedirectionSAP/Pull.response.xml`), and the KVM settings as
    /// go-wsman-messages' canned Get.
    fn default() -> Self {
        RedirectionSettings {
            sol_enabled: false,
            ider_enabled: false,
            listener_enabled: true,
            kvm_enabled: false,
            kvm_requested_state: 5,
            port_5900_enabled: false,
            rfb_password: None,
            session_timeout: 3,
            default_screen: 0,
            back_to_back_fb_mode: false,
            screen_blanking: None,
        }
    }
}

/// Everything a redirection session must obey.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RedirectionPolicy {
    /// The redirection port listener (16994/16995).
    pub listener_enabled: bool,
    pub sol_enabled: bool,
    pub ider_enabled: bool,
    pub kvm_enabled: bool,
    /// Plain RFB on 5900 (needs an RFB password).
    pub port_5900_enabled: bool,
    pub rfb_password_set: bool,
    /// `SessionTimeout` (inactivity, 0 = none; the SDK's unit is minutes).
    pub session_timeout: u16,
    pub default_screen: u8,
    /// Consent policy in force.
    pub opt_in_required: OptInRequired,
}

/// `IPS_KVMRedirectionSettingData` Put, parsed (absent keeps).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvmSettingsPut {
    pub is_5900_port_enabled: Option<bool>,
    pub opt_in_policy: Option<bool>,
    /// Empty keeps the current password (consoles echo the empty read).
    pub rfb_password: Option<String>,
    pub session_timeout: Option<u32>,
    pub default_screen: Option<u32>,
    pub back_to_back_fb_mode: Option<bool>,
}

/// One screen of `IPS_ScreenSettingData` (four slots on the firmware).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Screen {
    pub is_active: bool,
    pub resolution_x: u32,
    pub resolution_y: u32,
    pub upper_left_x: i32,
    pub upper_left_y: i32,
}

/// Screens the KVM server can show (slots 1–4).
pub const SCREEN_SLOTS: usize = 4;

/// AMT's strength rule for `RFBPassword`: exactly 8 printable ASCII
/// characters with an upper-case letter, a lower-case letter, a digit and
/// a special character (not `_` or space, which do not count), and none of
/// `:` `"` `,` (the AMT strong-password rule at the VNC key length).
pub fn rfb_password_is_strong(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() == RFB_PASSWORD_LEN
        && b.iter().all(|c| (0x20..0x7f).contains(c))
        && !b.iter().any(|c| matches!(c, b':' | b'"' | b','))
        && b.iter().any(u8::is_ascii_uppercase)
        && b.iter().any(u8::is_ascii_lowercase)
        && b.iter().any(u8::is_ascii_digit)
        && b.iter().any(|c| c.is_ascii_punctuation() && *c != b'_')
}

impl RedirectionSettings {
    /// `AMT_RedirectionService.EnabledState`.
    pub fn enabled_state(&self) -> u16 {
        REDIRECTION_NONE + u16::from(self.ider_enabled) + 2 * u16::from(self.sol_enabled)
    }

    pub fn listener_enabled(&self) -> bool {
        self.listener_enabled
    }

    /// `CIM_KVMRedirectionSAP.EnabledState`: 6 (enabled but offline: no
    /// session) or 3 (disabled), as the captures show; 2 belongs to an
    /// open KVM session, which the redirection protocol will report.
    pub fn kvm_enabled_state(&self) -> u16 {
        if self.kvm_enabled {
            6
        } else {
            3
        }
    }

    pub fn kvm_requested_state(&self) -> u16 {
        self.kvm_requested_state
    }

    pub fn port_5900_enabled(&self) -> bool {
        self.port_5900_enabled
    }

    pub fn session_timeout(&self) -> u16 {
        self.session_timeout
    }

    pub fn default_screen(&self) -> u8 {
        self.default_screen
    }

    pub fn back_to_back_fb_mode(&self) -> bool {
        self.back_to_back_fb_mode
    }
}

impl Device {
    /// The redirection and KVM settings.
    pub fn redirection(&self) -> &RedirectionSettings {
        &self.redirection
    }

    /// What a redirection session must obey.
    pub fn redirection_policy(&self) -> RedirectionPolicy {
        let r = &self.redirection;
        RedirectionPolicy {
            listener_enabled: r.listener_enabled,
            sol_enabled: r.sol_enabled,
            ider_enabled: r.ider_enabled,
            kvm_enabled: r.kvm_enabled,
            port_5900_enabled: r.port_5900_enabled,
            rfb_password_set: r.rfb_password.is_some(),
            session_timeout: r.session_timeout,
            default_screen: r.default_screen,
            opt_in_required: self.opt_in_required(),
        }
    }

    /// A redirection session opened (the server calls this once the
    /// session is authenticated and of its kind: SOL open, IDE-R or KVM
    /// handed over; whether it may open was asked before, e.g.
    /// [`Device::ider_session_allowed`]). Consent it needs and was
    /// received is IN SESSION from now on (`crate::user_consent`), and the
    /// audit log records the start (18/0, 18/4, 18/8 as the audit policy
    /// allows) with `user` as the initiator. Answers whether the session
    /// holds consent. Every call is matched by one
    /// [`Device::redirection_session_ended`].
    pub fn redirection_session_started(
        &mut self,
        kind: RedirectionKind,
        user: &RedirectionUser,
        now: time::OffsetDateTime,
    ) -> bool {
        let held = self.consent_session_opened(kind.consent_feature(), now);
        let (started, _) = kind.audit_event_ids();
        self.audit_as(
            Some(now),
            user.audit_initiator(),
            AuditedEvent::RedirectionManager(started),
        );
        held
    }

    /// A redirection session reported to
    /// [`Device::redirection_session_started`] ended, whatever ended it:
    /// the audit log records the end (18/1, 18/5, 18/9), and once no open
    /// session holds consent, IN SESSION is RECEIVED again for
    /// `OptInCodeTimeout`.
    pub fn redirection_session_ended(
        &mut self,
        kind: RedirectionKind,
        user: &RedirectionUser,
        now: time::OffsetDateTime,
    ) {
        self.consent_session_closed(kind.consent_feature(), now);
        let (_, ended) = kind.audit_event_ids();
        self.audit_as(
            Some(now),
            user.audit_initiator(),
            AuditedEvent::RedirectionManager(ended),
        );
    }

    /// Whether `candidate` is the RFB password (5900's VNC authentication).
    pub fn check_rfb_password(&self, candidate: &str) -> bool {
        self.redirection
            .rfb_password
            .as_deref()
            .is_some_and(|p| p == candidate)
    }

    /// The RFB password, for the VNC challenge (DES needs the key).
    pub fn rfb_password(&self) -> Option<&str> {
        self.redirection.rfb_password.as_deref()
    }

    /// `AMT_RedirectionService.RequestStateChange`: 32768–32771 switch
    /// IDE-R and SOL; anything else is 5 (invalid parameter).
    pub fn request_redirection_state(&mut self, requested: u32) -> u32 {
        let Some(bits) = requested
            .checked_sub(u32::from(REDIRECTION_NONE))
            .filter(|b| *b <= 3)
        else {
            return RSC_INVALID_PARAMETER;
        };
        let (ider, sol) = (bits & 1 != 0, bits & 2 != 0);
        if (ider, sol) != (self.redirection.ider_enabled, self.redirection.sol_enabled) {
            self.redirection.ider_enabled = ider;
            self.redirection.sol_enabled = sol;
            self.note_persist();
        }
        RSC_COMPLETED
    }

    /// `AMT_RedirectionService` Put: `ListenerEnabled` is the one writable
    /// property (`EnabledState` moves by RequestStateChange only).
    pub fn set_redirection_listener(&mut self, enabled: bool) {
        if self.redirection.listener_enabled != enabled {
            self.redirection.listener_enabled = enabled;
            self.note_persist();
            self.note_ports_changed();
        }
    }

    /// `CIM_KVMRedirectionSAP.RequestStateChange`: 2 enables KVM, 3
    /// disables it; anything else is 5 (invalid parameter).
    pub fn request_kvm_state(&mut self, requested: u32) -> u32 {
        let enabled = match requested {
            2 => true,
            3 => false,
            _ => return RSC_INVALID_PARAMETER,
        };
        let before = (
            self.redirection.kvm_enabled,
            self.redirection.kvm_requested_state,
        );
        self.redirection.kvm_enabled = enabled;
        self.redirection.kvm_requested_state = requested as u16;
        if before
            != (
                self.redirection.kvm_enabled,
                self.redirection.kvm_requested_state,
            )
        {
            self.note_persist();
            self.note_ports_changed();
        }
        RSC_COMPLETED
    }

    /// `IPS_KVMRedirectionSettingData` Put. A weak RFB password is
    /// INVALID_PARAMETER; enabling 5900 without an RFB password (stored or
    /// in the same Put) is NOT_PERMITTED ("can be set to true only if there
    /// is a defined RFBPassword", SDK); a session timeout beyond 65535 or a
    /// default screen beyond the four slots is INVALID_PARAMETER.
    /// `OptInPolicy` is consent for KVM: false sets `OptInRequired` to
    /// none (refused in client control mode), true raises none to KVM.
    pub fn put_kvm_settings(&mut self, put: KvmSettingsPut) -> Result<(), PtStatus> {
        let mut next = self.redirection.clone();
        if let Some(p) = put.rfb_password.filter(|p| !p.is_empty()) {
            if !rfb_password_is_strong(&p) {
                return Err(PtStatus::INVALID_PARAMETER);
            }
            next.rfb_password = Some(p);
        }
        if let Some(t) = put.session_timeout {
            next.session_timeout = u16::try_from(t).map_err(|_| PtStatus::INVALID_PARAMETER)?;
        }
        if let Some(s) = put.default_screen {
            next.default_screen = u8::try_from(s)
                .ok()
                .filter(|s| usize::from(*s) < SCREEN_SLOTS)
                .ok_or(PtStatus::INVALID_PARAMETER)?;
        }
        if let Some(b) = put.back_to_back_fb_mode {
            next.back_to_back_fb_mode = b;
        }
        if let Some(e) = put.is_5900_port_enabled {
            if e && next.rfb_password.is_none() {
                return Err(PtStatus::NOT_PERMITTED);
            }
            next.port_5900_enabled = e;
        }
        let consent = match put.opt_in_policy {
            Some(false) => Some(OptInRequired::None),
            Some(true) if self.opt_in_required() == OptInRequired::None => Some(OptInRequired::Kvm),
            _ => None,
        };
        if let Some(required) = consent {
            self.put_opt_in_service(crate::user_consent::OptInPut {
                required: Some(required.value()),
                ..Default::default()
            })?;
        }
        if next != self.redirection {
            // 5900 opens and closes with these settings.
            self.redirection = next;
            self.note_persist();
            self.note_ports_changed();
        }
        Ok(())
    }

    /// `IPS_KVMRedirectionSettingData.OptInPolicy`: whether KVM needs consent.
    pub fn kvm_opt_in_policy(&self) -> bool {
        self.opt_in_required() != OptInRequired::None
    }

    /// The host's screens as the KVM server sees them: one 1920×1080
    /// display, the other three slots empty (as the firmware reports an
    /// unused slot: inactive, 0×0 at −1,−1).
    pub fn screens(&self) -> [Screen; SCREEN_SLOTS] {
        let empty = Screen {
            is_active: false,
            resolution_x: 0,
            resolution_y: 0,
            upper_left_x: -1,
            upper_left_y: -1,
        };
        [
            Screen {
                is_active: true,
                // The screen the KVM serves (screen.rs).
                resolution_x: u32::from(crate::screen::SCREEN_WIDTH),
                resolution_y: u32::from(crate::screen::SCREEN_HEIGHT),
                upper_left_x: 0,
                upper_left_y: 0,
            },
            empty,
            empty,
            empty,
        ]
    }

    /// `IPS_ScreenConfigurationService.SetSessionState`: opens (1) or
    /// closes (0) a screen-blanking session surviving `reboots` (0–3) warm
    /// resets. Other values are INVALID_PARAMETER.
    pub fn set_screen_blanking(
        &mut self,
        session_state: u32,
        reboots: u32,
    ) -> Result<(), PtStatus> {
        let reboots = u8::try_from(reboots)
            .ok()
            .filter(|r| *r <= 3)
            .ok_or(PtStatus::INVALID_PARAMETER)?;
        self.redirection.screen_blanking = match session_state {
            0 => None,
            1 => Some(reboots),
            _ => return Err(PtStatus::INVALID_PARAMETER),
        };
        Ok(())
    }

    /// The screen-blanking session, if one is open: the reboots it survives.
    pub fn screen_blanking(&self) -> Option<u8> {
        self.redirection.screen_blanking
    }

    /// Factory redirection settings (unprovision).
    pub(crate) fn reset_redirection(&mut self) {
        self.redirection = RedirectionSettings::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ControlMode, DeviceConfig, Entropy, FirmwareProfile};
    use time::macros::datetime;

    fn device() -> Device {
        let config = DeviceConfig {
            profile: FirmwareProfile::new("15.0.23".parse().unwrap()),
            ..DeviceConfig::default()
        };
        Device::new(
            config,
            Entropy::from_seed(4),
            datetime!(2026-12-01 12:00 UTC),
        )
        .unwrap()
    }

    #[test]
    fn request_state_change_switches_ider_and_sol() {
        let mut d = device();
        assert_eq!(d.redirection().enabled_state(), REDIRECTION_NONE);
        assert_eq!(d.request_redirection_state(32771), 0);
        let p = d.redirection_policy();
        assert!(p.sol_enabled && p.ider_enabled);
        assert_eq!(d.request_redirection_state(32770), 0);
        assert_eq!(d.redirection().enabled_state(), REDIRECTION_SOL);
        assert!(d.take_effects().persist);
        assert_eq!(d.request_redirection_state(2), RSC_INVALID_PARAMETER);
        assert_eq!(d.request_redirection_state(32772), RSC_INVALID_PARAMETER);
        assert!(!d.take_effects().persist);
    }

    #[test]
    fn kvm_is_switched_by_2_and_3() {
        let mut d = device();
        assert_eq!(d.redirection().kvm_enabled_state(), 3);
        assert_eq!(d.request_kvm_state(2), 0);
        assert_eq!(d.redirection().kvm_enabled_state(), 6);
        assert_eq!(d.redirection().kvm_requested_state(), 2);
        assert!(d.redirection_policy().kvm_enabled);
        assert_eq!(d.request_kvm_state(4), RSC_INVALID_PARAMETER);
        assert_eq!(d.request_kvm_state(3), 0);
        assert!(!d.redirection_policy().kvm_enabled);
    }

    #[test]
    fn rfb_passwords_follow_the_strength_rule() {
        assert!(rfb_password_is_strong("P@ssw0rd"));
        assert!(!rfb_password_is_strong("P@ssw0r"));
        assert!(!rfb_password_is_strong("P@ssw0rd1"));
        assert!(!rfb_password_is_strong("Passw0rd"));
        assert!(!rfb_password_is_strong("Pass_0rd"));
        assert!(!rfb_password_is_strong("p@ssw0rd"));
        assert!(!rfb_password_is_strong("P@ssword"));
        assert!(!rfb_password_is_strong("P:ssw0rd"));
        assert!(!rfb_password_is_strong("Pässw0r"));
    }

    #[test]
    fn port_5900_needs_a_password() {
        let mut d = device();
        let on = KvmSettingsPut {
            is_5900_port_enabled: Some(true),
            ..Default::default()
        };
        assert_eq!(d.put_kvm_settings(on.clone()), Err(PtStatus::NOT_PERMITTED));
        let weak = KvmSettingsPut {
            rfb_password: Some("password".into()),
            ..on.clone()
        };
        assert_eq!(d.put_kvm_settings(weak), Err(PtStatus::INVALID_PARAMETER));
        let strong = KvmSettingsPut {
            rfb_password: Some("P@ssw0rd".into()),
            ..on.clone()
        };
        assert_eq!(d.put_kvm_settings(strong), Ok(()));
        assert!(d.redirection_policy().port_5900_enabled);
        assert!(d.check_rfb_password("P@ssw0rd"));
        assert!(!d.check_rfb_password("P@ssw0rD"));
        // The read-back empty password keeps the stored one.
        let echo = KvmSettingsPut {
            rfb_password: Some(String::new()),
            ..on
        };
        assert_eq!(d.put_kvm_settings(echo), Ok(()));
        assert!(d.check_rfb_password("P@ssw0rd"));
    }

    #[test]
    fn opt_in_policy_is_kvm_consent() {
        let mut d = device();
        d.provision_for_testing(ControlMode::Admin, "P@ssw0rd");
        let off = KvmSettingsPut {
            opt_in_policy: Some(false),
            ..Default::default()
        };
        assert_eq!(d.put_kvm_settings(off.clone()), Ok(()));
        assert!(!d.kvm_opt_in_policy());
        let mut ccm = device();
        ccm.provision_for_testing(ControlMode::Client, "P@ssw0rd");
        assert_eq!(ccm.put_kvm_settings(off), Err(PtStatus::NOT_PERMITTED));
        assert!(ccm.kvm_opt_in_policy());
    }
}
