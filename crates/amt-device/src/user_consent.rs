//! User consent (`IPS_OptInService`): the policy, the state machine and the
//! six-digit code shown on the host's screen.
//!
//! The policy (`OptInRequired`, the two timeouts) is persisted; a consent
//! in progress lives in firmware RAM and is lost on a restart. Time is the
//! host time passed in: nothing here reads a clock.
//!
//! State rules (Intel AMT SDK class reference; the timeouts' meaning is inferred, see
//! docs/wsman.md "User consent"):
//! - `StartOptIn` only from NOT STARTED: the code is drawn from the device's
//!   RNG and shown at once (DISPLAYED; REQUESTED is the firmware's brief step
//!   before the sprite is drawn, not modelled as lasting).
//! - `SendOptInCode` only while DISPLAYED: the right code gives RECEIVED; a
//!   wrong one answers 1 and counts, and the third wrong code ends the
//!   attempt (NOT STARTED).
//! - DISPLAYED lasts `OptInDisplayTimeout` seconds; RECEIVED lasts
//!   `OptInCodeTimeout` seconds without a redirection session (a session
//!   makes it IN SESSION, and closing the last restarts that clock).
//! - IN SESSION: consent was given and a redirection session that needs it
//!   is open — one that opened after the code was received, or a KVM
//!   session that was already open when the code arrived (typed into the
//!   consent form or sent with `SendOptInCode`). It does not time out: the
//!   code timeout that would have run out mid-session starts again when the
//!   last such session closes ("no new code is needed until
//!   `OptInCodeTimeout` without a redirection session"), so the state is
//!   RECEIVED then, and NOT STARTED once that runs out.
//! - `CancelOptIn` from any state but NOT STARTED ends the consent.
//! - In client control mode consent is always required: `OptInRequired`
//!   cannot be set to none.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::device::Device;
use crate::effects::DeviceEvent;
use crate::provisioning::ControlMode;
use crate::status::PtStatus;

/// `OptInRequired`: which redirection features need consent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OptInRequired {
    /// 0: no consent.
    None,
    /// 1: KVM only (the value real devices report before a console
    /// configures them, capture `IPS_OptInService/Get--capture-rps-*`).
    #[default]
    Kvm,
    /// 4294967295: KVM, storage redirection and remote boot options.
    All,
}

impl OptInRequired {
    pub fn value(self) -> u32 {
        match self {
            OptInRequired::None => 0,
            OptInRequired::Kvm => 1,
            OptInRequired::All => u32::MAX,
        }
    }

    pub fn from_value(v: u32) -> Option<Self> {
        match v {
            0 => Some(OptInRequired::None),
            1 => Some(OptInRequired::Kvm),
            u32::MAX => Some(OptInRequired::All),
            _ => None,
        }
    }
}

/// `OptInState`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OptInState {
    #[default]
    NotStarted,
    Requested,
    Displayed,
    Received,
    InSession,
}

impl OptInState {
    pub fn value(self) -> u8 {
        match self {
            OptInState::NotStarted => 0,
            OptInState::Requested => 1,
            OptInState::Displayed => 2,
            OptInState::Received => 3,
            OptInState::InSession => 4,
        }
    }
}

/// What needs consent (the redirection sessions and boot changes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsentFeature {
    Kvm,
    /// IDE-R / USB-R.
    StorageRedirection,
    /// Remote boot options (boot settings with a forced device).
    BootOptions,
    /// Serial-over-LAN never needs consent (SDK: user consent overview).
    Sol,
}

/// `IPS_OptInService` ReturnValues (the class's own table, not PT_STATUS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptInStatus {
    Success,
    InternalError,
    InvalidState,
    Blocked,
}

impl OptInStatus {
    pub fn code(self) -> u32 {
        match self {
            OptInStatus::Success => 0,
            OptInStatus::InternalError => 1,
            OptInStatus::InvalidState => 2,
            OptInStatus::Blocked => 3,
        }
    }
}

