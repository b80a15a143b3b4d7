//! The dashboard: HTML pages on the control port for the emulator's
//! operator (docs/dashboard.md). The device list at `/`, a device's page at
//! `/devices/{id}`, its live journal at `/devices/{id}/stream` (server-sent
//! events), and small form endpoints that call the same control API code
//! the JSON routes do. Pages are rendered here with everything escaped;
//! the CSS and JS are compiled in and nothing is read from disk, so no
//! path can reach a file.

pub mod form;
mod html;
mod stream;

use std::sync::Arc;

use amt_device::Device;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use hyper::{HeaderMap, Method, Response, StatusCode};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::control::device_route;
use crate::control_server::{full, Body, Target, TOKEN_COOKIE};
use crate::device_host::DeviceHost;
use form::{encode, Form};
use html::{esc, field, page, value};

/// The id of the one device `amt-emu serve` runs.
pub const SINGLE_DEVICE_ID: &str = "device";
/// Rows the list shows at most; a filter narrows a larger fleet.
const MAX_ROWS: usize = 500;
/// Journal entries a device page renders (the live stream adds newer).
const PAGE_JOURNAL: usize = 200;

const CSS: &str = include_str!("dashboard.css");
const JS: &str = include_str!("dashboard.js");

/// The embedded assets, by the only names that serve them.
fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "dashboard.css" => Some(("text/css; charset=utf-8", CSS)),
        "dashboard.js" => Some(("text/javascript; charset=utf-8", JS)),
        _ => None,
    }
}

fn html_response(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(h);
    r
}

/// What every dashboard answer carries: only our own scripts and styles,
/// never framed, no Referer to another site.
fn secure(h: &mut HeaderMap) {
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    // Not `no-referrer`: with it a browser sends `Origin: null` on a form
    // post, and the origin check below would refuse our own forms.
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn error_page(status: StatusCode, message: &str) -> Response<Body> {
    let body = format!(
        "<h1>{} {}</h1><p class=\"banner\">{}</p><p><a href=\"/\">Back to the devices</a></p>",
        status.as_u16(),
        esc(status.canonical_reason().unwrap_or("")),
        esc(message)
    );
    html_response(status, page(&status.as_u16().to_string(), &body))
}

fn see_other(location: &str) -> Response<Body> {
    let mut r = Response::new(full(""));
    *r.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(LOCATION, v);
    }
    secure(r.headers_mut());
    r
}

/// The answer to a request without the token: a page for a browser, JSON
/// for the API.
pub(crate) fn unauthorized(path: &str) -> Response<Body> {
    let message = "this control port asks for its token (docs/dashboard.md): open the dashboard once as /?token=TOKEN, or send Authorization: Bearer TOKEN";
    if is_dashboard_path(path) {
        error_page(StatusCode::UNAUTHORIZED, message)
    } else {
        crate::control_server::respond(
            StatusCode::UNAUTHORIZED,
            json!({ "error": message }).to_string(),
        )
    }
}

fn is_dashboard_path(path: &str) -> bool {
    path == "/" || path.starts_with("/devices/") || path.starts_with("/assets/")
}

/// Answers a dashboard request; `None` for the JSON API's paths.
pub(crate) async fn route(
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
    target: &Target,
    token: Option<&str>,
) -> Option<Response<Body>> {
    if !is_dashboard_path(path) {
        return None;
    }
    let Ok(query) = Form::parse(query.as_bytes()) else {
        return Some(error_page(
            StatusCode::BAD_REQUEST,
            "the query is not a valid form",
        ));
    };
    // A token given in the URL (already checked) becomes a cookie, and the
    // URL loses it, so it does not stay in the history.
    if let (Some(token), Some(_), &Method::GET) = (token, query.get("token"), method) {
        let mut r = see_other(path);
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
        )) {
            r.headers_mut().insert(SET_COOKIE, v);
        }
        return Some(r);
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    Some(match (method, segments.as_slice()) {
        (&Method::GET, [""]) => html_response(StatusCode::OK, list_page(target, &query)),
        (&Method::GET, ["assets", name]) => match asset(name) {
            Some((kind, text)) => {
                let mut r = Response::new(full(text));
                r.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static(kind));
                secure(r.headers_mut());
                r
            }
            None => error_page(StatusCode::NOT_FOUND, "no such asset"),
        },
        (&Method::GET, ["devices", id]) => match resolve(target, id).await {
            Ok(host) => html_response(StatusCode::OK, device_page(id, &host).await),
            Err(r) => r,
        },
        (&Method::GET, ["devices", id, "screen.png"]) => match resolve(target, id).await {
            Ok(host) => crate::control_server::png_response(&host),
            Err(r) => r,
        },
        (&Method::GET, ["devices", id, "stream"]) => match resolve(target, id).await {
            Ok(host) => stream::journal(host, &query, headers),
            Err(r) => r,
        },
        (&Method::POST, ["devices", id, rest @ ..]) => {
            if !same_origin(headers) {
                return Some(error_page(
                    StatusCode::FORBIDDEN,
                    "the form was posted from another site",
                ));
            }
            let Ok(form) = Form::parse(body) else {
                return Some(error_page(StatusCode::BAD_REQUEST, "the form is not valid"));
            };
            match resolve(target, id).await {
                Ok(host) => post(id, rest, &form, &host).await,
                Err(r) => r,
            }
        }
        (m, [""] | ["assets", _] | ["devices", ..]) if m != Method::GET => error_page(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("{method} is not answered here"),
        ),
        _ => error_page(StatusCode::NOT_FOUND, "no such page"),
    })
}

