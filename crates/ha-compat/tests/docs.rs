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
