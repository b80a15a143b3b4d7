//! The call journal: every WS-Man request and its answer, and every
//! request to the firmware web UI (`"kind": "web"`), kept in memory with a
//! bound and optionally appended to a JSON-lines file, so a test author
//! can see what a console or a person with a browser did. Secrets never
//! reach it: passwords, password hashes, private keys and digest responses
//! are redacted, in XML bodies and in form fields alike.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::watch;

/// Entries kept in memory by default.
pub const DEFAULT_CAPACITY: usize = 1000;

pub use amt_wsman::redact::REDACTED;

/// One request and its answer. The fields after `via` are optional and
/// absent when not set, so a reader of older entries keeps working.
#[derive(Clone, Debug, Default, Serialize)]
pub struct JournalEntry {
    pub seq: u64,
    /// RFC 3339 time the request arrived.
    pub time: String,
    pub interface: String,
    pub user: Option<String>,
    pub resource_uri: Option<String>,
    pub class: Option<String>,
    pub action: Option<String>,
    pub selectors: Vec<(String, String)>,
    pub http_status: u16,
    pub duration_ms: f64,
    /// WS-Man fault subcode, when the answer was a fault.
    pub fault: Option<String>,
    /// What an injected fault did, if any.
    pub injected: Option<String>,
    pub request_body: Option<String>,
    pub response_body: Option<String>,
    /// `recording` when a recorded reply answered (`serve --replay`: a
    /// class the model lacks); absent when the model did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<String>,
    /// `cira` when the request came through a channel of the CIRA tunnel;
    /// absent for a direct connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// `web` for a request to the firmware web UI; absent for WS-Man (and
    /// redirection, whose `class` says so).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `plain` (16992) or `tls` (16993), where the entry's listener knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
    /// The HTTP method of a web UI request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The path of a web UI request, undecoded, without its query.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// What a web UI form asked the device to do, e.g. `power: reset`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form_action: Option<String>,
    /// How a web UI form post ended: `done`, `not available in the current
    /// power state`, `not saved to flash`, or `refused: <why>` (a 400).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form_result: Option<String>,
}

/// `JournalEntry::kind` of a web UI request.
pub const KIND_WEB: &str = "web";

/// The journal of one device.
#[derive(Debug)]
pub struct Journal {
    inner: Mutex<JournalState>,
    /// The newest entry's `seq`, for followers (the dashboard's live
    /// journal) to wait on instead of polling.
    newest: watch::Sender<u64>,
}

#[derive(Debug)]
struct JournalState {
    entries: VecDeque<JournalEntry>,
    capacity: usize,
    next_seq: u64,
    keep_bodies: bool,
    file: Option<std::fs::File>,
}

impl Journal {
    pub fn new(capacity: usize, keep_bodies: bool, file: Option<std::fs::File>) -> Self {
        Journal {
            inner: Mutex::new(JournalState {
                entries: VecDeque::new(),
                capacity: capacity.max(1),
                next_seq: 1,
                keep_bodies,
                file,
            }),
            newest: watch::Sender::new(0),
        }
    }

    /// Changes to the newest entry's `seq`; read the entries after the
    /// last one seen with [`Journal::entries`].
    pub fn follow(&self) -> watch::Receiver<u64> {
        self.newest.subscribe()
    }

    /// The newest entry, if any.
    pub fn last(&self) -> Option<JournalEntry> {
        let st = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        st.entries.back().cloned()
    }

    /// Whether request and response bodies are kept.
    pub fn keeps_bodies(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keep_bodies
    }

    /// Records an entry (bodies are redacted, and dropped unless kept).
    pub fn record(&self, mut entry: JournalEntry) {
        let mut st = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        entry.seq = st.next_seq;
        st.next_seq += 1;
        if st.keep_bodies {
            // A web UI request body is a form, not XML.
            let web = entry.kind.as_deref() == Some(KIND_WEB);
            entry.request_body =
                entry
                    .request_body
                    .map(|b| if web { redact_form(&b) } else { redact(&b) });
            entry.response_body = entry.response_body.map(|b| redact(&b));
        } else {
            entry.request_body = None;
            entry.response_body = None;
        }
        if let Some(f) = st.file.as_mut() {
            if let Ok(mut line) = serde_json::to_vec(&entry) {
                line.push(b'\n');
                if let Err(e) = f.write_all(&line) {
                    tracing::warn!(error = %e, "cannot append to the journal file");
                }
            }
        }
        while st.entries.len() >= st.capacity {
            st.entries.pop_front();
        }
        let seq = entry.seq;
        st.entries.push_back(entry);
        drop(st);
        self.newest.send_replace(seq);
    }

