//! `AMT_BootSettingData`: the one-time boot options the next boot consumes
//! (DMT canned replies `fixtures/firmware/AMT_BootSettingData/`).
//!
//! Put takes the instance as the console read it (Get, change, Put back)
//! or as the console builds it. Writable: the one-time options
//! (`BIOSPause`, `BIOSSetup`, `BootMediaIndex`, `ConfigurationDataReset`,
//! `EnforceSecureBoot`, `FirmwareVerbosity`, `ForcedProgressEvents`,
//! `IDERBootDevice`, the `Lock*` buttons, `ReflashBIOS`, `SecureErase`,
//! `UseIDER`, `UseSOL`, `UseSafeMode`, `UserPasswordBypass`); an absent one
//! is false / 0. Read-only properties are ignored whatever they hold: the
//! Open AMT console and go-wsman-messages users build the Put from scratch
//! with `OptionsCleared`, `BootguardStatus`, `UEFIHTTPSBootEnabled`,
//! `RPEEnabled` ... at their zero values, and real firmware accepts it. An
//! `InstanceID` naming another instance, or a writable value that is not
//! of its type, is `InvalidRepresentation` and nothing changes. The reply
//! is the stored instance.

use amt_device::{BootSettings, Device};

use super::{bool_text, select, ClassHandler, ClassInfo, Instance, Outcome};
use crate::checks::{boolean, instance_body};
use crate::envelope::{Payload, Request};
use crate::fault::Fault;
use crate::CallContext;

pub const CLASS_NAME: &str = "AMT_BootSettingData";
pub const RESOURCE_URI: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_BootSettingData";
pub const INSTANCE_ID: &str = "Intel(r) AMT:BootSettingData 0";

pub struct AmtBootSettingData;

fn instance(device: &Device) -> Instance {
    let host = device.host();
    let s = &host.boot_settings;
    let b = bool_text;
    Instance::new()
        .with_list("BIOSLastStatus", vec!["2".into(), "0".into()])
        .with("BIOSPause", b(s.bios_pause))
        .with("BIOSSetup", b(s.bios_setup))
        .with("BootMediaIndex", s.boot_media_index)
        .with("BootguardStatus", 127)
        .with("ConfigurationDataReset", b(s.configuration_data_reset))
        .with("ElementName", "Intel(r) AMT Boot Configuration Settings")
        .with("EnforceSecureBoot", b(s.enforce_secure_boot))
        .with("FirmwareVerbosity", s.firmware_verbosity)
        .with("ForcedProgressEvents", b(s.forced_progress_events))
        .with("IDERBootDevice", s.ider_boot_device)
        .with("InstanceID", INSTANCE_ID)
        .with("LockKeyboard", b(s.lock_keyboard))
        .with("LockPowerButton", b(s.lock_power_button))
        .with("LockResetButton", b(s.lock_reset_button))
        .with("LockSleepButton", b(s.lock_sleep_button))
        .with("OptionsCleared", b(!host.options_pending()))
        .with("OwningEntity", "Intel(r) AMT")
        .with("PlatformErase", "false")
        .with("RPEEnabled", "false")
        .with("RSEPassword", "")
        .with("ReflashBIOS", b(s.reflash_bios))
        .with("SecureBootControlEnabled", "false")
        .with("SecureErase", b(s.secure_erase))
        .with("UEFIHTTPSBootEnabled", "true")
        .with("UEFILocalPBABootEnabled", "false")
        .with("UefiBootNumberOfParams", 0)
        .with("UseIDER", b(s.use_ider))
        .with("UseSOL", b(s.use_sol))
        .with("UseSafeMode", b(s.use_safe_mode))
        .with("UserPasswordBypass", b(s.user_password_bypass))
        .with("WinREBootEnabled", "false")
        .key("InstanceID", INSTANCE_ID)
}

/// Reads the options from a Put body.
fn settings_from(body: &Payload) -> Result<BootSettings, Fault> {
    let invalid = |msg: String| Fault::InvalidRepresentation(msg);
    if body.values("InstanceID").any(|id| id != INSTANCE_ID) {
        return Err(invalid(format!("InstanceID must be {INSTANCE_ID}")));
    }
    let flag = |name: &str| -> Result<bool, Fault> {
        match body.values(name).next() {
            None => Ok(false),
            Some(v) => boolean(v).ok_or_else(|| invalid(format!("{name} is not a boolean"))),
        }
    };
    let byte = |name: &str| -> Result<u8, Fault> {
        match body.values(name).next() {
            None => Ok(0),
            Some(v) => v
                .parse()
                .map_err(|_| invalid(format!("{name} is not an unsigned byte"))),
        }
    };
    let ider_boot_device = byte("IDERBootDevice")?;
    if ider_boot_device > 1 {
        return Err(invalid("IDERBootDevice is 0 (floppy) or 1 (CD)".into()));
    }
    Ok(BootSettings {
        bios_pause: flag("BIOSPause")?,
        bios_setup: flag("BIOSSetup")?,
        boot_media_index: byte("BootMediaIndex")?,
        configuration_data_reset: flag("ConfigurationDataReset")?,
        enforce_secure_boot: flag("EnforceSecureBoot")?,
        firmware_verbosity: byte("FirmwareVerbosity")?,
        forced_progress_events: flag("ForcedProgressEvents")?,
        ider_boot_device,
        lock_keyboard: flag("LockKeyboard")?,
        lock_power_button: flag("LockPowerButton")?,
        lock_reset_button: flag("LockResetButton")?,
        lock_sleep_button: flag("LockSleepButton")?,
        reflash_bios: flag("ReflashBIOS")?,
        secure_erase: flag("SecureErase")?,
        use_ider: flag("UseIDER")?,
        use_safe_mode: flag("UseSafeMode")?,
        use_sol: flag("UseSOL")?,
        user_password_bypass: flag("UserPasswordBypass")?,
    })
}

impl ClassHandler for AmtBootSettingData {
    fn info(&self) -> ClassInfo {
        ClassInfo {
            name: CLASS_NAME,
            resource_uri: RESOURCE_URI,
            declares_common_namespace: false,
        }
    }

    fn realm(&self, _op: crate::access::Operation<'_>) -> amt_device::accounts::Realm {
        amt_device::accounts::Realm::RemoteControl
    }

    fn is_singleton(&self) -> bool {
        true
    }

    fn secret_parameters(&self) -> &'static [&'static str] {
        &["RSEPassword"]
    }

    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault> {
        Ok(vec![instance(device)])
    }

    fn put(
        &self,
        device: &mut Device,
        request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<Instance>, Fault> {
        select(self.instances(device)?, &request.selectors, true)?;
        let body = instance_body(request, &self.info())?;
        let settings = settings_from(body)?;
        device.set_boot_settings(settings);
        Ok(Outcome {
            value: instance(device),
            device_changed: true,
        })
    }
}
