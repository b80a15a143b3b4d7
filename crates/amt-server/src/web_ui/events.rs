//! `events.htm`, the Event Log: the records of `AMT_MessageLog`, newest
//! first, with the device-clock time each was stamped with.

use amt_device::Device;

use super::layout::{escape, page};

/// The IPMI entity that reported a record, as the page names it.
fn source(entity: u8) -> &'static str {
    match entity {
        0x22 => "BIOS",
        0x07 => "System board",
        0x2E => "Management controller",
        _ => "Unknown",
    }
}

pub fn render(device: &Device) -> String {
    let records = &device.message_log().records;
    let mut body = String::from(
        "<table class=log id=event-log cellspacing=0 cellpadding=0>\n<tr><th>Event</th><th>Date</th><th>Time</th><th>Source</th><th>Description</th></tr>\n",
    );
    for (n, r) in records.iter().rev().enumerate() {
        let (date, time) = time::OffsetDateTime::from_unix_timestamp(i64::from(r.timestamp))
            .map(|t| {
                (
                    format!("{}/{}/{}", u8::from(t.month()), t.day(), t.year()),
                    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second()),
                )
            })
            .unwrap_or_default();
        body.push_str(&format!(
            "<tr class=event><td class=r1>{}</td><td class=r1>{date}</td><td class=r1>{time}</td><td class=r1>{}</td><td class=r1>{}</td></tr>\n",
            n + 1,
            source(r.entity),
            escape(&r.describe()),
        ));
    }
    body.push_str("</table>\n");
    if records.is_empty() {
        body.push_str("<p>The event log is empty.</p>\n");
    }
    page(device, "Event Log", &body)
}
