//! The real `amt-emu serve` binary pushes events to a subscriber: a
//! WS-Eventing Subscribe (MeshCommander's shape) posted with
//! `curl --digest` names a listener on 127.0.0.1 inside this test; the
//! audit log read with Intel's wsman-messages shows the subscription;
//! wsman-messages' Unprovision makes the device POST its `Event`.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use support::*;

/// A bound on waiting for a delivery (so a broken build fails instead of
/// hanging; not a speed assertion).
const PATIENCE: Duration = Duration::from_secs(30);

/// A listener on 127.0.0.1 that answers every request 200 and passes
/// (request head, body) on.
fn subscriber() -> (String, mpsc::Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(PATIENCE));
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let mut expected = None;
            while let Ok(n) = stream.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                if expected.is_none() {
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
                        expected = Some((head, end + 4, length));
                    }
                }
                if let Some((_, start, length)) = &expected {
                    if buf.len() >= start + length {
                        break;
                    }
                }
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            if let Some((head, start, length)) = expected {
                let end = buf.len().min(start + length);
                let body = String::from_utf8_lossy(&buf[start..end]).to_string();
                let _ = tx.send((head, body));
            }
        }
    });
    (format!("http://{addr}/events"), rx)
}

fn subscribe(url: &str, notify_to: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><Envelope xmlns="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:e="http://schemas.xmlsoap.org/ws/2004/08/eventing"><Header><a:Action>http://schemas.xmlsoap.org/ws/2004/08/eventing/Subscribe</a:Action><a:To>{url}</a:To><w:ResourceURI>http://schemas.dmtf.org/wbem/wscim/1/*</w:ResourceURI><a:MessageID>1</a:MessageID><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><w:SelectorSet><w:Selector Name="InstanceID">Intel(r) AMT:All</w:Selector></w:SelectorSet></Header><Body><e:Subscribe><e:Delivery Mode="http://schemas.dmtf.org/wbem/wsman/1/wsman/Push"><e:NotifyTo><a:Address>{notify_to}</a:Address></e:NotifyTo></e:Delivery></e:Subscribe></Body></Envelope>"#
    )
}

#[test]
fn the_binary_pushes_the_unprovision_event_to_a_loopback_subscriber() {
    let emu = Emu::start(13370, &["--firmware", "15.0.23"]);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://{}/wsman", emu.addr("Plain", "Remote"));
    let (notify_to, rx) = subscriber();

    let r = post(&url, &subscribe(&url, &notify_to), dir.path());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        reply_action(&r.body),
        "http://schemas.xmlsoap.org/ws/2004/08/eventing/SubscribeResponse"
    );

    // The audit log has the subscription (Event Manager 24, event 0).
    let r = post(
        &url,
        &wsman_messages("AMT", "AuditLog", "ReadRecords", Some("[1]")),
        dir.path(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(text(&r.body, "g:ReturnValue").as_deref(), Some("0"));
    let records = all_texts(&r.body, "g:EventRecords");
    assert_eq!(records.len(), 1, "{}", r.body);
    assert_eq!(&base64_decode(&records[0])[..4], [0, 24, 0, 0]);

    let r = post(
        &url,
        &wsman_messages(
            "AMT",
            "SetupAndConfigurationService",
            "Unprovision",
            Some("[1]"),
        ),
        dir.path(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(text(&r.body, "g:ReturnValue").as_deref(), Some("0"));

    let (head, body) = rx.recv_timeout(PATIENCE).expect("the event arrives");
    assert!(head.starts_with("POST /events HTTP/1.1"), "{head}");
    assert_eq!(
        reply_action(&body),
        "http://schemas.dmtf.org/wbem/wsman/1/wsman/Event"
    );
    assert_eq!(text(&body, "g:MessageID").as_deref(), Some("iAMT0055"));
    assert_eq!(
        all_texts(&body, "g:MessageArguments")
            .first()
            .map(String::as_str),
        Some("3")
    );
    // Push (no ack): the message asks for none.
    assert!(!body.contains("AckRequested"), "{body}");
}
