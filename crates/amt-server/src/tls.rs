//! The rustls side of the AMT TLS listener. All rustls types stay in this
//! module, so a second TLS stack (openssl, for TLS-PSK and the static-RSA
//! suites of old firmware) can sit beside it later.
//!
//! The listener presents whatever certificate the device has active. The
//! certificate is looked up per handshake through a swappable slot, so a
//! change (CommitChanges, unprovision) reaches the next handshake without a
//! restart and without touching open connections. Session resumption is
//! off: a resumed session skips the Certificate message, and a console
//! would never see the new certificate.

use std::sync::Arc;

use std::sync::Mutex;

use arc_swap::{ArcSwap, ArcSwapOption};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{
    ClientHello, NoServerSessionStorage, ResolvesServerCert, WebPkiClientVerifier,
};
use rustls::sign::CertifiedKey;
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("TLS configuration failed: {0}")]
    Config(#[from] rustls::Error),
    #[error("client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
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

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificate the device presents right now.
#[derive(Debug, Default)]
struct ActiveCertificate {
    current: ArcSwapOption<CertifiedKey>,
}

impl ResolvesServerCert for ActiveCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // None aborts the handshake: a device without a certificate has no
        // TLS to offer.
        self.current.load_full()
    }
}

/// What the TLS listener of one device serves.
#[derive(Debug)]
pub struct TlsFace {
    certificate: Arc<ActiveCertificate>,
    config: ArcSwap<ServerConfig>,
    /// The local interface never asks for client certificates (mutual
    /// authentication on LMS is deprecated since AMT 6).
    local_config: Arc<ServerConfig>,
    /// DER of the certificate in the slot, to skip needless rebuilds.
    loaded: ArcSwapOption<Vec<u8>>,
    client_auth: Mutex<Option<ClientAuth>>,
    /// AMT 19+ before provisioning: the on-die chain and a required client
    /// certificate, on both interfaces (`tls_odca.rs`).
    odca: ArcSwapOption<ServerConfig>,
    odca_face: Mutex<Option<crate::tls_odca::OdcaFace>>,
}

impl TlsFace {
    pub fn new() -> Result<Self, TlsError> {
        let certificate = Arc::new(ActiveCertificate::default());
        let config = build_config(certificate.clone(), None)?;
        let local_config = Arc::new(build_config(certificate.clone(), None)?);
        Ok(TlsFace {
            certificate,
            config: ArcSwap::from_pointee(config),
            local_config,
            loaded: ArcSwapOption::empty(),
            client_auth: Mutex::new(None),
            odca: ArcSwapOption::empty(),
            odca_face: Mutex::new(None),
        })
    }

    /// Requires (or stops requiring) client certificates on new handshakes.
    pub fn set_client_auth(&self, auth: Option<ClientAuth>) -> Result<(), TlsError> {
        let mut current = self.client_auth.lock().unwrap_or_else(|p| p.into_inner());
        if *current == auth {
            return Ok(());
        }
        let config = build_config(self.certificate.clone(), auth.as_ref())?;
        self.config.store(Arc::new(config));
        *current = auth;
        Ok(())
    }

    /// The configuration for a new handshake on `interface`.
    pub fn server_config(&self, interface: crate::vocabulary::Interface) -> Arc<ServerConfig> {
        if let Some(odca) = self.odca.load_full() {
            return odca;
        }
        match interface {
            crate::vocabulary::Interface::Remote => self.config.load_full(),
            crate::vocabulary::Interface::Local => self.local_config.clone(),
        }
    }

    /// Puts a certificate (DER) and its PKCS#8 key in the slot; `None`
    /// empties it.
    pub fn present(&self, cert: Option<(&[u8], &[u8])>) -> Result<(), TlsError> {
        match cert {
            None => {
                self.certificate.current.store(None);
                self.loaded.store(None);
            }
            Some((cert_der, key_pkcs8)) => {
                if self.loaded.load().as_deref().map(|v| v.as_slice()) == Some(cert_der) {
                    return Ok(());
                }
                let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8.to_vec()));
                let ck = CertifiedKey::from_der(
                    vec![CertificateDer::from(cert_der.to_vec())],
                    key,
                    &provider(),
                )?;
                self.certificate.current.store(Some(Arc::new(ck)));
                self.loaded.store(Some(Arc::new(cert_der.to_vec())));
            }
        }
        Ok(())
    }

    /// Presents the on-die chain (AMT 19+ before provisioning) instead of
    /// the device certificate, or stops presenting it (`None`).
    pub fn present_odca(
        &self,
        odca: Option<(
            &amt_device::odca::OdcaChain,
            crate::tls_odca::ExpectedClient,
        )>,
    ) -> Result<(), TlsError> {
        let mut current = self.odca_face.lock().unwrap_or_else(|p| p.into_inner());
        let wanted = odca
            .as_ref()
            .map(|(chain, expected)| crate::tls_odca::OdcaFace::of(chain, expected.clone()));
        if *current == wanted {
            return Ok(());
        }
        match odca {
            None => self.odca.store(None),
            Some((chain, expected)) => self.odca.store(Some(Arc::new(
                crate::tls_odca::odca_config(chain, expected)?,
            ))),
        }
        *current = wanted;
        Ok(())
    }

    /// Whether a certificate is loaded.
    pub fn has_certificate(&self) -> bool {
        self.certificate.current.load().is_some()
    }
}

fn build_config(
    certificate: Arc<ActiveCertificate>,
    auth: Option<&ClientAuth>,
) -> Result<ServerConfig, TlsError> {
    // TLS 1.3 stays on: MeshCentral's client offers only static-RSA suites
    // for TLS 1.2, which rustls will never do, so 1.3 is its only way in.
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let builder = match auth {
        None => builder.with_no_client_auth(),
        Some(auth) => {
            let mut roots = RootCertStore::empty();
            for der in &auth.trusted_roots {
                // A root the TLS stack cannot use is skipped, as a
                // firmware would skip it when building a chain.
                let _ = roots.add(CertificateDer::from(der.clone()));
            }
            let inner =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider()).build()?;
            builder.with_client_cert_verifier(Arc::new(TrustedCnVerifier {
                inner,
                trusted_cn: auth.trusted_cn.clone(),
            }))
        }
    };
    let mut config = builder.with_cert_resolver(certificate);
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(config)
}

/// Chain verification by webpki, then the `TrustedCN` check.
#[derive(Debug)]
struct TrustedCnVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    trusted_cn: Vec<String>,
}

impl ClientCertVerifier for TrustedCnVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        if self.trusted_cn.is_empty() {
            return Ok(verified);
        }
        let cn = common_name(end_entity).ok_or(rustls::Error::InvalidCertificate(
            rustls::CertificateError::ApplicationVerificationFailure,
        ))?;
        if self.trusted_cn.iter().any(|t| t.eq_ignore_ascii_case(&cn)) {
            Ok(verified)
        } else {
            tracing::info!(%cn, "client certificate common name is not in TrustedCN");
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

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
