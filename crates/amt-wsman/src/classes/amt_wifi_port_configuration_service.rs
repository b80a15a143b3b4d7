//! `AMT_WiFiPortConfigurationService`: adds and updates Wi-Fi profiles
//! and sets profile synchronization. Properties as in go-wsman-messages'
//! canned Get
//! (`fixtures/firmware/AMT_WiFiPortConfigurationService/Get.response.xml`;
//! `localProfileSynchronizationEnabled` sorts last, lower case).
//!
//! - Put: `localProfileSynchronizationEnabled` (0 off, 1 the host OS's
//!   profiles, 3 unrestricted) and `UEFIWiFiProfileShareEnabled`; the
//!   rest is read-only. Changing them on a board without Wi-Fi is refused
//!   (`InternalError`, AMT-STATUS 2066).
//! - `AddWiFiSettings(WiFiEndpoint, WiFiEndpointSettingsInput, …)` and
//!   `UpdateWiFiSettings(…)`: the embedded `CIM_WiFiEndpointSettings`
//!   gives `ElementName`, `InstanceID`, `SSID`, `Priority`,
//!   `AuthenticationMethod`, `EncryptionMethod` (and a pass phrase, not
//!   kept). ReturnValue as go-wsman-messages decodes it: 0 completed,
//!   1 not supported (no Wi-Fi), 2 failed (a duplicate name or
//!   `InstanceID`, the table full, an update of a profile that is not
//!   there), 3 invalid parameter, 4 invalid reference (`WiFiEndpoint` not
//!   a `CIM_WiFiEndpoint` EPR). The 802.1x inputs and credentials are not
//!   modelled. Which value the firmware gives for each failure is
//!   inferred; only success is in the canned replies.

use amt_device::network::WiFiProfile;
use amt_device::{Device, PtStatus};

use super::{
    ClassHandler, ClassInfo, Instance, MethodOutput, Outcome, SYSTEM_CREATION_CLASS_NAME,
    SYSTEM_NAME,
};
use crate::checks::{bool_text, instance_body, optional_boolean, optional_number};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::method_input::{return_value, MethodInput};
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_WiFiPortConfigurationService";
pub const RESOURCE_URI: &str =
    "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_WiFiPortConfigurationService";
const NAME: &str = "Intel(r) AMT WiFi Port Configuration Service";
const WIFI_ENDPOINT_URI: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_WiFiEndpoint";
const SETTINGS_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_WiFiEndpointSettings";

pub struct AmtWiFiPortConfigurationService;

/// The profile in a method's input, or the ReturnValue to answer.
fn profile_input(args: &MethodInput<'_>) -> Result<WiFiProfile, u32> {
    let payload = args.payload().ok_or(3u32)?;
    let endpoint = payload
        .properties()
        .find(|p| p.name == "WiFiEndpoint")
        .ok_or(3u32)?;
    let epr = endpoint.endpoint_reference().ok_or(4u32)?;
    if epr.resource_uri.as_deref().map(str::trim) != Some(WIFI_ENDPOINT_URI) {
        return Err(4);
    }
    let settings = payload
        .properties()
        .find(|p| p.name == "WiFiEndpointSettingsInput")
        .ok_or(3u32)?;
    let field = |name: &str| {
        settings
            .element
            .children
            .iter()
            .find(|c| c.local_name == name && c.namespace.as_deref() == Some(SETTINGS_URI))
            .map(|c| c.trimmed_text().to_string())
    };
    let number = |name: &str| -> Result<u32, u32> {
        field(name).ok_or(3u32)?.parse::<u32>().map_err(|_| 3u32)
    };
    let name = field("ElementName").filter(|n| !n.is_empty()).ok_or(3u32)?;
    let authentication_method = u16::try_from(number("AuthenticationMethod")?).map_err(|_| 3u32)?;
    let encryption_method = u16::try_from(number("EncryptionMethod")?).map_err(|_| 3u32)?;
    Ok(WiFiProfile {
        instance_id: field("InstanceID").filter(|i| !i.is_empty() && *i != name),
        name,
        ssid: field("SSID").ok_or(3u32)?,
        priority: number("Priority")?,
        authentication_method,
        encryption_method,
    })
}

fn status_code(status: PtStatus) -> u32 {
    match status {
        PtStatus::UNSUPPORTED => 1,
        PtStatus::INVALID_PARAMETER => 3,
        _ => 2,
    }
}

impl ClassHandler for AmtWiFiPortConfigurationService {
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

    fn secret_parameters(&self) -> &'static [&'static str] {
        &["PSKPassPhrase", "Password"]
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        let net = device.network();
        Ok(vec![Instance::new()
            .with("CreationClassName", CLASS_NAME)
            .with("ElementName", "Intel(r) AMT WiFiPort Configuration Service")
            .with("EnabledState", 5)
            .with("HealthState", 5)
            .with("LastConnectedSsidUnderMeControl", "")
            .with("Name", NAME)
            .with("NoHostCsmeSoftwarePolicy", 0)
            .with("RequestedState", 12)
            .with("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
            .with("SystemName", SYSTEM_NAME)
            .with(
                "UEFIWiFiProfileShareEnabled",
                bool_text(net.uefi_wifi_profile_share),
            )
            .with("localProfileSynchronizationEnabled", net.local_profile_sync)
            .service_keys(CLASS_NAME, NAME)])
    }

    fn put(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<Instance>, Fault> {
        self.get(device, &request.selectors)?;
        let body = instance_body(request, &self.info())?;
        let local = optional_number(body, "localProfileSynchronizationEnabled")?;
        let uefi = optional_boolean(body, "UEFIWiFiProfileShareEnabled")?;
        device
            .set_wifi_profile_sync(local, uefi)
            .map_err(|s| Fault::InternalError(Some(s)))?;
        let changed = device.pending_effects().persist;
        Ok(Outcome {
            value: self.get(device, &request.selectors)?,
            device_changed: changed,
        })
    }

    fn invoke(
        &self,
        device: &mut Device,
        method: &str,
        input: Option<&Payload>,
        _request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<MethodOutput>, Fault> {
        let add = match method {
            "AddWiFiSettings" => true,
            "UpdateWiFiSettings" => false,
            _ => {
                return Err(Fault::unknown_method(RESOURCE_URI, method))
            }
        };
        let args = MethodInput::of(&self.info(), method, input)?;
        let code = if !device.network().environment.wifi {
            1
        } else {
            match profile_input(&args) {
                Err(code) => code,
                Ok(profile) => {
                    let r = if add {
                        device.add_wifi_profile(profile)
                    } else {
                        device.update_wifi_profile(profile)
                    };
                    r.map_or_else(status_code, |()| 0)
                }
            }
        };
        Ok(Outcome {
            value: return_value(code),
            device_changed: code == 0,
        })
    }
}
