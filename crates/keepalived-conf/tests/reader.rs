//! The reader's syntax rules, each checked against what keepalived 2.2.7 does
//! (fixtures/keepalived/REFERENCE.md records the measurements).

use std::path::Path;

use conf_diag::{Diagnostics, SourceMap};
use keepalived_conf::host::FakeHost;
use keepalived_conf::reader::{read_str, split_shell_words, ReadOptions};
use keepalived_conf::{parse_str, Parsed};

fn lines(text: &str) -> Vec<Vec<String>> {
    lines_with(text, &ReadOptions::default())
}

fn lines_with(text: &str, options: &ReadOptions) -> Vec<Vec<String>> {
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::new();
    read_str(
        Path::new("/tmp/t.conf"),
        text,
        options,
        &mut sources,
        &mut diags,
    )
    .into_iter()
    .map(|l| l.words.into_iter().map(|w| w.text).collect())
    .collect()
}

fn w(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

fn parse(text: &str) -> Parsed {
    let host = FakeHost {
        interfaces: vec!["eth0".into()],
        programs: vec!["true".into()],
        users: vec![],
    };
    parse_str(
        Path::new("/tmp/t.conf"),
        text,
        &ReadOptions::default(),
        &host,
    )
}

#[test]
fn braces_on_the_line_on_the_next_line_or_inline_read_alike() {
    let expected = vec![w(&["track_script"]), w(&["{"]), w(&["chk"]), w(&["}"])];
    assert_eq!(lines("track_script {\nchk\n}\n"), expected);
    assert_eq!(lines("track_script\n{\nchk\n}\n"), expected);
    assert_eq!(lines("track_script { chk }\n"), expected);
    // glued braces (measured: accepted by keepalived)
    assert_eq!(lines("track_script{chk}\n"), expected);
}

#[test]
fn inline_block_with_two_words_is_one_address_with_an_option() {
    // keepalived: `Unknown configuration entry '10.0.0.101' for ip address - ignoring`
    let p = parse("vrrp_instance V {\ninterface eth0\nvirtual_router_id 1\nvirtual_ipaddress { 10.0.0.100 10.0.0.101 }\n}\n");
    let i = &p.config.instances[0];
    assert_eq!(i.virtual_ipaddresses.len(), 1);
    assert!(
        p.diagnostics
            .iter()
            .any(|d| d.message
                == "Unknown configuration entry '10.0.0.101' for ip address - ignoring")
    );
}

#[test]
fn comments_hash_and_bang_anywhere_outside_quotes() {
    assert_eq!(lines("state BAC#KUP\n"), vec![w(&["state", "BAC"])]);
    assert_eq!(lines("a b ! c\n# x\n! y\n"), vec![w(&["a", "b"])]);
    assert_eq!(lines("script \"a # b\"\n"), vec![w(&["script", "a # b"])]);
    assert_eq!(lines("a \\# b\n"), vec![w(&["a", "#", "b"])]);
}

#[test]
fn crlf_and_tabs() {
    assert_eq!(lines("a\tb\r\nc\r\n"), vec![w(&["a", "b"]), w(&["c"])]);
}

#[test]
fn trailing_backslash_sticks_to_the_word_outside_definitions() {
    // keepalived: Unknown keyword 'priority\'
    assert_eq!(lines("priority\\\n"), vec![w(&["priority\\"])]);
}

#[test]
fn definitions_plain_braced_and_multiline() {
    assert_eq!(
        lines("$IF=eth1\ninterface $IF\ninterface ${IF}\n"),
        vec![w(&["interface", "eth1"]), w(&["interface", "eth1"])]
    );
    // an undefined name stays literal (measured)
    assert_eq!(lines("$A=1\nx $NOPE\n"), vec![w(&["x", "$NOPE"])]);
    assert_eq!(
        lines("$VIPS=10.0.0.1 \\\n 10.0.0.2\nvirtual_ipaddress {\n$VIPS\n}\n"),
        vec![
            w(&["virtual_ipaddress"]),
            w(&["{"]),
            w(&["10.0.0.1"]),
            w(&["10.0.0.2"]),
            w(&["}"])
        ]
    );
}

#[test]
fn conditional_lines_follow_the_config_id() {
    let on_a = ReadOptions {
        config_id: Some("lb1".into()),
    };
    let text = "@lb1 priority 101\n@lb2 priority 100\n@^lb1 state BACKUP\n";
    assert_eq!(lines_with(text, &on_a), vec![w(&["priority", "101"])]);
    let on_b = ReadOptions {
        config_id: Some("lb2".into()),
    };
    assert_eq!(
        lines_with(text, &on_b),
        vec![w(&["priority", "100"]), w(&["state", "BACKUP"])]
    );
}

#[test]
fn seq_repeats_a_line() {
    assert_eq!(
        lines("~SEQ(i, 1, 3) x$i\n"),
        vec![w(&["x1"]), w(&["x2"]), w(&["x3"])]
    );
    assert_eq!(
        lines("~SEQx(n, 9, 2, 13) a$n\n"),
        vec![w(&["a9"]), w(&["ab"]), w(&["ad"])]
    );
}

#[test]
fn shell_words_for_scripts() {
    assert_eq!(
        split_shell_words("script \"killall -0 haproxy\"").unwrap(),
        w(&["script", "killall -0 haproxy"])
    );
    assert_eq!(
        split_shell_words("a'b c'\"d\"\\ e").unwrap(),
        w(&["ab cd e"])
    );
    assert!(split_shell_words("script \"unterminated").is_err());
}

#[test]
fn curly_quotes_and_nbsp_are_read_as_meant_with_a_warning() {
    let p = parse("vrrp_script chk {\nscript \u{201c}true -x\u{201d}\n}\n\u{a0}\u{a0}# comment\n");
    assert_eq!(
        p.config.script("chk").map(|s| s.command.clone()),
        Some(w(&["true", "-x"]))
    );
    let warnings: Vec<_> = p
        .diagnostics
        .iter()
        .filter(|d| d.message.contains("typographic"))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "one warning for the script line, none for the comment line"
    );
    assert_eq!(warnings[0].span.map(|s| (s.line, s.col)), Some((2, 8)));
}

