//! The firmware's own web UI on the WS-Man ports (16992 plain, 16993 TLS,
//! as the port policy opens them): server-side HTML rendered from the
//! device, no script, behind the same digest login, realm checks and
//! lockout as WS-Man (docs/web-ui.md).
//!
//! Page names are the firmware's (an HP machine's pages as captured in
//! the public `haxrob/amthoneypot` honeypot: `index.htm`, `hw-sys.htm` …
//! `acl.htm`, `logon.htm`, `styles.css`); `GET /` answers 303 to
//! `/logon.htm` as AMT 7 does (the `travisbgreen/intel_amt_honeypot`
//! capture). `remote.htm` and its `/RemoteForm` action are our names for
//! the Remote Control page. Only the fixed table of pages is served:
//! nothing is read from disk (the style sheet is compiled in), a path is
//! never decoded, so `..` or `%2e%2e` is simply not a page (404).
//!
//! Rendering is pure ([`render`]): a page of a device at a time. Every
//! request but the style sheet and a refused login goes to the device's
//! journal (`"kind": "web"`), form posts with the action they took.

pub mod accounts;
pub mod events;
pub mod form;
pub mod hardware;
pub mod layout;
pub mod network;
pub mod remote;
pub mod status;

use std::sync::Arc;

use amt_device::accounts::Realm;
use amt_device::host::PowerAction;
use amt_device::Device;
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, ALLOW, CACHE_CONTROL, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, EXPIRES, LOCATION,
    SERVER,
};
use hyper::{Method, Request, Response, StatusCode};
use time::OffsetDateTime;

use crate::device_host::{DeviceHost, Principal};
use crate::http::ChunkedBody;
use crate::journal::{JournalEntry, KIND_WEB};
use crate::listener::SlotGuard;
use crate::vocabulary::{Interface, Transport, Via};

/// The longest request target served; a longer one is 414, before any
/// lookup or login.
pub const MAX_TARGET_BYTES: usize = 1024;
/// The largest form body (the remote control form is a few dozen bytes).
pub const MAX_FORM_BYTES: usize = 4096;

/// The style sheet, compiled in.
pub const STYLES_CSS: &str = include_str!("styles.css");

/// A page of the web UI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    Logon,
    Styles,
    Status,
    HwSystem,
    HwProcessor,
    HwMemory,
    HwDisk,
    HwBattery,
    Events,
    Remote,
    Network,
    Wireless,
    SystemName,
    Accounts,
}

/// Every page by its path.
pub const PAGES: [(&str, Page); 14] = [
    ("/logon.htm", Page::Logon),
    ("/styles.css", Page::Styles),
    ("/index.htm", Page::Status),
    ("/hw-sys.htm", Page::HwSystem),
    ("/hw-proc.htm", Page::HwProcessor),
    ("/hw-mem.htm", Page::HwMemory),
    ("/hw-disk.htm", Page::HwDisk),
    ("/hw-batt.htm", Page::HwBattery),
    ("/events.htm", Page::Events),
    ("/remote.htm", Page::Remote),
    ("/ip.htm", Page::Network),
    ("/wlan.htm", Page::Wireless),
    ("/fqdn.htm", Page::SystemName),
    ("/acl.htm", Page::Accounts),
];

impl Page {
    pub fn of_path(path: &str) -> Option<Page> {
        PAGES
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, page)| *page)
    }

    /// The realm a user of the user ACL needs to see the page; `None`
    /// for the pages shown before logging in.
    pub fn realm(self) -> Option<Realm> {
        Some(match self {
            Page::Logon | Page::Styles => return None,
            Page::Status | Page::Network | Page::Wireless | Page::SystemName => Realm::GeneralInfo,
            Page::HwSystem
            | Page::HwProcessor
            | Page::HwMemory
            | Page::HwDisk
            | Page::HwBattery => Realm::HardwareAsset,
            Page::Events => Realm::EventLogReader,
            Page::Remote => Realm::RemoteControl,
            // The user ACL is AMT_AuthorizationService's, PT Administration.
            Page::Accounts => Realm::PtAdministration,
        })
    }
}

/// Whether `principal` may use a page of `realm`: admin everything, an
/// ACL user what its entry holds, the local system account (a host
/// agent's, not a person's) nothing.
pub fn may(principal: Principal, device: &Device, realm: Realm) -> bool {
    match principal {
        Principal::Admin => true,
        Principal::LocalSystemAccount => false,
        Principal::AclUser { handle } => amt_wsman::access::acl_user_may(device, handle, realm),
    }
}

