//! The OpenSSL backend: firmware older than CSME 16.1, whose TLS rustls will
//! never serve (TLS 1.0/1.1, static-RSA and CBC suites, TLS-PSK, legacy
//! renegotiation). It serves exactly the device profile's
//! [`TlsOffer`]; for a 16.1+ profile that is TLS 1.2/1.3 with
//! forward-secret AEAD suites, like the rustls backend, which lets one test
//! suite run against both.
//!
//! A certificate or client-auth change builds new `SslContext`s and swaps
//! them in; each handshake takes the context current at its start. The PSK
//! is read by the PSK callback at handshake time.
//!
//! PKI remote configuration (in provisioning, AMT 2.2 to 16.0 on this
//! backend): the network context asks for a client certificate without
//! requiring one, and the verify callback hands the chain OpenSSL built from
//! what the client sent to `PkiTrust::verdict`, which alone decides (the
//! firmware's rules, not OpenSSL's: no trust store, no purpose or date
//! checks), as the rustls backend does.

use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwap, ArcSwapOption};
use openssl::dh::Dh;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{
    Ssl, SslContext, SslContextBuilder, SslMethod, SslOptions, SslSessionCacheMode, SslVerifyMode,
    SslVersion,
};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::{X509Ref, X509};
use tokio_openssl::SslStream;

use super::{
    Accepting, ClientAuth, HandshakeFacts, PskKey, TlsBackend, TlsError, TlsStream, TlsVersion,
};
use crate::vocabulary::Interface;
use amt_device::remote_configuration::PkiTrust;
use amt_device::TlsOffer;

const NAME: &str = "openssl";

fn config_error(e: impl std::fmt::Display) -> TlsError {
    TlsError::Config {
        backend: NAME,
        message: e.to_string(),
    }
}

/// OpenSSL's name for a TLS 1.0–1.2 suite the profiles use (OpenSSL's
/// cipher strings take only its own names).
fn openssl_suite_name(iana: &str) -> Option<&'static str> {
    Some(match iana {
        "TLS_RSA_WITH_AES_128_CBC_SHA" => "AES128-SHA",
        "TLS_RSA_WITH_AES_256_CBC_SHA" => "AES256-SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA256" => "AES128-SHA256",
        "TLS_RSA_WITH_AES_128_GCM_SHA256" => "AES128-GCM-SHA256",
        "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384" => "DHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => "ECDHE-RSA-AES128-GCM-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => "ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" => "ECDHE-RSA-CHACHA20-POLY1305",
        "TLS_PSK_WITH_AES_128_CBC_SHA" => "PSK-AES128-CBC-SHA",
        "TLS_PSK_WITH_AES_256_CBC_SHA" => "PSK-AES256-CBC-SHA",
        _ => return None,
    })
}

fn ssl_version(v: TlsVersion) -> SslVersion {
    match v {
        TlsVersion::Tls1_0 => SslVersion::TLS1,
        TlsVersion::Tls1_1 => SslVersion::TLS1_1,
        TlsVersion::Tls1_2 => SslVersion::TLS1_2,
        TlsVersion::Tls1_3 => SslVersion::TLS1_3,
    }
}

/// What a context is built from.
#[derive(Default)]
struct Inputs {
    certificate: Option<(X509, PKey<Private>)>,
    /// DER of the certificate, to skip needless rebuilds.
    loaded: Option<Vec<u8>>,
    client_auth: Option<ClientAuth>,
    /// While set, network clients are asked for a provisioning chain.
    pki: Option<PkiTrust>,
}

/// The OpenSSL stack of one device.
pub struct OpensslBackend {
    offer: TlsOffer,
    inputs: Mutex<Inputs>,
    remote: ArcSwap<SslContext>,
    /// The local interface never asks for client certificates.
    local: ArcSwap<SslContext>,
    psk: Arc<ArcSwapOption<PskKey>>,
}

impl std::fmt::Debug for OpensslBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpensslBackend")
            .field("offer", &self.offer)
            .finish_non_exhaustive()
    }
}

impl OpensslBackend {
    /// A backend serving `offer`, with no certificate yet.
    pub fn new(offer: TlsOffer) -> Result<Self, TlsError> {
        let psk = Arc::new(ArcSwapOption::empty());
        let inputs = Inputs::default();
        let remote = build_context(&offer, &inputs, true, &psk)?;
        let local = build_context(&offer, &inputs, false, &psk)?;
        Ok(OpensslBackend {
            offer,
            inputs: Mutex::new(inputs),
            remote: ArcSwap::from_pointee(remote),
            local: ArcSwap::from_pointee(local),
            psk,
        })
    }

    fn rebuild(&self, inputs: &Inputs) -> Result<(), TlsError> {
        let remote = build_context(&self.offer, inputs, true, &self.psk)?;
        let local = build_context(&self.offer, inputs, false, &self.psk)?;
        self.remote.store(Arc::new(remote));
        self.local.store(Arc::new(local));
        Ok(())
    }

