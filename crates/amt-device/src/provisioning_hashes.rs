//! `AMT_ProvisioningCertificateHash`: the root-certificate hashes a
//! provisioning certificate chain must end in for admin control mode.
//!
//! The factory list is the SHA-256 hashes real AMT 15 devices report
//! (labels are ours, matched against public CA bundles); custom hashes come
//! from MEBx (here: the control API) and are removed by unprovision.

use serde::{Deserialize, Serialize};

use crate::status::PtStatus;

/// `HashType`: 0 MD5, 1 SHA-1, 2 SHA-256, 3 SHA-384.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HashType {
    Sha1,
    Sha256,
    Sha384,
}

impl HashType {
    pub fn as_u8(self) -> u8 {
        match self {
            HashType::Sha1 => 1,
            HashType::Sha256 => 2,
            HashType::Sha384 => 3,
        }
    }

    pub fn digest_len(self) -> usize {
        match self {
            HashType::Sha1 => 20,
            HashType::Sha256 => 32,
            HashType::Sha384 => 48,
        }
    }

    /// The hash of `der` with this algorithm.
    pub fn digest(self, der: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        match self {
            HashType::Sha1 => ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der)
                .as_ref()
                .to_vec(),
            HashType::Sha256 => sha2::Sha256::digest(der).to_vec(),
            HashType::Sha384 => sha2::Sha384::digest(der).to_vec(),
        }
    }
}

/// One hash entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisioningCertificateHash {
    pub handle: u32,
    pub description: String,
    pub hash_type: HashType,
    #[serde(with = "hex_bytes")]
    pub hash: Vec<u8>,
    pub enabled: bool,
    pub is_default: bool,
}

impl ProvisioningCertificateHash {
    /// `InstanceID` on the wire.
    pub fn instance_id(&self) -> String {
        format!("Intel(r) AMT Certificate Hash: Handle: {}", self.handle)
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

/// Custom hashes the firmware holds at most (3 user slots).
pub const MAX_CUSTOM_HASHES: usize = 3;
/// Longest description (`Description` is ≤ 32 characters).
pub const MAX_DESCRIPTION: usize = 32;

/// The factory default hashes (SHA-256).
const DEFAULT_SHA256: [(&str, &str); 20] = [
    (
        "c3846bf24b9e93ca64274c0ec67c1ecc5e024ffcacd2d74019350e81fe546ae4",
        "Go Daddy Class 2 CA",
    ),
    (
        "45140b3247eb9cc8c5b4f0d7b53091f73292089e6e5a63e2749dd3aca9198eda",
        "Go Daddy Root CA - G2",
    ),
    (
        "1465fa205397b876faa6f0a9958e5590e40fcc7faa4fb7c2c8677521fb5fb658",
        "Starfield Class 2 CA",
    ),
    (
        "2ce1cb0bf9d2f9e102993fbe215152c3b2dd0cabde1c68e5319b839154dbb7f5",
        "Starfield Root CA - G2",
    ),
    (
        "d7a7a0fb5d7e2731d771e9484ebcdef71d5f0c3e0a2948782bc83ee0ea699ef4",
        "Comodo AAA CA",
    ),
    (
        "16af57a9f676b0ab126095aa5ebadef22ab31119d644ac95cd4b93dbf3f26aeb",
        "Baltimore CyberTrust Root",
    ),
    (
        "960adf0063e96356750c2965dd0a0867da0b9cbd6e77714aeafb2349ab393da3",
        "Cybertrust Global Root",
    ),
    (
        "6dc47172e01cbcb0bf62580d895fe2b8ac9ad4f873801e0c10b9c837d21eb177",
        "Entrust.net CA (2048)",
    ),
    (
        "73c176434f1bc6d5adf45b0e76e727287c8de57616c1e6e6141a2b2cbc7d8e4c",
        "Entrust Root CA",
    ),
    (
        "43df5774b03e7fef5fe40d931a7bedf1bb2e6b42738c4e6d3841103d3aa7f339",
        "Entrust Root CA - G2",
    ),
    (
        "70a73f7f376b60074248904534b11482d5bf0e698ecc498df52577ebf2e93b9a",
        "AffirmTrust Premium",
    ),
    (
        "eb04cf5eb1f39afa762f2bb120f296cba520c1b97db1589565b81cb9a17b7244",
        "VeriSign Class 3 G3",
    ),
    (
        "9acfab7e43c8d880d06b262a94deeee4b4659989c3d0caf19baf6405e41ab7df",
        "VeriSign Class 3 G5",
    ),
    (
        "2399561127a57125de8cefea610ddf2fa078b5c8067f4e828290bfb860e84b3c",
        "VeriSign Universal Root CA",
    ),
    (
        "68ad50909b04363c605ef13581a939ff2c96372e3f12325b0a6861e1d59f6603",
        "Default root 15",
    ),
    (
        "82f2ed575db4abe462499cf550dbff9584980d70a0272894639c3653b9ad932c",
        "Default root 16",
    ),
    (
        "83ce3c1229688a593d485f81973c0f9195431eda37cc5e36430e79c7a888638b",
        "Default root 17",
    ),
    (
        "a4b6b3996fc2f306b3fd8681bd63413d8c5009cc4fa329c2ccf0e2fa1b140305",
        "Default root 18",
    ),
    (
        "a53125188d2110aa964b02c7b7c6da3203170894e5fb71fffb6667d5e6810a36",
        "Default root 19",
    ),
    (
        "e7685634efacf69ace939a6b255b7b4fabef42935b50a265acb5cb6027e44e70",
        "Default root 20",
    ),
];

/// The factory list, handles 0..20.
pub fn factory_hashes() -> Vec<ProvisioningCertificateHash> {
    DEFAULT_SHA256
        .iter()
        .enumerate()
        .map(|(i, (hash, name))| ProvisioningCertificateHash {
            handle: i as u32,
            description: (*name).to_string(),
            hash_type: HashType::Sha256,
            hash: hex::decode(hash).unwrap_or_default(),
            enabled: true,
            is_default: true,
        })
        .collect()
}

/// The list on a device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashList {
    pub entries: Vec<ProvisioningCertificateHash>,
    pub next_handle: u32,
}

impl Default for HashList {
    fn default() -> Self {
        let entries = factory_hashes();
        let next_handle = entries.len() as u32;
        HashList {
            entries,
            next_handle,
        }
    }
}

impl HashList {
    /// Adds a custom hash (MEBx). Returns its handle.
    pub fn add_custom(
        &mut self,
        hash_type: HashType,
        hash: Vec<u8>,
        description: &str,
    ) -> Result<u32, PtStatus> {
        if hash.len() != hash_type.digest_len()
            || description.is_empty()
            || description.chars().count() > MAX_DESCRIPTION
        {
            return Err(PtStatus::INVALID_PARAMETER);
        }
        if self.entries.iter().any(|e| e.hash == hash) {
            return Err(PtStatus::DUPLICATE);
        }
        if self.entries.iter().filter(|e| !e.is_default).count() >= MAX_CUSTOM_HASHES {
            return Err(PtStatus::MAX_LIMIT_REACHED);
        }
        let handle = self.next_handle;
        self.next_handle += 1;
        self.entries.push(ProvisioningCertificateHash {
            handle,
            description: description.to_string(),
            hash_type,
            hash,
            enabled: true,
            is_default: false,
        });
        Ok(handle)
    }

