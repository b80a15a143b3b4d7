//! Control API routes for the emulated network (docs/testing-with-amt-emu.md):
//!
//! - `GET /api/network`: the LAN and every network setting the device holds.
//! - `PUT /api/network/lan`: the LAN only (DHCP server or not, addresses,
//!   Wi-Fi present), a [`NetworkEnvironment`]; absent fields take their
//!   defaults.
//! - `PUT /api/network`: the LAN and the settings held, a [`NetworkSpec`]
//!   (the scenario's `[device.network]`).
//!
//! - `GET /api/network/hosts`, `PUT /api/network/hosts`
//!   `{"provisionserver.corp.example": "127.0.0.1", ...}`: the emulated
//!   network's name table, where the device looks up its provisioning
//!   server before the system resolver (crate::pki_hello).
//!
//! Invalid input is 400 and changes nothing.

use std::sync::Arc;

use amt_device::network::{NetworkEnvironment, NetworkSpec};
use amt_device::{DeviceError, PtStatus};
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use crate::device_host::DeviceHost;

/// Answers the network routes; `None` for any other path.
pub async fn route(
    method: &Method,
    segments: &[&str],
    body: &[u8],
    host: &Arc<DeviceHost>,
) -> Option<(StatusCode, Value)> {
    let reply = match (method, segments) {
        (&Method::GET, ["api", "network"]) => (StatusCode::OK, network_json(host)),
        (&Method::PUT, ["api", "network", "lan"]) => {
            match serde_json::from_slice::<NetworkEnvironment>(body) {
                Err(e) => bad_request(format!("invalid JSON body: {e}")),
                Ok(lan) => {
                    let check = amt_device::Device::set_network_environment;
                    apply(host, move |d| check(d, &lan)).await
                }
            }
        }
        (&Method::GET, ["api", "network", "hosts"]) => (StatusCode::OK, hosts_json(host)),
        (&Method::PUT, ["api", "network", "hosts"]) => {
            match serde_json::from_slice::<std::collections::BTreeMap<String, std::net::IpAddr>>(
                body,
            ) {
                Err(e) => bad_request(format!("invalid JSON body: {e}")),
                Ok(hosts) => {
                    let result = host
                        .change_device_and_listeners(move |d, _| {
                            d.set_network_hosts(hosts);
                            Ok(())
                        })
                        .await;
                    match result {
                        Ok(()) => (StatusCode::OK, hosts_json(host)),
                        Err(e) => (
                            StatusCode::INTERNAL_SERVER_ERROR,
                            json!({ "error": e.to_string() }),
                        ),
                    }
                }
            }
        }
        (&Method::PUT, ["api", "network"]) => match serde_json::from_slice::<NetworkSpec>(body) {
            Err(e) => bad_request(format!("invalid JSON body: {e}")),
            Ok(spec) => apply(host, move |d| d.set_network(&spec)).await,
        },
        _ => return None,
    };
    Some(reply)
}

fn bad_request(message: String) -> (StatusCode, Value) {
    (StatusCode::BAD_REQUEST, json!({ "error": message }))
}

fn hosts_json(host: &DeviceHost) -> Value {
    host.with_device(|d| json!(d.network_hosts()))
}

fn network_json(host: &DeviceHost) -> Value {
    host.with_device(|d| serde_json::to_value(d.network()).unwrap_or(Value::Null))
}

/// Applies a network change: a validation message is 400, the change is
/// written to flash and the listeners reconciled otherwise.
async fn apply(
    host: &Arc<DeviceHost>,
    f: impl FnOnce(&mut amt_device::Device) -> Result<(), String>,
) -> (StatusCode, Value) {
    let mut message = None;
    let result = host
        .change_device_and_listeners(|d, _| {
            f(d).map_err(|m| {
                message = Some(m);
                DeviceError::Refused(PtStatus::INVALID_PARAMETER)
            })
        })
        .await;
    match (result, message) {
        (Ok(()), _) => (StatusCode::OK, network_json(host)),
        (Err(_), Some(m)) => bad_request(m),
        (Err(e), None) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "error": e.to_string() }),
        ),
    }
}
