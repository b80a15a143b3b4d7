//! The rustls backend: CSME 16.1 and later (TLS 1.2 with forward-secret
//! AEAD suites, and TLS 1.3).
//!
//! The certificate is looked up per handshake through a swappable slot
//! (a certificate resolver), so a change reaches the next handshake
//! without a rebuild; the client-auth policy is a whole `ServerConfig`
//! swapped in when it changes.

use std::sync::{Arc, Mutex};

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
use tokio_rustls::TlsAcceptor;

use amt_device::odca::OdcaChain;

use super::rustls_odca as odca;
use super::rustls_pki as pki;
use super::{
    common_name, Accepting, ClientAuth, ExpectedClient, HandshakeFacts, TlsBackend, TlsError,
    TlsStream, TlsVersion,
};
use crate::vocabulary::Interface;

const NAME: &str = "rustls";

fn config_error(e: impl std::fmt::Display) -> TlsError {
    TlsError::Config {
        backend: NAME,
        message: e.to_string(),
    }
}

/// ring by default; aws-lc-rs with the `aws-lc-rs` feature.
fn provider() -> Arc<CryptoProvider> {
    #[cfg(feature = "aws-lc-rs")]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(not(feature = "aws-lc-rs"))]
    let provider = rustls::crypto::ring::default_provider();
    Arc::new(provider)
}

/// The crypto provider the rustls backend of this build runs.
pub fn provider_name() -> &'static str {
    if cfg!(feature = "aws-lc-rs") {
        "aws-lc-rs"
    } else {
        "ring"
    }
}

/// The suites a firmware offers: AMT 22 refuses the AES-128 ones
/// (device-management-toolkit's AMT 22 notes), so its handshakes offer
/// only AES-256 and ChaCha20.
pub(super) fn suites_provider(refuse_aes_128: bool) -> Arc<CryptoProvider> {
    let mut p = CryptoProvider::clone(&provider());
    if refuse_aes_128 {
        p.cipher_suites
            .retain(|s| !s.suite().as_str().is_some_and(|n| n.contains("AES_128")));
    }
    Arc::new(p)
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

/// The rustls stack of one device.
#[derive(Debug)]
pub struct RustlsBackend {
    certificate: Arc<ActiveCertificate>,
    config: ArcSwap<ServerConfig>,
    /// The local interface never asks for client certificates (mutual
    /// authentication on LMS is deprecated since AMT 6).
    local_config: Arc<ServerConfig>,
    /// DER of the certificate in the slot, to skip needless rebuilds.
    loaded: ArcSwapOption<Vec<u8>>,
    client_auth: Mutex<Option<ClientAuth>>,
    /// AMT 19+ before provisioning: the on-die chain and a required client
    /// certificate, on both interfaces (`odca.rs`).
    odca: ArcSwapOption<ServerConfig>,
    odca_face: Mutex<Option<odca::OdcaFace>>,
    /// In provisioning with PKI remote configuration: the network face that
    /// asks provisioning servers for their chain (`rustls_pki.rs`).
    pki: ArcSwapOption<ServerConfig>,
    pki_trust: Mutex<Option<amt_device::remote_configuration::PkiTrust>>,
    /// AMT 22: no AES-128 suites.
    refuse_aes_128: bool,
}

impl RustlsBackend {
    pub fn new() -> Result<Self, TlsError> {
        Self::for_firmware(false)
    }

    /// The stack of a firmware that refuses (AMT 22) or offers the AES-128
    /// suites.
    pub fn for_firmware(refuse_aes_128: bool) -> Result<Self, TlsError> {
        let certificate = Arc::new(ActiveCertificate::default());
        let config = build_config(certificate.clone(), None, refuse_aes_128)?;
        let local_config = Arc::new(build_config(certificate.clone(), None, refuse_aes_128)?);
        Ok(RustlsBackend {
            certificate,
            config: ArcSwap::from_pointee(config),
            local_config,
            loaded: ArcSwapOption::empty(),
            client_auth: Mutex::new(None),
            odca: ArcSwapOption::empty(),
            odca_face: Mutex::new(None),
            pki: ArcSwapOption::empty(),
            pki_trust: Mutex::new(None),
            refuse_aes_128,
        })
    }

    fn server_config(&self, interface: Interface) -> Arc<ServerConfig> {
        // AMT 19+ before provisioning: the on-die chain on every interface.
        if let Some(odca) = self.odca.load_full() {
            return odca;
        }
        match interface {
            Interface::Remote => self
                .pki
                .load_full()
                .unwrap_or_else(|| self.config.load_full()),
            Interface::Local => self.local_config.clone(),
        }
    }
}

impl TlsBackend for RustlsBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn set_client_auth(&self, auth: Option<ClientAuth>) -> Result<(), TlsError> {
        let mut current = self.client_auth.lock().unwrap_or_else(|p| p.into_inner());
        if *current == auth {
            return Ok(());
        }
        let config = build_config(self.certificate.clone(), auth.as_ref(), self.refuse_aes_128)?;
        self.config.store(Arc::new(config));
        *current = auth;
        Ok(())
    }

    fn present(&self, cert: Option<(&[u8], &[u8])>) -> Result<(), TlsError> {
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
                )
                .map_err(config_error)?;
                self.certificate.current.store(Some(Arc::new(ck)));
                self.loaded.store(Some(Arc::new(cert_der.to_vec())));
            }
        }
        Ok(())
    }

    fn present_odca(&self, odca: Option<(&OdcaChain, ExpectedClient)>) -> Result<(), TlsError> {
        let mut current = self.odca_face.lock().unwrap_or_else(|p| p.into_inner());
        let wanted = odca
            .as_ref()
            .map(|(chain, expected)| odca::OdcaFace::of(chain, expected.clone()));
        if *current == wanted {
            return Ok(());
        }
        match odca {
            None => self.odca.store(None),
            Some((chain, expected)) => self.odca.store(Some(Arc::new(odca::odca_config(
                chain,
                expected,
                suites_provider(self.refuse_aes_128),
            )?))),
        }
        *current = wanted;
        Ok(())
    }

    fn present_pki(
        &self,
        trust: Option<amt_device::remote_configuration::PkiTrust>,
    ) -> Result<(), TlsError> {
        let mut current = self.pki_trust.lock().unwrap_or_else(|p| p.into_inner());
        if *current == trust {
            return Ok(());
        }
        match &trust {
            None => self.pki.store(None),
            Some(t) => self.pki.store(Some(Arc::new(pki::pki_config(
                self.certificate.clone(),
                t.clone(),
                suites_provider(self.refuse_aes_128),
            )?))),
        }
        *current = trust;
        Ok(())
    }

    fn accept(&self, io: TlsStream, interface: Interface) -> Accepting<'_> {
        let acceptor = TlsAcceptor::from(self.server_config(interface));
        Box::pin(async move {
            let tls = acceptor.accept(io).await.map_err(TlsError::Handshake)?;
            let facts = facts(tls.get_ref().1);
            Ok((Box::new(tls) as TlsStream, facts))
        })
    }
}

