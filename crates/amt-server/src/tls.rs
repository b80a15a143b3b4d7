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

use arc_swap::{ArcSwap, ArcSwapOption};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, NoServerSessionStorage, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("TLS configuration failed: {0}")]
    Config(#[from] rustls::Error),
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
    /// DER of the certificate in the slot, to skip needless rebuilds.
    loaded: ArcSwapOption<Vec<u8>>,
}

impl TlsFace {
    pub fn new() -> Result<Self, TlsError> {
        let certificate = Arc::new(ActiveCertificate::default());
        let config = build_config(certificate.clone())?;
        Ok(TlsFace {
            certificate,
            config: ArcSwap::from_pointee(config),
            loaded: ArcSwapOption::empty(),
        })
    }

    /// The configuration for a new handshake.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.config.load_full()
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

    /// Whether a certificate is loaded.
    pub fn has_certificate(&self) -> bool {
        self.certificate.current.load().is_some()
    }
}

fn build_config(certificate: Arc<ActiveCertificate>) -> Result<ServerConfig, TlsError> {
    // TLS 1.3 stays on: MeshCentral's client offers only static-RSA suites
    // for TLS 1.2, which rustls will never do, so 1.3 is its only way in.
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(certificate);
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(config)
}