/// A browser says where a form came from; one from another site is
/// refused (loopback needs no token, so a web page could otherwise post
/// to it).
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if text("sec-fetch-site").is_some_and(|s| s == "cross-site" || s == "same-site") {
        return false;
    }
    match (text("origin"), text("host")) {
        (None, _) => true,
        (Some(origin), Some(host)) => {
            origin
                .strip_prefix("http://")
                .or(origin.strip_prefix("https://"))
                == Some(host)
        }
        (Some(_), None) => false,
    }
}

/// The device `id` names, made now if it is dormant.
async fn resolve(target: &Target, id: &str) -> Result<Arc<DeviceHost>, Response<Body>> {
    match target {
        Target::Device(host) if id == SINGLE_DEVICE_ID => Ok(host.clone()),
        Target::Device(_) => Err(error_page(StatusCode::NOT_FOUND, "no such device")),
        Target::Fleet(fleet) => match fleet.member(id) {
            None => Err(error_page(StatusCode::NOT_FOUND, "no such device")),
            Some(m) => m.host().await.map_err(|e| {
                error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!("device {id} is not running: {e}"),
                )
            }),
        },
    }
}

/// One row of the device list.
struct Row {
    id: String,
    group: String,
    state: &'static str,
    address: String,
    error: Option<String>,
    host: Option<Arc<DeviceHost>>,
}

