//! The recording proxy: consoles point at it as at a device; each WS-Man
//! request goes, unchanged, to the one upstream device given, and the
//! device's reply comes back unchanged and is written into the recording.
//!
//! Digest passes through: the console answers the device's own challenge
//! (the proxy forwards `Authorization` and `WWW-Authenticate` untouched),
//! so the proxy needs no credentials and the device sees the console's
//! real login. The recording keeps neither header's secrets (no
//! `Authorization`; bodies redacted).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use amt_client::WsmanClient;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::layout::RecordingWriter;

/// Largest request body forwarded.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// Hop-by-hop headers, not forwarded either way.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "transfer-encoding",
    "content-length",
    "keep-alive",
    "host",
];

/// A running proxy's shared state.
pub struct Proxy {
    upstream: WsmanClient,
    writer: Mutex<RecordingWriter>,
}

impl Proxy {
    pub fn new(upstream: WsmanClient, writer: RecordingWriter) -> Arc<Proxy> {
        Arc::new(Proxy {
            upstream,
            writer: Mutex::new(writer),
        })
    }

    /// Exchanges recorded so far.
    pub fn recorded(&self) -> usize {
        self.writer.lock().map(|w| w.len()).unwrap_or(0)
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        if req.method() != hyper::Method::POST {
            return plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "the recorder forwards POST /wsman only",
            );
        }
        let authorization = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
        };
        let started = Instant::now();
        let reply = match self
            .upstream
            .exchange(authorization.as_deref(), body.clone())
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "upstream did not answer");
                return plain(StatusCode::BAD_GATEWAY, &format!("upstream: {e}"));
            }
        };
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        if let Ok(mut w) = self.writer.lock() {
            if let Err(e) = w.append(&body, reply.status, &reply.headers, &reply.body, elapsed_ms) {
                tracing::error!(error = %e, "recording an exchange failed");
            }
        }
        let mut resp = Response::builder().status(reply.status);
        for (n, v) in &reply.headers {
            if !HOP_BY_HOP.contains(&n.to_ascii_lowercase().as_str()) {
                resp = resp.header(n.as_str(), v.as_str());
            }
        }
        resp.body(Full::new(reply.body))
            .unwrap_or_else(|_| plain(StatusCode::BAD_GATEWAY, "unforwardable reply headers"))
    }
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(text.to_string())));
    *r.status_mut() = status;
    r
}

/// A self-signed certificate for the proxy's own TLS face (consoles talk
/// to the proxy as to a factory device: they do not verify it).
pub fn self_signed_acceptor() -> Result<TlsAcceptor, String> {
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let params = rcgen::CertificateParams::new(vec!["amt-emu-recorder".to_string()])
        .map_err(|e| e.to_string())?;
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .map_err(|e| e.to_string())?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `listener` (TLS when `tls` is given) until the task is dropped.
pub async fn serve(proxy: Arc<Proxy>, listener: TcpListener, tls: Option<TlsAcceptor>) {
    loop {
        let Ok((tcp, peer)) = listener.accept().await else {
            continue;
        };
        let proxy = proxy.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let proxy = proxy.clone();
                async move { Ok::<_, Infallible>(proxy.handle(req).await) }
            });
            let builder = hyper::server::conn::http1::Builder::new();
            let result = match tls {
                Some(acceptor) => match acceptor.accept(tcp).await {
                    Ok(stream) => {
                        builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await
                    }
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "recorder TLS handshake failed");
                        return;
                    }
                },
                None => builder.serve_connection(TokioIo::new(tcp), service).await,
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "recorder connection ended");
            }
        });
    }
}

/// Binds the proxy's plain and TLS listeners.
pub async fn bind(
    plain: Option<SocketAddr>,
    tls: Option<SocketAddr>,
) -> std::io::Result<(Option<TcpListener>, Option<TcpListener>)> {
    let p = match plain {
        Some(a) => Some(TcpListener::bind(a).await?),
        None => None,
    };
    let t = match tls {
        Some(a) => Some(TcpListener::bind(a).await?),
        None => None,
    };
    Ok((p, t))
}
