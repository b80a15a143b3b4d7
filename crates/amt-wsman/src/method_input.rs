//! Reading a method's `*_INPUT` parameters and shaping its `*_OUTPUT`, for
//! every class with methods.
//!
//! The firmware answers a method whose parameters are missing or malformed
//! with its own "invalid parameter" `ReturnValue`, not a fault (Intel AMT SDK:
//! extrinsic methods never fault for feature errors), so every reader
//! here yields `None` for the caller to turn into that status. Only a body
//! that is not this method's input element at all is a schema fault.

use std::ops::RangeInclusive;

use amt_device::PtStatus;
use base64::Engine;

use crate::classes::{ClassInfo, MethodOutput, Outcome, Value};
use crate::envelope::Payload;
use crate::fault::Fault;

/// The input of one method call.
#[derive(Clone, Copy, Debug)]
pub struct MethodInput<'a> {
    payload: Option<&'a Payload>,
}

impl<'a> MethodInput<'a> {
    /// Checks that `input` is `{ResourceURI}:{method}_INPUT` (or absent, as
    /// for a method without parameters).
    pub fn of(class: &ClassInfo, method: &str, input: Option<&'a Payload>) -> Result<Self, Fault> {
        if let Some(p) = input {
            let expected = format!("{method}_INPUT");
            if p.local_name() != expected || p.namespace() != Some(class.resource_uri) {
                return Err(Fault::SchemaValidationError(format!(
                    "the body of {method} must be {{{}}}{expected}",
                    class.resource_uri
                )));
            }
        }
        Ok(MethodInput { payload: input })
    }

    /// The input element itself (for EPR-valued parameters).
    pub fn payload(&self) -> Option<&'a Payload> {
        self.payload
    }

    /// The first value of parameter `name`, trimmed.
    pub fn text(&self, name: &str) -> Option<&'a str> {
        self.payload?
            .properties()
            .find(|p| p.name == name)
            .map(|p| p.element.trimmed_text())
    }

    /// Every value of a repeated (array) parameter, trimmed, in order.
    pub fn texts(&self, name: &str) -> Vec<&'a str> {
        self.payload
            .map(|p| {
                p.properties()
                    .filter(|p| p.name == name)
                    .map(|p| p.element.trimmed_text())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// An unsigned integer parameter.
    pub fn u32(&self, name: &str) -> Option<u32> {
        self.text(name)?.parse().ok()
    }

    /// An `xsd:boolean` parameter (`true`/`false`/`1`/`0`).
    pub fn boolean(&self, name: &str) -> Option<bool> {
        match self.text(name)? {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        }
    }

    /// A `base64Binary` parameter. Whitespace inside is ignored: consoles
    /// that strip PEM armour sometimes keep its line breaks.
    pub fn base64(&self, name: &str) -> Option<Vec<u8>> {
        let compact: String = self
            .text(name)?
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        if compact.is_empty() {
            return None;
        }
        base64::engine::general_purpose::STANDARD
            .decode(compact)
            .ok()
    }

    /// [`MethodInput::u32`] for methods answering PT_STATUS: a missing or
    /// malformed value is INVALID_PARAMETER.
    pub fn required_u32(&self, name: &str) -> Result<u32, PtStatus> {
        self.u32(name).ok_or(PtStatus::INVALID_PARAMETER)
    }

    /// [`MethodInput::base64`] for methods answering PT_STATUS.
    pub fn required_base64(&self, name: &str) -> Result<Vec<u8>, PtStatus> {
        self.base64(name).ok_or(PtStatus::INVALID_PARAMETER)
    }

    /// [`MethodInput::text`] for methods answering PT_STATUS.
    pub fn required_text(&self, name: &str) -> Result<&'a str, PtStatus> {
        self.text(name).ok_or(PtStatus::INVALID_PARAMETER)
    }
}

/// A PT_STATUS method's output: the out parameters on success, then
/// `ReturnValue`. `device_changed` only when the call succeeded and
/// `changes` says so.
pub fn method_outcome(
    result: Result<Vec<(&'static str, Value)>, PtStatus>,
    changes: bool,
) -> Outcome<MethodOutput> {
    let (mut parameters, status, ok) = match result {
        Ok(p) => (p, PtStatus::SUCCESS, true),
        Err(s) => (Vec::new(), s, false),
    };
    parameters.push(("ReturnValue", Value::Text(status.code().to_string())));
    Outcome {
        value: MethodOutput { parameters },
        device_changed: ok && changes,
    }
}

/// An output holding only `ReturnValue`.
pub fn return_value(code: u32) -> MethodOutput {
    MethodOutput {
        parameters: vec![("ReturnValue", Value::Text(code.to_string()))],
    }
}

/// What one class's `RequestStateChange(RequestedState)` takes.
#[derive(Clone, Copy, Debug)]
pub struct RequestedStates<'a> {
    /// The states the class takes; only these reach the device.
    pub accepted: &'a [RangeInclusive<u32>],
    /// The class's `ReturnValue` for any other state, and for one that is
    /// missing or not a number.
    pub unsupported: u32,
}

impl RequestedStates<'_> {
    /// `input`'s `RequestedState`, if the class takes it.
    fn of(&self, input: &MethodInput<'_>) -> Option<u32> {
        input
            .u32("RequestedState")
            .filter(|s| self.accepted.iter().any(|r| r.contains(s)))
    }
}

/// `RequestStateChange(RequestedState)`, the one way every class reads it:
/// any other method is `ActionNotSupported`; a state outside `states`
/// answers `states.unsupported` without calling `apply`, which otherwise
/// answers the class's `ReturnValue` (0, or the class's own refusal). The
/// device changed when it asked for a flash write.
pub fn request_state_change(
    class: &ClassInfo,
    method: &str,
    input: Option<&Payload>,
    device: &mut amt_device::Device,
    states: &RequestedStates<'_>,
    apply: impl FnOnce(&mut amt_device::Device, u32) -> u32,
) -> Result<Outcome<MethodOutput>, Fault> {
    if method != "RequestStateChange" {
        return Err(Fault::unknown_method(class.resource_uri, method));
    }
    let args = MethodInput::of(class, method, input)?;
    let code = match states.of(&args) {
        Some(state) => apply(device, state),
        None => states.unsupported,
    };
    Ok(Outcome {
        value: return_value(code),
        device_changed: device.pending_effects().persist,
    })
}