    /// Entries with `seq` greater than `after`, oldest first.
    pub fn entries(&self, after: u64) -> Vec<JournalEntry> {
        let st = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        st.entries
            .iter()
            .filter(|e| e.seq > after)
            .cloned()
            .collect()
    }

    pub fn clear(&self) {
        let mut st = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        st.entries.clear();
    }
}

/// A journal entry's time: RFC 3339, empty if it cannot be written.
pub fn timestamp(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Masks the content of every secret element (any prefix) in an XML text
/// (`amt_wsman::redact`: the recorder masks recordings the same way).
pub fn redact(xml: &str) -> String {
    amt_wsman::redact::redact(xml)
}

/// Substrings of a form field name that make its value a secret (any
/// case): `password`, `NetworkAdminPassword`, `MEBxPassword`, `PassPhrase`,
/// `pwd`, `PSKValue`, `KeyBlob`, `secret`, `token` …
const SECRET_FIELD_WORDS: &[&str] = &["pass", "pwd", "psk", "key", "secret", "token"];

/// Masks the value of every secret field of an
/// `application/x-www-form-urlencoded` text. Lenient where the web UI's
/// form reader is strict, since a refused body is journaled too: a name is
/// `%`-decoded as far as it goes before it is judged, so `pass%77ord` is
/// a password; a piece without `=` whose name is secret is masked whole.
/// Other fields are kept as sent.
pub fn redact_form(body: &str) -> String {
    body.split('&')
        .map(|piece| {
            let (name, has_value) = match piece.split_once('=') {
                Some((name, _)) => (name, true),
                None => (piece, false),
            };
            let decoded = lenient_decode(name).to_ascii_lowercase();
            if !SECRET_FIELD_WORDS.iter().any(|w| decoded.contains(w)) {
                piece.to_string()
            } else if has_value {
                format!("{name}={REDACTED}")
            } else {
                REDACTED.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `%XX` and `+` decoded where well-formed, anything else kept.
fn lenient_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| {
            bytes
                .get(j)
                .and_then(|c| (*c as char).to_digit(16))
                .map(|d| d as u8)
        };
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_sequenced() {
        let j = Journal::new(3, true, None);
        for _ in 0..5 {
            j.record(JournalEntry {
                interface: "remote".into(),
                http_status: 200,
                request_body: Some("<Password>x</Password>".into()),
                ..JournalEntry::default()
            });
        }
        let e = j.entries(0);
        assert_eq!(e.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 4, 5]);
        assert_eq!(
            e[0].request_body.as_deref(),
            Some("<Password>***</Password>")
        );
        assert_eq!(j.entries(4).len(), 1);
    }

    #[test]
    fn secret_form_fields_are_masked_whatever_their_spelling() {
        assert_eq!(redact_form("power=8&t="), "power=8&t=");
        assert_eq!(
            redact_form("power=8&password=S3cr%21t&x=1"),
            "power=8&password=***&x=1"
        );
        assert_eq!(
            redact_form("Pass%77ord=a&NewPwd=b"),
            "Pass%77ord=***&NewPwd=***"
        );
        assert_eq!(redact_form("MEBxPassword=a+b"), "MEBxPassword=***");
        assert_eq!(redact_form("secret"), "***");
        // Broken escapes do not hide a name.
        assert_eq!(redact_form("%zzpassword=x&%4"), "%zzpassword=***&%4");
        assert_eq!(redact_form(""), "");
    }

    #[test]
    fn a_web_entry_s_form_body_is_redacted_as_a_form() {
        let j = Journal::new(3, true, None);
        j.record(JournalEntry {
            kind: Some(KIND_WEB.into()),
            request_body: Some("power=8&adminPassword=hunter2".into()),
            ..JournalEntry::default()
        });
        let e = j.entries(0);
        assert_eq!(
            e[0].request_body.as_deref(),
            Some("power=8&adminPassword=***")
        );
        let json = serde_json::to_string(&e[0]).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        assert!(json.contains("\"kind\":\"web\""), "{json}");
    }
}