/// Wrong codes accepted before the attempt ends.
pub const MAX_WRONG_CODES: u8 = 3;
/// Factory `OptInCodeTimeout` (seconds).
pub const DEFAULT_CODE_TIMEOUT: u32 = 120;
/// Factory `OptInDisplayTimeout` (seconds).
pub const DEFAULT_DISPLAY_TIMEOUT: u32 = 300;
/// Accepted range of `OptInCodeTimeout` (seconds).
pub const CODE_TIMEOUT_RANGE: std::ops::RangeInclusive<u32> = 60..=900;
/// Accepted range of `OptInDisplayTimeout` (seconds).
pub const DISPLAY_TIMEOUT_RANGE: std::ops::RangeInclusive<u32> = 10..=3600;

/// Consent policy (persisted) and the consent in progress (RAM).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserConsent {
    pub(crate) required: OptInRequired,
    pub(crate) code_timeout: u32,
    pub(crate) display_timeout: u32,
    /// A restart ends any consent in progress.
    #[serde(skip)]
    pub(crate) session: ConsentSession,
    /// The redirection sessions open now that consent can apply to (RAM:
    /// the server reports them, see [`Device::redirection_session_started`]).
    #[serde(skip)]
    pub(crate) open: OpenRedirection,
}

/// Open redirection sessions by the feature consent knows them as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct OpenRedirection {
    kvm: u32,
    storage: u32,
}

impl OpenRedirection {
    fn count_mut(&mut self, feature: ConsentFeature) -> Option<&mut u32> {
        match feature {
            ConsentFeature::Kvm => Some(&mut self.kvm),
            ConsentFeature::StorageRedirection => Some(&mut self.storage),
            ConsentFeature::BootOptions | ConsentFeature::Sol => None,
        }
    }
}

impl Default for UserConsent {
    fn default() -> Self {
        UserConsent {
            required: OptInRequired::default(),
            code_timeout: DEFAULT_CODE_TIMEOUT,
            display_timeout: DEFAULT_DISPLAY_TIMEOUT,
            session: ConsentSession::default(),
            open: OpenRedirection::default(),
        }
    }
}

/// The consent in progress.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ConsentSession {
    state: OptInState,
    /// The code on the host's screen while DISPLAYED.
    code: Option<u32>,
    wrong_codes: u8,
    /// When the current state ends by itself (DISPLAYED, RECEIVED; IN
    /// SESSION never does).
    expires_at: Option<OffsetDateTime>,
}

/// `IPS_OptInService` Put, as parsed from the body (absent keeps).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OptInPut {
    pub required: Option<u32>,
    pub code_timeout: Option<u32>,
    pub display_timeout: Option<u32>,
}

/// What the owner sees of consent (control API, KVM screen).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConsentView {
    pub state: OptInState,
    pub state_value: u8,
    /// The six digits on the host's screen, while one is displayed.
    pub code: Option<String>,
    pub required: OptInRequired,
    pub required_value: u32,
    pub code_timeout: u32,
    pub display_timeout: u32,
    /// Seconds until the current state ends by itself.
    pub expires_in: Option<i64>,
}

impl UserConsent {
    pub fn required(&self) -> OptInRequired {
        self.required
    }

    pub fn code_timeout(&self) -> u32 {
        self.code_timeout
    }

    pub fn display_timeout(&self) -> u32 {
        self.display_timeout
    }

    /// `OptInState` as of the last [`Device::expire_user_consent`] (the
    /// WS-Man engine applies the timeouts before every request).
    pub fn state(&self) -> OptInState {
        self.session.state
    }

    /// The session as it stands at `now` (timeouts applied).
    fn session_at(&self, now: OffsetDateTime) -> ConsentSession {
        match self.session.expires_at {
            Some(t) if now >= t && self.session.state != OptInState::InSession => {
                ConsentSession::default()
            }
            _ => self.session.clone(),
        }
    }
}

fn format_code(code: u32) -> String {
    format!("{code:06}")
}

impl Device {
    /// The consent settings (`IPS_OptInService` properties).
    pub fn user_consent(&self) -> &UserConsent {
        &self.user_consent
    }

    /// `OptInRequired` in force: client control mode always requires
    /// consent, whatever was stored before.
    pub fn opt_in_required(&self) -> OptInRequired {
        match (self.control_mode, self.user_consent.required) {
            (ControlMode::Client, OptInRequired::None) => OptInRequired::Kvm,
            (_, r) => r,
        }
    }

