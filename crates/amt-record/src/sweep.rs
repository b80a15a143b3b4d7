//! `amt-emu record --sweep`: read a device without a console — Identify,
//! then a Get of every singleton and an Enumerate + Pull of every other
//! class the emulator knows — and write what it answers as a recording.

use amt_client::WsmanClient;

use crate::layout::{RecordingError, RecordingWriter};
use crate::requests;

/// What a sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepSummary {
    pub exchanges: usize,
    /// Transport failures (the device did not answer), with the request.
    pub failures: Vec<String>,
}

/// Sends one request and records the exchange. The outer error is the
/// recording's; the inner one says the device did not answer.
async fn post(
    client: &mut WsmanClient,
    writer: &mut RecordingWriter,
    body: String,
) -> Result<Result<String, String>, RecordingError> {
    match client.post(body.as_bytes()).await {
        Ok(reply) => {
            let ms = reply.elapsed.as_secs_f64() * 1000.0;
            writer.append(
                body.as_bytes(),
                reply.status,
                &reply.headers,
                &reply.body,
                ms,
            )?;
            Ok(Ok(String::from_utf8_lossy(&reply.body).into_owned()))
        }
        Err(e) => Ok(Err(e.to_string())),
    }
}

/// Sweeps `client`'s device into `writer`.
pub async fn sweep(
    client: &mut WsmanClient,
    writer: &mut RecordingWriter,
) -> Result<SweepSummary, RecordingError> {
    let mut summary = SweepSummary::default();
    let mut id = 0u64;
    if let Err(e) = post(client, writer, requests::identify()).await? {
        summary.failures.push(format!("Identify: {e}"));
    }
    for class in amt_wsman::classes::registry() {
        let info = class.info();
        id += 1;
        if class.is_singleton() {
            if let Err(e) = post(client, writer, requests::get(info.resource_uri, id)).await? {
                summary.failures.push(format!("{} Get: {e}", info.name));
            }
            continue;
        }
        let reply = match post(client, writer, requests::enumerate(info.resource_uri, id)).await? {
            Ok(r) => r,
            Err(e) => {
                summary
                    .failures
                    .push(format!("{} Enumerate: {e}", info.name));
                continue;
            }
        };
        let mut context = requests::enumeration_context(&reply);
        // Bounded: a device that never ends its sequence is not followed forever.
        for _ in 0..64 {
            let Some(ctx) = context.take() else { break };
            id += 1;
            match post(client, writer, requests::pull(info.resource_uri, &ctx, id)).await? {
                Ok(r) => context = requests::enumeration_context(&r),
                Err(e) => {
                    summary.failures.push(format!("{} Pull: {e}", info.name));
                    break;
                }
            }
        }
    }
    summary.exchanges = writer.len();
    Ok(summary)
}