fn facts(conn: &rustls::ServerConnection) -> HandshakeFacts {
    let version = conn.protocol_version().and_then(|v| match v {
        rustls::ProtocolVersion::TLSv1_2 => Some(TlsVersion::Tls1_2),
        rustls::ProtocolVersion::TLSv1_3 => Some(TlsVersion::Tls1_3),
        _ => None,
    });
    // rustls spells the TLS 1.3 suites `TLS13_...`; IANA spells them `TLS_...`.
    let cipher_suite = conn
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .map(|name| match name.strip_prefix("TLS13_") {
            Some(rest) => format!("TLS_{rest}"),
            None => name.to_string(),
        });
    HandshakeFacts {
        version,
        cipher_suite,
        psk_identity: None,
        peer_certificates: conn
            .peer_certificates()
            .map(|chain| chain.iter().map(|c| c.to_vec()).collect())
            .unwrap_or_default(),
    }
}

fn build_config(
    certificate: Arc<ActiveCertificate>,
    auth: Option<&ClientAuth>,
    refuse_aes_128: bool,
) -> Result<ServerConfig, TlsError> {
    // TLS 1.3 stays on: MeshCentral's client offers only static-RSA suites
    // for TLS 1.2, which rustls will never do, so 1.3 is its only way in.
    let builder = ServerConfig::builder_with_provider(suites_provider(refuse_aes_128))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(config_error)?;
    let builder = match auth {
        None => builder.with_no_client_auth(),
        Some(auth) => {
            let mut roots = RootCertStore::empty();
            for der in &auth.trusted_roots {
                // A root the TLS stack cannot use is skipped, as a
                // firmware would skip it when building a chain.
                let _ = roots.add(CertificateDer::from(der.clone()));
            }
            let inner = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(config_error)?;
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
