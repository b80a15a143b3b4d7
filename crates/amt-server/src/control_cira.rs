//! Control API routes for CIRA (docs/cira.md):
//!
//! - `GET /api/cira`: the tunnel (state, MPS, trigger, last error,
//!   forwards, channels) and where the device believes it is.
//! - `POST /api/cira/user-initiated`: the owner presses the button.
//! - `PUT /api/cira/network` `{"dhcp_dns_suffix": "corp.example" | null}`:
//!   the DNS suffix DHCP hands the device, which environment detection
//!   compares with its intranet suffixes (null = static IP: outside).

use std::sync::Arc;

use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::device_host::DeviceHost;

#[derive(Deserialize)]
struct NetworkBody {
    dhcp_dns_suffix: Option<String>,
}

fn status(host: &DeviceHost) -> Value {
    let mut v = serde_json::to_value(host.cira_shared().status()).unwrap_or(Value::Null);
    let (connected, inside) =
        host.with_device(|d| (d.remote_access().tunnel.connected, d.inside_intranet()));
    if let Value::Object(m) = &mut v {
        m.insert("is_remote_tunnel_connected".into(), json!(connected));
        m.insert("inside_intranet".into(), json!(inside));
    }
    v
}

/// Answers `/api/cira/...` (`rest` is the path after `cira`).
pub(crate) async fn route(
    method: &Method,
    rest: &[&str],
    body: &[u8],
    host: &Arc<DeviceHost>,
) -> Result<(StatusCode, Value), (StatusCode, Value)> {
    let error = |code, msg: String| (code, json!({ "error": msg }));
    match (method, rest) {
        (&Method::GET, []) => Ok((StatusCode::OK, status(host))),
        (&Method::POST, ["user-initiated"]) => {
            host.cira_shared().request_user_initiated();
            Ok((StatusCode::ACCEPTED, status(host)))
        }
        (&Method::PUT, ["network"]) => {
            let b: NetworkBody = serde_json::from_slice(body)
                .map_err(|e| error(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))?;
            host.change_device_async(move |d, _| {
                d.set_dhcp_dns_suffix(b.dhcp_dns_suffix);
                Ok(())
            })
            .await
            .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
            host.cira_shared().wake();
            Ok((StatusCode::OK, status(host)))
        }
        _ => Err(error(StatusCode::NOT_FOUND, "no such CIRA route".into())),
    }
}