fn rows(target: &Target) -> Vec<Row> {
    let addresses = |http: Option<std::net::SocketAddr>, tls: Option<std::net::SocketAddr>| {
        [
            tls.map(|a| format!("https://{a}")),
            http.map(|a| format!("http://{a}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
    };
    match target {
        Target::Device(host) => {
            let a = host.listener_addrs();
            vec![Row {
                id: SINGLE_DEVICE_ID.into(),
                group: String::new(),
                state: "ready",
                address: addresses(a.http, a.tls),
                error: None,
                host: Some(host.clone()),
            }]
        }
        Target::Fleet(fleet) => fleet
            .members()
            .iter()
            .map(|m| {
                let v = m.view();
                Row {
                    id: v.id,
                    group: v.group,
                    state: v.state,
                    address: match addresses(v.http, v.tls) {
                        a if a.is_empty() => v.address.to_string(),
                        a => a,
                    },
                    error: v.error,
                    host: m.ready_host(),
                }
            })
            .collect(),
    }
}

fn snake(v: impl serde::Serialize) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The SHA-256 of the certificate TLS presents, hex.
fn tls_fingerprint(d: &Device) -> Option<String> {
    d.active_tls_certificate()
        .map(|(c, _)| hex::encode(Sha256::digest(&c.der)))
}

/// What the list shows of a running device.
struct Live {
    firmware: String,
    provisioning: String,
    control_mode: String,
    fingerprint: Option<String>,
    power: String,
    cira: Option<String>,
    last_call: Option<String>,
}

fn live(host: &DeviceHost) -> Live {
    let mut l = host.with_device(|d| Live {
        firmware: d.profile().version().to_string(),
        provisioning: snake(d.provisioning_state()),
        control_mode: snake(d.control_mode()),
        fingerprint: tls_fingerprint(d),
        power: d.host().power_state.name().to_string(),
        cira: None,
        last_call: None,
    });
    let cira = host.cira_shared().status();
    if cira.mps.is_some() || cira.state != crate::cira::TunnelState::Idle {
        l.cira = Some(snake(cira.state));
    }
    l.last_call = host.journal().last().map(|e| {
        format!(
            "{} {} {}",
            // To the second: the page has room for that.
            e.time.get(..19).map_or(e.time.clone(), |t| format!("{t}Z")),
            call_name(&e),
            e.fault
                .as_deref()
                .map_or(e.http_status.to_string(), |f| format!(
                    "{} {f}",
                    e.http_status
                ))
        )
    });
    l
}

fn call_name(e: &crate::journal::JournalEntry) -> String {
    // A web UI request: what a browser asked, and what its form did.
    if e.kind.as_deref() == Some(crate::journal::KIND_WEB) {
        let mut name = format!(
            "{} {}",
            e.method.as_deref().unwrap_or("?"),
            e.path.as_deref().unwrap_or("?")
        );
        if let Some(a) = e.form_action.as_deref() {
            name.push_str(&format!(" ({a})"));
        }
        return name;
    }
    let op = e.action.as_deref().and_then(|a| a.rsplit('/').next());
    match (e.class.as_deref(), op) {
        (Some(c), Some(o)) => format!("{c}.{o}"),
        (Some(c), None) => c.to_string(),
        (None, Some(o)) => o.to_string(),
        (None, None) => "(unparsed)".into(),
    }
}

fn list_page(target: &Target, query: &Form) -> String {
    let q = query.text("q").unwrap_or("");
    let want_state = query.text("state").unwrap_or("");
    let want_prov = query.text("provisioning").unwrap_or("");
    let words: Vec<String> = q.split_whitespace().map(str::to_lowercase).collect();
    let all = rows(target);
    let total = all.len();
    let mut shown = 0;
    let mut matched = 0;
    let mut body = String::new();
    for row in all {
        let live = row.host.as_deref().map(live);
        if !want_state.is_empty() && row.state != want_state {
            continue;
        }
        if !want_prov.is_empty() && live.as_ref().is_none_or(|l| l.provisioning != want_prov) {
            continue;
        }
        let text = [
            row.id.as_str(),
            row.group.as_str(),
            row.state,
            row.address.as_str(),
            live.as_ref().map_or("", |l| l.firmware.as_str()),
            live.as_ref().map_or("", |l| l.provisioning.as_str()),
            live.as_ref().map_or("", |l| l.control_mode.as_str()),
            live.as_ref().map_or("", |l| l.power.as_str()),
        ]
        .join(" ")
        .to_lowercase();
        if !words.iter().all(|w| text.contains(w.as_str())) {
            continue;
        }
        matched += 1;
        if shown == MAX_ROWS {
            continue;
        }
        shown += 1;
        let dash = || "<span class=\"none\">—</span>".to_string();
        let (firmware, provisioning, fingerprint, power, cira, last) = match &live {
            Some(l) => (
                esc(&l.firmware),
                format!("{} / {}", esc(&l.provisioning), esc(&l.control_mode)),
                l.fingerprint.as_deref().map_or_else(dash, |f| {
                    format!(
                        "<span class=\"mono\" title=\"SHA-256 {}\">{}…</span>",
                        esc(f),
                        esc(f.get(..16).unwrap_or(f))
                    )
                }),
                esc(&l.power),
                l.cira.as_deref().map_or_else(dash, esc),
                l.last_call.as_deref().map_or_else(dash, esc),
            ),
            None => (dash(), dash(), dash(), dash(), dash(), dash()),
        };
        let state = match &row.error {
            Some(e) => format!(
                "<span class=\"state-failed\" title=\"{}\">failed</span>",
                esc(e)
            ),
            None => format!("<span class=\"state-{0}\">{0}</span>", esc(row.state)),
        };
        body.push_str(&format!(
            "<tr data-id=\"{id}\"><td><a href=\"/devices/{id_url}\">{id}</a></td><td>{group}</td><td>{state}</td><td class=\"mono\">{address}</td><td>{firmware}</td><td>{provisioning}</td><td>{fingerprint}</td><td>{power}</td><td>{cira}</td><td class=\"mono\">{last}</td></tr>",
            id = esc(&row.id),
            id_url = encode(&row.id),
            group = esc(&row.group),
            address = esc(&row.address),
        ));
    }
    let option = |value: &str, label: &str, current: &str| {
        format!(
            "<option value=\"{}\"{}>{}</option>",
            esc(value),
            if value == current { " selected" } else { "" },
            esc(label)
        )
    };
    let states = ["", "ready", "dormant", "starting", "failed"]
        .iter()
        .map(|s| option(s, if s.is_empty() { "any state" } else { s }, want_state))
        .collect::<String>();
    let provs = [
        ("", "any provisioning"),
        ("pre_provisioning", "pre-provisioning"),
        ("in_provisioning", "in provisioning"),
        ("post_provisioning", "post-provisioning"),
    ]
    .iter()
    .map(|(v, l)| option(v, l, want_prov))
    .collect::<String>();
    let note = if matched > shown {
        format!("<p class=\"muted\">Showing {shown} of {matched} matching devices; narrow the filter to see the rest.</p>")
    } else {
        String::new()
    };
    let content = format!(
        "<h1>Devices <span class=\"muted\">{matched} of {total}</span></h1>\
<section><form id=\"devices-filter\" class=\"filter\" method=\"get\" action=\"/\">\
<input type=\"search\" name=\"q\" value=\"{q}\" placeholder=\"search id, address, firmware, state…\" aria-label=\"search\">\
<select name=\"state\" aria-label=\"device state\">{states}</select>\
<select name=\"provisioning\" aria-label=\"provisioning state\">{provs}</select>\
<button type=\"submit\">Filter</button> <a href=\"/\">clear</a></form>{note}\
<table id=\"devices\"><thead><tr><th>id</th><th>group</th><th>state</th><th>address</th><th>firmware</th><th>provisioning / control mode</th><th>TLS certificate</th><th>power</th><th>CIRA</th><th>last call</th></tr></thead>\
<tbody>{body}</tbody></table>\
<p class=\"muted\">A dormant device is made on its first connection or when its page is opened.</p></section>",
        q = esc(q),
    );
    page("Devices", &content)
}

async fn json_of(host: &Arc<DeviceHost>, path: &str) -> Value {
    device_route(&Method::GET, path, "", b"", host).await.1
}

fn journal_item(e: &crate::journal::JournalEntry) -> String {
    let bad = e.http_status >= 400 || e.fault.is_some() || e.injected.is_some();
    let status = match &e.fault {
        Some(f) => format!("{} {f}", e.http_status),
        None => e.http_status.to_string(),
    };
    let injected = e
        .injected
        .as_deref()
        .map(|i| format!("<span class=\"status-bad\">injected: {}</span>", esc(i)))
        .unwrap_or_default();
    // The kind marker: web UI requests stand out from WS-Man calls.
    let kind = e
        .kind
        .as_deref()
        .map(|k| format!("<span class=\"kind kind-{0}\">{0}</span>", esc(k)))
        .unwrap_or_default();
    let result = e
        .form_result
        .as_deref()
        .map(|r| format!("<span class=\"muted\">{}</span>", esc(r)))
        .unwrap_or_default();
    format!(
        "<li data-seq=\"{seq}\"><details><summary><span class=\"mono\">#{seq}</span><span class=\"muted\">{time}</span>{kind}<span>{user}</span><strong>{call}</strong><span class=\"{class}\">{status}</span>{result}{injected}<span class=\"muted\">{ms:.1} ms</span></summary>\
<div class=\"muted\">request</div><pre>{req}</pre><div class=\"muted\">response</div><pre>{resp}</pre></details></li>",
        seq = e.seq,
        time = esc(&e.time),
        user = esc(e.user.as_deref().unwrap_or("(anonymous)")),
        call = esc(&call_name(e)),
        class = if bad { "status-bad" } else { "status-ok" },
        status = esc(&status),
        ms = e.duration_ms,
        req = esc(e.request_body.as_deref().unwrap_or("(not kept)")),
        resp = esc(e.response_body.as_deref().unwrap_or("(not kept)")),
    )
}

fn action(id: &str, name: &str, label: &str, fields: &str, danger: bool) -> String {
    format!(
        "<form class=\"inline\" method=\"post\" action=\"/devices/{}/actions/{name}\">{fields}<button type=\"submit\"{}>{}</button></form>",
        encode(id),
        if danger { " class=\"danger\"" } else { "" },
        esc(label)
    )
}

fn users(d: &Device) -> String {
    let mut out = String::from(
        "<table><thead><tr><th>handle</th><th>user</th><th>access</th><th>realms</th><th>enabled</th></tr></thead><tbody>",
    );
    out.push_str(&format!(
        "<tr><td>—</td><td>admin (digest)</td><td>any</td><td>all</td><td>{}</td></tr>",
        if d.public_view().admin_password_set {
            "yes"
        } else {
            "no password yet"
        }
    ));
    for e in d.accounts().entries() {
        let user = match &e.user {
            amt_device::accounts::AclUser::Digest { name, .. } => format!("{} (digest)", esc(name)),
            amt_device::accounts::AclUser::Kerberos { sid } => {
                format!(
                    "<span class=\"mono\">{}</span> (Kerberos SID)",
                    hex::encode(sid)
                )
            }
        };
        let realms = e
            .realms
            .iter()
            .map(|r| esc(&format!("{r:?}")))
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!(
            "<tr><td>{}</td><td>{user}</td><td>{}</td><td>{realms}</td><td>{}</td></tr>",
            e.handle,
            esc(&format!("{:?}", e.access)),
            if e.enabled { "yes" } else { "no" }
        ));
    }
    out.push_str("</tbody></table>");
    out
}

fn certificates(d: &Device) -> String {
    let view = d.public_view();
    let active = view.active_tls_certificate;
    let mut out = String::from(
        "<table><thead><tr><th>handle</th><th>role</th><th>key</th><th>SHA-256</th><th>PEM</th></tr></thead><tbody>",
    );
    for (c, entry) in view.certificates.iter().zip(d.cert_store().certificates()) {
        let mut roles = Vec::new();
        if Some(c.handle) == active {
            roles.push("TLS");
        }
        if c.read_only {
            roles.push("self-signed");
        }
        if c.trusted_root {
            roles.push("trusted root");
        }
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td><details><summary>PEM</summary><pre>{}</pre></details></td></tr>",
            c.handle,
            esc(&roles.join(", ")),
            c.key_handle.map_or("—".into(), |k| k.to_string()),
            hex::encode(Sha256::digest(&entry.der)),
            esc(&c.pem),
        ));
    }
    out.push_str("</tbody></table><h2>Keys (public parts)</h2><table><thead><tr><th>handle</th><th>bits</th><th>public key</th></tr></thead><tbody>");
    for k in &view.keys {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td><details><summary>PEM</summary><pre>{}</pre></details></td></tr>",
            k.handle,
            k.bits,
            esc(&k.public_key_pem)
        ));
    }
    out.push_str("</tbody></table>");
    out
}

