//! The recording layout on disk, version 1 (docs/recording.md):
//!
//! ```text
//! DIR/index.json                              what was exchanged, in order
//! DIR/<Class>/<Operation>--<seq>.request.xml  the console's request
//! DIR/<Class>/<Operation>--<seq>.response.xml the device's reply
//! ```
//!
//! the same class/operation folders as the project's `fixtures/firmware`.
//! Every body is redacted before it is written (`amt_wsman::redact`), and
//! no `Authorization` header is kept: a recording holds no password, key or
//! hash in clear. A recording that is corrupt or of another layout version
//! is refused with the file (and, in the index, the line) named.

use std::path::{Path, PathBuf};

use amt_wsman::envelope::{Request, SelectorValue};
use amt_wsman::redact::redact;
use amt_wsman::replay::{Replay, ReplayEntry};
use serde::{Deserialize, Serialize};

/// `layout` of every index this build reads and writes.
pub const LAYOUT: &str = "amt-emu-recording";
/// The layout version this build reads and writes.
pub const VERSION: u32 = 1;
pub const INDEX_FILE: &str = "index.json";

/// Headers never written into a recording.
const SECRET_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie"];

/// `index.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    pub layout: String,
    pub version: u32,
    /// Where the replies came from (`https://host:16993/wsman`).
    pub upstream: String,
    /// RFC 3339 time the recording started.
    pub recorded_at: String,
    pub exchanges: Vec<Exchange>,
}

/// One request and the device's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    pub seq: u64,
    /// The class (last segment of the ResourceURI), `Identify`, or
    /// `_unparsed` for a body that is not a WS-Man request.
    pub class: String,
    pub resource_uri: Option<String>,
    pub action: Option<String>,
    /// `Get`, `Put`, `Enumerate`, `Pull`, ... or the method name.
    pub operation: String,
    /// Text selectors of the request.
    #[serde(default)]
    pub selectors: Vec<(String, String)>,
    /// Paths relative to the recording directory.
    pub request: String,
    pub response: String,
    pub status: u16,
    pub duration_ms: f64,
    /// Reply headers as received (names lower-case).
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

/// Why a recording could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("{file}: {message}")]
    Io { file: PathBuf, message: String },
    #[error("{file}:{line}:{column}: {message}")]
    Corrupt {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}:{line}: layout {found:?} version {version} is not {LAYOUT:?} version {VERSION}: this build cannot read it")]
    UnknownLayout {
        file: PathBuf,
        line: usize,
        found: String,
        version: u64,
    },
}

fn io_error(file: &Path, e: impl std::fmt::Display) -> RecordingError {
    RecordingError::Io {
        file: file.to_path_buf(),
        message: e.to_string(),
    }
}

/// A recording read from disk: the index and every body.
#[derive(Clone, Debug)]
pub struct Recording {
    pub dir: PathBuf,
    pub index: Index,
    /// `(request, response)` bodies, by position in `index.exchanges`.
    pub bodies: Vec<(String, String)>,
}

