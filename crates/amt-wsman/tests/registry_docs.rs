//! The class coverage table in docs/wsman.md lists exactly the registered
//! classes: a class added to the registry without its row (or a row left
//! for a class that is gone) fails here.

#[test]
fn the_coverage_table_lists_every_registered_class() {
    let doc = include_str!("../../../docs/wsman.md");
    let table: Vec<&str> = doc
        .lines()
        .skip_while(|l| !l.starts_with("| class | G | E/P |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('`').nth(1))
        .collect();
    let mut registered: Vec<&str> = amt_wsman::classes::registry()
        .iter()
        .map(|c| c.info().name)
        .collect();
    let mut listed = table.clone();
    registered.sort_unstable();
    listed.sort_unstable();
    assert_eq!(
        listed, registered,
        "docs/wsman.md's coverage table and the class registry differ"
    );
}
