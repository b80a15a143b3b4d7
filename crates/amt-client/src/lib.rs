//! The console side of WS-Management as AMT consoles speak it.
//!
//! [`WsmanClient`] POSTs SOAP bodies to a device's `/wsman`, plain or over
//! TLS, one connection per request (the firmware closes every connection
//! after its reply), and answers the device's digest challenge (MD5,
//! `qop=auth`) the way RPS and rpc-go do: the nonce is reused with `nc`
//! counting up until the device sends a new challenge. Used by the
//! recorder and comparer (`amt-emu record`, `amt-emu compare`) and usable
//! by any Rust test that wants to talk to a device.

pub mod digest;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, WWW_AUTHENTICATE};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::digest::{parse_challenge, DigestSession};

/// Largest reply body read; a WS-Man reply is a few KiB.
pub const MAX_REPLY_BYTES: usize = 8 * 1024 * 1024;

/// Where a device is: `http://host:port/path` or `https://...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl std::str::FromStr for Target {
    type Err = ClientError;

    /// `https://HOST[:PORT][/PATH]` (default port 16993, path `/wsman`) or
    /// `http://HOST[:PORT][/PATH]` (16992).
    fn from_str(s: &str) -> Result<Self, ClientError> {
        let bad = || ClientError::BadTarget(s.to_string());
        let (tls, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(bad());
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/wsman"),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(bad)?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p.parse().map_err(|_| bad())?),
                None if after.is_empty() => None,
                None => return Err(bad()),
            };
            (h.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p.parse().map_err(|_| bad())?)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad());
        }
        let path = if path == "/" { "/wsman" } else { path };
        Ok(Target {
            tls,
            host,
            port: port.unwrap_or(if tls { 16993 } else { 16992 }),
            path: path.to_string(),
        })
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}{}", self.host, self.port, self.path)
        } else {
            write!(f, "{scheme}://{}:{}{}", self.host, self.port, self.path)
        }
    }
}

/// How the device's TLS certificate is checked.
#[derive(Clone, Debug)]
pub enum Verify {
    /// Any certificate (a factory AMT presents a self-signed one).
    Insecure,
    /// Chained to one of these roots (DER).
    Roots(Vec<CertificateDer<'static>>),
}

impl Verify {
    /// Roots from a PEM file.
    pub fn from_pem_file(path: &std::path::Path) -> Result<Verify, ClientError> {
        use rustls::pki_types::pem::PemObject;
        let roots: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
            .map_err(|e| ClientError::Ca(format!("{}: {e}", path.display())))?
            .collect();
        let roots = roots.map_err(|e| ClientError::Ca(format!("{}: {e}", path.display())))?;
        if roots.is_empty() {
            return Err(ClientError::Ca(format!(
                "{}: no certificate in it",
                path.display()
            )));
        }
        Ok(Verify::Roots(roots))
    }
}

/// Why a request got no reply.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("not a device address (http[s]://host[:port][/path]): {0}")]
    BadTarget(String),
    #[error("CA certificates: {0}")]
    Ca(String),
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("TLS handshake: {0}")]
    Tls(std::io::Error),
    #[error("TLS configuration: {0}")]
    TlsConfig(#[from] rustls::Error),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("reply body: {0}")]
    Body(String),
    #[error("digest: {0}")]
    Digest(String),
    #[error("no complete reply within {0:?}")]
    Timeout(Duration),
}

/// A reply read in full.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    /// Header names and values in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// From the request's first byte to the reply's last, for the exchange
    /// that produced this reply (the authenticated one after a challenge).
    pub elapsed: Duration,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One device, one set of credentials.
pub struct WsmanClient {
    target: Target,
    connector: Option<TlsConnector>,
    user: String,
    password: String,
    session: Option<DigestSession>,
    timeout: Duration,
}

impl WsmanClient {
    pub fn new(
        target: Target,
        user: &str,
        password: &str,
        verify: Verify,
    ) -> Result<Self, ClientError> {
        let connector = if target.tls {
            Some(TlsConnector::from(Arc::new(client_config(verify)?)))
        } else {
            None
        };
        Ok(WsmanClient {
            target,
            connector,
            user: user.to_string(),
            password: password.to_string(),
            session: None,
            timeout: Duration::from_secs(30),
        })
    }

