//! Issue 11: every console power and boot action, with requests built by
//! Intel's wsman-messages (what the Open AMT console and MPS send) posted
//! with curl --digest to the real `amt-emu serve`, each followed by the
//! power-state poll and by `amt-emu ctl machine show` (the owner's view of
//! what the host booted into); then the event log and the alarm clock.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::{Map, Value};
use support::*;

const OFFSET: u16 = 12600;

struct Console<'a> {
    url: String,
    control: String,
    dir: &'a Path,
}

impl Console<'_> {
    fn call(&self, ns: &str, class: &str, method: &str, args: Option<&str>) -> String {
        let reply = post(
            &self.url,
            &wsman_messages(ns, class, method, args),
            self.dir,
        );
        assert_eq!(reply.status, 200, "{class}.{method}: {}", reply.body);
        reply.body
    }

    fn host_request(&self, ns: &str, class: &str, method: &str, args: &str) -> String {
        let mut cmd = Command::new("node");
        cmd.current_dir(clients_dir())
            .arg("host-request.js")
            .args([ns, class, method, args]);
        let out = run(cmd, CLIENT_TIMEOUT);
        assert!(out.success, "host-request.js: {}", out.stderr);
        let reply = post(&self.url, &out.stdout, self.dir);
        assert_eq!(reply.status, 200, "{class}.{method}: {}", reply.body);
        reply.body
    }

    /// The power-state poll: Enumerate + Pull CIM_ServiceAvailableToElement.
    fn power_state(&self) -> String {
        let e = self.call("CIM", "ServiceAvailableToElement", "Enumerate", None);
        let ctx = text(&e, "g:EnumerationContext").expect("context");
        let p = self.call(
            "CIM",
            "ServiceAvailableToElement",
            "Pull",
            Some(&format!("[\"{ctx}\"]")),
        );
        text(&p, "h:PowerState").expect("PowerState")
    }

    /// RequestPowerStateChange; returns the ReturnValue.
    fn power(&self, code: u32) -> String {
        let r = self.call(
            "CIM",
            "PowerManagementService",
            "RequestPowerStateChange",
            Some(&format!("[{code}]")),
        );
        text(&r, "g:ReturnValue").expect("ReturnValue")
    }

    /// `amt-emu ctl machine ARGS`, parsed.
    fn ctl(&self, args: &[&str]) -> Value {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_amt-emu"));
        cmd.args(["ctl", "--control", &self.control, "machine"])
            .args(args);
        let out = run(cmd, CLIENT_TIMEOUT);
        assert!(out.success, "ctl machine {args:?}: {}", out.stderr);
        serde_json::from_str(&out.stdout).expect("ctl prints JSON")
    }

    fn booted_into(&self) -> String {
        self.ctl(&["show"])["last_boot"]["target"]
            .as_str()
            .unwrap_or("none")
            .to_string()
    }

    /// Get `AMT_BootSettingData`, change it, Put it back (the console's
    /// first step of every "boot to" action).
    fn put_boot_settings(&self, changes: &[(&str, Value)]) {
        let got = self.call("AMT", "BootSettingData", "Get", None);
        let start = got.find("<g:AMT_BootSettingData>").expect("instance")
            + "<g:AMT_BootSettingData>".len();
        let end = got.find("</g:AMT_BootSettingData>").expect("end");
        let mut data = Map::new();
        for part in got[start..end].split("<g:").skip(1) {
            let Some((name, rest)) = part.split_once('>') else {
                continue;
            };
            if name.starts_with('/') {
                continue;
            }
            let value = rest.split('<').next().unwrap_or("");
            let v = match value {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                other => Value::String(other.to_string()),
            };
            match data.get_mut(name) {
                Some(Value::Array(a)) => a.push(v),
                Some(first) => *first = Value::Array(vec![first.clone(), v]),
                None => {
                    data.insert(name.to_string(), v);
                }
            }
        }
        for (name, v) in changes {
            data.insert(name.to_string(), v.clone());
        }
        let args = Value::Array(vec![Value::Object(data)]).to_string();
        let put = self.call("AMT", "BootSettingData", "Put", Some(&args));
        assert!(put.contains("<g:AMT_BootSettingData>"), "{put}");
    }

    fn set_boot_config_role(&self) {
        let r = self.call(
            "CIM",
            "BootService",
            "SetBootConfigRole",
            Some(r#"["Intel(r) AMT: Boot Configuration 0", 1]"#),
        );
        assert_eq!(text(&r, "g:ReturnValue").as_deref(), Some("0"), "{r}");
    }

    fn change_boot_order(&self, source: Option<&str>) {
        let args = source.map(|s| format!("[\"{s}\"]"));
        let r = self.call(
            "CIM",
            "BootConfigSetting",
            "ChangeBootOrder",
            args.as_deref(),
        );
        assert_eq!(text(&r, "g:ReturnValue").as_deref(), Some("0"), "{r}");
    }
}

