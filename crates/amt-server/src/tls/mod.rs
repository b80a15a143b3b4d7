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

use amt_device::FirmwareProfile;
pub use amt_device::TlsVersion;

use crate::vocabulary::Interface;

/// The signature checks of a rustls client-certificate verifier that
/// holds its `provider` (the AMT 19 on-die CA and the PKI provisioning
/// verifiers): the handshake signatures are checked by the provider's
/// algorithms; only the chain rules differ between verifiers.
macro_rules! provider_signature_checks {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    };
}

mod openssl_backend;
mod rustls_backend;
mod rustls_odca;
mod rustls_pki;

pub use openssl_backend::OpensslBackend;
pub use rustls_backend::{provider_name as rustls_provider_name, RustlsBackend};

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

    /// Arms (or disarms) TLS-PSK: a client naming `identity` is accepted
    /// with `key`. A backend or profile without PSK ignores it.
    fn set_psk(&self, psk: Option<PskKey>) -> Result<(), TlsError> {
        let _ = psk;
        Ok(())
    }

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

    /// PKI remote configuration (AMT 2.2, 2.6 to 18, in provisioning): asks
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

/// A TLS-PSK identity and key.
#[derive(Clone, PartialEq, Eq)]
pub struct PskKey {
    pub identity: String,
    pub key: Vec<u8>,
}

impl std::fmt::Debug for PskKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key never reaches a log.
        f.debug_struct("PskKey")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// Which TLS stack serves a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlsBackendKind {
    Rustls,
    Openssl,
}

impl TlsBackendKind {
    /// The stack a profile needs: OpenSSL where the firmware's TLS is
    /// beyond rustls (before CSME 16.1), rustls otherwise.
    pub fn for_profile(profile: &FirmwareProfile) -> Self {
        if profile.tls_offer().needs_legacy_stack() {
            TlsBackendKind::Openssl
        } else {
            TlsBackendKind::Rustls
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TlsBackendKind::Rustls => "rustls",
            TlsBackendKind::Openssl => "openssl",
        }
    }

    /// A backend of this kind for a device of `profile`. rustls serves
    /// what it can of a legacy profile: TLS 1.2 and 1.3 with its own
    /// suites.
    pub fn build(self, profile: &FirmwareProfile) -> Result<Box<dyn TlsBackend>, TlsError> {
        Ok(match self {
            TlsBackendKind::Rustls => Box::new(RustlsBackend::for_firmware(
                profile.refuses_aes_128_suites(),
            )?),
            TlsBackendKind::Openssl => Box::new(OpensslBackend::new(profile.tls_offer())?),
        })
    }
}

impl std::str::FromStr for TlsBackendKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rustls" => Ok(TlsBackendKind::Rustls),
            "openssl" => Ok(TlsBackendKind::Openssl),
            other => Err(format!("unknown TLS backend {other:?} (rustls or openssl)")),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(v: &str) -> FirmwareProfile {
        FirmwareProfile::new(v.parse().expect("version"))
    }

    #[test]
    fn the_profile_picks_the_stack() {
        for v in [
            "2.1.0", "8.1.40", "11.8.50", "12.0.40", "15.0.23", "16.0.15",
        ] {
            assert_eq!(
                TlsBackendKind::for_profile(&profile(v)),
                TlsBackendKind::Openssl,
                "{v}"
            );
        }
        for v in ["16.1.25", "19.0.5"] {
            assert_eq!(
                TlsBackendKind::for_profile(&profile(v)),
                TlsBackendKind::Rustls,
                "{v}"
            );
        }
        assert_eq!("openssl".parse(), Ok(TlsBackendKind::Openssl));
        assert!("gnutls".parse::<TlsBackendKind>().is_err());
    }

    #[test]
    fn every_profile_builds_on_both_stacks() {
        for v in ["2.1.0", "9.5.0", "12.0.40", "15.0.23", "16.1.25", "22.0.1"] {
            for kind in [TlsBackendKind::Rustls, TlsBackendKind::Openssl] {
                assert!(kind.build(&profile(v)).is_ok(), "{v} on {kind:?}");
            }
        }
    }
}
