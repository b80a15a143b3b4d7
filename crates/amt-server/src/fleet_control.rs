//! The control API of a fleet: JSON over HTTP, like a single device's
//! (crate::control), with the fleet on top; crate::control_server listens
//! for it.
//!
//! - `GET /healthz`: 200 when every device is ready (dormant devices are:
//!   their ports answer), 503 with the failed ones otherwise.
//! - `GET /api/devices[?state=ready|dormant|starting|failed][&group=G]`.
//! - `POST /api/devices` `{"count": N, "group": G, "firmware": V,
//!   "admin_password": P}`: adds devices; `DELETE /api/devices/{id}`.
//! - `/api/devices/{id}` and `/api/devices/{id}/...`: every per-device
//!   route of a single device (`.../device`, `.../power-cycle`,
//!   `.../mebx/...`, `.../host/...`, `.../faults`, `.../journal`).
//! - `/api/device`, `/api/mebx/...` and the other single-device paths: the
//!   fleet's first device (the single-device alias).
//! - `POST /api/fleet/power-cycle` `{"group": G}` (all if no group),
//!   `POST /api/fleet/faults` (a fault rule plus an optional `group`),
//!   `DELETE /api/fleet/faults` `{"group": G}`.

use std::sync::Arc;

use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::control::device_route;
use crate::faults::FaultRule;
use crate::fleet::{FleetInner, GroupConfig, Member, MemberState};

fn error(status: StatusCode, message: impl std::fmt::Display) -> (StatusCode, Value) {
    (status, json!({ "error": message.to_string() }))
}

fn query_value<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AddBody {
    #[serde(default = "one")]
    count: u32,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    firmware: Option<String>,
    #[serde(default)]
    admin_password: Option<String>,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize, Default)]
struct GroupBody {
    #[serde(default)]
    group: Option<String>,
}

#[derive(Deserialize)]
struct GroupFaultBody {
    #[serde(default)]
    group: Option<String>,
    #[serde(flatten)]
    rule: FaultRule,
}

fn in_group(m: &Member, group: Option<&str>) -> bool {
    group.is_none_or(|g| m.group == g)
}

fn parse_or_default<T: for<'de> Deserialize<'de> + Default>(
    body: &[u8],
) -> Result<T, (StatusCode, Value)> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
}

pub(crate) async fn route(
    method: &Method,
    path: &str,
    query: &str,
    body: &[u8],
    fleet: &Arc<FleetInner>,
) -> (StatusCode, Value) {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (&Method::GET, ["healthz"]) => health(fleet),
        (&Method::GET, ["api", "devices"]) => {
            let state = query_value(query, "state");
            let group = query_value(query, "group");
            let list: Vec<_> = fleet
                .members()
                .iter()
                .filter(|m| in_group(m, group))
                .map(|m| m.view())
                .filter(|v| state.is_none_or(|s| v.state == s))
                .collect();
            (StatusCode::OK, json!(list))
        }
        (&Method::POST, ["api", "devices"]) => add(fleet, body).await,
        (&Method::DELETE, ["api", "devices", id]) => match fleet.forget(id) {
            Some(m) => {
                m.remove().await;
                (StatusCode::OK, json!({}))
            }
            None => error(StatusCode::NOT_FOUND, format!("no device {id}")),
        },
        (_, ["api", "devices", id, rest @ ..]) => {
            let Some(member) = fleet.member(id) else {
                return error(StatusCode::NOT_FOUND, format!("no device {id}"));
            };
            let path = match rest {
                [] => "/api/device".to_string(),
                // The device's own actions also answer without `device/`.
                [first, ..] if !["device", "mebx", "host", "faults", "journal"].contains(first) => {
                    format!("/api/device/{}", rest.join("/"))
                }
                _ => format!("/api/{}", rest.join("/")),
            };
            on_member(&member, method, &path, query, body).await
        }
        (&Method::POST, ["api", "fleet", "power-cycle"]) => {
            let b: GroupBody = match parse_or_default(body) {
                Ok(b) => b,
                Err(r) => return r,
            };
            let mut cycled = 0;
            let mut failed = Vec::new();
            for m in fleet.members() {
                if !in_group(&m, b.group.as_deref()) {
                    continue;
                }
                // A dormant device has nothing in RAM to lose.
                if let Some(host) = m.ready_host() {
                    match host.power_cycle().await {
                        Ok(()) => cycled += 1,
                        Err(e) => failed.push(json!({ "id": m.id, "error": e.to_string() })),
                    }
                }
            }
            (
                StatusCode::OK,
                json!({ "power_cycled": cycled, "failed": failed }),
            )
        }
        (&Method::POST, ["api", "fleet", "faults"]) => {
            let b: GroupFaultBody = match serde_json::from_slice(body) {
                Ok(b) => b,
                Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")),
            };
            let mut applied = 0;
            for m in fleet.members() {
                if in_group(&m, b.group.as_deref()) {
                    m.add_fault(b.rule.clone());
                    applied += 1;
                }
            }
            (StatusCode::CREATED, json!({ "devices": applied }))
        }
        (&Method::DELETE, ["api", "fleet", "faults"]) => {
            let b: GroupBody = match parse_or_default(body) {
                Ok(b) => b,
                Err(r) => return r,
            };
            for m in fleet.members() {
                if in_group(&m, b.group.as_deref()) {
                    if let Some(h) = m.ready_host() {
                        h.faults().clear();
                    }
                    m.clear_pending_faults();
                }
            }
            (StatusCode::OK, json!({}))
        }
        // The single-device alias: the fleet's first device.
        (_, ["api", "device" | "mebx" | "host" | "faults" | "journal", ..]) => {
            match fleet.members().into_iter().next() {
                Some(first) => on_member(&first, method, path, query, body).await,
                None => error(StatusCode::NOT_FOUND, "the fleet has no device"),
            }
        }
        _ => error(
            StatusCode::NOT_FOUND,
            format!("no route for {method} {path}"),
        ),
    }
}

async fn on_member(
    member: &Member,
    method: &Method,
    path: &str,
    query: &str,
    body: &[u8],
) -> (StatusCode, Value) {
    match member.host().await {
        Ok(host) => device_route(method, path, query, body, &host).await,
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("device {} is not running: {e}", member.id),
        ),
    }
}

fn health(fleet: &FleetInner) -> (StatusCode, Value) {
    let members = fleet.members();
    let failed: Vec<_> = members
        .iter()
        .filter_map(|m| match m.state() {
            MemberState::Failed(e) => Some(json!({ "id": m.id, "error": e })),
            _ => None,
        })
        .collect();
    let status = if fleet.all_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        json!({ "devices": members.len(), "failed": failed }),
    )
}

async fn add(fleet: &Arc<FleetInner>, body: &[u8]) -> (StatusCode, Value) {
    let b: AddBody = match parse_or_default(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut group = GroupConfig::new(b.group.as_deref().unwrap_or("added"), b.count);
    if let Some(v) = &b.firmware {
        match v.parse() {
            Ok(v) => group.firmware = Some(v),
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("firmware: {e}")),
        }
    }
    group.admin_password = b.admin_password;
    match fleet.add(group).await {
        Ok(added) => (
            StatusCode::CREATED,
            json!(added.iter().map(|m| m.view()).collect::<Vec<_>>()),
        ),
        Err(e) => error(StatusCode::CONFLICT, e),
    }
}
