//! docs/compatibility.md's keyword table is generated from the parser's own table; this
//! fails when they drift (regenerate with `ha-compat keywords --markdown`).

#[test]
fn compatibility_doc_matches_the_keyword_table() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/compatibility.md"
    ))
    .expect("docs/compatibility.md");
    let begin = doc.find("<!-- keywords:begin -->\n").expect("begin marker")
        + "<!-- keywords:begin -->\n".len();
    let end = doc.find("<!-- keywords:end -->").expect("end marker");
    assert_eq!(
        &doc[begin..end],
        keepalived_conf::keywords::compatibility_markdown()
    );
}

#[test]
fn compatibility_doc_matches_the_haproxy_keyword_table() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/compatibility.md"
    ))
    .expect("docs/compatibility.md");
    let begin = doc
        .find("<!-- haproxy-keywords:begin -->\n")
        .expect("begin marker")
        + "<!-- haproxy-keywords:begin -->\n".len();
    let end = doc
        .find("<!-- haproxy-keywords:end -->")
        .expect("end marker");
    assert_eq!(
        &doc[begin..end],
        haproxy_conf::keywords::compatibility_markdown(),
        "regenerate with `ha-compat keywords --haproxy --markdown`"
    );
}

/// The README keeps exactly two set-up commands: the demo (the main job on an embedded
/// default, run end to end by tests/demo.rs) and the whole test suite.
#[test]
fn readme_has_the_two_commands() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let section = readme
        .split("## The two commands")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a '## The two commands' section");
    let commands: Vec<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("    "))
        .collect();
    assert_eq!(
        commands,
        ["cargo run -q -p ha-compat -- demo", "scripts/test.sh"]
    );
}
