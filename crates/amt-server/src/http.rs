//! The HTTP face shared by the plain and TLS listeners: routing, digest
//! authentication and the firmware's framing (chunked replies, `Server`
//! header with the firmware version, `Connection: close`).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{
    HeaderValue, ALLOW, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, SERVER, WWW_AUTHENTICATE,
};
use hyper::{Method, Request, Response, StatusCode};

use crate::device_host::{DeviceHost, WsmanOutcome};
use crate::listener::SlotGuard;

/// Largest request body accepted. AMT certificate blobs are a few KB; a
/// WS-Man request over this is not from a console.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A reply body sent as one chunk with `Transfer-Encoding: chunked`, as the
/// firmware sends every reply (CIRA relays wait for the `0\r\n\r\n`).
pub struct ChunkedBody {
    data: Option<Bytes>,
}

impl ChunkedBody {
    pub fn new(data: impl Into<Bytes>) -> Self {
        ChunkedBody {
            data: Some(data.into()),
        }
    }

    /// The bytes not yet sent (all of them before hyper writes the body),
    /// for the journal.
    pub fn unsent(&self) -> Option<&Bytes> {
        self.data.as_ref()
    }
}

impl Body for ChunkedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(
            self.data
                .take()
                .filter(|d| !d.is_empty())
                .map(|d| Ok(Frame::data(d))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.data.as_ref().is_none_or(|d| d.is_empty())
    }

    fn size_hint(&self) -> SizeHint {
        // Unknown length makes hyper use chunked encoding.
        SizeHint::default()
    }
}

/// The page AMT sends with a 401.
pub const LOGON_FAILED_HTML: &str = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" ><html lang=\"en\"><head><link rel=stylesheet href=/styles.css><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"><title>Intel&reg; Active Management Technology</title></head><body><h1>Intel<sup>&reg;</sup> Active Management Technology</h1><h2 class=warn>Log on failed. Incorrect user name or password, or user account temporarily locked.</h2></body></html>";

pub(crate) fn html_page(title: &str) -> String {
    format!(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" ><html lang=\"en\"><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"><title>Intel&reg; Active Management Technology</title></head><body><h1>Intel<sup>&reg;</sup> Active Management Technology</h1><h2 class=warn>{title}</h2></body></html>"
    )
}

pub use crate::vocabulary::{Interface, Transport, Via};

/// Marks a request that arrived over a PKI provisioning server's
/// mutual-TLS connection (its chain passed the device's checks).
#[derive(Clone, Copy, Debug)]
pub struct PkiSession;

/// Serves one request. `slot` is the connection's place under the
/// device's connection cap; the request marks it busy once its body is in.
pub async fn serve(
    req: Request<Incoming>,
    host: Arc<DeviceHost>,
    interface: Interface,
    slot: Option<Arc<SlotGuard>>,
) -> Result<Response<ChunkedBody>, DropConnection> {
    let server = host.server_header();
    // Set by the connection's service (listener::serve_connection_via).
    let via = req.extensions().get::<Via>().copied().unwrap_or_default();
    let transport = req.extensions().get::<Transport>().copied();
    let pki_session = req.extensions().get::<PkiSession>().is_some();
    let connection = req
        .extensions()
        .get::<crate::faults::ConnectionFacts>()
        .copied()
        .unwrap_or_default();
    let path = req.uri().path().to_string();
    if path != "/wsman" {
        // Everything else is the firmware's own web UI (or a 404 from it).
        return Ok(crate::web_ui::serve(req, host, interface, slot).await);
    }
    if req.method() != Method::POST {
        let mut r = html_response(
            &server,
            StatusCode::METHOD_NOT_ALLOWED,
            &html_page("Method Not Allowed"),
        );
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return Ok(r);
    }
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| path.clone());
    let authorization = authorization_of(&req);
    let method = req.method().as_str().to_string();

    let body = match read_body(&server, req.into_body(), MAX_BODY_BYTES, host.limits()).await {
        Ok(b) => b,
        Err(refusal) => return Ok(refusal),
    };

    // From here the request may act on the device: it must not be closed
    // to make room for another connection.
    if let Some(slot) = &slot {
        if !slot.mark_busy() {
            return Ok(html_response(
                &server,
                StatusCode::SERVICE_UNAVAILABLE,
                &html_page("Service Unavailable"),
            ));
        }
    }

    let principal = match login(
        &host,
        authorization,
        &method,
        &target,
        interface,
        pki_session,
    ) {
        Ok(p) => p,
        Err(refusal) => return Ok(*refusal),
    };

    let (status, reply_body, content_type) = match host
        .wsman(principal, interface, via, transport, connection, &body)
        .await
    {
        WsmanOutcome::Reply {
            status,
            body,
            content_type,
        } => (status, body, content_type),
        // An error from the service makes hyper close the connection
        // without writing a response.
        WsmanOutcome::Drop => return Err(DropConnection),
    };
    let mut r = Response::new(ChunkedBody::new(reply_body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&server) {
        h.insert(SERVER, v);
    }
    h.insert("X-Frame-Options", HeaderValue::from_static("DENY"));
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CONNECTION, HeaderValue::from_static("close"));
    Ok(r)
}