impl Recording {
    /// Reads and checks `dir/index.json` and every file it names.
    pub fn load(dir: &Path) -> Result<Recording, RecordingError> {
        let file = dir.join(INDEX_FILE);
        let text = std::fs::read_to_string(&file).map_err(|e| io_error(&file, e))?;
        let line_of = |needle: &str| {
            text.find(needle)
                .map(|at| text[..at].matches('\n').count() + 1)
                .unwrap_or(1)
        };
        // The layout and version first, so another version is named as such
        // rather than as a field error.
        let head: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| RecordingError::Corrupt {
                file: file.clone(),
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })?;
        let layout = head.get("layout").and_then(|v| v.as_str()).unwrap_or("");
        let version = head.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
        if layout != LAYOUT || version != u64::from(VERSION) {
            return Err(RecordingError::UnknownLayout {
                line: line_of(if layout != LAYOUT {
                    "\"layout\""
                } else {
                    "\"version\""
                }),
                file,
                found: layout.to_string(),
                version,
            });
        }
        let index: Index = serde_json::from_str(&text).map_err(|e| RecordingError::Corrupt {
            file: file.clone(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        let mut bodies = Vec::with_capacity(index.exchanges.len());
        for x in &index.exchanges {
            let read = |rel: &str| -> Result<String, RecordingError> {
                let path = checked_path(dir, rel).ok_or_else(|| RecordingError::Corrupt {
                    file: file.clone(),
                    line: line_of(&format!("\"{rel}\"")),
                    column: 1,
                    message: format!("{rel:?} is not a path inside the recording"),
                })?;
                std::fs::read_to_string(&path).map_err(|e| RecordingError::Corrupt {
                    file: file.clone(),
                    line: line_of(&format!("\"{rel}\"")),
                    column: 1,
                    message: format!("{}: {e}", path.display()),
                })
            };
            bodies.push((read(&x.request)?, read(&x.response)?));
        }
        Ok(Recording {
            dir: dir.to_path_buf(),
            index,
            bodies,
        })
    }

    /// The exchanges a replay can answer with: every reply the device gave
    /// to an authenticated request (its 401 challenges are not answers).
    pub fn replay(&self) -> Replay {
        Replay::new(
            self.index
                .exchanges
                .iter()
                .zip(&self.bodies)
                .filter(|(x, _)| x.status != 401)
                .filter_map(|(x, (_, response))| {
                    Some(ReplayEntry {
                        resource_uri: x.resource_uri.clone()?,
                        action: x.action.clone()?,
                        selectors: x.selectors.clone(),
                        status: x.status,
                        body: response.clone(),
                    })
                })
                .collect(),
        )
    }

    /// The reply recorded for `class`'s `operation` (the last one), with
    /// its request.
    pub fn find(&self, class: &str, operation: &str) -> Option<(&Exchange, &str, &str)> {
        self.index
            .exchanges
            .iter()
            .zip(&self.bodies)
            .rev()
            .find(|(x, _)| x.class == class && x.operation == operation && x.status != 401)
            .map(|(x, (q, r))| (x, q.as_str(), r.as_str()))
    }
}

/// `rel` under `dir`, if it stays inside (no absolute path, no `..`).
fn checked_path(dir: &Path, rel: &str) -> Option<PathBuf> {
    let p = Path::new(rel);
    let inside = p
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    (inside && !rel.is_empty()).then(|| dir.join(p))
}

/// What a request addresses, for the index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addressed {
    pub class: String,
    pub resource_uri: Option<String>,
    pub action: Option<String>,
    pub operation: String,
    pub selectors: Vec<(String, String)>,
}

/// Reads what `request` addresses (never fails: a body that is not a
/// WS-Man request is filed as `_unparsed`).
pub fn classify(request: &[u8]) -> Addressed {
    let named = |class: &str| Addressed {
        class: class.into(),
        resource_uri: None,
        action: None,
        operation: class.into(),
        selectors: Vec::new(),
    };
    let Ok(parsed) = Request::parse(request) else {
        return named("_unparsed");
    };
    if amt_wsman::identify::is_identify(&parsed) {
        return named("Identify");
    }
    let resource_uri = parsed.resource_uri.as_deref().map(|u| u.trim().to_string());
    let action = parsed.action.as_deref().map(|a| a.trim().to_string());
    // File names come from the request: only plain identifiers are used.
    let identifier =
        |s: &&str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let class = resource_uri
        .as_deref()
        .and_then(|u| u.rsplit('/').next())
        .filter(identifier)
        .unwrap_or("_unknown")
        .to_string();
    let operation = action
        .as_deref()
        .and_then(|a| a.rsplit('/').next())
        .filter(identifier)
        .unwrap_or("_unknown")
        .to_string();
    let selectors = parsed
        .selectors
        .iter()
        .filter(|s| s.name != "__cimnamespace")
        .filter_map(|s| match &s.value {
            SelectorValue::Text(t) => Some((s.name.clone(), t.trim().to_string())),
            SelectorValue::EndpointReference(_) => None,
        })
        .collect();
    Addressed {
        class,
        resource_uri,
        action,
        operation,
        selectors,
    }
}

/// Writes a recording as it is made; the index is rewritten (atomically)
/// after every exchange, so an interrupted recording is still readable.
#[derive(Debug)]
pub struct RecordingWriter {
    dir: PathBuf,
    index: Index,
}

impl RecordingWriter {
    /// Starts a recording in `dir` (created; must not hold one already).
    pub fn create(dir: &Path, upstream: &str) -> Result<Self, RecordingError> {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        let index_file = dir.join(INDEX_FILE);
        if index_file.exists() {
            return Err(io_error(
                &index_file,
                "a recording is already there: choose another --out",
            ));
        }
        let recorded_at = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let w = RecordingWriter {
            dir: dir.to_path_buf(),
            index: Index {
                layout: LAYOUT.into(),
                version: VERSION,
                upstream: upstream.into(),
                recorded_at,
                exchanges: Vec::new(),
            },
        };
        w.write_index()?;
        Ok(w)
    }

    pub fn len(&self) -> usize {
        self.index.exchanges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.exchanges.is_empty()
    }