/// Serial bytes shown at most (the newest).
const PAGE_SERIAL: usize = 8 * 1024;

/// What the host shows a person: its screen (as the picture
/// `/devices/{id}/screen.png` and as text) and the newest part of what it
/// wrote to its serial port (what KVM and SOL carry).
fn console(id: &str, d: &Device) -> String {
    let c = d.host_console();
    let serial = c.serial_transcript();
    let tail = &serial[serial.len().saturating_sub(PAGE_SERIAL)..];
    let serial = String::from_utf8_lossy(tail);
    format!(
        "<p class=\"muted\">Screen: {}</p><img id=\"screen-image\" class=\"screen\" src=\"/devices/{}/screen.png\" alt=\"the host's screen\" width=\"512\" height=\"384\"><pre class=\"screen\" id=\"screen\">{}</pre><h2>Serial port</h2><pre id=\"serial\">{}</pre>",
        esc(&format!("{:?}", c.screen_mode())),
        encode(id),
        esc(&c.screen_lines().join("\n")),
        if serial.is_empty() { "<span class=\"none\">nothing written yet</span>".to_string() } else { esc(&serial) },
    )
}

fn fault_rules(id: &str, rules: &Value) -> String {
    let mut out = String::from(
        "<table id=\"fault-rules\"><thead><tr><th>id</th><th>class</th><th>operation</th><th>does</th><th>times</th><th>fired</th><th></th></tr></thead><tbody>",
    );
    let list = rules.as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        out.push_str("<tr><td colspan=\"7\" class=\"none\">no fault rules</td></tr>");
    }
    for r in &list {
        let mut does = r.as_object().cloned().unwrap_or_default();
        for k in ["id", "class", "operation", "times", "fired"] {
            does.remove(k);
        }
        let does = does
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" ");
        let rule_id = r.get("id").and_then(Value::as_u64).unwrap_or(0);
        out.push_str(&format!(
            "<tr><td>{rule_id}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td><form class=\"inline\" method=\"post\" action=\"/devices/{}/faults/{rule_id}/remove\"><button type=\"submit\" class=\"danger\">remove</button></form></td></tr>",
            field(r, "class"),
            field(r, "operation"),
            esc(&does),
            match r.get("times") { Some(Value::Number(n)) => n.to_string(), _ => "every".into() },
            field(r, "fired"),
            encode(id),
        ));
    }
    out.push_str("</tbody></table>");
    let kinds = [
        ("soap_fault", "SOAP fault"),
        ("return_value", "ReturnValue"),
        ("http500", "HTTP 500"),
        ("delay", "delay"),
        ("drop_before_response", "drop before answering"),
        ("drop_after_response", "drop after processing"),
        ("garbage", "garbage bytes"),
        ("stall", "stall"),
        ("refuse_tls", "refuse TLS for a while"),
        ("restart_ports", "process, drop, restart the ports"),
    ]
    .iter()
    .map(|(v, l)| format!("<option value=\"{v}\">{l}</option>"))
    .collect::<String>();
    out.push_str(&format!(
        "<h2>Add a rule</h2><form id=\"add-fault\" class=\"fault\" method=\"post\" action=\"/devices/{}/faults\">\
<label>class<input name=\"class\" placeholder=\"any, e.g. AMT_GeneralSettings\"></label>\
<label>operation<input name=\"operation\" placeholder=\"any, e.g. Get, CommitChanges\"></label>\
<label>does<select name=\"kind\">{kinds}</select></label>\
<label>subcode (SOAP fault)<input name=\"subcode\" value=\"wsman:InternalError\"></label>\
<label>reason (SOAP fault)<input name=\"reason\"></label>\
<label>ReturnValue<input name=\"value\" inputmode=\"numeric\" placeholder=\"1\"></label>\
<label>delay ms<input name=\"ms\" inputmode=\"numeric\" placeholder=\"500\"></label>\
<label>seconds (TLS, ports)<input name=\"seconds\" inputmode=\"numeric\" placeholder=\"10\"></label>\
<label>times<input name=\"times\" inputmode=\"numeric\" placeholder=\"every call\"></label>\
<button type=\"submit\">Add rule</button></form>",
        encode(id)
    ));
    out
}

