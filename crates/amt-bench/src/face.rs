//! One console's view of one interface of one device: where to connect
//! (plain or TLS), as whom, and the digest session it keeps, so a flow of
//! several calls reuses the nonce as RPS and rpc-go do.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpStream;

use crate::client::{post_over, Failure, Reply};
use crate::digest::{parse_challenge, DigestSession};
use crate::WSMAN_URI;

/// Plain HTTP or TLS (any server certificate accepted).
pub enum Wire {
    Plain,
    Tls(tokio_rustls::TlsConnector),
}

pub struct Face {
    pub addr: SocketAddr,
    pub wire: Wire,
    pub user: String,
    pub password: String,
    pub timeout: Duration,
    session: Option<DigestSession>,
}

impl Face {
    pub fn new(
        addr: SocketAddr,
        wire: Wire,
        user: &str,
        password: &str,
        timeout: Duration,
    ) -> Self {
        Face {
            addr,
            wire,
            user: user.to_string(),
            password: password.to_string(),
            timeout,
            session: None,
        }
    }

    async fn post(&self, authorization: Option<&str>, body: Bytes) -> Result<Reply, String> {
        let exchange = async {
            let tcp = TcpStream::connect(self.addr)
                .await
                .map_err(Failure::Connect)?;
            let _ = tcp.set_nodelay(true);
            let host = self.addr.to_string();
            match &self.wire {
                Wire::Plain => post_over(tcp, &host, authorization, body).await,
                Wire::Tls(connector) => {
                    let name = rustls::pki_types::ServerName::IpAddress(self.addr.ip().into());
                    let tls = connector.connect(name, tcp).await.map_err(Failure::Tls)?;
                    post_over(tls, &host, authorization, body).await
                }
            }
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err(Failure::Timeout.to_string()),
        }
    }

    /// One digest-authenticated call; the reply body of a 200, or (for
    /// `accept`) of that status too.
    pub async fn call_accepting(
        &mut self,
        body: &str,
        accept: &[u16],
    ) -> Result<(u16, String), String> {
        let body = Bytes::from(body.to_string());
        for _ in 0..3 {
            if self.session.is_none() {
                let reply = self.post(None, body.clone()).await?;
                let header = reply
                    .www_authenticate
                    .ok_or_else(|| format!("status {} without a challenge", reply.status))?;
                let challenge = parse_challenge(&header).map_err(|e| e.to_string())?;
                self.session = Some(DigestSession::new(challenge, &self.user, &self.password));
            }
            let Some(session) = self.session.as_mut() else {
                continue;
            };
            let authorization = session.authorization("POST", WSMAN_URI);
            let reply = self.post(Some(&authorization), body.clone()).await?;
            let text = String::from_utf8_lossy(&reply.body).into_owned();
            match reply.status {
                200 => return Ok((200, text)),
                s if accept.contains(&s) => return Ok((s, text)),
                401 => {
                    self.session = reply
                        .www_authenticate
                        .as_deref()
                        .and_then(|h| parse_challenge(h).ok())
                        .map(|c| DigestSession::new(c, &self.user, &self.password));
                }
                other => {
                    return Err(format!(
                        "status {other}: {}",
                        text.chars().take(200).collect::<String>()
                    ))
                }
            }
        }
        Err("401 after a good digest".into())
    }

    pub async fn call(&mut self, body: &str) -> Result<String, String> {
        self.call_accepting(body, &[]).await.map(|(_, b)| b)
    }
}

/// The text of the first element whose local name is `name`.
pub fn element(xml: &str, name: &str) -> Option<String> {
    let mut rest = xml;
    loop {
        let at = rest.find(&format!(":{name}>"))?;
        let open_start = rest[..at].rfind('<')?;
        let tag = &rest[open_start..at];
        let after = at + name.len() + 2;
        if !tag.starts_with("</") {
            let end = rest[after..].find("</")?;
            return Some(rest[after..after + end].to_string());
        }
        rest = &rest[after..];
    }
}

/// `ReturnValue` of a method reply, which must be 0.
pub fn returned_zero(xml: &str, what: &str) -> Result<(), String> {
    match element(xml, "ReturnValue").as_deref() {
        Some("0") => Ok(()),
        other => Err(format!("{what}: ReturnValue {other:?}")),
    }
}

/// The handle in `... Handle: N` of a reply's EPR.
pub fn handle(xml: &str) -> Option<u32> {
    let at = xml.find("Handle: ")? + "Handle: ".len();
    let digits: String = xml[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