    /// `OptInState` at `now`.
    pub fn consent_state(&self, now: OffsetDateTime) -> OptInState {
        self.user_consent.session_at(now).state
    }

    /// Whether `feature` needs consent under the policy in force.
    pub fn consent_needed_for(&self, feature: ConsentFeature) -> bool {
        match (self.opt_in_required(), feature) {
            (_, ConsentFeature::Sol) | (OptInRequired::None, _) => false,
            (OptInRequired::Kvm, f) => f == ConsentFeature::Kvm,
            (OptInRequired::All, _) => true,
        }
    }

    /// Whether a session of `feature` may open now as far as consent goes
    /// (not needed, or received / in session).
    pub fn consent_allows(&self, feature: ConsentFeature, now: OffsetDateTime) -> bool {
        !self.consent_needed_for(feature)
            || matches!(
                self.consent_state(now),
                OptInState::Received | OptInState::InSession
            )
    }

    /// The code on the host's screen, while one is displayed.
    pub fn pending_consent_code(&self, now: OffsetDateTime) -> Option<String> {
        let s = self.user_consent.session_at(now);
        (s.state == OptInState::Displayed)
            .then_some(s.code)
            .flatten()
            .map(format_code)
    }

    /// Consent as the owner sees it.
    pub fn consent_view(&self, now: OffsetDateTime) -> ConsentView {
        let s = self.user_consent.session_at(now);
        let required = self.opt_in_required();
        ConsentView {
            state: s.state,
            state_value: s.state.value(),
            code: (s.state == OptInState::Displayed)
                .then_some(s.code)
                .flatten()
                .map(format_code),
            required,
            required_value: required.value(),
            code_timeout: self.user_consent.code_timeout,
            display_timeout: self.user_consent.display_timeout,
            expires_in: s
                .expires_at
                .filter(|_| s.state != OptInState::InSession)
                .map(|t| (t - now).whole_seconds().max(0)),
        }
    }

    /// Applies the consent timeouts up to `now` (the WS-Man engine calls
    /// this before every request, so reads and method rules see the
    /// state of that moment).
    pub fn expire_user_consent(&mut self, now: OffsetDateTime) {
        let at_now = self.user_consent.session_at(now);
        if at_now != self.user_consent.session {
            self.set_consent_session(at_now);
        }
    }

    fn set_consent_session(&mut self, session: ConsentSession) {
        let changed = session.state != self.user_consent.session.state;
        self.user_consent.session = session;
        if changed {
            self.note_event(DeviceEvent::ConsentChanged {
                state: self.user_consent.session.state.value(),
            });
        }
    }

    /// `StartOptIn`: shows a new code on the host's screen.
    pub fn start_opt_in(&mut self, now: OffsetDateTime) -> OptInStatus {
        self.expire_user_consent(now);
        if self.user_consent.session.state != OptInState::NotStarted {
            return OptInStatus::InvalidState;
        }
        let code = self.draw_consent_code();
        self.set_consent_session(ConsentSession {
            state: OptInState::Displayed,
            code: Some(code),
            wrong_codes: 0,
            expires_at: Some(now + Duration::seconds(i64::from(self.user_consent.display_timeout))),
        });
        OptInStatus::Success
    }

    /// `SendOptInCode`: the operator's copy of the code.
    pub fn send_opt_in_code(&mut self, code: u32, now: OffsetDateTime) -> OptInStatus {
        self.expire_user_consent(now);
        let s = &self.user_consent.session;
        if s.state != OptInState::Displayed {
            return OptInStatus::InvalidState;
        }
        if s.code == Some(code) {
            // Audited as User Opt-In 30 / 1 (consent code sent); the other
            // consent steps have no event ID we could source.
            self.audit(None, crate::audit_log::AuditedEvent::UserOptIn(1));
            // A KVM session already open (the code typed into its consent
            // form) holds the consent at once.
            let state = if self.consent_holding_sessions() > 0 {
                OptInState::InSession
            } else {
                OptInState::Received
            };
            self.set_consent_session(ConsentSession {
                state,
                code: None,
                wrong_codes: 0,
                expires_at: Some(
                    now + Duration::seconds(i64::from(self.user_consent.code_timeout)),
                ),
            });
            return OptInStatus::Success;
        }
        let wrong = s.wrong_codes.saturating_add(1);
        if wrong >= MAX_WRONG_CODES {
            self.set_consent_session(ConsentSession::default());
        } else {
            self.user_consent.session.wrong_codes = wrong;
        }
        OptInStatus::InternalError
    }

