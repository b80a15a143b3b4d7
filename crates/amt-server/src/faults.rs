//! Fault injection: make a device misbehave on purpose, scoped by class,
//! operation or method, by the connection a request came on (its first
//! request, its TLS version) and by count ("the next 2 CommitChanges",
//! "every AdminSetup", "the first request of a TLS 1.3 connection").

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::tls::TlsVersion;

/// What an injected fault does to a matching request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer normally, `ms` milliseconds late.
    Delay { ms: u64 },
    /// Close the connection without processing the request.
    DropBeforeResponse,
    /// Process the request (changes are kept), then close the connection
    /// without answering: what AMT 19+ does on CommitChanges.
    DropAfterResponse,
    /// Answer this WS-Man fault instead of processing the request.
    SoapFault {
        /// e.g. `wsman:InternalError`, `wsman:AccessDenied`.
        subcode: String,
        #[serde(default)]
        reason: Option<String>,
    },
    /// Answer a method call with this ReturnValue instead of running it.
    ReturnValue { value: u32 },
    /// Answer HTTP 500 with an empty body.
    Http500,
    /// Answer bytes that are not HTTP, then close.
    Garbage,
    /// Never answer (the connection stays open until the client gives up).
    Stall,
    /// Refuse TLS handshakes for `seconds` (the firmware's TLS
    /// re-initialisation window), starting when the rule is added.
    RefuseTls { seconds: u64 },
    /// Process the request (changes are kept), close its connection
    /// without answering, and take every listener of the device down
    /// (WS-Man plain and TLS, redirection, RMCP, on the network and the
    /// local interface) for `seconds`, after which they reopen on the same
    /// ports: the port stack restart AMT 19–21 go through on CommitChanges
    /// (rpc-go waits for "AMT services to stabilize" before reconnecting).
    /// Connections already open are left to finish.
    RestartPorts { seconds: u64 },
    /// Redirection (16994/16995): refuse the session at its start
    /// (StartRedirectionSessionReply with status 0xFF, then close).
    /// Session rules are scoped by `class` = `SOL`, `IDER` or `KVM` (empty:
    /// any session) and never match WS-Man requests, nor WS-Man rules
    /// sessions.
    RefuseSession,
    /// Redirection: close the connection once the session has sent
    /// `after_bytes` bytes of host data to the console (mid-stream).
    DropSession {
        #[serde(default)]
        after_bytes: u64,
    },
    /// Redirection: the session opens, then the device stops sending
    /// anything (no data, no heartbeats) and ignores what it receives.
    StallSession,
}

impl FaultKind {
    /// Whether this kind applies to redirection sessions (not WS-Man).
    pub fn is_session_fault(&self) -> bool {
        matches!(
            self,
            FaultKind::RefuseSession | FaultKind::DropSession { .. } | FaultKind::StallSession
        )
    }
}

/// Which requests a rule applies to. Empty fields match anything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultScope {
    /// Class name, e.g. `AMT_SetupAndConfigurationService`.
    #[serde(default)]
    pub class: Option<String>,
    /// `Get`, `Put`, `Create`, `Delete`, `Enumerate`, `Pull`, `Release`, or
    /// a method name such as `CommitChanges`.
    #[serde(default)]
    pub operation: Option<String>,
    /// Only the first HTTP request of its connection (the one right after
    /// the TCP accept or the TLS handshake). A digest challenge counts: it
    /// is the first request, and the firmware closes the connection after
    /// it, so the authenticated retry is the first on its own connection.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub first_on_connection: bool,
    /// Only requests over a TLS connection that negotiated this version
    /// (`"1.2"`, `"1.3"`; also `"1.0"`, `"1.1"`); plain connections never
    /// match.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "tls_version_name"
    )]
    pub tls_version: Option<TlsVersion>,
}

/// `tls_version` as rules write it: `"1.3"` (`"TLSv1.3"` is read too).
mod tls_version_name {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::tls::TlsVersion;

