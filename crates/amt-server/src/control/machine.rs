//! `/api/machine/...`: what the machine's owner does and sees, beside the
//! firmware: the power button, the plug, the host's power state and what
//! it booted into, the event log, and device time (alarms fire against
//! it).
//!
//! - `GET /api/machine`: power state, OS power saving, the last boot, the
//!   pending one-time boot options, alarms, device time.
//! - `POST /api/machine/power-button` `{"long": false}`: a short press
//!   powers an off host up or asks a running OS to shut down; a long press
//!   forces a running host off.
//! - `POST /api/machine/pull-plug`: the host loses power (mechanical off,
//!   boot options lost) and the firmware restarts when power returns.
//! - `GET /api/machine/event-log`: the `AMT_MessageLog` records, decoded.
//! - `GET /api/machine/serial`: the host's serial transcript (what SOL
//!   carries) as text, with `end`, the offset one past its last byte.
//! - `POST /api/machine/serial` `{"text": "root\r"}`: types at the serial
//!   console (the login prompt and shell answer), then as GET.
//! - `POST /api/machine/advance-clock` `{"seconds": N}`: moves the device
//!   (BIOS) clock N seconds forward, then lets alarms that are due fire.
//! - `GET /api/machine/screen.png`: the host's screen as a person at the
//!   machine sees it (with the user-consent code while one is displayed),
//!   as PNG (docs/screen.md).

use std::sync::Arc;

use amt_device::clock::UNSET_BIOS_TIME;
use amt_device::{BiosClock, Device};
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{error, internal, ok, parse, Reply};
use crate::device_host::DeviceHost;

#[derive(Deserialize, Default)]
struct ButtonBody {
    #[serde(default)]
    long: bool,
}

#[derive(Deserialize)]
struct SerialBody {
    text: String,
}

fn serial_json(d: &Device) -> Value {
    let console = d.host_console();
    json!({
        "transcript": String::from_utf8_lossy(&console.serial_transcript()),
        "end": console.serial_end(),
    })
}

#[derive(Deserialize)]
struct AdvanceBody {
    seconds: i64,
}

fn rfc3339(unix: i64) -> Value {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .map_or(Value::Null, Value::String)
}

/// The machine as its owner sees it.
pub(super) fn machine_json(d: &Device) -> Value {
    let host = d.host();
    let now = OffsetDateTime::now_utc();
    json!({
        "power_state": host.power_state.name(),
        "power_state_value": host.power_state.cim(),
        "os_power_saving_state": host.power_state.is_on()
            .then_some(if host.os_power_saving { 3 } else { 2 }),
        "last_boot": host.last_boot.as_ref().map(|b| json!({
            "target": b.target.name(),
            "sol": b.sol,
            "safe_mode": b.safe_mode,
            "keyboard_locked": b.keyboard_locked,
            "at": rfc3339(b.at),
            // From remote media (IDE-R): the volume the host read, and
            // whether it booted; null until it has read the medium.
            "media_label": b.media_label,
            "media_bootable": b.media_bootable,
        })),
        "boot_options_pending": host.options_pending(),
        "boot_settings": host.boot_settings,
        "boot_source": host.boot_source.map(|s| s.instance_id()),
        "boot_config_next": host.boot_config_next,
        "alarms": host.alarms.iter().map(|a| json!({
            "instance_id": a.instance_id,
            "element_name": a.element_name,
            "start_time": rfc3339(a.start_time),
            "interval_seconds": a.interval,
            "delete_on_completion": a.delete_on_completion,
            "fired": a.fired,
        })).collect::<Vec<_>>(),
        "device_time": rfc3339(amt_device::host::device_seconds(d, now)),
    })
}

/// The host's screen now, as PNG.
pub(crate) fn screen_png(host: &DeviceHost) -> Result<Vec<u8>, png::EncodingError> {
    // Drawn from a copy, outside the device's state lock.
    let device = host.with_device(amt_device::Device::clone);
    let frame = device.screen_frame(OffsetDateTime::now_utc());
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, u32::from(frame.width), u32::from(frame.height));
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Screens are large flat areas: fast compression is already small.
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&frame.pixels)?;
    writer.finish()?;
    Ok(out)
}

fn event_log_json(d: &Device) -> Value {
    use base64::Engine;
    let records: Vec<Value> = d
        .message_log()
        .records
        .iter()
        .map(|r| {
            json!({
                "time": rfc3339(i64::from(r.timestamp)),
                "event": r.describe(),
                "sensor_type": r.sensor_type,
                "event_offset": r.event_offset,
                "entity": r.entity,
                "event_data": hex::encode(r.event_data),
                "base64": base64::engine::general_purpose::STANDARD.encode(r.to_bytes()),
            })
        })
        .collect();
    json!({ "records": records })
}

pub(super) async fn route(
    method: &Method,
    rest: &[&str],
    body: &[u8],
    host: &Arc<DeviceHost>,
) -> Result<Reply, Reply> {
    let answer = |host: &Arc<DeviceHost>| ok(host.with_device(machine_json));
    match (method, rest) {
        (&Method::GET, []) => {
            host.tick();
            Ok(answer(host))
        }
        (&Method::GET, ["event-log"]) => Ok(ok(host.with_device(event_log_json))),
        (&Method::GET, ["serial"]) => Ok(ok(host.with_device(serial_json))),
        (&Method::POST, ["serial"]) => {
            let b: SerialBody = parse(body)?;
            host.host_serial_input(b.text.as_bytes());
            Ok(ok(host.with_device(serial_json)))
        }
        (&Method::POST, ["power-button"]) => {
            let b: ButtonBody = if body.iter().all(u8::is_ascii_whitespace) {
                ButtonBody::default()
            } else {
                parse(body)?
            };
            host.change_device_async(|d, now| {
                d.press_power_button(b.long, now);
                Ok(())
            })
            .await
            .map_err(internal)?;
            Ok(answer(host))
        }
        (&Method::POST, ["pull-plug"]) => {
            host.change_device_async(|d, now| {
                d.pull_plug(now);
                Ok(())
            })
            .await
            .map_err(internal)?;
            // Power comes back: the firmware starts again from flash.
            host.power_cycle().await.map_err(internal)?;
            Ok(answer(host))
        }
        (&Method::POST, ["advance-clock"]) => {
            let b: AdvanceBody = parse(body)?;
            if !(0..=10 * 366 * 86_400).contains(&b.seconds) {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "seconds must be between 0 and ten years",
                ));
            }
            host.change_device_async(|d, now| {
                let current = d.bios_clock().now(now).unwrap_or(UNSET_BIOS_TIME);
                d.set_bios_clock(BiosClock::set(
                    current + time::Duration::seconds(b.seconds),
                    now,
                ));
                d.tick(now);
                Ok(())
            })
            .await
            .map_err(internal)?;
            Ok(answer(host))
        }
        _ => Err(error(StatusCode::NOT_FOUND, "no such machine route")),
    }
}
