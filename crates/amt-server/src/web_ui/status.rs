//! `index.htm`, System Status: power, address, system ID, the device's
//! date and time, and how the device is provisioned.

use amt_device::host::PowerState;
use amt_device::{ControlMode, Device, ProvisioningState};
use time::OffsetDateTime;

use super::layout::{page, rows};

/// The power state as the status and remote control pages name it.
pub fn power_label(state: PowerState) -> &'static str {
    match state {
        PowerState::On => "On",
        PowerState::Sleep => "Standby (S3)",
        PowerState::Hibernate => "Hibernate (S4)",
        PowerState::SoftOff => "Off (S5)",
        PowerState::MechanicalOff => "Off (G3, no power)",
    }
}

fn provisioning_label(device: &Device) -> &'static str {
    match (device.provisioning_state(), device.control_mode()) {
        (ProvisioningState::PostProvisioning, ControlMode::Admin) => {
            "Provisioned, admin control mode"
        }
        (ProvisioningState::PostProvisioning, _) => "Provisioned, client control mode",
        (ProvisioningState::InProvisioning, _) => "In provisioning",
        (ProvisioningState::PreProvisioning, _) => "Not provisioned",
    }
}

pub fn render(device: &Device, now: OffsetDateTime) -> String {
    let clock = device.bios_clock().certificate_time(now);
    let ip = device
        .network()
        .wired_addresses()
        .ip_address
        .unwrap_or_else(|| "0.0.0.0".into());
    let date = format!(
        "{}/{}/{}",
        u8::from(clock.month()),
        clock.day(),
        clock.year()
    );
    let time = format!("{:02}:{:02} UTC", clock.hour(), clock.minute());
    let body = rows(&[
        ("power", "Power", power_label(device.power_state()).into()),
        ("ip-address", "IP address", ip),
        ("system-id", "System ID", device.uuid()),
        (
            "provisioning",
            "Provisioning state",
            provisioning_label(device).into(),
        ),
        ("date", "Date", date),
        ("time", "Time", time),
    ]);
    page(
        device,
        "System Status",
        &format!("{body}<form method=GET action=\"/index.htm\"><input type=submit value=\"Refresh\"></form>"),
    )
}
