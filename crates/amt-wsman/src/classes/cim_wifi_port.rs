//! `CIM_WiFiPort`: the wireless port, on a board with Wi-Fi (none
//! otherwise). Properties as in go-wsman-messages' canned Get
//! (`fixtures/firmware/CIM_WiFiPort/Get.response.xml`); `PermanentAddress`
//! is the MAC without separators.
//!
//! `RequestStateChange(RequestedState)`: 3 disabled, 32768 enabled in S0,
//! 32769 enabled in S0 and Sx on AC (what RPS asks before adding
//! profiles). ReturnValue 0, or 1 on a board without Wi-Fi (the two
//! captured replies, `RequestStateChange--capture-rps-networkConfigurator*`),
//! 5 for another state (CIM "invalid parameter"; inferred).

use amt_device::{Device, PtStatus};

use super::{ClassHandler, ClassInfo, Instance, MethodOutput, Outcome, SYSTEM_NAME};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::method_input::{request_state_change, RequestedStates};
use crate::CallContext;

pub const CLASS_NAME: &str = "CIM_WiFiPort";
pub const RESOURCE_URI: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_WiFiPort";
const DEVICE_ID: &str = "WiFi Port 0";

/// CIM `RequestStateChange`: invalid parameter.
const CIM_INVALID_PARAMETER: u32 = 5;
/// CIM `RequestStateChange`: not supported (no Wi-Fi on the board).
const CIM_NOT_SUPPORTED: u32 = 1;

/// Any state the property can hold reaches the device: a board without
/// Wi-Fi answers 1 before it judges the state (3, 32768 or 32769).
const STATES: RequestedStates<'static> = RequestedStates {
    accepted: &[0..=0xFFFF],
    unsupported: CIM_INVALID_PARAMETER,
};

pub struct CimWiFiPort;

impl ClassHandler for CimWiFiPort {
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
        let net = device.network();
        if !net.environment.wifi {
            return Ok(Vec::new());
        }
        let state = net.wireless.port_state;
        let mac: String = net
            .environment
            .wifi_mac
            .chars()
            .filter(char::is_ascii_hexdigit)
            .collect();
        Ok(vec![Instance::new()
            .with("CreationClassName", CLASS_NAME)
            .with("DeviceID", DEVICE_ID)
            .with("ElementName", DEVICE_ID)
            .with("EnabledState", state)
            .with("HealthState", 5)
            .with("LinkTechnology", 11)
            .with("PermanentAddress", mac)
            .with("PortType", 0)
            .with("RequestedState", state)
            .with("SystemCreationClassName", super::SYSTEM_CREATION_CLASS_NAME)
            .with("SystemName", SYSTEM_NAME)
            .key("CreationClassName", CLASS_NAME)
            .key("DeviceID", DEVICE_ID)
            .key("SystemCreationClassName", super::SYSTEM_CREATION_CLASS_NAME)
            .key("SystemName", SYSTEM_NAME)])
    }

    fn invoke(
        &self,
        device: &mut Device,
        method: &str,
        input: Option<&Payload>,
        _request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<MethodOutput>, Fault> {
        request_state_change(&self.info(), method, input, device, &STATES, |d, state| {
            let Ok(state) = u16::try_from(state) else {
                return CIM_INVALID_PARAMETER;
            };
            match d.set_wifi_port_state(state) {
                Ok(()) => 0,
                Err(PtStatus::UNSUPPORTED) => CIM_NOT_SUPPORTED,
                Err(_) => CIM_INVALID_PARAMETER,
            }
        })
    }
}
