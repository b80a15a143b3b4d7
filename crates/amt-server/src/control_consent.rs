//! Control API routes for user consent: what the machine's screen shows
//! (the six-digit code while one is displayed) and the consent state, for
//! the owner or a test that plays the person at the machine.
//!
//! - `GET /api/consent`: state, policy, timeouts and the code if shown;
//! - `GET /api/consent/code`: `{code}`, or 404 when no code is displayed.

use hyper::{Method, StatusCode};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::device_host::DeviceHost;

/// Answers `/api/consent/<rest>` (status and JSON body).
pub(crate) fn route(method: &Method, rest: &[&str], host: &DeviceHost) -> (StatusCode, Value) {
    let view = host.with_device(|d| d.consent_view(OffsetDateTime::now_utc()));
    match (method, rest) {
        (&Method::GET, []) => (
            StatusCode::OK,
            serde_json::to_value(view).unwrap_or(Value::Null),
        ),
        (&Method::GET, ["code"]) => match view.code {
            Some(code) => (StatusCode::OK, json!({ "code": code })),
            None => (
                StatusCode::NOT_FOUND,
                json!({ "error": "no user consent code is displayed", "state": view.state_value }),
            ),
        },
        _ => (
            StatusCode::NOT_FOUND,
            json!({ "error": format!("no route for {method} /api/consent/{}", rest.join("/")) }),
        ),
    }
}
