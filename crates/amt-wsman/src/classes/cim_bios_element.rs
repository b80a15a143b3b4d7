//! `CIM_BIOSElement`: the host BIOS (SMBIOS type 0). Consoles Get it
//! without selectors (the DMT console, MPS) or enumerate it (MeshCommander's
//! hardware batch). `ReleaseDate` is a `cim:dateTime`, written as a
//! `Datetime` element in the WS-CIM common namespace; the version string
//! is both `SoftwareElementID` and `Version`. Shape: DMT's canned reply
//! (`fixtures/firmware/CIM_BIOSElement/Get.response.xml`).

use amt_device::Device;

use super::{ClassHandler, ClassInfo, Instance, Value};
use crate::fault::Fault;

pub const CLASS_NAME: &str = "CIM_BIOSElement";
pub const RESOURCE_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_BIOSElement";

const NAME: &str = "Primary BIOS";
/// `SoftwareElementState` 2: Executable.
const EXECUTABLE: &str = "2";
/// `TargetOperatingSystem` 66: MS Windows (64-bit), as the DMT reply says.
const TARGET_OS: &str = "66";

pub struct CimBiosElement;

impl ClassHandler for CimBiosElement {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: true,
        }
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        let bios = device.hardware().bios;
        let mut instance = Instance::new()
            .with("ElementName", NAME)
            .with("Manufacturer", bios.manufacturer)
            .with("Name", NAME)
            .with("OperationalStatus", "0")
            .with("PrimaryBIOS", "true");
        instance.properties.push((
            "ReleaseDate",
            Value::Datetime(format!("{}T00:00:00Z", bios.release_date)),
        ));
        Ok(vec![instance
            .with("SoftwareElementID", &bios.version)
            .with("SoftwareElementState", EXECUTABLE)
            .with("TargetOperatingSystem", TARGET_OS)
            .with("Version", &bios.version)
            .key("Name", NAME)
            .key("SoftwareElementID", &bios.version)
            .key("SoftwareElementState", EXECUTABLE)
            .key("TargetOperatingSystem", TARGET_OS)
            .key("Version", &bios.version)])
    }
}
