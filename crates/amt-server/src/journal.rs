//! The call journal: every WS-Man request and its answer, kept in memory
//! with a bound and optionally appended to a JSON-lines file, so a test
//! author can see what a console did. Secrets never reach it: passwords,
//! password hashes, private keys and digest responses are redacted.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::watch;

/// Entries kept in memory by default.
pub const DEFAULT_CAPACITY: usize = 1000;

pub use amt_wsman::redact::REDACTED;

/// One request and its answer.
#[derive(Clone, Debug, Serialize)]
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
}

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
            entry.request_body = entry.request_body.map(|b| redact(&b));
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

/// Masks the content of every secret element (any prefix) in an XML text
/// (`amt_wsman::redact`: the recorder masks recordings the same way).
pub fn redact(xml: &str) -> String {
    amt_wsman::redact::redact(xml)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_sequenced() {
        let j = Journal::new(3, true, None);
        for _ in 0..5 {
            j.record(JournalEntry {
                seq: 0,
                time: String::new(),
                interface: "remote".into(),
                user: None,
                resource_uri: None,
                class: None,
                action: None,
                selectors: Vec::new(),
                http_status: 200,
                duration_ms: 0.0,
                fault: None,
                injected: None,
                request_body: Some("<Password>x</Password>".into()),
                response_body: None,
                answered_by: None,
                via: None,
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
}