async fn device_page(id: &str, host: &Arc<DeviceHost>) -> String {
    let device = json_of(host, "/api/device").await;
    let machine = json_of(host, "/api/machine").await;
    let cira = json_of(host, "/api/cira").await;
    let consent = json_of(host, "/api/consent").await;
    let faults = json_of(host, "/api/faults").await;
    let (users, certs, tls, fingerprint, power, console) = host.with_device(|d| {
        (
            users(d),
            certificates(d),
            json!({ "settings": d.tls_settings(), "active": d.active_tls() }),
            tls_fingerprint(d),
            d.host().power_state.name().to_string(),
            console(id, d),
        )
    });
    let addrs = host.listener_addrs();
    let from_device = |key: &str| device.get(key).cloned().unwrap_or(Value::Null);
    let summary = [
        ("id", json!(id)),
        ("firmware", from_device("firmware_version")),
        ("https", json!(addrs.tls.map(|a| a.to_string()))),
        ("http", json!(addrs.http.map(|a| a.to_string()))),
        ("provisioning state", from_device("provisioning_state")),
        ("control mode", from_device("control_mode")),
        ("TLS certificate SHA-256", json!(fingerprint)),
        ("power state", json!(power)),
        ("UUID", from_device("uuid")),
        ("digest realm", from_device("digest_realm")),
        ("BIOS clock", from_device("bios_clock")),
        ("admin password set", from_device("admin_password_set")),
        ("MEBx password set", from_device("mebx_password_set")),
        ("network access", from_device("network_access_enabled")),
    ];
    let code = match consent.get("code").and_then(Value::as_str) {
        Some(c) => format!(
            "<p>On the host's screen: <span class=\"code\" id=\"consent-code\">{}</span></p>",
            esc(c)
        ),
        None => "<p class=\"muted\">No consent code is displayed.</p>".into(),
    };
    let entries = host.journal().entries(0);
    let newest = entries.last().map_or(0, |e| e.seq);
    let mut journal: String = entries
        .iter()
        .rev()
        .take(PAGE_JOURNAL)
        .map(journal_item)
        .collect();
    if journal.is_empty() {
        journal = "<li class=\"empty muted\">No calls yet.</li>".into();
    }
    let clock_form = "<select name=\"mode\" aria-label=\"clock\"><option value=\"host\">the host's time</option><option value=\"set\">set to</option><option value=\"unset\">unset (CMOS lost)</option></select><input name=\"at\" placeholder=\"2030-01-01T00:00:00Z\" aria-label=\"time\">";
    let actions = [
        action(id, "power-button", "Power button", "", false),
        action(id, "power-button-long", "Hold power button", "", false),
        action(id, "pull-plug", "Pull the plug", "", true),
        action(id, "power-cycle", "Restart the firmware", "", false),
        action(id, "bios-clock", "Set BIOS clock", clock_form, false),
        action(id, "mebx-password", "Set MEBx password", "<input name=\"password\" type=\"password\" placeholder=\"MEBx password\" aria-label=\"MEBx password\" autocomplete=\"off\">", false),
        action(id, "provisioning-start", "MEBx: start provisioning", "", false),
        action(id, "provisioning-stop", "MEBx: stop provisioning", "", false),
        action(id, "cira-user-initiated", "CIRA: user-initiated connection", "", false),
        action(id, "unprovision", "Unprovision", "", true),
    ]
    .concat();
    let content = format!(
        "<h1>{title} <a class=\"muted\" href=\"/\">all devices</a></h1>\
<div class=\"grid\">\
<section id=\"summary\"><h2>Device</h2>{summary}</section>\
<section id=\"actions\"><h2>The owner's actions</h2>{actions}<h2>User consent</h2>{code}{consent_table}</section>\
</div>\
<section id=\"journal-section\"><h2>Call journal <span id=\"live\" class=\"live\">newest first</span></h2>\
<ol id=\"journal\" data-stream=\"/devices/{id_url}/stream?after={newest}\">{journal}</ol></section>\
<section id=\"faults\"><h2>Fault rules</h2>{faults}</section>\
<div class=\"grid\">\
<section id=\"certificates\"><h2>Certificates</h2>{certs}</section>\
<section id=\"tls\"><h2>TLS settings</h2>{tls}</section>\
<section id=\"users\"><h2>Users</h2>{users}</section>\
<section id=\"machine\"><h2>The host machine</h2>{machine}</section>\
<section id=\"cira\"><h2>CIRA</h2>{cira}</section>\
<section id=\"console\"><h2>Screen and serial console</h2>{console}</section>\
</div>",
        title = esc(id),
        id_url = encode(id),
        summary = html::pairs(&summary),
        consent_table = value(&consent),
        faults = fault_rules(id, &faults),
        tls = value(&tls),
        machine = value(&machine),
        cira = value(&cira),
    );
    page(id, &content)
}

