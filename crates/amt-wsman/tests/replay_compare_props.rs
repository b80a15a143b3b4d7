//! Property: the replay rewriter, the comparer and the redactor take any
//! text (a device's reply is network input) without panicking; a rewritten
//! reply keeps its element structure; a reply compared with itself is the
//! same. The fuzz target `recorded_replies` drives the same functions
//! with coverage guidance.

use amt_wsman::compare::{compare, structure};
use amt_wsman::replay::rewrite_ids;
use proptest::prelude::*;

const REPLY: &str = include_str!("../../../fixtures/firmware/AMT_GeneralSettings/Get.response.xml");

proptest! {
    #[test]
    fn any_text_is_handled(text in ".{0,400}") {
        let _ = amt_wsman::redact::redact(&text);
        let _ = rewrite_ids(&text, "uuid:x", Some("1"));
        if let Ok(c) = compare(&text, &text, &[]) {
            prop_assert!(c.is_same());
        }
    }

    #[test]
    fn cut_replies_are_handled(cut in 0usize..4000, id in "[0-9A-Za-z:-]{0,40}") {
        let cut = cut.min(REPLY.len());
        let text = REPLY.get(..cut).unwrap_or(REPLY);
        let _ = rewrite_ids(text, &id, Some(&id));
        let _ = compare(text, REPLY, &[]);
    }

    #[test]
    fn rewriting_keeps_the_structure(id in "[0-9A-Za-z:-]{1,40}", rel in "[0-9]{1,10}") {
        let out = rewrite_ids(REPLY, &id, Some(&rel)).expect("a capture rewrites");
        let out = String::from_utf8(out).expect("UTF-8");
        prop_assert_eq!(structure(&out, &[]).unwrap(), structure(REPLY, &[]).unwrap());
        let msg_id = format!(">{}<", id);
        prop_assert!(out.contains(&msg_id));
    }
}
