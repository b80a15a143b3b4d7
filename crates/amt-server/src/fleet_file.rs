//! Fleet files: the groups of a fleet in TOML (`amt-emu fleet
//! --fleet-file FILE`). Documented in docs/deployment.md; an example is
//! fixtures/fleets/mixed.toml.
//!
//! ```toml
//! seed = 42                      # optional; --seed wins
//!
//! [[group]]
//! name = "new"                   # default "group-<n>"
//! count = 900
//! firmware = "16.1.25"           # default 16.1.25
//!
//! [[group]]
//! name = "ccm"
//! count = 100
//! provisioning = "ccm"           # "pre" (default) or "ccm"
//! admin_password = "P@ssw0rd"    # required by "ccm"
//! address = "127.2.0.1"          # first address of the group (loopback)
//! scenario = "fixtures/scenarios/ccm-device.toml"
//! ```
//!
//! A file with an error names the line and the field, and nothing starts.

use std::net::IpAddr;
use std::path::Path;

use amt_device::FirmwareVersion;
use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

use crate::fleet::GroupConfig;
use crate::scenario::Scenario;

#[derive(Debug, Error)]
pub enum FleetFileError {
    #[error("cannot read fleet file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {field}: {message}")]
    Invalid {
        path: String,
        line: usize,
        field: String,
        message: String,
    },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRaw {
    seed: Option<u64>,
    #[serde(default)]
    group: Vec<Spanned<GroupRaw>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupRaw {
    name: Option<String>,
    count: Spanned<i64>,
    firmware: Option<Spanned<String>>,
    scenario: Option<Spanned<String>>,
    provisioning: Option<Spanned<String>>,
    admin_password: Option<String>,
    address: Option<Spanned<String>>,
}

/// A parsed fleet file.
#[derive(Clone, Debug)]
pub struct FleetFile {
    pub seed: Option<u64>,
    pub groups: Vec<GroupConfig>,
}

impl FleetFile {
    /// Reads and checks `path`; scenario paths are relative to the file.
    pub fn load(path: &Path) -> Result<Self, FleetFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| FleetFileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string(), path.parent())
    }

    /// Parses fleet-file text; `name` is used in messages.
    pub fn parse(text: &str, name: &str, base: Option<&Path>) -> Result<Self, FleetFileError> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let raw: FileRaw = toml::from_str(text).map_err(|e| match e.span() {
            // toml names the field (unknown or of the wrong type); the span
            // gives its line.
            Some(span) => FleetFileError::Invalid {
                path: name.to_string(),
                line: line_of(span.start),
                field: field_near(text, span.start),
                message: e.message().trim().to_string(),
            },
            None => FleetFileError::Syntax {
                path: name.to_string(),
                message: e.message().trim().to_string(),
            },
        })?;
        let invalid = |offset: usize, field: &str, message: String| FleetFileError::Invalid {
            path: name.to_string(),
            line: line_of(offset),
            field: field.to_string(),
            message,
        };
        if raw.group.is_empty() {
            return Err(FleetFileError::Syntax {
                path: name.to_string(),
                message: "no [[group]]: a fleet needs at least one group".into(),
            });
        }
        let mut groups = Vec::new();
        for (n, spanned) in raw.group.into_iter().enumerate() {
            let group_at = spanned.span().start;
            let g = spanned.into_inner();
            let count = u32::try_from(*g.count.get_ref())
                .ok()
                .filter(|c| *c > 0)
                .ok_or_else(|| {
                    invalid(
                        g.count.span().start,
                        "count",
                        format!("must be a positive number, not {}", g.count.get_ref()),
                    )
                })?;
            let mut group =
                GroupConfig::new(&g.name.unwrap_or_else(|| format!("group-{}", n + 1)), count);
            if let Some(f) = &g.firmware {
                group.firmware = Some(
                    f.get_ref()
                        .parse::<FirmwareVersion>()
                        .map_err(|e| invalid(f.span().start, "firmware", e.to_string()))?,
                );
            }
            if let Some(a) = &g.address {
                group.address = Some(a.get_ref().parse::<IpAddr>().map_err(|e| {
                    invalid(a.span().start, "address", format!("{:?}: {e}", a.get_ref()))
                })?);
            }
            match g
                .provisioning
                .as_ref()
                .map(|p| (p.get_ref().as_str(), p.span().start))
            {
                None | Some(("pre", _)) => {
                    if g.admin_password.is_some() {
                        return Err(invalid(
                            group_at,
                            "admin_password",
                            "only a provisioning = \"ccm\" group has an admin password".into(),
                        ));
                    }
                }
                Some(("ccm", at)) => match g.admin_password {
                    Some(pw) if !pw.is_empty() => group.admin_password = Some(pw),
                    _ => {
                        return Err(invalid(
                            at,
                            "admin_password",
                            "provisioning = \"ccm\" needs an admin_password".into(),
                        ))
                    }
                },
                Some((other, at)) => {
                    return Err(invalid(
                        at,
                        "provisioning",
                        format!("{other:?}: expected \"pre\" or \"ccm\""),
                    ))
                }
            }
            if let Some(s) = &g.scenario {
                let path = match base {
                    Some(b) => b.join(s.get_ref()),
                    None => s.get_ref().into(),
                };
                group.scenario = Some(
                    Scenario::load(&path)
                        .map_err(|e| invalid(s.span().start, "scenario", e.to_string()))?,
                );
            }
            groups.push(group);
        }
        Ok(FleetFile {
            seed: raw.seed,
            groups,
        })
    }
}

/// The key of the `key = value` line around `offset`, for messages.
fn field_near(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("");
    match line.split_once('=') {
        Some((key, _)) => key.trim().to_string(),
        None => line.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        FleetFile::parse(text, "f.toml", None)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn groups_parse() {
        let f = FleetFile::parse(
            "seed = 7\n[[group]]\ncount = 3\n[[group]]\nname = \"ccm\"\ncount = 2\n\
             provisioning = \"ccm\"\nadmin_password = \"P@ssw0rd\"\naddress = \"127.2.0.1\"\n",
            "f.toml",
            None,
        )
        .unwrap();
        assert_eq!(f.seed, Some(7));
        assert_eq!(f.groups.len(), 2);
        assert_eq!(f.groups[0].name, "group-1");
        assert_eq!(f.groups[1].admin_password.as_deref(), Some("P@ssw0rd"));
        assert_eq!(f.groups[1].address, Some("127.2.0.1".parse().unwrap()));
    }

    #[test]
    fn errors_name_line_and_field() {
        assert_eq!(
            err("[[group]]\ncount = 0\n"),
            "f.toml:2: count: must be a positive number, not 0"
        );
        assert!(
            err("[[group]]\ncount = 1\nfirmware = \"99.x\"\n").starts_with("f.toml:3: firmware: ")
        );
        assert!(err("[[group]]\ncount = 1\ncolour = \"red\"\n").contains("colour"));
        assert!(err("[[group]]\ncount = 1\nprovisioning = \"acm\"\n")
            .starts_with("f.toml:3: provisioning: "));
        assert!(err("[[group]]\ncount = 1\nprovisioning = \"ccm\"\n")
            .starts_with("f.toml:3: admin_password: "));
        assert!(
            err("[[group]]\ncount = 1\naddress = \"127.1\"\n").starts_with("f.toml:3: address: ")
        );
        assert!(err("[[group]]\ncount = \"many\"\n").starts_with("f.toml:2: count: "));
    }
}