/// A number from a form field, if given.
fn number(form: &Form, name: &str) -> Result<Option<u64>, String> {
    form.text(name)
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| format!("{name} must be a number"))
        })
        .transpose()
}

/// The fault rule a form describes, as the control API's JSON.
fn fault_json(form: &Form) -> Result<Value, String> {
    let mut rule = Map::new();
    let kind = form.text("kind").ok_or("kind is required")?;
    rule.insert("kind".into(), json!(kind));
    for key in ["class", "operation"] {
        if let Some(v) = form.text(key) {
            rule.insert(key.into(), json!(v));
        }
    }
    if let Some(t) = number(form, "times")? {
        rule.insert("times".into(), json!(t));
    }
    match kind {
        "soap_fault" => {
            rule.insert(
                "subcode".into(),
                json!(form.text("subcode").unwrap_or("wsman:InternalError")),
            );
            if let Some(r) = form.text("reason") {
                rule.insert("reason".into(), json!(r));
            }
        }
        "return_value" => {
            rule.insert("value".into(), json!(number(form, "value")?.unwrap_or(1)));
        }
        "delay" => {
            rule.insert("ms".into(), json!(number(form, "ms")?.unwrap_or(500)));
        }
        "refuse_tls" | "restart_ports" => {
            rule.insert(
                "seconds".into(),
                json!(number(form, "seconds")?.unwrap_or(10)),
            );
        }
        _ => {}
    }
    Ok(Value::Object(rule))
}

