//! The RMCP/ASF codec with arbitrary datagrams: parsing never panics, a
//! parsed message encodes back to the bytes it came from (up to its
//! declared length), and the firmware's answer is a whole pong or nothing.
#![no_main]

use amt_rmcp::{answer, AmtPresence, AsfMessage, SetupState, PONG_LEN, TYPE_PONG};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = AsfMessage::parse(data) {
        let bytes = msg.encode();
        assert_eq!(AsfMessage::parse(&bytes), Ok(msg.clone()));
        assert_eq!(&bytes[12..], &data[12..12 + msg.data.len()]);
    }
    let presence = AmtPresence {
        major: 16,
        minor: 1,
        open_port: 16993,
        dual_ports: false,
        setup_state: SetupState::Completed,
    };
    if let Some(pong) = answer(data, &presence) {
        assert_eq!(pong.len(), PONG_LEN);
        let m = AsfMessage::parse(&pong).expect("our pong parses");
        assert_eq!(m.message_type, TYPE_PONG);
        assert_eq!(AmtPresence::from_pong_data(&m.data), Some(presence));
    }
});
