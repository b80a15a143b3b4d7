//! Certificates and keys held by the device, with their AMT handles.
//!
//! Handles become `InstanceID`s on the wire: `Intel(r) AMT Certificate:
//! Handle: N` and `Intel(r) AMT Key: Handle: N`. They are never reused
//! while the device lives, so a console's stale reference cannot hit a
//! different object.

use serde::{Deserialize, Serialize};

use crate::error::DeviceError;
use crate::keys::DeviceKey;

/// One `AMT_PublicKeyCertificate`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateEntry {
    pub handle: u32,
    pub der: Vec<u8>,
    /// The firmware's self-signed certificate: never deletable.
    pub read_only: bool,
    /// Added with `AddTrustedRootCertificate`.
    pub trusted_root: bool,
    /// The key pair whose public key this certificate carries, if held.
    pub key_handle: Option<u32>,
}

/// One `AMT_PublicPrivateKeyPair`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEntry {
    pub handle: u32,
    pub key: DeviceKey,
}

/// The store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertStore {
    certificates: Vec<CertificateEntry>,
    keys: Vec<KeyEntry>,
    next_certificate_handle: u32,
    next_key_handle: u32,
}

impl CertStore {
    pub fn certificates(&self) -> &[CertificateEntry] {
        &self.certificates
    }

    pub fn keys(&self) -> &[KeyEntry] {
        &self.keys
    }

    pub fn certificate(&self, handle: u32) -> Option<&CertificateEntry> {
        self.certificates.iter().find(|c| c.handle == handle)
    }

    pub fn key(&self, handle: u32) -> Option<&KeyEntry> {
        self.keys.iter().find(|k| k.handle == handle)
    }

    /// The read-only self-signed certificate, if the firmware has one.
    pub fn self_signed(&self) -> Option<&CertificateEntry> {
        self.certificates.iter().find(|c| c.read_only)
    }

    /// Adds a key and returns its handle.
    pub fn add_key(&mut self, key: DeviceKey) -> u32 {
        let handle = self.next_key_handle;
        self.next_key_handle += 1;
        self.keys.push(KeyEntry { handle, key });
        handle
    }

    /// Adds a certificate and returns its handle.
    pub fn add_certificate(
        &mut self,
        der: Vec<u8>,
        read_only: bool,
        trusted_root: bool,
        key_handle: Option<u32>,
    ) -> u32 {
        let handle = self.next_certificate_handle;
        self.next_certificate_handle += 1;
        self.certificates.push(CertificateEntry {
            handle,
            der,
            read_only,
            trusted_root,
            key_handle,
        });
        handle
    }

    /// Deletes a certificate on a console's request. The read-only
    /// certificate is refused.
    pub fn delete_certificate(&mut self, handle: u32) -> Result<CertificateEntry, DeviceError> {
        let idx = self
            .certificates
            .iter()
            .position(|c| c.handle == handle)
            .ok_or(DeviceError::NoSuchCertificate(handle))?;
        if self.certificates[idx].read_only {
            return Err(DeviceError::ReadOnlyCertificate(handle));
        }
        Ok(self.certificates.remove(idx))
    }

    /// Firmware-internal removal, which may remove the read-only
    /// certificate (when the firmware replaces it).
    pub(crate) fn remove_certificate_as_firmware(
        &mut self,
        handle: u32,
    ) -> Option<CertificateEntry> {
        let idx = self.certificates.iter().position(|c| c.handle == handle)?;
        Some(self.certificates.remove(idx))
    }

    pub(crate) fn remove_key_as_firmware(&mut self, handle: u32) -> Option<KeyEntry> {
        let idx = self.keys.iter().position(|k| k.handle == handle)?;
        Some(self.keys.remove(idx))
    }

    /// Removes every certificate and key (unprovision). Handle counters
    /// carry on, so old handles stay unused.
    pub(crate) fn clear(&mut self) {
        self.certificates.clear();
        self.keys.clear();
    }

    /// Snapshot for the flash image.
    pub(crate) fn to_image(&self) -> CertStoreImage {
        CertStoreImage {
            next_certificate_handle: self.next_certificate_handle,
            next_key_handle: self.next_key_handle,
            certificates: self
                .certificates
                .iter()
                .map(|c| CertificateImage {
                    handle: c.handle,
                    der: crate::flash::Base64(c.der.clone()),
                    read_only: c.read_only,
                    trusted_root: c.trusted_root,
                    key_handle: c.key_handle,
                })
                .collect(),
            keys: self
                .keys
                .iter()
                .map(|k| KeyImage {
                    handle: k.handle,
                    pkcs8: crate::flash::Base64(k.key.pkcs8_der().to_vec()),
                })
                .collect(),
        }
    }

    /// Rebuilds the store from a flash image, checking every entry.
    pub(crate) fn from_image(image: CertStoreImage) -> Result<Self, DeviceError> {
        let corrupt = |m: String| DeviceError::CorruptFlash(m);
        let mut keys = Vec::with_capacity(image.keys.len());
        for k in image.keys {
            if k.handle >= image.next_key_handle
                || keys.iter().any(|e: &KeyEntry| e.handle == k.handle)
            {
                return Err(corrupt(format!(
                    "key handle {} is invalid or repeated",
                    k.handle
                )));
            }
            let key = DeviceKey::from_pkcs8(&k.pkcs8.0)
                .map_err(|e| corrupt(format!("key handle {}: {e}", k.handle)))?;
            keys.push(KeyEntry {
                handle: k.handle,
                key,
            });
        }
        let mut certificates = Vec::with_capacity(image.certificates.len());
        for c in image.certificates {
            if c.handle >= image.next_certificate_handle
                || certificates
                    .iter()
                    .any(|e: &CertificateEntry| e.handle == c.handle)
            {
                return Err(corrupt(format!(
                    "certificate handle {} is invalid or repeated",
                    c.handle
                )));
            }
            if let Some(kh) = c.key_handle {
                if !keys.iter().any(|k| k.handle == kh) {
                    return Err(corrupt(format!(
                        "certificate handle {} names missing key {kh}",
                        c.handle
                    )));
                }
            }
            x509_parser::parse_x509_certificate(&c.der.0)
                .map_err(|e| corrupt(format!("certificate handle {}: {e}", c.handle)))?;
            certificates.push(CertificateEntry {
                handle: c.handle,
                der: c.der.0,
                read_only: c.read_only,
                trusted_root: c.trusted_root,
                key_handle: c.key_handle,
            });
        }
        Ok(CertStore {
            certificates,
            keys,
            next_certificate_handle: image.next_certificate_handle,
            next_key_handle: image.next_key_handle,
        })
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct CertStoreImage {
    next_certificate_handle: u32,
    next_key_handle: u32,
    certificates: Vec<CertificateImage>,
    keys: Vec<KeyImage>,
}

#[derive(Serialize, Deserialize)]
struct CertificateImage {
    handle: u32,
    der: crate::flash::Base64,
    read_only: bool,
    trusted_root: bool,
    key_handle: Option<u32>,
}

#[derive(Serialize, Deserialize)]
struct KeyImage {
    handle: u32,
    pkcs8: crate::flash::Base64,
}
