//! A device's live call journal as server-sent events: every entry after
//! the one the page already shows (`?after=SEQ`, or the browser's
//! `Last-Event-ID` on reconnect), then each new one as it is recorded.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Frame;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{HeaderMap, Response};
use tokio::sync::mpsc;

use super::form::Form;
use crate::control_server::Body;
use crate::device_host::DeviceHost;

/// A comment line now and then, so proxies and browsers keep the stream
/// open and a client that left is noticed.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// A body fed from a channel: the stream ends when the sender does.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

pub(super) fn journal(host: Arc<DeviceHost>, query: &Form, headers: &HeaderMap) -> Response<Body> {
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .or(query.get("after"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        let mut follow = host.journal().follow();
        let mut after = after;
        if tx
            .send(Bytes::from_static(b"retry: 2000\n\n"))
            .await
            .is_err()
        {
            return;
        }
        loop {
            follow.borrow_and_update();
            for e in host.journal().entries(after) {
                after = e.seq;
                let Ok(data) = serde_json::to_string(&e) else {
                    continue;
                };
                let event = format!("id: {}\nevent: journal\ndata: {data}\n\n", e.seq);
                if tx.send(Bytes::from(event)).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                changed = follow.changed() => if changed.is_err() { return },
                _ = tx.closed() => return,
                _ = tokio::time::sleep(KEEP_ALIVE) => {
                    if tx.send(Bytes::from_static(b": keep-alive\n\n")).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut r = Response::new(ChannelBody(rx).boxed());
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}
