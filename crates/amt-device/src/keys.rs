//! Key pairs held by the "firmware".
//!
//! Private keys never leave the device except inside the persisted flash
//! image. They are kept as PKCS#8 DER; the public forms that AMT exposes
//! (`DERKey` is PKCS#1 `RSAPublicKey`) and the rcgen signer are derived
//! from it on demand.

use rand::rngs::ChaCha20Rng;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rustls_pki_types::PrivatePkcs8KeyDer;

use crate::error::DeviceError;
use crate::profile::KeyAlgorithm;

/// An RSA key pair inside the device.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceKey {
    pkcs8: Vec<u8>,
    spki: Vec<u8>,
}

impl std::fmt::Debug for DeviceKey {
    // Never print private key material, not even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceKey")
            .field("spki_len", &self.spki.len())
            .finish_non_exhaustive()
    }
}

impl DeviceKey {
    /// Generates a fresh key from the device's random generator.
    pub fn generate(alg: KeyAlgorithm, rng: &mut ChaCha20Rng) -> Result<Self, DeviceError> {
        let key = rsa::PrivateKey::new(rng, alg.bits())
            .map_err(|e| DeviceError::KeyGeneration(e.to_string()))?;
        let pkcs8 = key
            .to_pkcs8_der()
            .map_err(|e| DeviceError::KeyGeneration(e.to_string()))?;
        DeviceKey::from_pkcs8(pkcs8.as_bytes())
    }

    /// Loads a PKCS#8 `PrivateKeyInfo` holding an RSA key.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, DeviceError> {
        let key = rsa::PrivateKey::from_pkcs8_der(der)
            .map_err(|e| DeviceError::InvalidKey(e.to_string()))?;
        Self::from_rsa(&key)
    }

    /// Loads a private key blob as `AddKey` receives it: PKCS#8 or PKCS#1.
    pub fn from_private_key_blob(der: &[u8]) -> Result<Self, DeviceError> {
        if let Ok(key) = rsa::PrivateKey::from_pkcs8_der(der) {
            return Self::from_rsa(&key);
        }
        let key = rsa::PrivateKey::from_pkcs1_der(der)
            .map_err(|e| DeviceError::InvalidKey(e.to_string()))?;
        Self::from_rsa(&key)
    }

    fn from_rsa(key: &rsa::PrivateKey) -> Result<Self, DeviceError> {
        let pkcs8 = key
            .to_pkcs8_der()
            .map_err(|e| DeviceError::InvalidKey(e.to_string()))?
            .as_bytes()
            .to_vec();
        let spki = key
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| DeviceError::InvalidKey(e.to_string()))?
            .as_bytes()
            .to_vec();
        Ok(DeviceKey { pkcs8, spki })
    }

    /// The private key as PKCS#8 DER. Only the flash image and the TLS
    /// listener of this device may see it.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key as X.509 `SubjectPublicKeyInfo` DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The public key as PKCS#1 `RSAPublicKey` DER: what
    /// `AMT_PublicPrivateKeyPair.DERKey` carries.
    pub fn pkcs1_public_der(&self) -> Result<Vec<u8>, DeviceError> {
        Ok(self
            .public_key()?
            .to_pkcs1_der()
            .map_err(|e| DeviceError::InvalidKey(e.to_string()))?
            .as_bytes()
            .to_vec())
    }

    /// The key bit length.
    pub fn bits(&self) -> usize {
        use rsa::traits::PublicKeyParts;
        self.public_key().map(|k| k.size() * 8).unwrap_or(0)
    }

    /// The public half, read from the SPKI (cheap: no private-key parse).
    fn public_key(&self) -> Result<rsa::PublicKey, DeviceError> {
        use rsa::pkcs8::DecodePublicKey;
        rsa::PublicKey::from_public_key_der(&self.spki)
            .map_err(|e| DeviceError::InvalidKey(e.to_string()))
    }

    /// An rcgen signer (RSA PKCS#1 v1.5 with SHA-256) over this key.
    pub fn signer(&self) -> Result<rcgen::KeyPair, DeviceError> {
        let der = PrivatePkcs8KeyDer::from(self.pkcs8.clone());
        rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_RSA_SHA256)
            .map_err(|e| DeviceError::InvalidKey(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn seeded_generation_is_reproducible() {
        let a =
            DeviceKey::generate(KeyAlgorithm::Rsa2048, &mut ChaCha20Rng::seed_from_u64(7)).unwrap();
        let b =
            DeviceKey::generate(KeyAlgorithm::Rsa2048, &mut ChaCha20Rng::seed_from_u64(7)).unwrap();
        let c =
            DeviceKey::generate(KeyAlgorithm::Rsa2048, &mut ChaCha20Rng::seed_from_u64(8)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.bits(), 2048);
    }

    #[test]
    fn derkey_is_pkcs1_rsa_public_key() {
        let k =
            DeviceKey::generate(KeyAlgorithm::Rsa2048, &mut ChaCha20Rng::seed_from_u64(1)).unwrap();
        let der = k.pkcs1_public_der().unwrap();
        // 270 bytes for RSA-2048 with e = 65537; base64 starts "MIIBCgKCAQEA".
        assert_eq!(der.len(), 270);
        assert_eq!(&der[..4], &[0x30, 0x82, 0x01, 0x0a]);
    }

    #[test]
    fn garbage_key_blobs_are_refused() {
        assert!(DeviceKey::from_private_key_blob(b"").is_err());
        assert!(DeviceKey::from_private_key_blob(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
    }
}
