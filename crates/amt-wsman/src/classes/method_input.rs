//! Reading a method's `*_INPUT` parameters, for the provisioning classes
//! (`IPS_HostBasedSetupService`, `AMT_AuthorizationService`).
//!
//! The firmware answers a method whose parameters are missing or malformed
//! with its own "invalid parameter" `ReturnValue`, not a fault (reference
//! §3.2: extrinsic methods never fault for feature errors), so every reader
//! here yields `None` for the caller to turn into that status. Only a body
//! that is not this method's input element at all is a schema fault.

use base64::Engine;

use super::{ClassInfo, MethodOutput, Value};
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

    /// The first value of parameter `name`, trimmed.
    pub fn text(&self, name: &str) -> Option<&'a str> {
        self.payload?
            .properties()
            .find(|p| p.name == name)
            .map(|p| p.element.trimmed_text())
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
        base64::engine::general_purpose::STANDARD
            .decode(compact)
            .ok()
    }
}

/// An output holding only `ReturnValue`.
pub fn return_value(code: u32) -> MethodOutput {
    MethodOutput {
        parameters: vec![("ReturnValue", Value::Text(code.to_string()))],
    }
}