/// The control API call an owner's action form stands for.
fn action_call(name: &str, form: &Form) -> Option<(Method, &'static str, Value)> {
    Some(match name {
        "power-button" => (
            Method::POST,
            "/api/machine/power-button",
            json!({ "long": false }),
        ),
        "power-button-long" => (
            Method::POST,
            "/api/machine/power-button",
            json!({ "long": true }),
        ),
        "pull-plug" => (Method::POST, "/api/machine/pull-plug", json!({})),
        "power-cycle" => (Method::POST, "/api/device/power-cycle", json!({})),
        "unprovision" => (Method::POST, "/api/device/unprovision", json!({})),
        "provisioning-start" => (Method::POST, "/api/mebx/provisioning/start", json!({})),
        "provisioning-stop" => (Method::POST, "/api/mebx/provisioning/stop", json!({})),
        "cira-user-initiated" => (Method::POST, "/api/cira/user-initiated", json!({})),
        "mebx-password" => (
            Method::POST,
            "/api/mebx/password",
            json!({ "password": form.get("password").unwrap_or("") }),
        ),
        "bios-clock" => (
            Method::PUT,
            "/api/device/bios-clock",
            match form.text("mode").unwrap_or("host") {
                "set" => json!({ "mode": "set", "at": form.text("at").unwrap_or("") }),
                other => json!({ "mode": other }),
            },
        ),
        _ => return None,
    })
}

