//! `CIM_SoftwareIdentity`: the firmware's version strings. MeshCommander
//! reads the `AMT` instance for the version; the instance names and order
//! are those of real firmware (Intel AMT SDK class reference,
//! `fixtures/firmware/CIM_SoftwareIdentity/Pull.response.xml`).

use amt_device::accounts::Realm;
use amt_device::Device;

use crate::access::{LocalStage, Operation};
use super::{ClassHandler, ClassInfo, Instance};
use crate::fault::Fault;

pub const CLASS_NAME: &str = "CIM_SoftwareIdentity";
pub const RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_SoftwareIdentity";

/// The SKU every observed device reports (0x4008: AMT Pro).
pub const SKU: &str = "16392";
pub const VENDOR_ID: &str = "8086";

pub struct CimSoftwareIdentity;

impl ClassHandler for CimSoftwareIdentity {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: true,
        }
    }

    /// The host agent reads the firmware version at any time.
    /// The firmware versions are General Info.
    fn realm(&self, _op: Operation<'_>) -> Realm {
        Realm::GeneralInfo
    }

    fn local_access(&self, _stage: LocalStage, op: Operation<'_>) -> bool {
        op.is_read()
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        let version = device.profile().version();
        let short = version.short();
        let build = version.build.to_string();
        let rows: [(&str, &str); 11] = [
            ("Flash", &short),
            ("Netstack", &short),
            ("AMTApps", &short),
            ("AMT", &short),
            ("Sku", SKU),
            ("VendorID", VENDOR_ID),
            ("Build Number", &build),
            ("Recovery Version", &short),
            ("Recovery Build Num", &build),
            ("Legacy Mode", "False"),
            ("AMT FW Core Version", &short),
        ];
        Ok(rows
            .iter()
            .map(|(id, value)| {
                Instance::new()
                    .with("InstanceID", id)
                    .with("IsEntity", "true")
                    .with("VersionString", value)
                    .key("InstanceID", id)
            })
            .collect())
    }
}
