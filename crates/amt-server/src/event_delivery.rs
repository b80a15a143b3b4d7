//! Pushes the device's events to its WS-Eventing subscribers: one HTTP/1.1
//! POST of a WS-Man `Event` message (`amt_wsman::indication`) per event and
//! subscription, to the subscription's `NotifyTo` address.
//!
//! Each device has one sender task with a bounded queue, so a slow or dead
//! subscriber delays only that device's events, never a WS-Man reply:
//! when the queue is full the event is dropped and logged. Each POST has a
//! timeout and a bounded number of attempts; failures are logged.
//!
//! Only loopback addresses are delivered to unless the policy says
//! otherwise ([`DeliveryPolicy::allow_non_loopback`]): an emulator run on
//! a developer's machine must not start posting to whatever address a
//! console (or a test) subscribed. `https` addresses are not delivered to
//! (the device's TLS client is not modelled) and are logged.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use amt_device::subscriptions::Subscriptions;
use amt_device::DeviceEvent;
use amt_wsman::indication::{event_message, Alert};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// How events are delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Deliver to addresses that are not loopback. Off unless the user
    /// configures it explicitly.
    pub allow_non_loopback: bool,
    /// Connect, write and read the status line, per attempt.
    pub timeout: Duration,
    /// Attempts per message (at least 1).
    pub attempts: u32,
    /// Messages waiting per device before new ones are dropped.
    pub queue: usize,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            allow_non_loopback: false,
            timeout: Duration::from_secs(5),
            attempts: 3,
            queue: 64,
        }
    }
}

struct Message {
    address: String,
    body: Vec<u8>,
}

/// The event sender of one device.
#[derive(Debug)]
pub struct EventDelivery {
    policy: DeliveryPolicy,
    /// Numbers event messages (MessageID, IndicationIdentifier).
    counter: AtomicU64,
    /// The sender task's queue, started with the first event.
    queue: OnceLock<mpsc::Sender<Message>>,
}

impl Default for EventDelivery {
    fn default() -> Self {
        EventDelivery::new(DeliveryPolicy::default())
    }
}

impl EventDelivery {
    pub fn new(policy: DeliveryPolicy) -> Self {
        EventDelivery {
            policy,
            counter: AtomicU64::new(1),
            queue: OnceLock::new(),
        }
    }

    /// Queues the messages `events` raise for `subscribers` (the
    /// subscriptions as they stood when the events happened). `device_time`
    /// is the device's clock, stamped on the indications. Never blocks.
    pub fn deliver(
        &self,
        subscribers: &Subscriptions,
        events: &[DeviceEvent],
        device_time: OffsetDateTime,
    ) {
        if subscribers.list().is_empty() {
            return;
        }
        for event in events {
            let Some(alert) = Alert::of(event) else {
                continue;
            };
            for sub in subscribers
                .list()
                .iter()
                .filter(|s| alert.passes(&s.filter))
            {
                let n = self.counter.fetch_add(1, Ordering::Relaxed);
                let message = Message {
                    address: sub.address.clone(),
                    body: event_message(&alert, sub, device_time, n),
                };
                self.enqueue(message, &alert);
            }
        }
    }

    fn enqueue(&self, message: Message, alert: &Alert) {
        let Some(queue) = self.queue() else {
            tracing::warn!(
                alert = alert.message_id,
                "no runtime to deliver events on; dropped"
            );
            return;
        };
        if let Err(e) = queue.try_send(message) {
            tracing::warn!(alert = alert.message_id, error = %e, "event queue full or closed; event dropped");
        }
    }

    fn queue(&self) -> Option<&mpsc::Sender<Message>> {
        if let Some(q) = self.queue.get() {
            return Some(q);
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        Some(self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(self.policy.queue.max(1));
            runtime.spawn(sender(rx, self.policy));
            tx
        }))
    }
}

