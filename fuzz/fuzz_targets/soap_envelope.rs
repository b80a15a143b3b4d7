//! The WS-Man envelope parser (`amt_wsman::envelope::Request::parse`).
#![no_main]

use amt_wsman::envelope::Request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = Request::parse(data) {
        // Touch what the dispatcher reads.
        let _ = request.selector("InstanceID");
        if let amt_wsman::envelope::Body::Payload(p) = &request.body {
            for prop in p.properties() {
                let _ = prop.text();
                let _ = prop.endpoint_reference();
            }
        }
        if let Some(t) = &request.operation_timeout {
            let _ = amt_wsman::envelope::parse_duration(t);
        }
    }
});
