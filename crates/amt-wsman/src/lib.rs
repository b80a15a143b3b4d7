//! WS-Management (SOAP 1.2) as Intel AMT speaks it.
//!
//! [`WsmanService`] takes one request body and the device it addresses and
//! returns the reply body with its HTTP status. It is pure logic: no
//! sockets, files or clocks (the time comes in [`CallContext`]), and no
//! globals, so a process can hold thousands of devices, each with its own
//! service value.
//!
//! Layout:
//! - [`namespaces`]: namespace and action URIs;
//! - [`xml`]: the bounded, namespace-resolving reader and escaping;
//! - [`envelope`]: the typed [`envelope::Request`];
//! - [`render`]: reply envelopes with AMT's prefixes;
//! - [`fault`]: faults as AMT shapes them;
//! - [`enumeration`]: enumeration contexts and paging;
//! - [`dispatch`]: ResourceURI → class, Action → operation;
//! - [`access`]: what `$$OsAdmin` may call;
//! - [`identify`]: `wsmid:Identify`, which has no Action to dispatch on;
//! - [`classes`]: one file per AMT/IPS/CIM class, and the registry;
//! - [`checks`], [`references`], [`method_input`]: what many classes share
//!   (body checks, booleans, refusals as faults; EPRs and handles; method
//!   parameters and outputs).

pub mod access;
pub mod checks;
pub mod classes;
pub mod compare;
pub mod dispatch;
pub mod enumeration;
pub mod envelope;
pub mod fault;
pub mod identify;
pub mod injection;
pub mod method_input;
pub mod namespaces;
pub mod redact;
pub mod references;
pub mod render;
pub mod replay;
pub mod xml;

use amt_device::{Device, Effects};

pub use crate::dispatch::{Call, CallOperation};
use time::OffsetDateTime;

use crate::enumeration::Enumerations;
use crate::envelope::Request;
use crate::fault::Fault;

/// Who the (already authenticated) caller is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal {
    /// The digest user `admin`.
    Admin,
    /// The digest user `$$OsAdmin`, the local system account.
    LocalSystemAccount,
}

/// What a call needs from outside the device.
#[derive(Clone, Copy, Debug)]
pub struct CallContext {
    /// The host time.
    pub now: OffsetDateTime,
    pub principal: Principal,
}

/// A reply ready for HTTP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsmanReply {
    /// 200, 400 for Sender faults, 500 for Receiver faults.
    pub status: u16,
    pub body: Vec<u8>,
    /// Whether persisted device state changed (write flash before
    /// replying); the same as `effects.persist`.
    pub device_changed: bool,
    /// The class and operation dispatched to, when the request got that far.
    pub call: Option<Call>,
    /// The fault answered, if any.
    pub fault: Option<Fault>,
    /// What the call did to the device (persist, TLS, ports, events).
    pub effects: Effects,
    /// Answered from a recording (a class the model lacks), not the model.
    pub replayed: bool,
}

/// The WS-Man state of one device: open enumerations and the reply
/// `MessageID` counter.
#[derive(Debug)]
pub struct WsmanService {
    enumerations: Enumerations,
    next_message_id: u64,
    /// Recorded replies for the classes the model lacks.
    replay: Option<std::sync::Arc<replay::Replay>>,
}

impl Default for WsmanService {
    fn default() -> Self {
        WsmanService::new()
    }
}

impl WsmanService {
    pub fn new() -> Self {
        WsmanService {
            enumerations: Enumerations::new(),
            next_message_id: 1,
            replay: None,
        }
    }

    /// Answers requests for classes the model lacks from `replay`
    /// (`amt-emu serve --replay DIR`); modelled classes stay the model's.
    pub fn with_replay(mut self, replay: std::sync::Arc<replay::Replay>) -> Self {
        self.replay = Some(replay);
        self
    }

    pub(crate) fn take_message_id(&mut self) -> u64 {
        let id = self.next_message_id;
        // The firmware prints 48 bits; wrap there.
        self.next_message_id = (self.next_message_id + 1) & 0xFFFF_FFFF_FFFF;
        id
    }

    /// Handles one request body. Never panics; anything unacceptable
    /// becomes a fault reply.
    pub fn handle(&mut self, device: &mut Device, request: &[u8], ctx: &CallContext) -> WsmanReply {
        self.handle_parsed(device, Request::parse(request).as_ref(), ctx)
    }

    /// [`WsmanService::handle`] for a request the caller already parsed
    /// (the server reads the same envelope for fault injection and the
    /// journal, and parses it once).
    pub fn handle_parsed(
        &mut self,
        device: &mut Device,
        parsed: Result<&Request, &Fault>,
        ctx: &CallContext,
    ) -> WsmanReply {
        let message_id = self.take_message_id();
        // A reply reports its own effects only: whatever an earlier direct
        // device call left behind is that caller's to take.
        let _ = device.take_effects();
        // Consent timeouts run on device time: apply them up to this call.
        device.expire_user_consent(ctx.now);
        let parsed = match parsed {
            Ok(r) => r,
            Err(fault) => return fault_reply(None, message_id, fault, None),
        };
        // Identify carries no Action or ResourceURI, which dispatch demands.
        if identify::is_identify(parsed) {
            return WsmanReply {
                status: 200,
                body: identify::reply(device),
                device_changed: false,
                call: None,
                fault: None,
                effects: Effects::default(),
                replayed: false,
            };
        }
        if let Some(replayed) = self.replayed(parsed, message_id) {
            return replayed;
        }
        let call = dispatch::resolve(parsed).ok().map(|(class, op)| Call {
            class: class.info(),
            operation: op.into(),
        });
        match dispatch::dispatch(&mut self.enumerations, device, parsed, ctx, message_id) {
            Ok(done) => {
                let mut effects = device.take_effects();
                effects.persist |= done.device_changed;
                WsmanReply {
                    status: 200,
                    body: done.body,
                    device_changed: effects.persist,
                    call,
                    fault: None,
                    effects,
                    replayed: false,
                }
            }
            Err(fault) => {
                // A refused operation changed nothing the driver must act on.
                let _ = device.take_effects();
                fault_reply(parsed.message_id.as_deref(), message_id, &fault, call)
            }
        }
    }

    /// The recorded answer to a request for a class the model lacks.
    fn replayed(&self, request: &Request, message_id: u64) -> Option<WsmanReply> {
        let replay = self.replay.as_ref()?;
        let uri = request.resource_uri.as_deref()?;
        if classes::class_for(uri.trim()).is_some() {
            return None;
        }
        let (status, body) = replay.answer(request, message_id)?;
        Some(WsmanReply {
            status,
            body,
            device_changed: false,
            call: None,
            fault: None,
            effects: Effects::default(),
            replayed: true,
        })
    }

    /// The class and operation `request` addresses, without running it
    /// (fault rules are matched on this before the call).
    pub fn resolve(request: &Request) -> Option<Call> {
        dispatch::resolve(request).ok().map(|(class, op)| Call {
            class: class.info(),
            operation: op.into(),
        })
    }

    /// Open enumeration contexts (for tests and diagnostics).
    pub fn open_enumerations(&self) -> usize {
        self.enumerations.len()
    }
}

fn fault_reply(
    relates_to: Option<&str>,
    message_id: u64,
    fault: &Fault,
    call: Option<Call>,
) -> WsmanReply {
    tracing::debug!(%fault, "WS-Man fault");
    WsmanReply {
        status: fault.http_status(),
        body: render::fault_reply(relates_to, message_id, fault),
        device_changed: false,
        call,
        fault: Some(fault.clone()),
        effects: Effects::default(),
        replayed: false,
    }
}