    /// `CancelOptIn`.
    pub fn cancel_opt_in(&mut self, now: OffsetDateTime) -> OptInStatus {
        self.expire_user_consent(now);
        if self.user_consent.session.state == OptInState::NotStarted {
            return OptInStatus::InvalidState;
        }
        self.set_consent_session(ConsentSession::default());
        OptInStatus::Success
    }

    /// Open redirection sessions that need consent under the policy in
    /// force (what holds IN SESSION).
    fn consent_holding_sessions(&self) -> u32 {
        let open = self.user_consent.open;
        [
            (ConsentFeature::Kvm, open.kvm),
            (ConsentFeature::StorageRedirection, open.storage),
        ]
        .into_iter()
        .filter(|(f, _)| self.consent_needed_for(*f))
        .map(|(_, n)| n)
        .fold(0, u32::saturating_add)
    }

    /// A redirection session of `feature` opened (called by
    /// [`Device::redirection_session_started`]; whether it may open is
    /// [`Device::consent_allows`]'s answer, asked before): when it needs
    /// consent and consent was received, the state becomes IN SESSION.
    /// Answers whether the session holds consent.
    pub(crate) fn consent_session_opened(
        &mut self,
        feature: ConsentFeature,
        now: OffsetDateTime,
    ) -> bool {
        self.expire_user_consent(now);
        if let Some(n) = self.user_consent.open.count_mut(feature) {
            *n = n.saturating_add(1);
        }
        if !self.consent_needed_for(feature) {
            return false;
        }
        let mut s = self.user_consent.session.clone();
        match s.state {
            OptInState::Received | OptInState::InSession => {
                s.state = OptInState::InSession;
                self.set_consent_session(s);
                true
            }
            _ => false,
        }
    }

    /// A redirection session of `feature` closed: once no open session
    /// holds consent, IN SESSION is RECEIVED again for `OptInCodeTimeout`
    /// seconds from `now`.
    pub(crate) fn consent_session_closed(&mut self, feature: ConsentFeature, now: OffsetDateTime) {
        if let Some(n) = self.user_consent.open.count_mut(feature) {
            *n = n.saturating_sub(1);
        }
        let mut s = self.user_consent.session.clone();
        if s.state != OptInState::InSession || self.consent_holding_sessions() > 0 {
            return;
        }
        s.state = OptInState::Received;
        s.expires_at = Some(now + Duration::seconds(i64::from(self.user_consent.code_timeout)));
        self.set_consent_session(s);
    }

