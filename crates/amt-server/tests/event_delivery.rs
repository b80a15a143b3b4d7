//! Events reach a subscriber: a console subscribes a listener on loopback
//! over WS-Eventing (posted with `curl --digest`), then an unprovision (and
//! a host power change, when the power class is there) built by Intel's
//! wsman-messages makes the device push WS-Man `Event` messages to it over
//! HTTP. The subscriber is a small HTTP listener in the test that records
//! what it receives. The audit log then lists what was audited, read with
//! wsman-messages' `AuditLog.ReadRecords`.

mod support;

use std::time::Duration;

use amt_server::{Emulator, EmulatorConfig, RunningEmulator};
use base64::Engine;
use support::{curl_wsman, wsman_messages_request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const PASSWORD: &str = "P@ssw0rd!1";
/// How long to wait for a delivery before declaring it lost (a bound so a
/// broken build fails instead of hanging, not a speed assertion).
const PATIENCE: Duration = Duration::from_secs(30);
const POWER_SERVICE: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_PowerManagementService";

/// One request the subscriber received.
#[derive(Debug)]
struct Received {
    head: String,
    body: String,
}

/// A subscriber on 127.0.0.1: answers every POST 200 and hands what it
/// got to the test.
async fn subscriber() -> (String, mpsc::UnboundedReceiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head, body_start, length) = loop {
                    let Ok(n) = stream.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_string();
                        let length = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        break (head, end + 4, length);
                    }
                };
                while buf.len() < body_start + length {
                    let Ok(n) = stream.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let end = buf.len().min(body_start + length);
                let body = String::from_utf8_lossy(&buf[body_start..end]).to_string();
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
                let _ = tx.send(Received { head, body });
            });
        }
    });
    (format!("http://{addr}/amt-events"), rx)
}

async fn next_event(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .expect("an event arrives")
        .expect("the subscriber runs")
}

/// A Subscribe as MeshCommander's `ExecSubscribe` writes it.
fn subscribe_request(url: &str, notify_to: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><Envelope xmlns="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:e="http://schemas.xmlsoap.org/ws/2004/08/eventing"><Header><a:Action>http://schemas.xmlsoap.org/ws/2004/08/eventing/Subscribe</a:Action><a:To>{url}</a:To><w:ResourceURI>http://schemas.dmtf.org/wbem/wscim/1/*</w:ResourceURI><a:MessageID>1</a:MessageID><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><w:SelectorSet><w:Selector Name="InstanceID">Intel(r) AMT:All</w:Selector></w:SelectorSet></Header><Body><e:Subscribe><e:Delivery Mode="http://schemas.dmtf.org/wbem/wsman/1/wsman/PushWithAck"><e:NotifyTo><a:Address>{notify_to}</a:Address></e:NotifyTo></e:Delivery></e:Subscribe></Body></Envelope>"#
    )
}

async fn post(url: &str, body: String) -> (String, String) {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || curl_wsman(&url, "admin", PASSWORD, &body))
        .await
        .expect("client task")
}

async fn wsman_messages(
    url: &str,
    ns: &str,
    class: &str,
    method: &str,
    args: &str,
) -> (String, String) {
    let (ns, class, method, args) = (
        ns.to_string(),
        class.to_string(),
        method.to_string(),
        args.to_string(),
    );
    let body =
        tokio::task::spawn_blocking(move || wsman_messages_request(&ns, &class, &method, &args))
            .await
            .expect("client task");
    post(url, body).await
}

