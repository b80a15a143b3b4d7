//! The rustls configuration of a device in provisioning with PKI remote
//! configuration (AMT 2.2, 2.6 to 18): the device's own certificate, and a
//! client certificate asked for but not required. A provisioning server
//! presents its provisioning chain (leaf, intermediates, root); the chain
//! passes only on `amt_device::remote_configuration::PkiTrust::verdict`
//! (root among the enabled provisioning hashes, provisioning OID or OU in
//! the leaf, leaf CN in the DNS suffix), else the handshake fails. A
//! console without a certificate still connects, as before.

use std::sync::Arc;

use amt_device::remote_configuration::PkiTrust;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{NoServerSessionStorage, ResolvesServerCert};
use rustls::{DistinguishedName, ServerConfig};

use super::TlsError;

/// The server configuration that asks provisioning servers for their
/// chain, presenting what `certificate` resolves.
pub(super) fn pki_config(
    certificate: Arc<dyn ResolvesServerCert>,
    trust: PkiTrust,
    provider: Arc<CryptoProvider>,
) -> Result<ServerConfig, TlsError> {
    let verifier = Arc::new(PkiClientVerifier {
        trust,
        provider: provider.clone(),
    });
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config {
            backend: "rustls",
            message: e.to_string(),
        })?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(certificate);
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(config)
}

#[derive(Debug)]
struct PkiClientVerifier {
    trust: PkiTrust,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for PkiClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let chain: Vec<Vec<u8>> = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.to_vec())
            .collect();
        match self.trust.verdict(&chain) {
            Ok(()) => Ok(ClientCertVerified::assertion()),
            Err(refusal) => {
                tracing::info!(%refusal, "provisioning server chain refused");
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::ApplicationVerificationFailure,
                ))
            }
        }
    }

    provider_signature_checks!();
}
