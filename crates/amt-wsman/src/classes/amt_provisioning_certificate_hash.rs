//! `AMT_ProvisioningCertificateHash`: the root-certificate hashes a
//! provisioning chain must end in (Intel AMT SDK class reference; the device keeps them in
//! `amt_device::provisioning_hashes`).
//!
//! No capture exists (consoles read the list over HECI), so the shape
//! follows the MOF: properties in ASCII order like every other class,
//! `HashData` in base64 like every other octet string on the wire, key
//! `InstanceID` = `Intel(r) AMT Certificate Hash: Handle: N`.
//!
//! Put changes `Enabled` only (the other properties are read-only); Create
//! adds a custom hash; Delete removes a custom hash (factory entries can
//! only be disabled). Intrinsic operations report firmware refusals as
//! faults (Intel AMT SDK: extrinsic methods report errors in ReturnValue): a duplicate hash is `AlreadyExists`, a bad hash
//! type or length `InvalidParameter`, a body that is not an instance (a
//! missing property, a bad boolean) `InvalidRepresentation`, a full list or
//! a factory entry's deletion `InternalError` with its `AMT-STATUS`.

use amt_device::{Device, HashType, ProvisioningCertificateHash};
use base64::Engine;

use super::{bool_text, ClassHandler, ClassInfo, Instance, Outcome, Reference};
use crate::checks::{boolean, instance_body, refusal};
use crate::envelope::Request;
use crate::fault::Fault;
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_ProvisioningCertificateHash";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_ProvisioningCertificateHash";
/// By analogy with `AMT_PublicKeyCertificate`'s fixed `ElementName`; the
/// friendly name of each entry is its `Description`.
pub const ELEMENT_NAME: &str = "Intel(r) AMT Certificate Hash";
const INSTANCE_ID_PREFIX: &str = "Intel(r) AMT Certificate Hash: Handle: ";

pub struct AmtProvisioningCertificateHash;

fn instance(entry: &ProvisioningCertificateHash) -> Instance {
    let id = entry.instance_id();
    Instance::new()
        .with("Description", &entry.description)
        .with("ElementName", ELEMENT_NAME)
        .with("Enabled", bool_text(entry.enabled))
        .with(
            "HashData",
            base64::engine::general_purpose::STANDARD.encode(&entry.hash),
        )
        .with("HashType", entry.hash_type.as_u8())
        .with("InstanceID", &id)
        .with("IsDefault", bool_text(entry.is_default))
        .key("InstanceID", id)
}

/// The entry handle named by an `InstanceID`.
fn handle_of(instance_id: &str) -> Option<u32> {
    instance_id.strip_prefix(INSTANCE_ID_PREFIX)?.parse().ok()
}

fn hash_type(value: u8) -> Option<HashType> {
    [HashType::Sha1, HashType::Sha256, HashType::Sha384]
        .into_iter()
        .find(|t| t.as_u8() == value)
}

impl AmtProvisioningCertificateHash {
    /// The handle of the instance the request's selectors name.
    fn selected_handle(&self, device: &Device, request: &Request) -> Result<u32, Fault> {
        let selected = self.get(device, &request.selectors)?;
        selected
            .text("InstanceID")
            .and_then(handle_of)
            .ok_or(Fault::InvalidSelectors)
    }

    fn instance_with_handle(&self, device: &Device, handle: u32) -> Result<Instance, Fault> {
        device
            .provisioning_hashes()
            .entries
            .iter()
            .find(|e| e.handle == handle)
            .map(instance)
            .ok_or(Fault::InvalidSelectors)
    }
}

impl ClassHandler for AmtProvisioningCertificateHash {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: true,
        }
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(device
            .provisioning_hashes()
            .entries
            .iter()
            .map(instance)
            .collect())
    }

    fn put(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<Instance>, Fault> {
        let handle = self.selected_handle(device, request)?;
        let body = instance_body(request, &self.info())?;
        let enabled = body
            .values("Enabled")
            .next()
            .ok_or_else(|| Fault::InvalidRepresentation("Enabled is missing".into()))?;
        let enabled = boolean(enabled)
            .ok_or_else(|| Fault::InvalidRepresentation(format!("Enabled {enabled:?}")))?;
        device
            .set_provisioning_hash_enabled(handle, enabled)
            .map_err(refusal)?;
        Ok(Outcome {
            value: self.instance_with_handle(device, handle)?,
            device_changed: true,
        })
    }

    fn create(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<Reference>, Fault> {
        let body = instance_body(request, &self.info())?;
        let field = |name: &'static str| {
            body.values(name)
                .next()
                .ok_or_else(|| Fault::InvalidRepresentation(format!("{name} is missing")))
        };
        let type_text = field("HashType")?;
        let hash_type = type_text
            .parse::<u8>()
            .ok()
            .and_then(hash_type)
            .ok_or_else(|| Fault::InvalidParameter(format!("HashType {type_text:?}")))?;
        let hash = base64::engine::general_purpose::STANDARD
            .decode(field("HashData")?)
            .map_err(|_| Fault::InvalidParameter("HashData is not base64".into()))?;
        // The friendly name: Description, else ElementName.
        let description = field("Description").or_else(|_| field("ElementName"))?;
        let enabled = match body.values("Enabled").next() {
            None => true,
            Some(t) => {
                boolean(t).ok_or_else(|| Fault::InvalidRepresentation(format!("Enabled {t:?}")))?
            }
        };
        let handle = device
            .add_custom_provisioning_hash(hash_type, hash, description)
            .map_err(refusal)?;
        if !enabled {
            device
                .set_provisioning_hash_enabled(handle, false)
                .map_err(refusal)?;
        }
        let id = self
            .instance_with_handle(device, handle)?
            .text("InstanceID")
            .map(str::to_string)
            .ok_or(Fault::InternalError(None))?;
        Ok(Outcome {
            value: Reference {
                resource_uri: RESOURCE_URI.to_string(),
                selectors: vec![("InstanceID".to_string(), id)],
                reference_selectors: Vec::new(),
            },
            device_changed: true,
        })
    }

    fn delete(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<()>, Fault> {
        let handle = self.selected_handle(device, request)?;
        device.delete_provisioning_hash(handle).map_err(refusal)?;
        Ok(Outcome {
            value: (),
            device_changed: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids_round_trip_to_handles() {
        assert_eq!(
            handle_of("Intel(r) AMT Certificate Hash: Handle: 17"),
            Some(17)
        );
        assert_eq!(handle_of("Intel(r) AMT Certificate: Handle: 17"), None);
        assert_eq!(handle_of("Intel(r) AMT Certificate Hash: Handle: x"), None);
    }

    #[test]
    fn hash_types_are_the_wire_numbers() {
        assert_eq!(hash_type(2), Some(HashType::Sha256));
        assert_eq!(hash_type(3), Some(HashType::Sha384));
        assert_eq!(hash_type(0), None, "MD5 roots are not accepted");
    }
}
