//! One WS-Man POST over a fresh TCP + TLS connection, as a console sends
//! it to AMT (the device answers every reply with `Connection: close`, so
//! a console opens a new connection, with a full TLS handshake, for every
//! request).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, WWW_AUTHENTICATE};
use hyper::Request;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Largest reply body read; a WS-Man reply is a few KiB.
pub const MAX_REPLY_BYTES: usize = 4 * 1024 * 1024;
/// How long a finished connection may take to close before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Where and how to connect.
pub struct Connection {
    pub addr: SocketAddr,
    pub connector: TlsConnector,
    pub server_name: ServerName<'static>,
    pub host_header: String,
    /// Whole-request bound: connect, handshake, request and reply.
    pub timeout: Duration,
    /// TLS handshakes completed, across all clients.
    pub handshakes: AtomicU64,
}

/// A reply read in full.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub www_authenticate: Option<String>,
    pub body: Bytes,
    /// When the last byte of the reply was read.
    pub done: Instant,
}

/// Why a request got no reply.
#[derive(Debug)]
pub enum Failure {
    Connect(std::io::Error),
    Tls(std::io::Error),
    Http(hyper::Error),
    Body(String),
    Timeout,
}

impl Failure {
    /// A short, bounded category name for the report.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Connect(_) => "transport: connect",
            Failure::Tls(_) => "transport: TLS handshake",
            Failure::Http(_) => "transport: HTTP exchange",
            Failure::Body(_) => "transport: reply body",
            Failure::Timeout => "transport: timeout",
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Connect(e) => write!(f, "connect: {e}"),
            Failure::Tls(e) => write!(f, "TLS handshake: {e}"),
            Failure::Http(e) => write!(f, "HTTP: {e}"),
            Failure::Body(e) => write!(f, "reply body: {e}"),
            Failure::Timeout => write!(f, "no complete reply in time"),
        }
    }
}

/// Aborts a spawned task when dropped, so no connection outlives its
/// request (a timeout drops the future mid-way).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Connection {
    /// POSTs `body` to `/wsman` on a new connection.
    pub async fn post(&self, authorization: Option<&str>, body: Bytes) -> Result<Reply, Failure> {
        match tokio::time::timeout(self.timeout, self.exchange(authorization, body)).await {
            Ok(r) => r,
            Err(_) => Err(Failure::Timeout),
        }
    }

    async fn exchange(&self, authorization: Option<&str>, body: Bytes) -> Result<Reply, Failure> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(Failure::Connect)?;
        let _ = tcp.set_nodelay(true);
        let tls = self
            .connector
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(Failure::Tls)?;
        self.handshakes.fetch_add(1, Ordering::Relaxed);
        post_over(tls, &self.host_header, authorization, body).await
    }
}

/// One `POST /wsman` over an open byte stream (TCP, TLS, a CIRA channel),
/// read to the end of the reply.
pub async fn post_over<S>(
    io: S,
    host_header: &str,
    authorization: Option<&str>,
    body: Bytes,
) -> Result<Reply, Failure>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .title_case_headers(true)
        .handshake::<_, Full<Bytes>>(TokioIo::new(io))
        .await
        .map_err(Failure::Http)?;
    let mut conn = AbortOnDrop(tokio::spawn(conn));

    let mut req = Request::post("/wsman")
        .header(HOST, host_header)
        .header(CONTENT_TYPE, "application/soap+xml; charset=utf-8");
    if let Some(a) = authorization {
        req = req.header(AUTHORIZATION, a);
    }
    let req = req
        .body(Full::new(body))
        .map_err(|e| Failure::Body(format!("building the request: {e}")))?;
    let resp = sender.send_request(req).await.map_err(Failure::Http)?;
    let status = resp.status().as_u16();
    let www_authenticate = resp
        .headers()
        .get(WWW_AUTHENTICATE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let body = Limited::new(resp.into_body(), MAX_REPLY_BYTES)
        .collect()
        .await
        .map_err(|e| Failure::Body(e.to_string()))?
        .to_bytes();
    let done = Instant::now();
    // The device closes the connection after the reply; let the
    // connection task see that (outside the measured time).
    drop(sender);
    let _ = tokio::time::timeout(CLOSE_GRACE, &mut conn.0).await;
    Ok(Reply {
        status,
        www_authenticate,
        body,
        done,
    })
}

/// A rustls client that accepts any server certificate: the emulated
/// device presents a self-signed one, as a fresh AMT does, and consoles
/// connect to it without verification until they have enrolled their own.
pub fn no_verify_client(
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> anyhow::Result<rustls::ClientConfig> {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, UnixTime};
    use rustls::DigitallySignedStruct;

    #[derive(Debug)]
    struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

    impl ServerCertVerifier for AnyServer {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            m: &[u8],
            c: &CertificateDer<'_>,
            d: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                m,
                c,
                d,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            m: &[u8],
            c: &CertificateDer<'_>,
            d: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                m,
                c,
                d,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServer(provider)))
            .with_no_client_auth(),
    )
}