/// The sender task: posts queued messages in order until the device (the
/// queue's sender) is gone.
async fn sender(mut rx: mpsc::Receiver<Message>, policy: DeliveryPolicy) {
    while let Some(message) = rx.recv().await {
        let attempts = policy.attempts.max(1);
        for attempt in 1..=attempts {
            match post(&message, &policy).await {
                Ok(()) => break,
                Err(DeliveryError::Refused(why)) => {
                    tracing::warn!(address = %message.address, %why, "event not delivered");
                    break;
                }
                Err(e) if attempt == attempts => {
                    tracing::warn!(address = %message.address, error = %e, attempt, "event delivery failed; giving up");
                }
                Err(e) => {
                    tracing::debug!(address = %message.address, error = %e, attempt, "event delivery failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                }
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum DeliveryError {
    /// Not to be retried: the address is not acceptable.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("timed out")]
    Timeout,
    #[error("subscriber answered {0}")]
    Status(String),
}

/// An `http://host[:port][/path]` address, split.
fn split_http_address(address: &str) -> Result<(String, u16, String), DeliveryError> {
    let rest = address.strip_prefix("http://").ok_or_else(|| {
        DeliveryError::Refused(format!("only http addresses are delivered to: {address}"))
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let bad = || DeliveryError::Refused(format!("not an http address: {address}"));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, p.parse::<u16>().map_err(|_| bad())?),
        _ => (authority, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    Ok((host.to_string(), port, path.to_string()))
}

async fn post(message: &Message, policy: &DeliveryPolicy) -> Result<(), DeliveryError> {
    let (host, port, path) = split_http_address(&message.address)?;
    let addrs: Vec<SocketAddr> = tokio::time::timeout(
        policy.timeout,
        tokio::net::lookup_host((host.as_str(), port)),
    )
    .await
    .map_err(|_| DeliveryError::Timeout)??
    .collect();
    let allowed: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|a| policy.allow_non_loopback || a.ip().is_loopback())
        .collect();
    let Some(addr) = allowed.first() else {
        return Err(DeliveryError::Refused(format!(
            "{host} is not a loopback address (delivery elsewhere is off)"
        )));
    };
    tokio::time::timeout(
        policy.timeout,
        exchange(*addr, &host, port, &path, &message.body),
    )
    .await
    .map_err(|_| DeliveryError::Timeout)?
}

async fn exchange(
    addr: SocketAddr,
    host: &str,
    port: u16,
    path: &str,
    body: &[u8],
) -> Result<(), DeliveryError> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/soap+xml;charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await?;
    // The status line is all we need (a PushWithAck subscriber's Ack body
    // is not checked).
    let mut buf = vec![0u8; 1024];
    let mut got = 0;
    while got < buf.len() && !buf[..got].windows(2).any(|w| w == b"\r\n") {
        let n = stream.read(&mut buf[got..]).await?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let line = String::from_utf8_lossy(&buf[..got]);
    let status = line.lines().next().unwrap_or_default().to_string();
    let code = status.split_whitespace().nth(1).unwrap_or_default();
    if code.starts_with('2') {
        Ok(())
    } else {
        Err(DeliveryError::Status(status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_into_host_port_and_path() {
        let s = |a: &str| split_http_address(a).ok();
        assert_eq!(
            s("http://127.0.0.1:9000/events"),
            Some(("127.0.0.1".into(), 9000, "/events".into()))
        );
        assert_eq!(
            s("http://localhost"),
            Some(("localhost".into(), 80, "/".into()))
        );
        assert_eq!(
            s("http://[::1]:81/x"),
            Some(("::1".into(), 81, "/x".into()))
        );
        assert_eq!(s("https://127.0.0.1/"), None);
        assert_eq!(s("http://user@127.0.0.1/"), None);
        assert_eq!(s("http://127.0.0.1:notaport/"), None);
    }

    #[tokio::test]
    async fn only_loopback_is_delivered_to_unless_allowed() {
        let message = |address: &str| Message {
            address: address.into(),
            body: Vec::new(),
        };
        let policy = DeliveryPolicy::default();
        // TEST-NET-1: never reached, refused before any connection.
        let remote = post(&message("http://192.0.2.1:9/x"), &policy).await;
        assert!(
            matches!(remote, Err(DeliveryError::Refused(_))),
            "{remote:?}"
        );
        let tls = post(&message("https://127.0.0.1:9/x"), &policy).await;
        assert!(matches!(tls, Err(DeliveryError::Refused(_))), "{tls:?}");
        // Loopback is tried (and, with nothing listening, fails to connect).
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let local = post(&message(&format!("http://127.0.0.1:{closed}/x")), &policy).await;
        assert!(matches!(local, Err(DeliveryError::Io(_))), "{local:?}");
    }
}