/// The HTML of `page` for `device` at host time `now` (`Styles` is CSS).
pub fn render(page: Page, device: &Device, now: OffsetDateTime) -> String {
    match page {
        Page::Logon => layout::logon(),
        Page::Styles => STYLES_CSS.to_string(),
        Page::Status => status::render(device, now),
        Page::HwSystem => hardware::system(device),
        Page::HwProcessor => hardware::processors(device),
        Page::HwMemory => hardware::memory(device),
        Page::HwDisk => hardware::disks(device),
        Page::HwBattery => hardware::battery(device),
        Page::Events => events::render(device),
        Page::Remote => remote::render(device, None),
        Page::Network => network::ip(device),
        Page::Wireless => network::wlan(device),
        Page::SystemName => network::fqdn(device),
        Page::Accounts => accounts::render(device),
    }
}

/// What a posted remote control form asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteCommand {
    pub action: PowerAction,
}

/// Why a remote control form was refused (400).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RemoteFormError {
    #[error(transparent)]
    Form(#[from] form::FormError),
    #[error("unknown field {0:?}")]
    UnknownField(String),
    #[error("field {0:?} given twice")]
    Repeated(String),
    #[error("no power action chosen")]
    NoAction,
    #[error("{0:?} is not a power action")]
    BadAction(String),
}

/// Reads the remote control form: `power` (a `RequestPowerStateChange`
/// code) once, and the firmware's hidden `t` field; nothing else.
pub fn parse_remote_form(body: &[u8]) -> Result<RemoteCommand, RemoteFormError> {
    let mut power = None;
    let mut seen_t = false;
    for (name, value) in form::parse(body)? {
        match name.as_str() {
            "power" if power.is_none() => power = Some(value),
            "t" if !seen_t => seen_t = true,
            "power" | "t" => return Err(RemoteFormError::Repeated(name)),
            _ => return Err(RemoteFormError::UnknownField(name)),
        }
    }
    let value = power.ok_or(RemoteFormError::NoAction)?;
    let action = value
        .parse::<u32>()
        .ok()
        .and_then(PowerAction::from_code)
        .ok_or(RemoteFormError::BadAction(value))?;
    Ok(RemoteCommand { action })
}

/// What the journal learns while a request is served.
#[derive(Debug, Default)]
struct Trace {
    /// Not journaled: the style sheet (fetched with every page, no login,
    /// nothing done), or a login the digest check refused (every digest
    /// login starts with one; WS-Man does not journal them either).
    skip: bool,
    user: Option<String>,
    form_action: Option<String>,
    form_result: Option<String>,
    /// The form as posted; the journal masks its secret fields.
    form_body: Option<String>,
}

/// Serves one request that is not `/wsman`, and journals it
/// (`"kind": "web"`).
pub async fn serve(
    req: Request<Incoming>,
    host: Arc<DeviceHost>,
    interface: Interface,
    slot: Option<Arc<SlotGuard>>,
) -> Response<ChunkedBody> {
    let started = crate::clock::monotonic();
    let arrived = OffsetDateTime::now_utc();
    // Set by the connection's service (listener::serve_http).
    let via = req.extensions().get::<Via>().copied().unwrap_or_default();
    let transport = req.extensions().get::<Transport>().copied();
    let method = req.method().as_str().to_string();
    let path = journal_path(req.uri().path());
    let mut trace = Trace::default();
    let response = answer(req, &host, interface, slot, &mut trace).await;
    if trace.skip {
        return response;
    }
    let journal = host.journal();
    let page = journal
        .keeps_bodies()
        .then(|| response.body().unsent())
        .flatten()
        .map(|b| String::from_utf8_lossy(b).into_owned());
    journal.record(JournalEntry {
        time: crate::journal::timestamp(arrived),
        interface: interface.name().into(),
        user: trace.user,
        http_status: response.status().as_u16(),
        duration_ms: crate::clock::monotonic()
            .saturating_duration_since(started)
            .as_secs_f64()
            * 1000.0,
        request_body: trace.form_body,
        response_body: page,
        via: via.journal_name().map(str::to_string),
        kind: Some(KIND_WEB.into()),
        transport: transport.map(|t| t.journal_name().to_string()),
        method: Some(method),
        path: Some(path),
        form_action: trace.form_action,
        form_result: trace.form_result,
        ..JournalEntry::default()
    });
    response
}

/// The path as the journal keeps it: at most [`MAX_TARGET_BYTES`] (a
/// longer one was refused with 414 and is cut).
fn journal_path(path: &str) -> String {
    let mut end = path.len().min(MAX_TARGET_BYTES);
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    path.get(..end).unwrap_or_default().to_string()
}