/// The request's `Authorization` header, if any (`Err` when not text).
pub(crate) fn authorization_of<B>(
    req: &Request<B>,
) -> Option<Result<String, hyper::header::ToStrError>> {
    req.headers()
        .get(hyper::header::AUTHORIZATION)
        .map(|v| v.to_str().map(str::to_string))
}

/// Reads a request body of at most `max` bytes within the body timeout;
/// a refusal is the firmware's error page. A declared length past the cap
/// is refused before reading a byte, so the client is not kept waiting
/// for a body we would refuse anyway.
pub(crate) async fn read_body(
    server: &str,
    body: Incoming,
    max: usize,
    limits: &crate::limits::ServerLimits,
) -> Result<Bytes, Response<ChunkedBody>> {
    if body.size_hint().lower() > max as u64 {
        tracing::info!(
            length = body.size_hint().lower(),
            "request body refused: too large"
        );
        return Err(html_response(
            server,
            StatusCode::PAYLOAD_TOO_LARGE,
            &html_page("Request Entity Too Large"),
        ));
    }
    let body_timeout = limits.body_timeout;
    let collected = tokio::time::timeout(body_timeout, Limited::new(body, max).collect()).await;
    match collected {
        Ok(Ok(b)) => Ok(b.to_bytes()),
        Err(_) => {
            tracing::info!(timeout = ?body_timeout, "request body too slow; connection closed");
            Err(html_response(
                server,
                StatusCode::REQUEST_TIMEOUT,
                &html_page("Request Timeout"),
            ))
        }
        Ok(Err(e)) => {
            let too_large = e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            let (status, title) = if too_large {
                (StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large")
            } else {
                (StatusCode::BAD_REQUEST, "Bad Request")
            };
            tracing::info!(%status, "request body refused");
            Err(html_response(server, status, &html_page(title)))
        }
    }
}

/// Digest authentication of a request, with the device's realm, nonces
/// and login lockout (WS-Man and the web UI alike). A refusal is the 401
/// with a fresh challenge.
pub(crate) fn login(
    host: &DeviceHost,
    authorization: Option<Result<String, hyper::header::ToStrError>>,
    method: &str,
    target: &str,
    interface: Interface,
    pki_session: bool,
) -> Result<crate::device_host::Principal, Box<Response<ChunkedBody>>> {
    let auth = match authorization {
        None => Err(crate::digest::DigestError::Missing),
        Some(Err(_)) => Err(crate::digest::DigestError::Malformed),
        Some(Ok(h)) => host.authenticate_on(&h, method, target, interface, pki_session),
    };
    auth.map_err(|e| {
        if !matches!(e, crate::digest::DigestError::Missing) {
            tracing::info!(reason = %e, "digest authentication failed");
        }
        let challenge = host.challenge(e.is_stale());
        let mut r = html_response(
            &host.server_header(),
            StatusCode::UNAUTHORIZED,
            LOGON_FAILED_HTML,
        );
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            r.headers_mut().insert(WWW_AUTHENTICATE, v);
        }
        Box::new(r)
    })
}

/// The service's way of saying "close this connection without answering"
/// (an injected drop).
#[derive(Debug)]
pub struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose (injected fault)")
    }
}

impl std::error::Error for DropConnection {}

/// An HTML reply with the firmware's headers; these carry a
/// Content-Length, as in the recorded 401.
pub(crate) fn html_response(server: &str, status: StatusCode, html: &str) -> Response<ChunkedBody> {
    let mut r = Response::new(ChunkedBody::new(html.to_string()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    if let Ok(v) = HeaderValue::from_str(server) {
        h.insert(SERVER, v);
    }
    h.insert(CONTENT_LENGTH, HeaderValue::from(html.len()));
    h.insert(CONNECTION, HeaderValue::from_static("close"));
    r
}
