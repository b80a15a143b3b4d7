//! Structural comparison with real firmware replies: the library's
//! comparer (`amt_wsman::compare`, also behind `amt-emu compare`), with a
//! test assertion that prints the aligned paths.

pub use amt_wsman::compare::structure as try_structure;

/// Paths with repeats folded and `ignore`d elements left out (panics on
/// malformed XML: test inputs are ours or captures).
pub fn structure(xml: &str, ignore: &[&str]) -> Vec<String> {
    try_structure(xml, ignore).expect("well-formed XML")
}

/// Asserts that `ours` has the element structure of the firmware reply
/// `theirs`, ignoring the local names in `ignore` on both sides.
pub fn assert_same_structure(ours: &str, theirs: &str, ignore: &[&str]) {
    let a = structure(ours, ignore);
    let b = structure(theirs, ignore);
    if a != b {
        let mut msg = String::from("element structure differs from the firmware reply\n");
        let n = a.len().max(b.len());
        for i in 0..n {
            let x = a.get(i).map(String::as_str).unwrap_or("-");
            let y = b.get(i).map(String::as_str).unwrap_or("-");
            let mark = if x == y { "  " } else { "!!" };
            msg.push_str(&format!("{mark} ours:   {x}\n   theirs: {y}\n"));
        }
        panic!("{msg}");
    }
}