/// How the journal names a power action of the remote control form.
pub fn journal_action(action: PowerAction) -> String {
    let name = match action {
        PowerAction::PowerUp => "on",
        PowerAction::PowerDown => "off",
        PowerAction::PowerCycle => "cycle",
        PowerAction::MasterBusReset => "reset",
        PowerAction::SoftOff => "graceful shutdown",
        PowerAction::SoftReset => "graceful restart",
        PowerAction::Sleep => "standby",
        PowerAction::Hibernate => "hibernate",
        PowerAction::Nmi => "nmi",
    };
    format!("power: {name}")
}

async fn answer(
    req: Request<Incoming>,
    host: &Arc<DeviceHost>,
    interface: Interface,
    slot: Option<Arc<SlotGuard>>,
    trace: &mut Trace,
) -> Response<ChunkedBody> {
    let server = host.server_header();
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    if target.len() > MAX_TARGET_BYTES {
        return error(&server, StatusCode::URI_TOO_LONG, "Request-URI Too Long");
    }
    let path = req.uri().path().to_string();
    if path == "/" {
        return see_other(&server, "/logon.htm");
    }
    let form_post = path == remote::FORM_ACTION;
    let page = if form_post {
        Page::Remote
    } else {
        match Page::of_path(&path) {
            Some(p) => p,
            None => return error(&server, StatusCode::NOT_FOUND, "Not Found"),
        }
    };
    let (allowed, allow) = if form_post {
        (Method::POST, "POST")
    } else {
        (Method::GET, "GET")
    };
    if req.method() != allowed {
        let mut r = error(
            &server,
            StatusCode::METHOD_NOT_ALLOWED,
            "Method Not Allowed",
        );
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allow));
        return r;
    }
    let Some(realm) = page.realm() else {
        trace.skip = page == Page::Styles;
        let now = OffsetDateTime::now_utc();
        let body = host.with_device(|d| render(page, d, now));
        let kind = if page == Page::Styles {
            "text/css"
        } else {
            "text/html"
        };
        return reply(&server, StatusCode::OK, kind, body);
    };

    let authorization = crate::http::authorization_of(&req);
    let method = req.method().as_str().to_string();
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    // The body is read before any answer, as on /wsman.
    let body = if form_post {
        match crate::http::read_body(&server, req.into_body(), MAX_FORM_BYTES, host.limits()).await
        {
            Ok(b) => Some(b),
            Err(refusal) => return refusal,
        }
    } else {
        None
    };
    if let Some(slot) = &slot {
        if !slot.mark_busy() {
            return error(
                &server,
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable",
            );
        }
    }
    let principal =
        match crate::http::login(host, authorization, &method, &target, interface, false) {
            Ok(p) => p,
            Err(refusal) => {
                trace.skip = true;
                return *refusal;
            }
        };
    trace.user = Some(host.with_device(|d| principal.user_name(d)));
    if !host.with_device(|d| may(principal, d, realm)) {
        tracing::info!(
            ?page,
            ?realm,
            "web UI page refused: the user lacks the realm"
        );
        return error(
            &server,
            StatusCode::FORBIDDEN,
            "Access denied. This user account has no permission for this page.",
        );
    }
    let Some(body) = body else {
        let now = OffsetDateTime::now_utc();
        let html = host.with_device(|d| render(page, d, now));
        return reply(&server, StatusCode::OK, "text/html", html);
    };

    let form_type = content_type
        .as_deref()
        .and_then(|t| t.split(';').next())
        .map(str::trim);
    if form_type != Some("application/x-www-form-urlencoded") {
        // Not a form: its body is not kept (nothing says where a secret
        // would be in it).
        trace.form_result = Some("refused: not a form".into());
        return error(
            &server,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type",
        );
    }
    trace.form_body = Some(String::from_utf8_lossy(&body).into_owned());
    let command = match parse_remote_form(&body) {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(error = %e, "remote control form refused");
            trace.form_result = Some(format!("refused: {e}"));
            return error(&server, StatusCode::BAD_REQUEST, "Bad Request");
        }
    };
    trace.form_action = Some(journal_action(command.action));
    // The same device call as CIM_PowerManagementService.RequestPowerStateChange.
    let code = u32::from(command.action.code());
    let outcome = host
        .web_change(principal, move |d, now| {
            d.request_power_state_change(code, now)
        })
        .await;
    let message = match outcome {
        Ok(Ok(())) => {
            tracing::info!(action = ?command.action, "power action from the web UI");
            trace.form_result = Some("done".into());
            "Command sent successfully."
        }
        Ok(Err(_)) => {
            trace.form_result = Some("not available in the current power state".into());
            "The command is not available in the current power state."
        }
        Err(e) => {
            tracing::error!(error = %e, "power action from the web UI not saved");
            trace.form_result = Some("not saved to flash".into());
            return error(
                &server,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error",
            );
        }
    };
    let html = host.with_device(|d| remote::render(d, Some(message)));
    reply(&server, StatusCode::OK, "text/html", html)
}