async fn start() -> RunningEmulator {
    Emulator::start(EmulatorConfig {
        // AMT 15: plain HTTP on the network interface, no key to generate.
        firmware: Some("15.0.23".parse().expect("version")),
        admin_password: Some(PASSWORD.into()),
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator starts")
}

fn values<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!(":{name}>");
    xml.match_indices(&open)
        // Opening tags only: the `<` before the name is not `</`.
        .filter(|(i, _)| {
            xml[..*i]
                .rfind('<')
                .is_some_and(|lt| !xml[lt..].starts_with("</"))
        })
        .filter_map(|(i, _)| {
            let start = i + open.len();
            xml[start..].find('<').map(|end| &xml[start..start + end])
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscriber_on_loopback_receives_power_and_unprovision_events() {
    let emu = start().await;
    let url = format!("http://{}/wsman", emu.http_addr().expect("plain listener"));
    let (notify_to, mut rx) = subscriber().await;

    let (status, reply) = post(&url, subscribe_request(&url, &notify_to)).await;
    assert_eq!(status, "200", "{reply}");
    assert!(reply.contains("SubscribeResponse"), "{reply}");
    assert!(
        reply.contains("CIM_FilterCollectionSubscription"),
        "{reply}"
    );

    // A power change, when the power class is part of this build.
    let power = amt_wsman::classes::class_for(POWER_SERVICE).is_some();
    if power {
        // 8: soft off (wsman-messages' PowerState enum).
        let (status, reply) = wsman_messages(
            &url,
            "CIM",
            "PowerManagementService",
            "RequestPowerStateChange",
            "[8]",
        )
        .await;
        assert_eq!(status, "200", "{reply}");
        let event = next_event(&mut rx).await;
        assert!(
            event.body.contains("<g:MessageID>PLAT0362</g:MessageID>"),
            "{}",
            event.body
        );
    } else {
        println!("note: CIM_PowerManagementService is not registered in this build; the power-change delivery is not exercised");
    }

    let (status, reply) = wsman_messages(
        &url,
        "AMT",
        "SetupAndConfigurationService",
        "Unprovision",
        "[1]",
    )
    .await;
    assert_eq!(status, "200", "{reply}");
    assert_eq!(values(&reply, "ReturnValue"), ["0"], "{reply}");

    let event = next_event(&mut rx).await;
    assert!(
        event.head.starts_with("POST /amt-events HTTP/1.1"),
        "{}",
        event.head
    );
    assert!(
        event
            .head
            .to_ascii_lowercase()
            .contains("content-type: application/soap+xml"),
        "{}",
        event.head
    );
    let body = &event.body;
    assert!(
        body.contains("<b:Action a:mustUnderstand=\"true\">http://schemas.dmtf.org/wbem/wsman/1/wsman/Event</b:Action>"),
        "{body}"
    );
    assert!(body.contains("<c:AckRequested></c:AckRequested>"), "{body}");
    assert_eq!(values(body, "MessageID")[1], "iAMT0055", "{body}");
    assert_eq!(values(body, "MessageArguments")[0], "3", "{body}");
    assert_eq!(
        values(body, "IndicationFilterName"),
        ["Intel(r) AMT:AllEvents"]
    );
    // The message parses as XML (the subscriber's SOAP stack would read it).
    amt_wsman::xml::parse(body.as_bytes(), amt_wsman::xml::Limits::default())
        .expect("a well-formed event");
    // The unprovision removed the subscription.
    assert!(emu
        .host()
        .with_device(|d| d.subscriptions().list().is_empty()));

    // The audit log (the device is unprovisioned: admin's password is gone,
    // so read the device directly; wsman_messages_reads_the_audit_log reads
    // it over the wire).
    let records = emu.host().with_device(|d| d.read_audit_records(1));
    let page = records.expect("records");
    let ids: Vec<(u8, u8, u8, u8)> = page
        .records
        .iter()
        .map(|r| (r[0], r[1], r[2], r[3]))
        .collect();
    assert!(
        ids.contains(&(0, 24, 0, 0)),
        "alert subscribed is audited: {ids:?}"
    );
    if power {
        // Remote Control 17, Performed Power Down 1 (RequestPowerStateChange 8).
        assert!(
            ids.contains(&(0, 17, 0, 1)),
            "the power action is audited: {ids:?}"
        );
    }
    assert!(
        ids.contains(&(0, 16, 0, 19)),
        "unprovisioning started is audited: {ids:?}"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wsman_messages_reads_the_audit_log() {
    let emu = start().await;
    let url = format!("http://{}/wsman", emu.http_addr().expect("plain listener"));
    let (notify_to, _rx) = subscriber().await;
    let (status, _) = post(&url, subscribe_request(&url, &notify_to)).await;
    assert_eq!(status, "200");

    let (status, reply) = wsman_messages(&url, "AMT", "AuditLog", "ReadRecords", "[1]").await;
    assert_eq!(status, "200", "{reply}");
    assert_eq!(values(&reply, "ReturnValue"), ["0"], "{reply}");
    assert_eq!(values(&reply, "TotalRecordCount"), ["1"], "{reply}");
    let record = base64::engine::general_purpose::STANDARD
        .decode(values(&reply, "EventRecords")[0])
        .expect("base64");
    // Event Manager (24), Alert Subscribed (0), by the digest user admin.
    assert_eq!(&record[..6], [0, 24, 0, 0, 0, 5]);
    assert_eq!(&record[6..11], b"admin");

    let (status, reply) = wsman_messages(&url, "AMT", "AuditLog", "Get", "").await;
    assert_eq!(status, "200", "{reply}");
    assert_eq!(values(&reply, "CurrentNumberOfRecords"), ["1"], "{reply}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unprovision_from_the_host_side_is_delivered_and_audited_as_local() {
    let mut emu = start().await;
    let url = format!("http://{}/wsman", emu.http_addr().expect("plain listener"));
    let (notify_to, mut rx) = subscriber().await;
    let (status, reply) = post(&url, subscribe_request(&url, &notify_to)).await;
    assert_eq!(status, "200", "{reply}");

    // As MEBx or the control API would.
    emu.unprovision().await.expect("unprovision");
    let event = next_event(&mut rx).await;
    assert_eq!(
        values(&event.body, "MessageID")[1],
        "iAMT0055",
        "{}",
        event.body
    );

    let page = emu
        .host()
        .with_device(|d| d.read_audit_records(1))
        .expect("records");
    let last = page.records.last().expect("a record");
    // Security Admin 16 / 19, InitiatorType 2 (the local platform).
    assert_eq!(&last[..5], [0, 16, 0, 19, 2]);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alarm_that_powers_the_host_up_is_delivered() {
    if amt_wsman::classes::class_for(POWER_SERVICE).is_none() {
        println!("note: no host model in this build; the alarm delivery is not exercised");
        return;
    }
    let emu = start().await;
    let url = format!("http://{}/wsman", emu.http_addr().expect("plain listener"));
    let (notify_to, mut rx) = subscriber().await;
    let (status, reply) = post(&url, subscribe_request(&url, &notify_to)).await;
    assert_eq!(status, "200", "{reply}");

    // The owner's side: the host goes to soft off, an alarm is set for the
    // next second; the server's ticker fires it.
    emu.host()
        .change_device(|d, now| {
            d.request_power_state_change(8, now)
                .map_err(|_| amt_device::DeviceError::Refused(amt_device::PtStatus::NOT_PERMITTED))
        })
        .expect("power down");
    let off = next_event(&mut rx).await;
    assert_eq!(
        values(&off.body, "MessageID")[1],
        "PLAT0362",
        "{}",
        off.body
    );
    emu.host()
        .change_device(|d, now| {
            let alarm = amt_device::host::Alarm {
                instance_id: "wake".into(),
                element_name: "wake".into(),
                start_time: amt_device::host::device_seconds(d, now) + 1,
                interval: 0,
                delete_on_completion: true,
                fired: false,
            };
            d.add_alarm(alarm, now)
                .map_err(|_| amt_device::DeviceError::Refused(amt_device::PtStatus::NOT_PERMITTED))
        })
        .expect("alarm");
    let on = next_event(&mut rx).await;
    assert_eq!(values(&on.body, "MessageID")[1], "PLAT0272", "{}", on.body);
    emu.shutdown().await;
}