    /// Sets one input and rebuilds the contexts; the input goes back to
    /// what it was if they cannot be built.
    fn change<T: PartialEq>(
        &self,
        field: impl Fn(&mut Inputs) -> &mut T,
        value: T,
    ) -> Result<(), TlsError> {
        let mut inputs = self.lock();
        if *field(&mut inputs) == value {
            return Ok(());
        }
        let previous = std::mem::replace(field(&mut inputs), value);
        if let Err(e) = self.rebuild(&inputs) {
            *field(&mut inputs) = previous;
            return Err(e);
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inputs> {
        self.inputs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl TlsBackend for OpensslBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn present(&self, cert: Option<(&[u8], &[u8])>) -> Result<(), TlsError> {
        let mut inputs = self.lock();
        if inputs.loaded.as_deref() == cert.map(|(der, _)| der) {
            return Ok(());
        }
        let mut next = Inputs {
            certificate: None,
            loaded: None,
            client_auth: inputs.client_auth.clone(),
            pki: inputs.pki.clone(),
        };
        if let Some((cert_der, key_pkcs8)) = cert {
            let x509 = X509::from_der(cert_der).map_err(config_error)?;
            let key = PKey::private_key_from_pkcs8(key_pkcs8).map_err(config_error)?;
            next.certificate = Some((x509, key));
            next.loaded = Some(cert_der.to_vec());
        }
        self.rebuild(&next)?;
        *inputs = next;
        Ok(())
    }

    fn set_client_auth(&self, auth: Option<ClientAuth>) -> Result<(), TlsError> {
        self.change(|i| &mut i.client_auth, auth)
    }

    fn present_pki(&self, trust: Option<PkiTrust>) -> Result<(), TlsError> {
        self.change(|i| &mut i.pki, trust)
    }

    fn set_psk(&self, psk: Option<PskKey>) -> Result<(), TlsError> {
        if psk.is_some() && self.offer.psk_suites.is_empty() {
            // The firmware refuses PSK: nothing to arm.
            self.psk.store(None);
            return Ok(());
        }
        self.psk.store(psk.map(Arc::new));
        Ok(())
    }

    fn accept(&self, io: TlsStream, interface: Interface) -> Accepting<'_> {
        let context = match interface {
            Interface::Remote => self.remote.load_full(),
            Interface::Local => self.local.load_full(),
        };
        Box::pin(async move {
            let ssl =
                Ssl::new(&context).map_err(|e| TlsError::Handshake(std::io::Error::other(e)))?;
            let mut stream = Box::pin(
                SslStream::new(ssl, io)
                    .map_err(|e| TlsError::Handshake(std::io::Error::other(e)))?,
            );
            stream.as_mut().accept().await.map_err(|e| {
                TlsError::Handshake(
                    e.into_io_error()
                        .unwrap_or_else(|e| std::io::Error::other(e.to_string())),
                )
            })?;
            let facts = facts(stream.ssl());
            Ok((Box::new(stream) as TlsStream, facts))
        })
    }
}

fn facts(ssl: &openssl::ssl::SslRef) -> HandshakeFacts {
    let version = ssl.version2().and_then(|v| match v {
        SslVersion::TLS1 => Some(TlsVersion::Tls1_0),
        SslVersion::TLS1_1 => Some(TlsVersion::Tls1_1),
        SslVersion::TLS1_2 => Some(TlsVersion::Tls1_2),
        SslVersion::TLS1_3 => Some(TlsVersion::Tls1_3),
        _ => None,
    });
    let mut peer_certificates = Vec::new();
    if let Some(leaf) = ssl.peer_certificate() {
        if let Ok(der) = leaf.to_der() {
            peer_certificates.push(der);
        }
    }
    // On the server side OpenSSL's chain leaves the leaf out.
    if let Some(chain) = ssl.peer_cert_chain() {
        peer_certificates.extend(chain.iter().filter_map(|c| c.to_der().ok()));
    }
    HandshakeFacts {
        version,
        cipher_suite: ssl
            .current_cipher()
            .and_then(|c| c.standard_name())
            .map(str::to_string),
        psk_identity: ssl
            .psk_identity()
            .map(|id| String::from_utf8_lossy(id).into_owned()),
        peer_certificates,
    }
}

fn build_context(
    offer: &TlsOffer,
    inputs: &Inputs,
    remote: bool,
    psk: &Arc<ArcSwapOption<PskKey>>,
) -> Result<SslContext, TlsError> {
    let mut b = SslContextBuilder::new(SslMethod::tls_server()).map_err(config_error)?;
    let legacy = offer.needs_legacy_stack();
    if legacy {
        // OpenSSL 3 refuses TLS 1.0/1.1, SHA-1 and static RSA above level 0.
        b.set_security_level(0);
    }
    let oldest = offer
        .versions
        .iter()
        .min()
        .copied()
        .ok_or_else(|| config_error("no TLS version"))?;
    let newest = offer
        .versions
        .iter()
        .max()
        .copied()
        .ok_or_else(|| config_error("no TLS version"))?;
    b.set_min_proto_version(Some(ssl_version(oldest)))
        .map_err(config_error)?;
    b.set_max_proto_version(Some(ssl_version(newest)))
        .map_err(config_error)?;

    let mut names = Vec::new();
    for iana in offer.suites.iter().chain(offer.psk_suites) {
        names.push(
            openssl_suite_name(iana)
                .ok_or_else(|| config_error(format!("unknown suite {iana}")))?,
        );
    }
    let mut cipher_list = names.join(":");
    if legacy {
        cipher_list.push_str(":@SECLEVEL=0");
    }
    b.set_cipher_list(&cipher_list).map_err(config_error)?;
    if newest == TlsVersion::Tls1_3 {
        b.set_ciphersuites(&offer.tls13_suites.join(":"))
            .map_err(config_error)?;
    }
    if offer.suites.iter().any(|s| s.starts_with("TLS_DHE_")) {
        let dh = Dh::get_2048_256().map_err(config_error)?;
        b.set_tmp_dh(&dh).map_err(config_error)?;
    }

    // The firmware picks the suite; no tickets, no session cache: a
    // resumed session would skip the Certificate message.
    let mut options = SslOptions::CIPHER_SERVER_PREFERENCE | SslOptions::NO_TICKET;
    if offer.legacy_renegotiation {
        options |= SslOptions::ALLOW_UNSAFE_LEGACY_RENEGOTIATION;
    }
    b.set_options(options);
    b.set_session_cache_mode(SslSessionCacheMode::OFF);
    b.set_num_tickets(0).map_err(config_error)?;

    if let Some((cert, key)) = &inputs.certificate {
        b.set_certificate(cert).map_err(config_error)?;
        b.set_private_key(key).map_err(config_error)?;
        b.check_private_key().map_err(config_error)?;
    }

    if !offer.psk_suites.is_empty() {
        let psk = psk.clone();
        b.set_psk_server_callback(move |_ssl, identity, out| {
            let Some(current) = psk.load_full() else {
                return Ok(0);
            };
            // 0 bytes: unknown identity, and OpenSSL fails the handshake.
            if identity != Some(current.identity.as_bytes()) || current.key.len() > out.len() {
                return Ok(0);
            }
            out[..current.key.len()].copy_from_slice(&current.key);
            Ok(current.key.len())
        });
    }

    match (&inputs.client_auth, remote) {
        _ if remote && inputs.pki.is_some() => {
            let trust = inputs.pki.clone();
            // Asked, not required: a console without a certificate still
            // connects, as before.
            b.set_verify_callback(SslVerifyMode::PEER, move |_ok, ctx| {
                if ctx.error_depth() != 0 {
                    // The verdict on the whole chain comes at the leaf.
                    return true;
                }
                let chain: Vec<Vec<u8>> = ctx
                    .chain()
                    .map(|c| c.iter().filter_map(|x| x.to_der().ok()).collect())
                    .unwrap_or_default();
                match trust.as_ref().map(|t| t.verdict(&chain)) {
                    Some(Ok(())) => true,
                    Some(Err(refusal)) => {
                        tracing::info!(%refusal, "provisioning server chain refused");
                        false
                    }
                    None => false,
                }
            });
        }
        (Some(auth), true) => {
            let mut store = X509StoreBuilder::new().map_err(config_error)?;
            for der in &auth.trusted_roots {
                // A root the stack cannot use is skipped, as a firmware
                // would skip it when building a chain.
                if let Ok(root) = X509::from_der(der) {
                    let _ = b.add_client_ca(&root);
                    let _ = store.add_cert(root);
                }
            }
            b.set_cert_store(store.build());
            let trusted_cn = auth.trusted_cn.clone();
            b.set_verify_callback(
                SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
                move |ok, ctx| {
                    if !ok || ctx.error_depth() != 0 || trusted_cn.is_empty() {
                        return ok;
                    }
                    let cn = ctx.current_cert().and_then(common_name);
                    let trusted = cn
                        .as_deref()
                        .is_some_and(|cn| trusted_cn.iter().any(|t| t.eq_ignore_ascii_case(cn)));
                    if !trusted {
                        tracing::info!(?cn, "client certificate common name is not in TrustedCN");
                    }
                    trusted
                },
            );
        }
        _ => b.set_verify(SslVerifyMode::NONE),
    }
    Ok(b.build())
}

fn common_name(cert: &X509Ref) -> Option<String> {
    super::common_name(&cert.to_der().ok()?)
}
