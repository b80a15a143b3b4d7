//! Accept loops for the plain (16992) and TLS (16993) listeners.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::device_host::DeviceHost;
use crate::http::{serve, Interface};

/// How long a client may take to send its request headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head (request line and headers) accepted.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Plain HTTP or TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Plain,
    Tls,
}

/// A running accept loop.
#[derive(Debug)]
pub struct Listener {
    addr: SocketAddr,
    transport: Transport,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Starts accepting on an already bound socket.
    pub fn start(
        socket: TcpListener,
        transport: Transport,
        host: Arc<DeviceHost>,
    ) -> std::io::Result<Self> {
        let addr = socket.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    accepted = socket.accept() => match accepted {
                        Ok((stream, peer)) => {
                            let host = host.clone();
                            tokio::spawn(async move {
                                connection(stream, peer, transport, host).await;
                            });
                        }
                        Err(e) => {
                            // Out of file descriptors and the like: back off
                            // instead of spinning.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            }
        });
        Ok(Listener {
            addr,
            transport,
            stop,
            task,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Stops accepting; connections already open finish on their own.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    transport: Transport,
    host: Arc<DeviceHost>,
) {
    let _ = stream.set_nodelay(true);
    match transport {
        Transport::Plain => serve_http(TokioIo::new(stream), peer, host).await,
        Transport::Tls => {
            let acceptor = TlsAcceptor::from(host.tls().server_config());
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => serve_http(TokioIo::new(tls), peer, host).await,
                Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
            }
        }
    }
}

async fn serve_http<I>(io: I, peer: SocketAddr, host: Arc<DeviceHost>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |req| serve(req, host.clone(), Interface::Remote));
    let mut builder = http1::Builder::new();
    builder
        .title_case_headers(true)
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES);
    if let Err(e) = builder.serve_connection(io, service).await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