#[test]
fn console_power_boot_log_and_alarm_actions() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emu::start_with_control_api(OFFSET, &[]);
    let c = Console {
        url: format!("https://{}/wsman", emu.addr("Tls", "Remote")),
        control: format!("127.0.0.1:{}", 16990 + OFFSET),
        dir: dir.path(),
    };

    // Read the power state; the basic actions, each followed by a read.
    assert_eq!(c.power_state(), "2");
    assert_eq!(c.ctl(&["show"])["power_state"], "on");
    for (code, after, label) in [
        (8, "8", "power off"),
        (2, "2", "power on"),
        (10, "2", "reset"),
        (12, "8", "soft off"),
        (2, "2", "power on"),
        (14, "2", "soft reset"),
        (5, "2", "power cycle"),
    ] {
        assert_eq!(c.power(code), "0", "{label}");
        assert_eq!(c.power_state(), after, "{label}");
        let m = c.ctl(&["show"]);
        assert_eq!(m["power_state_value"].to_string(), after, "{label}");
        if after == "2" {
            assert_eq!(c.booted_into(), "operating-system", "{label}");
        }
    }
    // A refused action: power up of a running host.
    assert_eq!(c.power(2), "2");

    // Reset to BIOS.
    c.put_boot_settings(&[("BIOSSetup", Value::Bool(true))]);
    c.set_boot_config_role();
    c.change_boot_order(None);
    assert_eq!(c.power(10), "0");
    assert_eq!(c.power_state(), "2");
    assert_eq!(c.booted_into(), "bios-setup");

    // Power on to PXE.
    assert_eq!(c.power(8), "0");
    c.put_boot_settings(&[]);
    c.set_boot_config_role();
    c.change_boot_order(Some("Intel(r) AMT: Force PXE Boot"));
    assert_eq!(c.power(2), "0");
    assert_eq!(c.power_state(), "2");
    assert_eq!(c.booted_into(), "pxe");

    // Reset to IDE-R CD.
    c.put_boot_settings(&[
        ("UseIDER", Value::Bool(true)),
        ("IDERBootDevice", Value::String("1".into())),
    ]);
    c.set_boot_config_role();
    c.change_boot_order(None);
    assert_eq!(c.power(10), "0");
    assert_eq!(c.power_state(), "2");
    assert_eq!(c.booted_into(), "ider-cd");
    // The options were one-time.
    let settings = c.call("AMT", "BootSettingData", "Get", None);
    assert_eq!(text(&settings, "g:UseIDER").as_deref(), Some("false"));

    // The event log, as MeshCommander reads it.
    let first = c.call("AMT", "MessageLog", "PositionToFirstRecord", None);
    let id = text(&first, "g:IterationIdentifier").expect("IterationIdentifier");
    let page = c.call("AMT", "MessageLog", "GetRecords", Some(&format!("[{id}]")));
    assert_eq!(text(&page, "g:NoMoreRecords").as_deref(), Some("true"));
    let records: Vec<Vec<u8>> = all_texts(&page, "g:RecordArray")
        .iter()
        .map(|r| base64_decode(r))
        .collect();
    assert!(records.iter().all(|r| r.len() == 21));
    // Power states (IPMI sensor 0x22) and boots (firmware progress 0x0F).
    let power_records = records.iter().filter(|r| r[5] == 0x22).count();
    let boots: Vec<u8> = records
        .iter()
        .filter(|r| r[5] == 0x0F && r[11] == 0x22)
        .map(|r| r[15])
        .collect();
    // Off, on, soft off, on, and the PXE run's off, on: resets, soft
    // resets and power cycles leave the host running.
    assert_eq!(power_records, 6, "{records:?}");
    // Boots: on, reset, on, soft reset, cycle (OS 0), BIOS setup 1, PXE 3,
    // IDE-R CD 6.
    assert_eq!(boots, [0, 0, 0, 0, 0, 1, 3, 6]);
    let log = c.ctl(&["event-log"]);
    assert_eq!(
        log["records"].as_array().unwrap().len(),
        records.len(),
        "the owner sees the same log"
    );

    // Alarms: add, list, delete; then one fires and powers the host on.
    let mut date = Command::new("date");
    date.args(["-u", "-d", "+1 hour", "+%Y-%m-%dT%H:%M:%SZ"]);
    let in_an_hour = run(date, CLIENT_TIMEOUT).stdout.trim().to_string();
    let alarm = format!(
        r#"[{{"InstanceID":"wake","ElementName":"wake","StartTime":"{in_an_hour}","DeleteOnCompletion":true}}]"#
    );
    let added = c.host_request("AMT", "AlarmClockService", "AddAlarm", &alarm);
    assert_eq!(
        text(&added, "g:ReturnValue").as_deref(),
        Some("0"),
        "{added}"
    );
    let list = |c: &Console| {
        let e = c.call("IPS", "AlarmClockOccurrence", "Enumerate", None);
        let ctx = text(&e, "g:EnumerationContext").expect("context");
        let p = c.call(
            "IPS",
            "AlarmClockOccurrence",
            "Pull",
            Some(&format!("[\"{ctx}\"]")),
        );
        all_texts(&p, "h:InstanceID")
    };
    assert_eq!(list(&c), ["wake"]);
    c.call(
        "IPS",
        "AlarmClockOccurrence",
        "Delete",
        Some(r#"[{"name":"InstanceID","value":"wake"}]"#),
    );
    assert!(list(&c).is_empty());
    let added = c.host_request("AMT", "AlarmClockService", "AddAlarm", &alarm);
    assert_eq!(
        text(&added, "g:ReturnValue").as_deref(),
        Some("0"),
        "{added}"
    );
    assert_eq!(c.power(8), "0");
    assert_eq!(c.power_state(), "8");
    // The owner moves the device clock past the alarm: it fires.
    let m = c.ctl(&["advance-clock", "3660"]);
    assert_eq!(m["power_state"], "on");
    assert_eq!(c.power_state(), "2");
    assert!(list(&c).is_empty(), "DeleteOnCompletion");
    let events: Vec<String> = c.ctl(&["event-log"])["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event"].as_str().unwrap().to_string())
        .collect();
    assert!(events.ends_with(&[
        "alarm fired".to_string(),
        "power: S0 (on)".to_string(),
        "boot: operating-system".to_string()
    ]));

    // The owner's power button and plug.
    let m = c.ctl(&["power-button", "--long"]);
    assert_eq!(m["power_state"], "soft-off");
    let m = c.ctl(&["power-button"]);
    assert_eq!(m["power_state"], "on");
    let m = c.ctl(&["pull-plug"]);
    assert_eq!(m["power_state"], "mechanical-off");
    assert_eq!(c.power_state(), "6");
    assert_eq!(c.power(2), "0");
    assert_eq!(c.power_state(), "2");
}