    /// `IPS_OptInService` Put. Client control mode refuses
    /// `OptInRequired` = 0 and a change of `OptInDisplayTimeout`
    /// (NOT_PERMITTED); values outside their ranges are INVALID_PARAMETER.
    pub fn put_opt_in_service(&mut self, put: OptInPut) -> Result<(), PtStatus> {
        let ccm = self.control_mode == ControlMode::Client;
        let required = match put.required {
            None => self.user_consent.required,
            // What a console read back (the policy in force) keeps what is stored.
            Some(v) if v == self.opt_in_required().value() => self.user_consent.required,
            Some(v) => OptInRequired::from_value(v).ok_or(PtStatus::INVALID_PARAMETER)?,
        };
        if ccm && put.required == Some(OptInRequired::None.value()) {
            return Err(PtStatus::NOT_PERMITTED);
        }
        let code_timeout = put.code_timeout.unwrap_or(self.user_consent.code_timeout);
        if !CODE_TIMEOUT_RANGE.contains(&code_timeout) {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        let display_timeout = put
            .display_timeout
            .unwrap_or(self.user_consent.display_timeout);
        if !DISPLAY_TIMEOUT_RANGE.contains(&display_timeout) {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        if ccm && display_timeout != self.user_consent.display_timeout {
            return Err(PtStatus::NOT_PERMITTED);
        }
        let before = (
            self.user_consent.required,
            self.user_consent.code_timeout,
            self.user_consent.display_timeout,
        );
        self.user_consent.required = required;
        self.user_consent.code_timeout = code_timeout;
        self.user_consent.display_timeout = display_timeout;
        if before != (required, code_timeout, display_timeout) {
            self.audit(None, crate::audit_log::AuditedEvent::UserOptIn(0));
            self.note_persist();
            self.note_event(DeviceEvent::ConsentChanged {
                state: self.user_consent.session.state.value(),
            });
        }
        Ok(())
    }

    /// Factory consent settings (unprovision).
    pub(crate) fn reset_user_consent(&mut self) {
        // The sessions stay open (the server ends them, not the settings).
        self.user_consent = UserConsent {
            open: self.user_consent.open,
            ..UserConsent::default()
        };
    }

    /// Six decimal digits, uniformly drawn from the device's RNG (a seeded
    /// device shows the same codes).
    fn draw_consent_code(&mut self) -> u32 {
        use rand::Rng;
        // 4_294_000_000 is the largest multiple of 10^6 below 2^32.
        loop {
            let v = self.rng.0.next_u32();
            if v < 4_294_000_000 {
                return v % 1_000_000;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redirection::{RedirectionKind, RedirectionUser};
    use crate::{DeviceConfig, Entropy, FirmwareProfile};
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-12-01 12:00:00 UTC);

    fn device() -> Device {
        let config = DeviceConfig {
            profile: FirmwareProfile::new("15.0.23".parse().unwrap()),
            ..DeviceConfig::default()
        };
        Device::new(config, Entropy::from_seed(3), T0).unwrap()
    }

    fn code(d: &Device, now: OffsetDateTime) -> u32 {
        d.pending_consent_code(now).unwrap().parse().unwrap()
    }

    #[test]
    fn the_right_code_gives_consent() {
        let mut d = device();
        assert_eq!(d.start_opt_in(T0), OptInStatus::Success);
        assert_eq!(d.consent_state(T0), OptInState::Displayed);
        let shown = d.pending_consent_code(T0).unwrap();
        assert_eq!(shown.len(), 6);
        assert_eq!(d.start_opt_in(T0), OptInStatus::InvalidState);
        assert_eq!(d.send_opt_in_code(code(&d, T0), T0), OptInStatus::Success);
        assert_eq!(d.consent_state(T0), OptInState::Received);
        assert_eq!(d.pending_consent_code(T0), None);
        let audited: Vec<(u16, u16)> = d
            .audit_log()
            .records()
            .iter()
            .map(|r| (r.app_id, r.event_id))
            .collect();
        assert_eq!(audited, [(30, 1)], "the consent code sent is audited");
        assert!(d.consent_allows(ConsentFeature::Kvm, T0));
        let events = d.take_effects().events;
        assert_eq!(
            events,
            vec![
                DeviceEvent::ConsentChanged { state: 2 },
                DeviceEvent::ConsentChanged { state: 3 }
            ]
        );
    }

    #[test]
    fn a_seeded_device_shows_the_same_code() {
        let (mut a, mut b) = (device(), device());
        a.start_opt_in(T0);
        b.start_opt_in(T0);
        assert_eq!(a.pending_consent_code(T0), b.pending_consent_code(T0));
    }

    #[test]
    fn three_wrong_codes_end_the_attempt() {
        let mut d = device();
        d.start_opt_in(T0);
        let wrong = (code(&d, T0) + 1) % 1_000_000;
        assert_eq!(d.send_opt_in_code(wrong, T0), OptInStatus::InternalError);
        assert_eq!(d.consent_state(T0), OptInState::Displayed);
        assert_eq!(d.send_opt_in_code(wrong, T0), OptInStatus::InternalError);
        assert_eq!(d.send_opt_in_code(wrong, T0), OptInStatus::InternalError);
        assert_eq!(d.consent_state(T0), OptInState::NotStarted);
        assert_eq!(d.send_opt_in_code(wrong, T0), OptInStatus::InvalidState);
    }

    #[test]
    fn timeouts_are_against_the_time_passed_in() {
        let mut d = device();
        d.start_opt_in(T0);
        let shown = code(&d, T0);
        let late = T0 + Duration::seconds(300);
        assert_eq!(
            d.consent_state(late - Duration::seconds(1)),
            OptInState::Displayed
        );
        assert_eq!(d.consent_state(late), OptInState::NotStarted);
        assert_eq!(d.send_opt_in_code(shown, late), OptInStatus::InvalidState);

        d.start_opt_in(late);
        let shown = code(&d, late);
        d.send_opt_in_code(shown, late);
        let gone = late + Duration::seconds(120);
        assert_eq!(
            d.consent_state(gone - Duration::seconds(1)),
            OptInState::Received
        );
        assert_eq!(d.consent_state(gone), OptInState::NotStarted);
    }

    fn admin() -> RedirectionUser {
        RedirectionUser::Digest("admin".into())
    }

    fn audited(d: &Device) -> Vec<(u16, u16)> {
        d.audit_log()
            .records()
            .iter()
            .map(|r| (r.app_id, r.event_id))
            .collect()
    }

    #[test]
    fn a_session_holds_consent_and_closing_it_restarts_the_clock() {
        let mut d = device();
        d.start_opt_in(T0);
        let c = code(&d, T0);
        d.send_opt_in_code(c, T0);
        assert!(d.redirection_session_started(RedirectionKind::Kvm, &admin(), T0));
        // The code timeout runs out mid-session: the session holds consent.
        let much_later = T0 + Duration::hours(5);
        assert_eq!(d.consent_state(much_later), OptInState::InSession);
        assert_eq!(d.consent_view(much_later).expires_in, None);
        d.redirection_session_ended(RedirectionKind::Kvm, &admin(), much_later);
        assert_eq!(d.consent_state(much_later), OptInState::Received);
        assert_eq!(
            d.consent_state(much_later + Duration::seconds(120)),
            OptInState::NotStarted
        );
        assert!(!d.consent_allows(ConsentFeature::Kvm, much_later + Duration::seconds(120)));
        assert_eq!(
            audited(&d),
            [(30, 1), (18, 8), (18, 9)],
            "code sent, KVM session started and ended"
        );
        // SOL never needs consent, and holds none.
        let later = much_later + Duration::seconds(120);
        assert!(!d.redirection_session_started(RedirectionKind::Sol, &admin(), later));
        assert_eq!(d.consent_state(later), OptInState::NotStarted);
        d.redirection_session_ended(RedirectionKind::Sol, &admin(), later);
        assert_eq!(audited(&d)[3..], [(18, 4), (18, 5)]);
    }

    #[test]
    fn a_code_typed_into_an_open_kvm_session_is_in_session_at_once() {
        let mut d = device();
        // KVM opens before consent (the viewer sees the consent form).
        assert!(!d.redirection_session_started(RedirectionKind::Kvm, &admin(), T0));
        assert_eq!(d.consent_state(T0), OptInState::NotStarted);
        d.start_opt_in(T0);
        let c = code(&d, T0);
        assert_eq!(d.send_opt_in_code(c, T0), OptInStatus::Success);
        assert_eq!(d.consent_state(T0), OptInState::InSession);
        // Cancelling mid-session ends consent; the session stays open and a
        // new code holds it again.
        assert_eq!(d.cancel_opt_in(T0), OptInStatus::Success);
        assert_eq!(d.consent_state(T0), OptInState::NotStarted);
        d.start_opt_in(T0);
        let c = code(&d, T0);
        d.send_opt_in_code(c, T0);
        assert_eq!(d.consent_state(T0), OptInState::InSession);
        d.redirection_session_ended(RedirectionKind::Kvm, &admin(), T0);
        assert_eq!(d.consent_state(T0), OptInState::Received);
        // A closed session no longer counts: the next code is RECEIVED.
        d.cancel_opt_in(T0);
        d.start_opt_in(T0);
        let c = code(&d, T0);
        d.send_opt_in_code(c, T0);
        assert_eq!(d.consent_state(T0), OptInState::Received);
    }

    #[test]
    fn in_session_lasts_until_the_last_holding_session_closes() {
        let mut d = device();
        d.put_opt_in_service(OptInPut {
            required: Some(u32::MAX),
            ..OptInPut::default()
        })
        .unwrap();
        d.start_opt_in(T0);
        let c = code(&d, T0);
        d.send_opt_in_code(c, T0);
        assert!(d.redirection_session_started(RedirectionKind::Ider, &admin(), T0));
        assert!(d.redirection_session_started(RedirectionKind::Kvm, &admin(), T0));
        d.redirection_session_ended(RedirectionKind::Ider, &admin(), T0);
        assert_eq!(d.consent_state(T0), OptInState::InSession);
        d.redirection_session_ended(RedirectionKind::Kvm, &admin(), T0);
        assert_eq!(d.consent_state(T0), OptInState::Received);
    }

    #[test]
    fn session_records_follow_the_audit_policy_and_name_the_initiator() {
        use crate::audit_log::{AuditInitiator, AuditPolicyChange};
        let mut d = device();
        d.redirection_session_started(RedirectionKind::Kvm, &RedirectionUser::KvmDefaultPort, T0);
        d.redirection_session_ended(RedirectionKind::Kvm, &RedirectionUser::KvmDefaultPort, T0);
        let initiators: Vec<_> = d
            .audit_log()
            .records()
            .iter()
            .map(|r| r.initiator.clone())
            .collect();
        assert_eq!(
            initiators,
            [
                AuditInitiator::KvmDefaultPort,
                AuditInitiator::KvmDefaultPort
            ]
        );
        let off = |event_id| AuditPolicyChange {
            enable: false,
            app_id: 18,
            event_id,
            policy_type: None,
        };
        d.set_audit_policy(&[off(8), off(9)]).unwrap();
        d.redirection_session_started(RedirectionKind::Kvm, &admin(), T0);
        d.redirection_session_ended(RedirectionKind::Kvm, &admin(), T0);
        assert_eq!(d.audit_log().records().len(), 2, "no new records");
    }

    #[test]
    fn cancel_ends_consent_and_needs_one() {
        let mut d = device();
        assert_eq!(d.cancel_opt_in(T0), OptInStatus::InvalidState);
        d.start_opt_in(T0);
        assert_eq!(d.cancel_opt_in(T0), OptInStatus::Success);
        assert_eq!(d.consent_state(T0), OptInState::NotStarted);
    }

    #[test]
    fn client_control_mode_keeps_consent_on() {
        let mut d = device();
        d.provision_for_testing(ControlMode::Client, "P@ssw0rd");
        let none = OptInPut {
            required: Some(0),
            ..OptInPut::default()
        };
        assert_eq!(d.put_opt_in_service(none), Err(PtStatus::NOT_PERMITTED));
        let all = OptInPut {
            required: Some(u32::MAX),
            ..OptInPut::default()
        };
        assert_eq!(d.put_opt_in_service(all), Ok(()));
        assert_eq!(d.opt_in_required(), OptInRequired::All);
        assert!(d.consent_needed_for(ConsentFeature::StorageRedirection));

        let mut acm = device();
        acm.provision_for_testing(ControlMode::Admin, "P@ssw0rd");
        assert_eq!(acm.put_opt_in_service(none), Ok(()));
        assert!(!acm.consent_needed_for(ConsentFeature::Kvm));
        assert_eq!(
            acm.put_opt_in_service(OptInPut {
                required: Some(2),
                ..OptInPut::default()
            }),
            Err(PtStatus::INVALID_PARAMETER)
        );
    }

    #[test]
    fn a_restart_forgets_the_consent_in_progress() {
        let mut d = device();
        d.start_opt_in(T0);
        let mut cycled = d.clone();
        cycled.power_cycle();
        assert_eq!(cycled.consent_state(T0), OptInState::NotStarted);
        let image = crate::flash::encode(&d);
        let back = crate::flash::decode(&image, Entropy::from_seed(1)).unwrap();
        assert_eq!(back.consent_state(T0), OptInState::NotStarted);
        assert_eq!(back.user_consent().display_timeout(), 300);
    }
}
