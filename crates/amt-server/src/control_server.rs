//! The control listener: one accept loop for a single device's control API
//! (crate::control) and a fleet's (crate::fleet_control), with the
//! dashboard (crate::dashboard) on the same port.
//!
//! Who may use it: the emulator's operator. On a loopback address anyone
//! on the machine is that operator and no token is asked (the Host header
//! must then name a loopback host, so a web page cannot reach it by DNS
//! rebinding). Bound anywhere else, every request but `GET /healthz` (the
//! orchestrator's probe) must carry the token: `Authorization: Bearer T`,
//! the `amt_emu_token` cookie, or `?token=T` (which the dashboard turns
//! into the cookie). docs/dashboard.md.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rand::Rng;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::device_host::DeviceHost;
use crate::fleet::FleetInner;

/// A response body: whole (JSON, pages) or streamed (server-sent events).
pub(crate) type Body = BoxBody<Bytes, Infallible>;

const MAX_BODY: usize = 64 * 1024;
/// Longest path and query accepted; anything longer is 414.
pub(crate) const MAX_URI: usize = 2048;
/// The cookie the dashboard keeps the token in.
pub(crate) const TOKEN_COOKIE: &str = "amt_emu_token";

/// What a control listener serves.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    Device(Arc<DeviceHost>),
    Fleet(Arc<FleetInner>),
}

/// A running control listener (control API and dashboard).
#[derive(Debug)]
pub struct ControlListener {
    addr: SocketAddr,
    token: Option<String>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

struct Shared {
    target: Target,
    token: Option<String>,
}

impl ControlListener {
    /// The control API of one device on `addr`; `token` as in the module
    /// documentation (one is made when `addr` is not loopback and none is
    /// given; [`ControlListener::token`] tells it).
    pub async fn start(
        addr: SocketAddr,
        host: Arc<DeviceHost>,
        token: Option<String>,
    ) -> std::io::Result<Self> {
        Self::start_target(addr, Target::Device(host), token).await
    }

    pub(crate) async fn start_target(
        addr: SocketAddr,
        target: Target,
        token: Option<String>,
    ) -> std::io::Result<Self> {
        let socket = TcpListener::bind(addr).await?;
        let addr = socket.local_addr()?;
        let token = token
            .filter(|t| !t.is_empty())
            .or_else(|| (!addr.ip().is_loopback()).then(new_token));
        tracing::info!(%addr, token_required = token.is_some(), "control API listening");
        let shared = Arc::new(Shared {
            target,
            token: token.clone(),
        });
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    accepted = socket.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let shared = shared.clone();
                        tokio::spawn(async move {
                            let service = service_fn(move |req| serve(req, shared.clone()));
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                }
            }
        });
        Ok(ControlListener {
            addr,
            token,
            stop,
            task,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token clients must present, if one is required.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Tells the accept loop to stop, without waiting for it (for drop).
    pub fn signal_stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// 128 random bits, hex.
fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// A JSON answer.
pub(crate) fn respond(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn json_error(status: StatusCode, message: &str) -> Response<Body> {
    respond(status, json!({ "error": message }).to_string())
}

type Answer = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

/// Boxed, so the type of the accept loop does not contain the whole
/// dashboard (which can start a device, which can start a control API).
fn serve(req: Request<Incoming>, shared: Arc<Shared>) -> Answer {
    Box::pin(handle(req, shared))
}

async fn handle(req: Request<Incoming>, shared: Arc<Shared>) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    if path.len() + query.len() > MAX_URI {
        return Ok(json_error(StatusCode::URI_TOO_LONG, "the URI is too long"));
    }
    let is_probe = method == Method::GET && path == "/healthz";
    match &shared.token {
        Some(token) if !is_probe => match presented_token(req.headers(), &query) {
            Some(t) if same(t.as_bytes(), token.as_bytes()) => {}
            _ => return Ok(crate::dashboard::unauthorized(&path)),
        },
        Some(_) => {}
        None => {
            if !loopback_host(req.headers()) {
                return Ok(json_error(
                    StatusCode::FORBIDDEN,
                    "the control API without a token answers only to a loopback Host",
                ));
            }
        }
    }
    if path == "/openapi.json" && method == Method::GET {
        return Ok(respond(StatusCode::OK, crate::control::OPENAPI.to_string()));
    }
    if method == Method::GET {
        if let Some(r) = screen(&shared.target, &path).await {
            return Ok(r);
        }
    }
    let headers = req.headers().clone();
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large",
            ))
        }
    };
    if let Some(r) = crate::dashboard::route(
        &method,
        &path,
        &query,
        &headers,
        &body,
        &shared.target,
        shared.token.as_deref(),
    )
    .await
    {
        return Ok(r);
    }
    let (status, value) = shared.target.json(&method, &path, &query, &body).await;
    Ok(respond(status, value.to_string()))
}