/// A form post: the same control API code, then back to the device page
/// (303, so a reload does not post again), or the refusal as a page.
async fn post(id: &str, rest: &[&str], form: &Form, host: &Arc<DeviceHost>) -> Response<Body> {
    let (method, path, body, anchor) = match rest {
        ["faults"] => match fault_json(form) {
            Ok(rule) => (Method::POST, "/api/faults".to_string(), rule, "faults"),
            Err(e) => return error_page(StatusCode::BAD_REQUEST, &e),
        },
        ["faults", rule, "remove"] => match rule.parse::<u32>() {
            Ok(n) => (
                Method::DELETE,
                format!("/api/faults/{n}"),
                json!({}),
                "faults",
            ),
            Err(_) => return error_page(StatusCode::NOT_FOUND, "no such fault rule"),
        },
        ["actions", name] => match action_call(name, form) {
            Some((m, p, b)) => (m, p.to_string(), b, "actions"),
            None => return error_page(StatusCode::NOT_FOUND, "no such action"),
        },
        _ => return error_page(StatusCode::NOT_FOUND, "no such form"),
    };
    let (status, reply) = device_route(&method, &path, "", body.to_string().as_bytes(), host).await;
    if status.is_success() {
        see_other(&format!("/devices/{}#{anchor}", encode(id)))
    } else {
        let message = reply
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("the device refused");
        error_page(status, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_form_becomes_a_rule_the_api_accepts() {
        let form = Form::parse(
            b"class=&operation=Get&kind=soap_fault&subcode=wsman%3AAccessDenied&times=1",
        )
        .unwrap();
        let rule: crate::faults::FaultRule =
            serde_json::from_value(fault_json(&form).unwrap()).unwrap();
        assert_eq!(rule.scope.operation.as_deref(), Some("Get"));
        assert_eq!(rule.scope.class, None);
        assert_eq!(rule.times, Some(1));
        let bad = Form::parse(b"kind=delay&ms=soon").unwrap();
        assert!(fault_json(&bad).is_err());
        let unknown = Form::parse(b"kind=explode").unwrap();
        assert!(
            serde_json::from_value::<crate::faults::FaultRule>(fault_json(&unknown).unwrap())
                .is_err()
        );
    }

    #[test]
    fn forms_from_another_site_are_refused() {
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, HeaderValue::from_static(v));
            }
            m
        };
        assert!(same_origin(&h(&[("host", "127.0.0.1:16990")])));
        assert!(same_origin(&h(&[
            ("host", "127.0.0.1:16990"),
            ("origin", "http://127.0.0.1:16990")
        ])));
        assert!(!same_origin(&h(&[
            ("host", "127.0.0.1:16990"),
            ("origin", "http://evil.example")
        ])));
        assert!(!same_origin(&h(&[
            ("host", "127.0.0.1:16990"),
            ("sec-fetch-site", "cross-site")
        ])));
    }

    #[test]
    fn only_the_embedded_names_are_assets() {
        assert!(asset("dashboard.css").is_some());
        for name in [
            "../Cargo.toml",
            "..",
            "dashboard.css/",
            "mod.rs",
            "page.html",
            "",
        ] {
            assert!(asset(name).is_none(), "{name}");
        }
    }
}
