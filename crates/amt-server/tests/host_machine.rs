//! The machine behind the firmware through the library: the owner's power
//! button and plug on the control API (curl), the host state surviving a
//! restart from flash, and an alarm set over WS-Man firing on the server's
//! own timer.

mod support;

use std::process::{Command, Stdio};

use amt_server::EmulatorConfig;
use serde_json::Value;
use support::{control, curl_wsman};

fn node_request(namespace: &str, class: &str, method: &str, args: &str) -> String {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/clients/host-request.js");
    let out = Command::new("node")
        .arg(&script)
        .args([namespace, class, method, args])
        .stdin(Stdio::null())
        .output()
        .expect("node is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn events(log: &Value) -> Vec<String> {
    log["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_power_button_and_the_plug_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let start = || async {
        EmulatorConfig::new()
            .state_dir(dir.path())
            .with_control_api()
            .start()
            .await
            .unwrap()
    };
    let emu = start().await;
    let (status, m) = control(&emu, "GET", "/api/machine", None).await;
    assert_eq!(status, 200);
    assert_eq!(m["power_state"], "on");
    assert_eq!(m["power_state_value"], 2);

    let (_, m) = control(
        &emu,
        "POST",
        "/api/machine/power-button",
        Some(r#"{"long":true}"#),
    )
    .await;
    assert_eq!(m["power_state"], "soft-off");
    let (_, m) = control(&emu, "POST", "/api/machine/power-button", None).await;
    assert_eq!(m["power_state"], "on");
    assert_eq!(m["last_boot"]["target"], "operating-system");
    let (status, _) = control(&emu, "POST", "/api/machine/power-button", Some("{bad")).await;
    assert_eq!(status, 400);

    // A restart keeps the host state (it is in flash).
    emu.shutdown().await;
    let emu = start().await;
    let (_, m) = control(&emu, "GET", "/api/machine", None).await;
    assert_eq!(m["power_state"], "on");
    assert_eq!(m["last_boot"]["target"], "operating-system");

    // Pulling the plug: mechanical off, and the firmware comes back.
    let (status, m) = control(&emu, "POST", "/api/machine/pull-plug", None).await;
    assert_eq!(status, 200);
    assert_eq!(m["power_state"], "mechanical-off");
    assert_eq!(m["power_state_value"], 6);
    assert!(emu.tls_addr().is_some(), "the firmware listens again");

    let (_, log) = control(&emu, "GET", "/api/machine/event-log", None).await;
    assert_eq!(
        events(&log),
        [
            "power: S5 (soft off)",
            "power: S0 (on)",
            "boot: operating-system",
            "power: G3 (mechanical off)"
        ]
    );
    assert_eq!(
        log["records"][0]["base64"].as_str().unwrap().len(),
        28,
        "21 bytes"
    );
    let (status, _) = control(&emu, "GET", "/api/machine/nothing", None).await;
    assert_eq!(status, 404);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alarm_powers_the_host_on_from_the_server_timer() {
    let emu = EmulatorConfig::new()
        .admin_password("P@ssw0rd")
        .with_control_api()
        .start()
        .await
        .unwrap();
    control(
        &emu,
        "POST",
        "/api/machine/power-button",
        Some(r#"{"long":true}"#),
    )
    .await;
    let url = emu.wsman_tls_url().unwrap();
    // Two seconds ahead of the device clock (which is the host clock here).
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let at = at
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let args = format!(
        r#"[{{"InstanceID":"wake","ElementName":"wake","StartTime":"{at}","DeleteOnCompletion":true}}]"#
    );
    let (status, reply) = tokio::task::spawn_blocking(move || {
        let body = node_request("AMT", "AlarmClockService", "AddAlarm", &args);
        curl_wsman(&url, "admin", "P@ssw0rd", &body)
    })
    .await
    .unwrap();
    assert_eq!(status, "200", "{reply}");
    assert!(
        reply.contains("<g:ReturnValue>0</g:ReturnValue>"),
        "{reply}"
    );

    // Reading the event log does not let time pass: only the timer can
    // fire the alarm. Wait for it (bounded, not timed).
    let mut fired = false;
    for _ in 0..60 {
        let (_, log) = control(&emu, "GET", "/api/machine/event-log", None).await;
        if events(&log).iter().any(|e| e == "alarm fired") {
            fired = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(fired, "the alarm fired");
    let m = emu.host().with_device(|d| d.power_state());
    assert!(m.is_on());
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scenario_sets_the_host_power_state() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/scenarios/host-off-in-client-control.toml");
    let mut config = EmulatorConfig::new().with_control_api();
    amt_server::scenario::Scenario::load(&path)
        .unwrap()
        .configure(&mut config)
        .unwrap();
    let emu = config.start().await.unwrap();
    let (_, m) = control(&emu, "GET", "/api/machine", None).await;
    assert_eq!(m["power_state"], "soft-off");
    assert_eq!(m["power_state_value"], 8);
    emu.shutdown().await;
    assert!(amt_server::scenario::Scenario::parse("[device]\nhost_power = \"warm\"\n").is_err());
}