    pub(super) fn name(v: TlsVersion) -> &'static str {
        match v {
            TlsVersion::Tls1_0 => "1.0",
            TlsVersion::Tls1_1 => "1.1",
            TlsVersion::Tls1_2 => "1.2",
            TlsVersion::Tls1_3 => "1.3",
        }
    }

    pub(super) fn parse(text: &str) -> Option<TlsVersion> {
        let t = text.trim();
        let t = t
            .strip_prefix("TLSv")
            .or_else(|| t.strip_prefix("tlsv"))
            .unwrap_or(t);
        Some(match t {
            "1" | "1.0" => TlsVersion::Tls1_0,
            "1.1" => TlsVersion::Tls1_1,
            "1.2" => TlsVersion::Tls1_2,
            "1.3" => TlsVersion::Tls1_3,
            _ => return None,
        })
    }

    pub(super) fn serialize<S: Serializer>(
        v: &Option<TlsVersion>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(name(*v)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<TlsVersion>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| {
            parse(&t).ok_or_else(|| {
                D::Error::custom(format!(
                    "tls_version {t:?}: expected \"1.0\", \"1.1\", \"1.2\" or \"1.3\""
                ))
            })
        })
        .transpose()
    }
}

/// A rule as added through the control API, the CLI or a scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    #[serde(default)]
    pub id: u32,
    #[serde(flatten)]
    pub scope: FaultScope,
    #[serde(flatten)]
    pub kind: FaultKind,
    /// How many matching requests it applies to; `None` for every one.
    #[serde(default)]
    pub times: Option<u32>,
    /// How many times it has fired.
    #[serde(default)]
    pub fired: u32,
}

/// What the request path learns about a request, to match rules and to
/// journal it.
#[derive(Clone, Debug, Default)]
pub struct RequestFacts {
    pub resource_uri: Option<String>,
    pub action: Option<String>,
    /// The class name: the last segment of the ResourceURI.
    pub class: Option<String>,
    /// `Get`, `Put`, … or the method name.
    pub operation: Option<String>,
    pub selectors: Vec<(String, String)>,
    /// What the connection the request came on says about it.
    pub connection: ConnectionFacts,
}

/// What the listener knows about a request's connection, without looking
/// at the request: how many requests came before it on that connection,
/// and the TLS version its handshake settled (none on a plain one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionFacts {
    /// 0 for the first request of the connection.
    pub request_index: u32,
    pub tls_version: Option<TlsVersion>,
}

impl RequestFacts {
    /// What a parsed request says about itself; an unparsable body gives
    /// empty facts (the engine answers it with a fault).
    pub fn of(parsed: Result<&amt_wsman::envelope::Request, &amt_wsman::fault::Fault>) -> Self {
        let Ok(req) = parsed else {
            return RequestFacts::default();
        };
        let class = req
            .resource_uri
            .as_deref()
            .and_then(|u| u.rsplit('/').next())
            .map(str::to_string);
        let operation = req
            .action
            .as_deref()
            .and_then(|a| a.rsplit('/').next())
            .map(str::to_string);
        let selectors = req
            .selectors
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    s.text().unwrap_or("(reference)").to_string(),
                )
            })
            .collect();
        RequestFacts {
            resource_uri: req.resource_uri.clone(),
            action: req.action.clone(),
            class,
            operation,
            selectors,
            connection: ConnectionFacts::default(),
        }
    }

    /// These facts, for a request that came on `connection`.
    pub fn on(mut self, connection: ConnectionFacts) -> Self {
        self.connection = connection;
        self
    }

    /// Whether the request is a read (Get, Enumerate, Pull, Release), which
    /// never changes the device.
    pub fn reads_only(&self) -> bool {
        matches!(
            self.action.as_deref(),
            Some(
                "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"
                    | "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate"
                    | "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull"
                    | "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Release"
            )
        )
    }

    /// The part fault rules match on.
    pub fn fault_facts(&self) -> RequestFacts {
        RequestFacts {
            class: self.class.clone(),
            operation: self.operation.clone(),
            connection: self.connection,
            ..RequestFacts::default()
        }
    }
}

/// The rules of one device.
#[derive(Debug, Default)]
pub struct FaultInjector {
    state: Mutex<FaultState>,
}