    /// Redacts and writes one exchange.
    pub fn append(
        &mut self,
        request: &[u8],
        status: u16,
        headers: &[(String, String)],
        response: &[u8],
        duration_ms: f64,
    ) -> Result<&Exchange, RecordingError> {
        let seq = self.index.exchanges.len() as u64 + 1;
        let Addressed {
            class,
            resource_uri,
            action,
            operation,
            selectors,
        } = classify(request);
        let folder = self.dir.join(&class);
        std::fs::create_dir_all(&folder).map_err(|e| io_error(&folder, e))?;
        let stem = format!("{operation}--{seq:04}");
        let request_rel = format!("{class}/{stem}.request.xml");
        let response_rel = format!("{class}/{stem}.response.xml");
        for (rel, body) in [(&request_rel, request), (&response_rel, response)] {
            let path = self.dir.join(rel);
            let text = redact(&String::from_utf8_lossy(body));
            std::fs::write(&path, text).map_err(|e| io_error(&path, e))?;
        }
        self.index.exchanges.push(Exchange {
            seq,
            class,
            resource_uri,
            action,
            operation,
            selectors,
            request: request_rel,
            response: response_rel,
            status,
            duration_ms: (duration_ms * 1000.0).round() / 1000.0,
            headers: headers
                .iter()
                .filter(|(n, _)| !SECRET_HEADERS.contains(&n.to_ascii_lowercase().as_str()))
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                .collect(),
        });
        self.write_index()?;
        Ok(&self.index.exchanges[self.index.exchanges.len() - 1])
    }

    fn write_index(&self) -> Result<(), RecordingError> {
        let path = self.dir.join(INDEX_FILE);
        let tmp = self.dir.join(".index.json.tmp");
        let text = serde_json::to_string_pretty(&self.index).map_err(|e| io_error(&path, e))?;
        std::fs::write(&tmp, text + "\n").map_err(|e| io_error(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io_error(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET: &str = r#"<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</a:Action><a:To>/wsman</a:To><w:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_Foo</w:ResourceURI><a:MessageID>1</a:MessageID></Header><Body/></Envelope>"#;

    #[test]
    fn written_recordings_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = RecordingWriter::create(dir.path(), "https://d:16993/wsman").unwrap();
        let headers = vec![
            (
                "Authorization".to_string(),
                "Digest response=\"x\"".to_string(),
            ),
            (
                "Server".to_string(),
                "Intel(R) Active Management Technology 16.1.25".to_string(),
            ),
        ];
        w.append(
            GET.as_bytes(),
            200,
            &headers,
            b"<r><Password>pw</Password></r>",
            1.5,
        )
        .unwrap();
        let r = Recording::load(dir.path()).unwrap();
        assert_eq!(r.index.exchanges[0].class, "AMT_Foo");
        assert_eq!(r.index.exchanges[0].operation, "Get");
        assert_eq!(
            r.index.exchanges[0].request,
            "AMT_Foo/Get--0001.request.xml"
        );
        assert!(!r.bodies[0].1.contains("pw"));
        assert!(r.index.exchanges[0]
            .headers
            .iter()
            .all(|(n, _)| n != "authorization"));
        assert_eq!(r.replay().len(), 1);
        assert!(
            RecordingWriter::create(dir.path(), "x").is_err(),
            "no overwrite"
        );
    }

    #[test]
    fn bad_recordings_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let index = dir.path().join(INDEX_FILE);
        std::fs::write(
            &index,
            "{\n  \"layout\": \"amt-emu-recording\",\n  \"version\": 9\n}\n",
        )
        .unwrap();
        let e = Recording::load(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("index.json:3:") && e.contains("version 9"),
            "{e}"
        );
        std::fs::write(
            &index,
            "{\n  \"layout\": \"amt-emu-recording\",\n  \"version\": 1,\n  \"upstream\": 7\n}",
        )
        .unwrap();
        let e = Recording::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("index.json:4:"), "{e}");
        std::fs::write(&index, "{ not json").unwrap();
        assert!(Recording::load(dir.path())
            .unwrap_err()
            .to_string()
            .contains("index.json:1:"));
        let escape = r#"{"layout":"amt-emu-recording","version":1,"upstream":"u","recorded_at":"t","exchanges":[{"seq":1,"class":"C","resource_uri":null,"action":null,"operation":"Get","request":"../../etc/passwd","response":"x","status":200,"duration_ms":1.0}]}"#;
        std::fs::write(&index, escape).unwrap();
        let e = Recording::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("not a path inside"), "{e}");
    }
}
