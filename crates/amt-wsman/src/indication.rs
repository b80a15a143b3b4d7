//! The event messages the device pushes to its subscribers: a WS-Man
//! `Event` whose body is a `CIM_AlertIndication`, one per device event and
//! subscription (`crates/amt-device/src/subscriptions.rs` keeps who
//! subscribed; the server posts the bytes).
//!
//! The envelope follows a message of a real device kept in Intel's AMT
//! notification sample (`fixtures/firmware/CIM_AlertIndication/Event--capture-amt-notifications.xml`):
//! AMT's prefixes, `To` anonymous, `ReplyTo` anonymous, `AckRequested`
//! (here only for PushWithAck subscriptions), Action
//! `http://schemas.dmtf.org/wbem/wsman/1/wsman/Event`, the body's
//! properties in ASCII order. **Which alert each event raises is
//! inferred**: the MessageIDs and arguments come from the firmware's alert
//! table as MeshCentral decodes it (`iAMT0055` + argument 2 "provisioning
//! state: post-configuration", 3 "unprovision process has started";
//! `PLAT0272` power on, `PLAT0356` sleep, `PLAT0358` hibernate, `PLAT0362`
//! soft off, `PLAT0364` hard off). Events with no known alert raise none.

use std::fmt::Write as _;

use amt_device::subscriptions::{DeliveryMode, Subscription};
use amt_device::DeviceEvent;
use time::OffsetDateTime;

use crate::namespaces as ns;
use crate::render::{message_id, open_envelope};
use crate::xml::escape_text;

pub const EVENT_ACTION: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman/Event";
pub const ALERT_INDICATION_URI: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_AlertIndication";
/// The alerting element, as the captured message names it.
const AMT_ELEMENT: &str =
    "Interop:CIM_ComputerSystem.CreationClassName=CIM_ComputerSystem,Name=Intel(r) AMT";

/// The alert a device event raises.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    /// `iAMT00nn` (feature alerts) or `PLAT0nnn` (platform events).
    pub message_id: &'static str,
    /// The first MessageArguments value (the alert's sub-code).
    pub argument: &'static str,
}

impl Alert {
    /// The alert `event` raises, if any.
    pub fn of(event: &DeviceEvent) -> Option<Alert> {
        let (message_id, argument) = match event {
            DeviceEvent::Provisioned => ("iAMT0055", "2"),
            DeviceEvent::Unprovisioned => ("iAMT0055", "3"),
            DeviceEvent::PowerStateChanged { to, .. } => match to {
                2 => ("PLAT0272", "0"),
                3 | 4 => ("PLAT0356", "0"),
                7 => ("PLAT0358", "0"),
                8 => ("PLAT0362", "0"),
                6 => ("PLAT0364", "0"),
                _ => return None,
            },
            _ => return None,
        };
        Some(Alert {
            message_id,
            argument,
        })
    }

    /// Whether a subscription to filter collection `filter` hears it: `All`
    /// everything, `Features` the feature (`iAMT`) alerts.
    pub fn passes(&self, filter: &str) -> bool {
        match filter {
            "Intel(r) AMT:All" => true,
            "Intel(r) AMT:Features" => self.message_id.starts_with("iAMT"),
            _ => false,
        }
    }
}

/// One event message for `subscription`. `time` is the device's (BIOS)
/// time; `counter` numbers the message (`MessageID`) and the indication.
pub fn event_message(
    alert: &Alert,
    subscription: &Subscription,
    time: OffsetDateTime,
    counter: u64,
) -> Vec<u8> {
    let mut out = String::with_capacity(2048);
    open_envelope(
        &mut out,
        &[("g", ALERT_INDICATION_URI), ("h", ns::WSCIM_COMMON)],
    );
    let _ = write!(
        out,
        "<a:Header><b:To>{anon}</b:To><b:ReplyTo><b:Address>{anon}</b:Address></b:ReplyTo>",
        anon = ns::ANONYMOUS
    );
    if subscription.mode == DeliveryMode::PushWithAck {
        out.push_str("<c:AckRequested></c:AckRequested>");
    }
    let _ = write!(
        out,
        r#"<b:Action a:mustUnderstand="true">{EVENT_ACTION}</b:Action><b:MessageID>{}</b:MessageID><c:ResourceURI>{ALERT_INDICATION_URI}</c:ResourceURI>"#,
        message_id(counter)
    );
    // The subscriber's NotifyTo reference parameters, as header blocks
    // (WS-Addressing; where AMT puts them is not captured).
    if let Some(rp) = &subscription.reference_parameters {
        out.push_str(rp);
    }
    out.push_str("</a:Header>");
    let filter_name = if subscription.filter == "Intel(r) AMT:All" {
        // The captured message's spelling for the All collection.
        "Intel(r) AMT:AllEvents"
    } else {
        subscription.filter.as_str()
    };
    let stamp = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute(),
        time.second()
    );
    let _ = write!(
        out,
        "<a:Body><g:CIM_AlertIndication><g:AlertType>8</g:AlertType><g:AlertingElementFormat>2</g:AlertingElementFormat><g:AlertingManagedElement>{element}</g:AlertingManagedElement><g:IndicationFilterName>{filter}</g:IndicationFilterName><g:IndicationIdentifier>Intel(r):{counter}</g:IndicationIdentifier><g:IndicationTime><h:Datetime>{stamp}</h:Datetime></g:IndicationTime><g:Message></g:Message><g:MessageArguments>{arg}</g:MessageArguments><g:MessageArguments>{amt}</g:MessageArguments><g:MessageID>{id}</g:MessageID><g:OtherAlertingElementFormat></g:OtherAlertingElementFormat><g:OtherSeverity></g:OtherSeverity><g:OwningEntity>Intel(r) AMT</g:OwningEntity><g:PerceivedSeverity>2</g:PerceivedSeverity><g:ProbableCause>0</g:ProbableCause><g:SystemName>Intel(r) AMT</g:SystemName></g:CIM_AlertIndication></a:Body></a:Envelope>",
        element = escape_text(
            r#"Interop:CIM_ComputerSystem.CreationClassName="CIM_ComputerSystem",Name="Intel(r) AMT""#
        ),
        filter = escape_text(filter_name),
        arg = alert.argument,
        amt = escape_text(AMT_ELEMENT),
        id = alert.message_id,
    );
    out.into_bytes()
}
