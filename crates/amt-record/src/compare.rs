//! `amt-emu compare`: the emulator's replies next to a device's, class by
//! class, compared by element structure (names, namespaces, prefixes,
//! order) and ReturnValue — the comparison the project's own tests make
//! against captures (`amt_wsman::compare`). The device side is a live
//! device or a recording; the emulator side is a live endpoint.

use amt_client::WsmanClient;
use amt_wsman::compare::{compare, DiffLine};
use serde::Serialize;

use crate::layout::Recording;
use crate::requests;

/// Where replies come from.
pub enum Source {
    Live(WsmanClient),
    Recorded(Recording),
}

impl Source {
    pub fn describe(&self) -> String {
        match self {
            Source::Live(c) => c.target().to_string(),
            Source::Recorded(r) => format!("recording {}", r.dir.display()),
        }
    }

    /// The reply to `class`'s `operation` (`Get`, `Enumerate` or `Pull`
    /// of everything), or why there is none.
    async fn reply(&mut self, resource_uri: &str, class: &str, operation: &str) -> Answer {
        match self {
            Source::Recorded(r) => match r.find(class, operation) {
                Some((x, _, body)) => Answer::Reply(x.status, body.to_string()),
                None => Answer::Missing("not in the recording".into()),
            },
            Source::Live(client) => {
                let first = match operation {
                    "Get" => requests::get(resource_uri, 1),
                    _ => requests::enumerate(resource_uri, 1),
                };
                let reply = match client.post(first.as_bytes()).await {
                    Ok(r) => r,
                    Err(e) => return Answer::Missing(e.to_string()),
                };
                let body = String::from_utf8_lossy(&reply.body).into_owned();
                if operation != "Pull" || reply.status != 200 {
                    return Answer::Reply(reply.status, body);
                }
                let Some(ctx) = requests::enumeration_context(&body) else {
                    return Answer::Reply(reply.status, body);
                };
                match client
                    .post(requests::pull(resource_uri, &ctx, 2).as_bytes())
                    .await
                {
                    Ok(r) => Answer::Reply(r.status, String::from_utf8_lossy(&r.body).into_owned()),
                    Err(e) => Answer::Missing(e.to_string()),
                }
            }
        }
    }
}

enum Answer {
    Reply(u16, String),
    Missing(String),
}

/// Whether a reply says the class does not exist on that side.
fn unknown_class(status: u16, body: &str) -> bool {
    status == 400 && body.contains("DestinationUnreachable")
}

/// One class and operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub class: String,
    pub operation: String,
    pub verdict: Verdict,
    pub emulator_status: Option<u16>,
    pub device_status: Option<u16>,
    /// Element paths only the emulator's reply has (`-`) or only the
    /// device's (`+`), in document order.
    pub differences: Vec<String>,
    /// `(emulator, device)` when the ReturnValues differ.
    pub return_values: Option<(Vec<String>, Vec<String>)>,
    /// Why a side had no reply.
    pub note: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Same,
    Different,
    /// Only one side answers for the class: not compared.
    EmulatorOnly,
    DeviceOnly,
    Neither,
}

/// The whole comparison.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    pub emulator: String,
    pub device: String,
    pub entries: Vec<Entry>,
}

impl Report {
    pub fn count(&self, v: Verdict) -> usize {
        self.entries.iter().filter(|e| e.verdict == v).count()
    }

    pub fn differences(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|e| e.verdict == Verdict::Different)
    }

    /// The report as text, for a terminal or a bug report.
    pub fn text(&self) -> String {
        let mut out = format!(
            "amt-emu compare\n  emulator: {}\n  device:   {}\n\n",
            self.emulator, self.device
        );
        for e in &self.entries {
            let verdict = match e.verdict {
                Verdict::Same => "same",
                Verdict::Different => "DIFFERENT",
                Verdict::EmulatorOnly => "emulator only (not compared)",
                Verdict::DeviceOnly => "device only (not compared)",
                Verdict::Neither => "neither answers",
            };
            out.push_str(&format!("{} {}: {verdict}\n", e.class, e.operation));
            if e.verdict == Verdict::Different {
                if e.emulator_status != e.device_status {
                    out.push_str(&format!(
                        "    HTTP status: emulator {:?}, device {:?}\n",
                        e.emulator_status, e.device_status
                    ));
                }
                for d in &e.differences {
                    out.push_str(&format!("    {d}\n"));
                }
                if let Some((a, b)) = &e.return_values {
                    out.push_str(&format!("    ReturnValue: emulator {a:?}, device {b:?}\n"));
                }
            }
        }
        out.push_str(&format!(
            "\n{} compared: {} same, {} different; {} emulator only, {} device only\n",
            self.count(Verdict::Same) + self.count(Verdict::Different),
            self.count(Verdict::Same),
            self.count(Verdict::Different),
            self.count(Verdict::EmulatorOnly),
            self.count(Verdict::DeviceOnly),
        ));
        out
    }
}

/// Compares every class the emulator knows, as read by a console: a Get
/// of each singleton, an Enumerate and a Pull of every other class.
pub async fn run(emulator: &mut Source, device: &mut Source) -> Report {
    let mut entries = Vec::new();
    for class in amt_wsman::classes::registry() {
        let info = class.info();
        let operations: &[&str] = if class.is_singleton() {
            &["Get"]
        } else {
            &["Enumerate", "Pull"]
        };
        for op in operations {
            let ours = emulator.reply(info.resource_uri, info.name, op).await;
            let theirs = device.reply(info.resource_uri, info.name, op).await;
            entries.push(entry(info.name, op, ours, theirs));
        }
    }
    Report {
        emulator: emulator.describe(),
        device: device.describe(),
        entries,
    }
}

fn entry(class: &str, operation: &str, ours: Answer, theirs: Answer) -> Entry {
    let mut e = Entry {
        class: class.to_string(),
        operation: operation.to_string(),
        verdict: Verdict::Neither,
        emulator_status: None,
        device_status: None,
        differences: Vec::new(),
        return_values: None,
        note: None,
    };
    let present = |a: &Answer| matches!(a, Answer::Reply(s, b) if !unknown_class(*s, b));
    if let Answer::Reply(s, _) = &ours {
        e.emulator_status = Some(*s);
    }
    if let Answer::Reply(s, _) = &theirs {
        e.device_status = Some(*s);
    }
    for a in [&ours, &theirs] {
        if let Answer::Missing(why) = a {
            e.note = Some(why.clone());
        }
    }
    e.verdict = match (present(&ours), present(&theirs)) {
        (false, false) => Verdict::Neither,
        (true, false) => Verdict::EmulatorOnly,
        (false, true) => Verdict::DeviceOnly,
        (true, true) => {
            let (Answer::Reply(_, a), Answer::Reply(_, b)) = (&ours, &theirs) else {
                return e;
            };
            match compare(a, b, &[]) {
                Ok(c) => {
                    e.differences = c
                        .differences()
                        .map(|d| match d {
                            DiffLine::OursOnly(p) => format!("- emulator only: {p}"),
                            DiffLine::TheirsOnly(p) => format!("+ device only:   {p}"),
                            DiffLine::Same(p) => p.clone(),
                        })
                        .collect();
                    e.return_values = c.return_values.clone();
                    if c.is_same() && e.emulator_status == e.device_status {
                        Verdict::Same
                    } else {
                        Verdict::Different
                    }
                }
                Err(err) => {
                    e.note = Some(err.to_string());
                    Verdict::Different
                }
            }
        }
    };
    e
}
