//! Namespace URIs of the protocols WS-Management is built from, and the
//! action URIs AMT answers with.
//!
//! Requests are matched on these URIs, never on prefixes: consoles spell
//! the same namespace `a:`, `wsa:` or leave it as the default namespace.

/// SOAP 1.2 envelope.
pub const SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";
/// WS-Addressing (the 2004/08 member submission AMT speaks).
pub const ADDRESSING: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing";
/// WS-Management (DSP0226).
pub const WSMAN: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd";
/// WS-Enumeration.
pub const ENUMERATION: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration";
/// WS-Transfer.
pub const TRANSFER: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer";
/// WS-Eventing (declared in AMT faults only).
pub const EVENTING: &str = "http://schemas.xmlsoap.org/ws/2004/08/eventing";
/// WS-Trust (declared in every AMT reply, never used).
pub const TRUST: &str = "http://schemas.xmlsoap.org/ws/2005/02/trust";
/// WS-Security secext (declared in every AMT reply, never used).
pub const SECEXT: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// WS-Management CIM binding.
pub const CIMBINDING: &str = "http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd";
/// WS-CIM common types (declared next to some classes' bodies).
pub const WSCIM_COMMON: &str = "http://schemas.dmtf.org/wbem/wscim/1/common";
/// XML Schema instance.
pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Resource URI prefix of Intel AMT classes.
pub const AMT_SCHEMA: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/";
/// Resource URI prefix of Intel IPS classes.
pub const IPS_SCHEMA: &str = "http://intel.com/wbem/wscim/1/ips-schema/1/";
/// Resource URI prefix of DMTF CIM classes.
pub const CIM_SCHEMA: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/";

/// The anonymous endpoint: `ReplyTo` of every console and `To` of every reply.
pub const ANONYMOUS: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous";

/// Action URIs of the intrinsic operations.
pub mod action {
    pub const GET: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get";
    pub const PUT: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Put";
    pub const CREATE: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create";
    pub const DELETE: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete";
    pub const ENUMERATE: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate";
    pub const PULL: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull";
    pub const RELEASE: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Release";
    pub const SUBSCRIBE: &str = "http://schemas.xmlsoap.org/ws/2004/08/eventing/Subscribe";
    pub const UNSUBSCRIBE: &str = "http://schemas.xmlsoap.org/ws/2004/08/eventing/Unsubscribe";

    /// Fault actions, by the specification that defines the fault.
    pub const ADDRESSING_FAULT: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing/fault";
    pub const WSMAN_FAULT: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault";
    pub const ENUMERATION_FAULT: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/fault";
}

/// WS-Man enumeration modes (`wsman:EnumerationMode`).
pub mod enumeration_mode {
    pub const EPR: &str = "EnumerateEPR";
    pub const OBJECT_AND_EPR: &str = "EnumerateObjectAndEPR";
}

/// The selector-filter dialect of DSP0226 (the only filter a console might
/// reasonably send AMT; CQL and WQL are not supported by the firmware).
pub const SELECTOR_FILTER_DIALECT: &str =
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/SelectorFilter";