#[derive(Debug, Default)]
struct FaultState {
    rules: Vec<FaultRule>,
    next_id: u32,
    tls_refused_until: Option<Instant>,
}

impl FaultInjector {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a rule and returns its id. A `RefuseTls` rule takes effect at
    /// once and is not kept.
    pub fn add(&self, mut rule: FaultRule) -> u32 {
        let mut st = self.lock();
        st.next_id += 1;
        rule.id = st.next_id;
        rule.fired = 0;
        if let FaultKind::RefuseTls { seconds } = rule.kind {
            st.tls_refused_until = Some(crate::clock::monotonic() + Duration::from_secs(seconds));
            return rule.id;
        }
        st.rules.push(rule);
        st.next_id
    }

    pub fn rules(&self) -> Vec<FaultRule> {
        self.lock().rules.clone()
    }

    pub fn remove(&self, id: u32) -> bool {
        let mut st = self.lock();
        let before = st.rules.len();
        st.rules.retain(|r| r.id != id);
        st.rules.len() != before
    }

    pub fn clear(&self) {
        let mut st = self.lock();
        st.rules.clear();
        st.tls_refused_until = None;
    }

    /// Whether TLS handshakes are refused right now.
    pub fn tls_refused(&self) -> bool {
        let mut st = self.lock();
        match st.tls_refused_until {
            Some(until) if crate::clock::monotonic() < until => true,
            Some(_) => {
                st.tls_refused_until = None;
                false
            }
            None => false,
        }
    }

    /// The fault for this request, if a rule matches; the rule's count is
    /// spent and an exhausted rule is removed.
    pub fn take(&self, facts: &RequestFacts) -> Option<FaultKind> {
        let mut st = self.lock();
        let idx = st
            .rules
            .iter()
            .position(|r| !r.kind.is_session_fault() && matches(&r.scope, facts))?;
        let rule = &mut st.rules[idx];
        rule.fired += 1;
        let kind = rule.kind.clone();
        if rule.times.is_some_and(|t| rule.fired >= t) {
            st.rules.remove(idx);
        }
        Some(kind)
    }
}

impl FaultInjector {
    /// The fault for a redirection session of `kind` (`SOL`, `IDER`,
    /// `KVM`) about to start, if a session rule matches; counted as
    /// [`FaultInjector::take`] counts.
    pub fn take_session(&self, kind: &str) -> Option<FaultKind> {
        let mut st = self.lock();
        let idx = st.rules.iter().position(|r| {
            r.kind.is_session_fault()
                && r.scope
                    .class
                    .as_deref()
                    .is_none_or(|c| c.eq_ignore_ascii_case(kind))
        })?;
        let rule = &mut st.rules[idx];
        rule.fired += 1;
        let k = rule.kind.clone();
        if rule.times.is_some_and(|t| rule.fired >= t) {
            st.rules.remove(idx);
        }
        Some(k)
    }
}

