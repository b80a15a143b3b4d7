//! The control API: JSON over HTTP on its own loopback port, never on the
//! AMT ports. It does what only the machine's owner can do on real
//! hardware (MEBx, the BIOS clock, power), what the host OS sees over HECI,
//! and it drives fault injection and reads the call journal.
//! `docs/control-api.openapi.json` describes it (served at `/openapi.json`);
//! crate::control_server listens for it.

use std::sync::Arc;

use amt_device::{BiosClock, HashType};
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub use crate::control_server::ControlListener;
use crate::device_host::DeviceHost;
use crate::faults::FaultRule;

mod machine;

pub(crate) use machine::screen_png;

/// Default control port: 16990 plus the port offset.
pub const CONTROL_PORT: u16 = 16990;
/// The OpenAPI description, kept in docs/.
pub const OPENAPI: &str = include_str!("../../../docs/control-api.openapi.json");

/// An answer: status and JSON.
struct Reply(StatusCode, Value);

fn ok(v: Value) -> Reply {
    Reply(StatusCode::OK, v)
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Reply {
    Reply(status, json!({ "error": message.to_string() }))
}

/// One per-device route (`/api/device`, `/api/mebx/...`, `/api/host/...`,
/// `/api/faults`, `/api/journal`) against `host`; the fleet control API
/// serves these under `/api/devices/{id}/...`.
pub(crate) async fn device_route(
    method: &Method,
    path: &str,
    query: &str,
    body: &[u8],
    host: &Arc<DeviceHost>,
) -> (StatusCode, Value) {
    let Reply(status, value) = route(method, path, query, body, host).await;
    (status, value)
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Reply> {
    serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
}

#[derive(Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
enum ClockBody {
    Host,
    Unset,
    Set { at: String },
}

/// PID (8 characters) and PPS (32), dashes allowed.
#[derive(Deserialize)]
struct PskBody {
    pid: String,
    pps: String,
}

#[derive(Deserialize)]
struct PasswordBody {
    password: String,
}

#[derive(Deserialize)]
struct EnabledBody {
    enabled: bool,
}

#[derive(Deserialize)]
struct SuffixBody {
    suffix: Option<String>,
}

/// MEBx "provisioning server": an address or host name, and a port
/// (9971 when absent); `{"address": null}` clears it.
#[derive(Deserialize)]
struct ProvisioningServerBody {
    address: Option<String>,
    port: Option<u16>,
}

#[derive(Deserialize)]
struct HashBody {
    #[serde(default = "default_hash_type")]
    hash_type: String,
    hash: String,
    description: String,
}

fn default_hash_type() -> String {
    "sha256".into()
}

async fn route(
    method: &Method,
    path: &str,
    query: &str,
    body: &[u8],
    host: &Arc<DeviceHost>,
) -> Reply {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if let Some((s, v)) = crate::control_network::route(method, &segments, body, host).await {
        return Reply(s, v);
    }
    let result = match (method, segments.as_slice()) {
        (_, ["api", "cira", rest @ ..]) => crate::control_cira::route(method, rest, body, host)
            .await
            .map(|(c, v)| Reply(c, v))
            .map_err(|(c, v)| Reply(c, v)),
        (&Method::GET, ["api", "device"]) => Ok(ok(device_json(host))),
        (&Method::PUT, ["api", "device", "bios-clock"]) => set_clock(host, body).await,
        (&Method::POST, ["api", "device", "power-cycle"]) => host
            .power_cycle()
            .await
            .map(|_| ok(device_json(host)))
            .map_err(internal),
        (&Method::POST, ["api", "device", "unprovision"]) => host
            .change_device_and_listeners(|d, now| d.unprovision(now))
            .await
            .map(|_| ok(device_json(host)))
            .map_err(internal),
        (&Method::POST, ["api", "device", "factory-reset"]) => host
            .factory_reset()
            .await
            .map(|_| ok(device_json(host)))
            .map_err(internal),
        (&Method::POST, ["api", "mebx", "password"]) => match parse::<PasswordBody>(body) {
            Err(r) => Err(r),
            Ok(b) => change(host, move |d, _| d.set_mebx_password(&b.password)).await,
        },
        (&Method::POST, ["api", "mebx", "psk"]) => match parse::<PskBody>(body) {
            Err(r) => Err(r),
            Ok(b) => change(host, move |d, _| d.set_psk_pair(&b.pid, &b.pps)).await,
        },
        (&Method::POST, ["api", "mebx", "provisioning", "start"]) => host
            .change_device_and_listeners(|d, now| d.begin_provisioning(now))
            .await
            .map(|_| ok(device_json(host)))
            .map_err(internal),
        (&Method::POST, ["api", "mebx", "provisioning", "stop"]) => {
            change(host, |d, _| d.stop_provisioning()).await
        }
        (&Method::PUT, ["api", "mebx", "network-access"]) => match parse::<EnabledBody>(body) {
            Err(r) => Err(r),
            Ok(b) => {
                change(host, move |d, _| {
                    d.set_network_access(b.enabled);
                    Ok(())
                })
                .await
            }
        },
        (&Method::POST, ["api", "mebx", "certificate-hashes"]) => match parse::<HashBody>(body) {
            Err(r) => Err(r),
            Ok(b) => add_hash(host, b).await,
        },
        (&Method::PUT, ["api", "mebx", "provisioning-server"]) => {
            match parse::<ProvisioningServerBody>(body) {
                Err(r) => Err(r),
                Ok(b) => {
                    let server = b.address.filter(|a| !a.is_empty()).map(|address| {
                        amt_device::remote_configuration::ProvisioningServer {
                            address,
                            port: b
                                .port
                                .unwrap_or(amt_device::remote_configuration::HELLO_PORT),
                        }
                    });
                    change(host, move |d, _| {
                        d.set_provisioning_server(server);
                        Ok(())
                    })
                    .await
                }
            }
        }
        (&Method::PUT, ["api", "mebx", "pki-dns-suffix"]) => match parse::<SuffixBody>(body) {
            Err(r) => Err(r),
            Ok(b) => {
                change(host, move |d, _| {
                    d.set_pki_dns_suffix(b.suffix);
                    Ok(())
                })
                .await
            }
        },
        (&Method::GET, ["api", "host", "uuid"]) => {
            Ok(ok(host.with_device(|d| json!({ "uuid": d.uuid() }))))
        }
        (&Method::GET, ["api", "host", "provisioning"]) => Ok(ok(host.with_device(|d| {
            json!({
                "provisioning_state": d.provisioning_state().as_u8(),
                "control_mode": d.control_mode().as_u8(),
                "firmware_version": d.profile().version().to_string(),
            })
        }))),
        (&Method::GET, ["api", "host", "local-system-account"]) => Ok(ok(host.with_device(|d| {
            let (username, password) = d.local_system_account();
            json!({ "username": username, "password": password })
        }))),
        (&Method::GET, ["api", "host", "certificate-hashes"]) => Ok(ok(host.with_device(|d| {
            json!(d
                .provisioning_hashes()
                .entries
                .iter()
                .map(|e| json!({
                    "name": e.description,
                    "is_default": e.is_default,
                    "is_active": e.enabled,
                    "hash_algorithm": e.hash_type.as_u8(),
                    "hash": hex::encode(&e.hash),
                }))
                .collect::<Vec<_>>())
        }))),
        (&Method::GET, ["api", "host", "dns-suffix"]) => Ok(ok(
            host.with_device(|d| json!({ "dns_suffix": d.provisioning_dns_suffix() }))
        )),
        (&Method::POST, ["api", "host", "start-configuration"]) => host
            .change_device_and_listeners(|d, now| d.begin_provisioning(now))
            .await
            .map(|_| ok(json!({ "status": 0 })))
            .map_err(internal),
        (&Method::POST, ["api", "host", "start-configuration-hbased"]) => {
            match parse::<HbasedBody>(body) {
                Err(r) => Err(r),
                Ok(b) => start_configuration_hbased(host, b).await,
            }
        }
        (&Method::GET, ["api", "host", "odca-chain"]) => {
            host.with_device(|d| match d.odca_chain() {
                None => Err(error(
                    StatusCode::NOT_FOUND,
                    "no on-die CA chain is presented (AMT 19+ before provisioning only)",
                )),
                Some(c) => {
                    use base64::Engine;
                    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
                    Ok(ok(json!({
                        "chain": c.certificates.iter().map(|x| b64(x)).collect::<Vec<_>>(),
                        "root": b64(&c.root),
                    })))
                }
            })
        }
        (_, ["api", "consent", rest @ ..]) => {
            let (status, value) = crate::control_consent::route(method, rest, host);
            Ok(Reply(status, value))
        }
        (&Method::GET, ["api", "faults"]) => Ok(ok(json!(host.faults().rules()))),
        (&Method::POST, ["api", "faults"]) => match parse::<FaultRule>(body) {
            Err(r) => Err(r),
            Ok(rule) => {
                let id = host.faults().add(rule);
                Ok(Reply(StatusCode::CREATED, json!({ "id": id })))
            }
        },
        (&Method::DELETE, ["api", "faults"]) => {
            host.faults().clear();
            Ok(ok(json!({})))
        }
        (&Method::DELETE, ["api", "faults", id]) => match id.parse::<u32>() {
            Ok(id) if host.faults().remove(id) => Ok(ok(json!({}))),
            _ => Err(error(StatusCode::NOT_FOUND, "no such fault rule")),
        },
        (&Method::GET, ["api", "journal"]) => {
            let after = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("after="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            Ok(ok(json!(host.journal().entries(after))))
        }
        (&Method::DELETE, ["api", "journal"]) => {
            host.journal().clear();
            Ok(ok(json!({})))
        }
        (m, ["api", "machine", rest @ ..]) => machine::route(m, rest, body, host).await,
        _ => Err(error(
            StatusCode::NOT_FOUND,
            format!("no route for {method} {path}"),
        )),
    };
    result.unwrap_or_else(|r| r)
}

fn device_json(host: &DeviceHost) -> Value {
    host.with_device(|d| serde_json::to_value(d.public_view()).unwrap_or(Value::Null))
}

fn internal(e: impl std::fmt::Display) -> Reply {
    error(StatusCode::INTERNAL_SERVER_ERROR, e)
}

/// Applies a MEBx-style change that may be refused with a PT_STATUS.
async fn change(
    host: &Arc<DeviceHost>,
    f: impl FnOnce(&mut amt_device::Device, OffsetDateTime) -> Result<(), amt_device::PtStatus>,
) -> Result<Reply, Reply> {
    match host
        .change_device_and_listeners(|d, now| Ok(f(d, now)?))
        .await
    {
        Ok(()) => Ok(ok(device_json(host))),
        Err(crate::HostError::Device(amt_device::DeviceError::Refused(s))) => Err(Reply(
            StatusCode::CONFLICT,
            json!({ "error": s.to_string(), "status": s.code() }),
        )),
        Err(e) => Err(internal(e)),
    }
}

async fn set_clock(host: &Arc<DeviceHost>, body: &[u8]) -> Result<Reply, Reply> {
    let b: ClockBody = parse(body)?;
    let clock = match b {
        ClockBody::Host => BiosClock::Host,
        ClockBody::Unset => BiosClock::Unset,
        ClockBody::Set { at } => {
            let at = OffsetDateTime::parse(&at, &Rfc3339)
                .map_err(|e| error(StatusCode::BAD_REQUEST, format!("at: {e}")))?;
            BiosClock::set(at, OffsetDateTime::now_utc())
        }
    };
    change(host, move |d, _| {
        d.set_bios_clock(clock);
        Ok(())
    })
    .await
}

#[derive(Deserialize)]
struct HbasedBody {
    /// `sha256` or `sha384`.
    server_hash_algorithm: String,
    /// Hex of the provisioning certificate's hash.
    server_cert_hash: String,
    #[serde(default)]
    host_vpn_enable: bool,
    #[serde(default)]
    dns_suffixes: Vec<String>,
}

/// HECI `StartConfigurationHBased` (AMT 19+): the answer carries the hash
/// of the on-die leaf the device now presents.
async fn start_configuration_hbased(host: &Arc<DeviceHost>, b: HbasedBody) -> Result<Reply, Reply> {
    let server_hash_algorithm = match b.server_hash_algorithm.to_ascii_lowercase().as_str() {
        "sha256" => HashType::Sha256,
        "sha384" => HashType::Sha384,
        // The firmware takes only SHA-256 and SHA-384.
        _ => HashType::Sha1,
    };
    let server_cert_hash = hex::decode(b.server_cert_hash.trim())
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("server_cert_hash: {e}")))?;
    let start = amt_device::odca::SecureConfigurationStart {
        server_hash_algorithm,
        server_cert_hash,
        host_vpn_enable: b.host_vpn_enable,
        dns_suffixes: b.dns_suffixes,
    };
    match host
        .change_device_and_listeners(move |d, now| Ok(d.start_configuration_hbased(start, now)?))
        .await
    {
        Ok(answer) => Ok(ok(json!({
            "status": 0,
            "hash_algorithm": answer.hash_algorithm.as_u8(),
            "amt_cert_hash": hex::encode(&answer.amt_cert_hash),
        }))),
        Err(crate::HostError::Device(amt_device::DeviceError::Refused(s))) => Err(Reply(
            StatusCode::CONFLICT,
            json!({ "error": s.to_string(), "status": s.code() }),
        )),
        Err(e) => Err(internal(e)),
    }
}

async fn add_hash(host: &Arc<DeviceHost>, b: HashBody) -> Result<Reply, Reply> {
    let hash_type = match b.hash_type.to_ascii_lowercase().as_str() {
        "sha1" => HashType::Sha1,
        "sha256" => HashType::Sha256,
        "sha384" => HashType::Sha384,
        other => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!("unknown hash_type {other:?}"),
            ))
        }
    };
    let hash = hex::decode(b.hash.trim())
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("hash: {e}")))?;
    change(host, move |d, _| {
        d.add_custom_provisioning_hash(hash_type, hash, &b.description)
            .map(|_| ())
    })
    .await
}
