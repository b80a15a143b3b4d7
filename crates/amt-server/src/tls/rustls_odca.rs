//! The rustls configuration of an AMT 19+ device before provisioning: the
//! on-die CA chain (`amt_device::odca`) as server certificate, on both the
//! network and the local port, and a client certificate required.
//!
//! Which client certificate passes: when the host has run
//! `StartConfigurationHBased`, the one whose hash (with the algorithm the
//! host named) is the `ServerCertHash` it handed over, as the firmware
//! binds the mutual-TLS session to that call; before any such call, any
//! certificate (its chain is not checked: the firmware has no trusted
//! roots of its own before configuration). Without a certificate the
//! handshake fails.

use std::sync::Arc;

use amt_device::odca::OdcaChain;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::NoServerSessionStorage;
use rustls::{DistinguishedName, ServerConfig};

use super::{ExpectedClient, TlsError};

fn config_error(e: rustls::Error) -> TlsError {
    TlsError::Config {
        backend: "rustls",
        message: e.to_string(),
    }
}

/// What the pre-provisioning face is built from; equal keys need no rebuild.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct OdcaFace {
    pub leaf: Vec<u8>,
    pub expected_client: ExpectedClient,
}

impl OdcaFace {
    pub(super) fn of(chain: &OdcaChain, expected_client: ExpectedClient) -> Self {
        OdcaFace {
            leaf: chain.leaf().to_vec(),
            expected_client,
        }
    }
}

/// The server configuration that presents `chain` and requires a client
/// certificate.
pub(super) fn odca_config(
    chain: &OdcaChain,
    expected_client: ExpectedClient,
    provider: Arc<CryptoProvider>,
) -> Result<ServerConfig, TlsError> {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.leaf_key_pkcs8().to_vec()));
    let certificates = chain
        .certificates
        .iter()
        .map(|c| CertificateDer::from(c.clone()))
        .collect();
    let verifier = Arc::new(OdcaClientVerifier {
        expected: expected_client,
        provider: provider.clone(),
    });
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(config_error)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certificates, key)
        .map_err(config_error)?;
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(config)
}

#[derive(Debug)]
struct OdcaClientVerifier {
    expected: ExpectedClient,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for OdcaClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match &self.expected {
            Some((hash, expected)) if hash.digest(end_entity.as_ref()) != *expected => {
                tracing::info!("client certificate is not the one StartConfigurationHBased named");
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::ApplicationVerificationFailure,
                ))
            }
            _ => Ok(ClientCertVerified::assertion()),
        }
    }

    provider_signature_checks!();
}