fn matches(scope: &FaultScope, facts: &RequestFacts) -> bool {
    let field = |want: &Option<String>, got: &Option<String>| match want {
        None => true,
        Some(w) => got.as_deref().is_some_and(|g| g.eq_ignore_ascii_case(w)),
    };
    field(&scope.class, &facts.class)
        && field(&scope.operation, &facts.operation)
        && (!scope.first_on_connection || facts.connection.request_index == 0)
        && scope
            .tls_version
            .is_none_or(|v| facts.connection.tls_version == Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(class: &str, op: &str) -> RequestFacts {
        RequestFacts {
            class: Some(class.into()),
            operation: Some(op.into()),
            ..RequestFacts::default()
        }
    }

    #[test]
    fn counted_rules_expire() {
        let f = FaultInjector::new();
        f.add(FaultRule {
            id: 0,
            scope: FaultScope {
                operation: Some("CommitChanges".into()),
                ..FaultScope::default()
            },
            kind: FaultKind::DropAfterResponse,
            times: Some(2),
            fired: 0,
        });
        let commit = facts("AMT_SetupAndConfigurationService", "CommitChanges");
        assert_eq!(f.take(&facts("AMT_GeneralSettings", "Get")), None);
        assert_eq!(f.take(&commit), Some(FaultKind::DropAfterResponse));
        assert_eq!(f.take(&commit), Some(FaultKind::DropAfterResponse));
        assert_eq!(f.take(&commit), None);
        assert!(f.rules().is_empty());
    }

    #[test]
    fn every_time_rules_stay() {
        let f = FaultInjector::new();
        let id = f.add(FaultRule {
            id: 0,
            scope: FaultScope {
                class: Some("IPS_HostBasedSetupService".into()),
                operation: Some("AdminSetup".into()),
                ..FaultScope::default()
            },
            kind: FaultKind::ReturnValue { value: 1 },
            times: None,
            fired: 0,
        });
        for _ in 0..5 {
            assert!(f
                .take(&facts("ips_hostbasedsetupservice", "adminsetup"))
                .is_some());
        }
        assert!(f.remove(id));
        assert!(!f.remove(id));
    }

    #[test]
    fn rules_parse_from_json_and_toml_shapes() {
        let r: FaultRule =
            serde_json::from_str(r#"{"operation":"Get","kind":"delay","ms":250,"times":1}"#)
                .unwrap();
        assert_eq!(r.kind, FaultKind::Delay { ms: 250 });
        assert_eq!(r.scope.operation.as_deref(), Some("Get"));
        let r: FaultRule =
            serde_json::from_str(r#"{"kind":"soap_fault","subcode":"wsman:AccessDenied"}"#)
                .unwrap();
        assert!(matches!(r.kind, FaultKind::SoapFault { .. }));
    }

    #[test]
    fn refuse_tls_is_a_window() {
        let f = FaultInjector::new();
        assert!(!f.tls_refused());
        f.add(FaultRule {
            id: 0,
            scope: FaultScope::default(),
            kind: FaultKind::RefuseTls { seconds: 60 },
            times: None,
            fired: 0,
        });
        assert!(f.tls_refused());
        f.clear();
        assert!(!f.tls_refused());
    }

    #[test]
    fn connection_scoped_rules_match_the_first_request_of_a_tls_1_3_connection() {
        let f = FaultInjector::new();
        let rule: FaultRule = serde_json::from_str(
            r#"{"kind":"drop_before_response","first_on_connection":true,"tls_version":"1.3"}"#,
        )
        .unwrap();
        assert!(rule.scope.first_on_connection);
        assert_eq!(rule.scope.tls_version, Some(TlsVersion::Tls1_3));
        f.add(rule);
        let get = |request_index, tls_version| {
            facts("AMT_GeneralSettings", "Get").on(ConnectionFacts {
                request_index,
                tls_version,
            })
        };
        assert_eq!(f.take(&get(0, None)), None, "plain connections never match");
        assert_eq!(f.take(&get(0, Some(TlsVersion::Tls1_2))), None);
        assert_eq!(
            f.take(&get(1, Some(TlsVersion::Tls1_3))),
            None,
            "not the first"
        );
        assert_eq!(
            f.take(&get(0, Some(TlsVersion::Tls1_3)).fault_facts()),
            Some(FaultKind::DropBeforeResponse)
        );
    }

    #[test]
    fn connection_scope_round_trips_and_stays_out_of_plain_rules() {
        let r: FaultRule = serde_json::from_str(
            r#"{"operation":"CommitChanges","kind":"restart_ports","seconds":5,"times":1}"#,
        )
        .unwrap();
        assert_eq!(r.kind, FaultKind::RestartPorts { seconds: 5 });
        let text = serde_json::to_string(&r).unwrap();
        assert!(!text.contains("first_on_connection"), "{text}");
        assert!(!text.contains("tls_version"), "{text}");
        let r: FaultRule = serde_json::from_str(
            r#"{"kind":"delay","ms":1,"first_on_connection":true,"tls_version":"TLSv1.2"}"#,
        )
        .unwrap();
        let back: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(back["tls_version"], "1.2");
        assert_eq!(back["first_on_connection"], true);
        let e = serde_json::from_str::<FaultRule>(r#"{"kind":"stall","tls_version":"1.4"}"#)
            .unwrap_err();
        assert!(e.to_string().contains("tls_version"), "{e}");
    }
}