#[test]
fn unbalanced_braces_are_reported_with_keepalived_classes() {
    let extra = parse("a\n}\n");
    assert!(extra
        .diagnostics
        .iter()
        .any(|d| d.message == "Extra '}' found" && d.span.map(|s| s.line) == Some(2)));
    assert_eq!(extra.config_test_exit(), 5);
    let missing = parse("vrrp_instance V {\ninterface eth0\n");
    assert!(missing
        .diagnostics
        .iter()
        .any(|d| d.message == "There are 1 missing '}'s or extra '{'s"));
    assert_eq!(missing.config_test_exit(), 5);
}

#[test]
fn include_globs_and_braces_relative_to_the_including_file() {
    let dir = std::env::temp_dir().join(format!("kc-inc-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("conf.d")).unwrap();
    std::fs::write(dir.join("conf.d/a.conf"), "alpha\n").unwrap();
    std::fs::write(dir.join("conf.d/b.conf"), "beta\n").unwrap();
    std::fs::write(dir.join("conf.d/c.other"), "gamma\n").unwrap();
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::new();
    let got: Vec<String> = read_str(
        &dir.join("main.conf"),
        "include conf.d/*.conf\ninclude conf.d/{c.other,missing}\nomega\n",
        &ReadOptions::default(),
        &mut sources,
        &mut diags,
    )
    .into_iter()
    .map(|l| l.words[0].text.clone())
    .collect();
    assert_eq!(got, w(&["alpha", "beta", "gamma", "omega"]));
    // Errors in included files name them as keepalived does (relative, as globbed).
    let names: Vec<String> = sources
        .files()
        .map(|(_, f)| f.display_name.clone())
        .collect();
    assert!(names.contains(&"conf.d/a.conf".to_owned()), "{names:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unknown_keywords_warn_and_parsing_goes_on_with_a_suggestion() {
    let p = parse("vrrp_instance V {\ninterface eth0\nvirtual_router_id 7\nPriority 90\n}\n");
    let d = p
        .diagnostics
        .iter()
        .find(|d| d.message == "Unknown keyword 'Priority'")
        .expect("warned");
    assert_eq!(d.span.map(|s| s.line), Some(4));
    assert_eq!(d.help.as_deref(), Some("did you mean 'priority'?"));
    assert_eq!(p.config.instances[0].vrid.get(), 7);
}

/// keepalived 2.2.7 prints `No VIP specified` twice (fixtures/keepalived/invalid/
/// vip-missing.expected, recorded from `keepalived -t`): the drop-in rendering repeats it.
#[test]
fn no_vip_is_printed_twice_as_keepalived_does() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/keepalived/invalid");
    let text = std::fs::read_to_string(fixtures.join("vip-missing.conf")).expect("fixture");
    let expected = std::fs::read_to_string(fixtures.join("vip-missing.expected")).expect("fixture");
    let parsed = parse(&text);
    let rendered: String = parsed
        .diagnostics
        .iter()
        .map(|d| conf_diag::render_keepalived(d, &parsed.sources) + "\n")
        .collect();
    assert_eq!(rendered, expected);
}