/// The one binary answer, the host's screen as a picture:
/// `/api/machine/screen.png` (a fleet's first device) and, in a fleet,
/// `/api/devices/{id}/machine/screen.png`.
async fn screen(target: &Target, path: &str) -> Option<Response<Body>> {
    let host = match (target, path) {
        (Target::Device(host), "/api/machine/screen.png") => host.clone(),
        (Target::Fleet(fleet), _) => {
            let member = match path.strip_prefix("/api/devices/") {
                Some(rest) => {
                    let id = rest.strip_suffix("/machine/screen.png")?;
                    fleet.member(id)
                }
                None if path == "/api/machine/screen.png" => fleet.members().into_iter().next(),
                None => return None,
            };
            let Some(member) = member else {
                return Some(json_error(StatusCode::NOT_FOUND, "no such device"));
            };
            match member.host().await {
                Ok(host) => host,
                Err(e) => return Some(json_error(StatusCode::SERVICE_UNAVAILABLE, &e)),
            }
        }
        _ => return None,
    };
    Some(png_response(&host))
}

/// The host's screen now, as `image/png`.
pub(crate) fn png_response(host: &DeviceHost) -> Response<Body> {
    match crate::control::screen_png(host) {
        Ok(png) => {
            let mut r = Response::new(full(png));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("image/png"));
            r.headers_mut().insert(
                hyper::header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            );
            r
        }
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// The token from the Authorization header, the cookie or the query.
fn presented_token<'a>(headers: &'a HeaderMap, query: &'a str) -> Option<&'a str> {
    let bearer = headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let cookie = headers
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(TOKEN_COOKIE)
                .and_then(|r| r.strip_prefix('='))
        });
    let query = query.split('&').find_map(|kv| kv.strip_prefix("token="));
    bearer.or(cookie).or(query).map(str::trim)
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the Host header names this machine (or is absent, as from an
/// HTTP/1.0 client); a browser tricked by DNS rebinding sends the
/// attacker's name.
fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(hyper::header::HOST) else {
        return true;
    };
    let Ok(host) = host.to_str() else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    let name = name.to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Target {
    /// A JSON control API call.
    pub(crate) async fn json(
        &self,
        method: &Method,
        path: &str,
        query: &str,
        body: &[u8],
    ) -> (StatusCode, Value) {
        match self {
            Target::Device(host) => {
                crate::control::device_route(method, path, query, body, host).await
            }
            Target::Fleet(fleet) => {
                crate::fleet_control::route(method, path, query, body, fleet).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn token_from_header_cookie_or_query() {
        let h = headers(&[("authorization", "Bearer abc")]);
        assert_eq!(presented_token(&h, ""), Some("abc"));
        let h = headers(&[("cookie", "x=1; amt_emu_token=def")]);
        assert_eq!(presented_token(&h, ""), Some("def"));
        assert_eq!(
            presented_token(&HeaderMap::new(), "q=1&token=ghi"),
            Some("ghi")
        );
        assert_eq!(presented_token(&HeaderMap::new(), "q=1"), None);
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }

    #[test]
    fn loopback_hosts_only() {
        for ok in ["127.0.0.1:16990", "localhost", "[::1]:80", "a.localhost:1"] {
            assert!(loopback_host(&headers(&[("host", ok)])), "{ok}");
        }
        for bad in ["evil.example:16990", "10.0.0.1", "[fe80::1]:1"] {
            assert!(!loopback_host(&headers(&[("host", bad)])), "{bad}");
        }
        assert!(loopback_host(&HeaderMap::new()));
    }
}