    /// Bounds each exchange (connect, handshake, request and reply).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// POSTs `body` and answers the digest challenge if one comes: the
    /// reply is the device's answer to the authenticated request (or its
    /// 401 when the credentials are refused).
    pub async fn post(&mut self, body: &[u8]) -> Result<Reply, ClientError> {
        let body = Bytes::copy_from_slice(body);
        let mut challenged_fresh = false;
        for _ in 0..3 {
            let authorization = self
                .session
                .as_mut()
                .map(|s| s.authorization("POST", &self.target.path));
            let reply = self
                .exchange(authorization.as_deref(), body.clone())
                .await?;
            if reply.status != 401 {
                return Ok(reply);
            }
            let Some(challenge) = reply.header(WWW_AUTHENTICATE.as_str()) else {
                return Ok(reply);
            };
            let challenge =
                parse_challenge(challenge).map_err(|e| ClientError::Digest(e.to_string()))?;
            // A second challenge after a fresh one means the password is wrong,
            // unless the device only said the nonce went stale.
            if challenged_fresh && !challenge.stale {
                return Ok(reply);
            }
            challenged_fresh = true;
            self.session = Some(DigestSession::new(challenge, &self.user, &self.password));
        }
        Err(ClientError::Digest(
            "the device kept challenging".to_string(),
        ))
    }

    /// One request on a new connection, with `authorization` if given.
    pub async fn exchange(
        &self,
        authorization: Option<&str>,
        body: Bytes,
    ) -> Result<Reply, ClientError> {
        match tokio::time::timeout(self.timeout, self.exchange_untimed(authorization, body)).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::Timeout(self.timeout)),
        }
    }

    async fn exchange_untimed(
        &self,
        authorization: Option<&str>,
        body: Bytes,
    ) -> Result<Reply, ClientError> {
        let started = Instant::now();
        let tcp = TcpStream::connect((self.target.host.as_str(), self.target.port))
            .await
            .map_err(ClientError::Connect)?;
        let _ = tcp.set_nodelay(true);
        let host_header = format!("{}:{}", self.target.host, self.target.port);
        match &self.connector {
            Some(connector) => {
                let name = ServerName::try_from(self.target.host.clone())
                    .map_err(|_| ClientError::BadTarget(self.target.to_string()))?;
                let tls = connector
                    .connect(name, tcp)
                    .await
                    .map_err(ClientError::Tls)?;
                send(
                    tls,
                    &host_header,
                    &self.target.path,
                    authorization,
                    body,
                    started,
                )
                .await
            }
            None => {
                send(
                    tcp,
                    &host_header,
                    &self.target.path,
                    authorization,
                    body,
                    started,
                )
                .await
            }
        }
    }
}

async fn send<S>(
    io: S,
    host: &str,
    path: &str,
    authorization: Option<&str>,
    body: Bytes,
    started: Instant,
) -> Result<Reply, ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .title_case_headers(true)
        .handshake::<_, Full<Bytes>>(TokioIo::new(io))
        .await?;
    let conn = tokio::spawn(conn);
    let mut req = hyper::Request::post(path)
        .header(HOST, host)
        .header(CONTENT_TYPE, "application/soap+xml; charset=utf-8");
    if let Some(a) = authorization {
        req = req.header(AUTHORIZATION, a);
    }
    let req = req
        .body(Full::new(body))
        .map_err(|e| ClientError::Body(format!("building the request: {e}")))?;
    let result = async {
        let resp = sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = Limited::new(resp.into_body(), MAX_REPLY_BYTES)
            .collect()
            .await
            .map_err(|e| ClientError::Body(e.to_string()))?
            .to_bytes();
        Ok(Reply {
            status,
            headers,
            body,
            elapsed: started.elapsed(),
        })
    }
    .await;
    drop(sender);
    conn.abort();
    result
}

/// A rustls client configuration for `verify`.
pub fn client_config(verify: Verify) -> Result<rustls::ClientConfig, ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    Ok(match verify {
        Verify::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServer(provider)))
            .with_no_client_auth(),
        Verify::Roots(roots) => {
            let mut store = rustls::RootCertStore::empty();
            for r in roots {
                store.add(r)?;
            }
            builder.with_root_certificates(store).with_no_client_auth()
        }
    })
}

/// Accepts any server certificate (but still checks the handshake's
/// signatures): a factory AMT presents a self-signed certificate.
#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_with_amt_defaults() {
        let t: Target = "https://10.0.0.5".parse().unwrap();
        assert_eq!((t.tls, t.port, t.path.as_str()), (true, 16993, "/wsman"));
        let t: Target = "http://host:17992/".parse().unwrap();
        assert_eq!((t.tls, t.port, t.path.as_str()), (false, 17992, "/wsman"));
        let t: Target = "https://[::1]:16993/wsman".parse().unwrap();
        assert_eq!(t.host, "::1");
        assert_eq!(t.to_string(), "https://[::1]:16993/wsman");
        for bad in ["ftp://x", "https://", "https://h:port", "h:1"] {
            assert!(bad.parse::<Target>().is_err(), "{bad}");
        }
    }
}