    /// Whether an enabled entry matches the certificate `der`.
    pub fn trusts(&self, der: &[u8]) -> bool {
        self.entries
            .iter()
            .any(|e| e.enabled && e.hash == e.hash_type.digest(der))
    }

    /// Unprovision: custom hashes go, defaults stay (and are re-enabled).
    pub fn reset(&mut self) {
        self.entries.retain(|e| e.is_default);
        for e in &mut self.entries {
            e.enabled = true;
        }
    }

    /// Enables or disables an entry.
    pub fn set_enabled(&mut self, handle: u32, enabled: bool) -> Result<(), PtStatus> {
        let e = self
            .entries
            .iter_mut()
            .find(|e| e.handle == handle)
            .ok_or(PtStatus::NOT_FOUND)?;
        e.enabled = enabled;
        Ok(())
    }

    /// Deletes a custom entry (defaults can only be disabled).
    pub fn delete(&mut self, handle: u32) -> Result<(), PtStatus> {
        let i = self
            .entries
            .iter()
            .position(|e| e.handle == handle)
            .ok_or(PtStatus::NOT_FOUND)?;
        if self.entries[i].is_default {
            return Err(PtStatus::NOT_PERMITTED);
        }
        self.entries.remove(i);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factory_list_is_twenty_sha256_defaults() {
        let list = HashList::default();
        assert_eq!(list.entries.len(), 20);
        assert!(list
            .entries
            .iter()
            .all(|e| e.is_default && e.enabled && e.hash.len() == 32));
        assert!(list
            .entries
            .iter()
            .all(|e| e.description.len() <= MAX_DESCRIPTION));
    }

    #[test]
    fn custom_hashes_are_limited_and_reset() {
        let mut list = HashList::default();
        for i in 0..3u8 {
            list.add_custom(HashType::Sha256, vec![i; 32], "custom")
                .unwrap();
        }
        assert_eq!(
            list.add_custom(HashType::Sha256, vec![9; 32], "fourth"),
            Err(PtStatus::MAX_LIMIT_REACHED)
        );
        assert_eq!(
            list.add_custom(HashType::Sha256, vec![0; 32], "dup"),
            Err(PtStatus::DUPLICATE)
        );
        assert_eq!(
            list.add_custom(HashType::Sha256, vec![0; 31], "short"),
            Err(PtStatus::INVALID_PARAMETER)
        );
        list.reset();
        assert_eq!(list.entries.len(), 20);
    }

    #[test]
    fn trusts_by_hash_of_the_der() {
        let mut list = HashList::default();
        let der = b"pretend root certificate";
        assert!(!list.trusts(der));
        let h = list
            .add_custom(HashType::Sha256, HashType::Sha256.digest(der), "test root")
            .unwrap();
        assert!(list.trusts(der));
        list.set_enabled(h, false).unwrap();
        assert!(!list.trusts(der));
        assert_eq!(list.delete(0), Err(PtStatus::NOT_PERMITTED));
        list.delete(h).unwrap();
    }
}
