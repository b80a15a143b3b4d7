//! The TLS seam: what a listener needs from a TLS stack, and nothing that
//! names one.
//!
//! Every TLS listener of a device (16993 on the network and LMS interfaces,
//! TLS inside a CIRA channel, the redirection port) hands its byte stream
//! to the device's [`TlsBackend`] and gets back a decrypted stream and the
//! [`HandshakeFacts`]. Which stack sits behind it (rustls for the firmware
//! that speaks TLS 1.2 and 1.3) is the backend's business; listeners never
//! name it.
//!
//! All backends behave alike where the firmware does: they present the
//! certificate the device has active at the moment of the handshake (a
//! change after CommitChanges reaches the next handshake without touching
//! open connections), require a client certificate chaining to the trusted
//! roots when mutual TLS is on (the local interface never asks for one),
//! and never resume a session (a resumed session skips the Certificate
//! message, and a console would never see a new certificate).

use std::future::Future;
use std::pin::Pin;

use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::vocabulary::Interface;

mod rustls_backend;
mod rustls_odca;
mod rustls_pki;

pub use rustls_backend::RustlsBackend;

/// Any byte stream a TLS backend can run over, or hands back.
pub trait TlsIo: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + ?Sized> TlsIo for T {}

/// A boxed byte stream: a TCP connection, a CIRA channel, or the
/// decrypted side of a handshake.
pub type TlsStream = Box<dyn TlsIo>;

/// What a handshake settled.
pub type Accepting<'a> =
    Pin<Box<dyn Future<Output = Result<(TlsStream, HandshakeFacts), TlsError>> + Send + 'a>>;

#[derive(Debug, Error)]
pub enum TlsError {
    /// The backend refused a certificate, key or trust setting.
    #[error("TLS configuration failed ({backend}): {message}")]
    Config {
        backend: &'static str,
        message: String,
    },
    /// The handshake failed: the peer's fault, or no certificate to present.
    #[error("TLS handshake failed: {0}")]
    Handshake(#[source] std::io::Error),
}

/// Mutual TLS as `AMT_TLSSettingData` asks for it: a client certificate is
/// required, it must chain to a root added with
/// `AddTrustedRootCertificate`, and when `TrustedCN` is set its common name
/// must be one of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientAuth {
    pub trusted_roots: Vec<Vec<u8>>,
    pub trusted_cn: Vec<String>,
}

/// A TLS protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    Tls1_0,
    Tls1_1,
    Tls1_2,
    Tls1_3,
}

impl TlsVersion {
    /// The name OpenSSL and Wireshark print (`TLSv1.2`).
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls1_0 => "TLSv1",
            TlsVersion::Tls1_1 => "TLSv1.1",
            TlsVersion::Tls1_2 => "TLSv1.2",
            TlsVersion::Tls1_3 => "TLSv1.3",
        }
    }
}

/// What one handshake negotiated, for logs and for what the connection
/// may do (a PSK connection is the one a PSK setup runs over).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HandshakeFacts {
    pub version: Option<TlsVersion>,
    /// The suite's IANA name (`TLS_RSA_WITH_AES_128_CBC_SHA`).
    pub cipher_suite: Option<String>,
    /// The PSK identity the client sent, on a TLS-PSK connection.
    pub psk_identity: Option<String>,
    /// The client's certificate chain (DER, end entity first), under
    /// mutual TLS.
    pub peer_certificates: Vec<Vec<u8>>,
}

/// The client certificate an AMT 19+ device accepts before provisioning:
/// the one whose hash `StartConfigurationHBased` named, or any (`None`).
pub type ExpectedClient = Option<(amt_device::HashType, Vec<u8>)>;

/// One device's TLS stack.
pub trait TlsBackend: Send + Sync + std::fmt::Debug {
    /// The stack's name, for logs and errors.
    fn name(&self) -> &'static str;

    /// Puts a certificate (DER) and its PKCS#8 key in the slot the next
    /// handshake presents; `None` empties it (handshakes then fail: a
    /// device without a certificate has no TLS to offer).
    fn present(&self, cert: Option<(&[u8], &[u8])>) -> Result<(), TlsError>;

    /// Requires (or stops requiring) client certificates on new
    /// handshakes on the network interface.
    fn set_client_auth(&self, auth: Option<ClientAuth>) -> Result<(), TlsError>;

    /// AMT 19+ before provisioning: presents the on-die CA chain instead
    /// of the device certificate on every interface and requires a client
    /// certificate (see `amt_device::odca`); `None` goes back to the
    /// device certificate. A backend without it refuses the chain.
    fn present_odca(
        &self,
        odca: Option<(&amt_device::odca::OdcaChain, ExpectedClient)>,
    ) -> Result<(), TlsError> {
        match odca {
            None => Ok(()),
            Some(_) => Err(TlsError::Config {
                backend: self.name(),
                message: "no on-die CA chain support".into(),
            }),
        }
    }

    /// PKI remote configuration (AMT 2.2 to 18, in provisioning): asks
    /// network clients for a certificate, lets one without through, and
    /// accepts a chain only on [`PkiTrust::verdict`]; `None` stops asking.
    /// A backend without it never asks (PKI configuration is then
    /// unavailable, nothing else changes).
    ///
    /// [`PkiTrust::verdict`]: amt_device::remote_configuration::PkiTrust::verdict
    fn present_pki(
        &self,
        _trust: Option<amt_device::remote_configuration::PkiTrust>,
    ) -> Result<(), TlsError> {
        Ok(())
    }

    /// Runs the server side of a handshake over `io`.
    fn accept(&self, io: TlsStream, interface: Interface) -> Accepting<'_>;
}

/// The client's common name, for the `TrustedCN` check.
fn common_name(der: &[u8]) -> Option<String> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    Some(cn)
}