/// A page with the firmware's headers: chunked, never cached, no frames.
fn reply(
    server: &str,
    status: StatusCode,
    content_type: &'static str,
    body: String,
) -> Response<ChunkedBody> {
    let mut r = Response::new(ChunkedBody::new(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(server) {
        h.insert(SERVER, v);
    }
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // The firmware's fixed past date, so no proxy keeps a page.
    h.insert(
        EXPIRES,
        HeaderValue::from_static("26 Oct 1995 00:00:00 GMT"),
    );
    h.insert("X-Frame-Options", HeaderValue::from_static("DENY"));
    h.insert(CONNECTION, HeaderValue::from_static("close"));
    r
}

fn error(server: &str, status: StatusCode, title: &str) -> Response<ChunkedBody> {
    reply(server, status, "text/html", layout::error_page(title))
}

fn see_other(server: &str, location: &'static str) -> Response<ChunkedBody> {
    let mut r = reply(server, StatusCode::SEE_OTHER, "text/html", String::new());
    let h = r.headers_mut();
    h.insert(LOCATION, HeaderValue::from_static(location));
    h.insert(CONTENT_LENGTH, HeaderValue::from(0));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use amt_device::{ControlMode, DeviceConfig, Entropy};

    fn device() -> Device {
        let now = time::macros::datetime!(2026-12-01 10:00:00 UTC);
        let mut d = Device::new(DeviceConfig::default(), Entropy([7; 32]), now).unwrap();
        d.provision_for_testing(ControlMode::Admin, "P@ssw0rd");
        d.set_host_and_domain_name("<img src=x onerror=alert(1)>", "\"quoted\"");
        d
    }

    #[test]
    fn every_page_renders_with_device_text_escaped() {
        let d = device();
        let now = time::macros::datetime!(2026-12-01 10:00:00 UTC);
        for (path, page) in PAGES {
            let html = render(page, &d, now);
            assert!(!html.contains("<img"), "{path}");
            assert!(!html.contains("\"quoted\""), "{path}");
            assert!(!html.contains("P@ssw0rd"), "{path}");
            if page != Page::Styles && page != Page::Logon {
                assert!(html.contains("&lt;img src=x"), "{path}: {html}");
                assert!(html.contains("<a href=\"/remote.htm\">"), "{path}");
            }
        }
        let status = render(Page::Status, &d, now);
        assert!(status.contains("id=\"power\">On<"), "{status}");
        assert!(status.contains("admin control mode"), "{status}");
        assert!(status.contains("12/1/2026"), "{status}");
    }

    #[test]
    fn the_remote_page_offers_what_the_state_allows() {
        let mut d = device();
        let now = time::macros::datetime!(2026-12-01 10:00:00 UTC);
        let on = remote::render(&d, None);
        assert!(on.contains("value=\"8\""), "{on}");
        assert!(!on.contains("value=\"2\""), "{on}");
        d.request_power_state_change(8, now).unwrap();
        let off = remote::render(&d, Some("done <ok>"));
        assert!(off.contains("value=\"2\" checked"), "{off}");
        assert!(!off.contains("value=\"8\""), "{off}");
        assert!(off.contains("done &lt;ok&gt;"), "{off}");
    }

    #[test]
    fn the_remote_form_takes_one_known_power_code() {
        let ok = |b: &[u8]| parse_remote_form(b).map(|c| c.action.code());
        assert_eq!(ok(b"power=8"), Ok(8));
        assert_eq!(ok(b"t=&power=2"), Ok(2));
        assert!(matches!(
            parse_remote_form(b"power=8&x=1"),
            Err(RemoteFormError::UnknownField(_))
        ));
        assert!(matches!(
            parse_remote_form(b"power=8&power=8"),
            Err(RemoteFormError::Repeated(_))
        ));
        assert_eq!(parse_remote_form(b"t="), Err(RemoteFormError::NoAction));
        for bad in [
            &b"power=3"[..],
            b"power=-1",
            b"power=",
            b"power=99999999999",
        ] {
            assert!(matches!(
                parse_remote_form(bad),
                Err(RemoteFormError::BadAction(_))
            ));
        }
    }

    #[test]
    fn only_the_table_s_paths_are_pages() {
        assert_eq!(Page::of_path("/index.htm"), Some(Page::Status));
        for path in [
            "/",
            "/../index.htm",
            "/%2e%2e/index.htm",
            "/Index.htm",
            "/index.htm/",
            "",
        ] {
            assert_eq!(Page::of_path(path), None, "{path}");
        }
    }
}
