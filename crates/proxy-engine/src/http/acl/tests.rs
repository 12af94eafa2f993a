//! Matching semantics, each case read from HAProxy 2.6.12's pattern.c / http_fetch.c /
//! acl.c (the cited function). The outcomes against the real daemon are in
//! `tests/http_rules_vs_haproxy.rs`.

use std::net::SocketAddr;

use super::*;
use crate::http::head::{Header, Headers, HttpVersion};
use crate::http::rules::CompiledRules;

pub(crate) fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> RequestHead {
    RequestHead {
        method: method.into(),
        uri: uri.into(),
        version: HttpVersion::Http11,
        headers: Headers(
            headers
                .iter()
                .map(|(n, v)| Header {
                    name: (*n).into(),
                    value: (*v).into(),
                })
                .collect(),
        ),
    }
}

pub(crate) fn conn(client: &str) -> ConnectionInfo {
    ConnectionInfo {
        client: client.parse::<SocketAddr>().expect("client address"),
        local: "127.0.0.1:8080".parse().expect("local address"),
        tls: false,
    }
}

/// A frontend with `lines`, `use_backend hit if COND` and `default_backend miss`.
pub(crate) fn rules(lines: &str, cond: &str) -> Result<CompiledRules, ProxyError> {
    let text = format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\n\
         frontend fe\n  bind 127.0.0.1:8080\n{lines}\n  use_backend hit if {cond}\n  default_backend miss\n\
         backend hit\n  server s 127.0.0.1:1\nbackend miss\n  server s 127.0.0.1:2\n"
    );
    let config = crate::balance::tests::load_config(&text);
    let fe = config.proxy("fe").expect("frontend");
    CompiledRules::compile(&config, fe)
}

fn hit(lines: &str, cond: &str, req: &RequestHead) -> bool {
    hit_from(lines, cond, req, "10.1.2.3:40000")
}

fn hit_from(lines: &str, cond: &str, req: &RequestHead, client: &str) -> bool {
    let r = rules(lines, cond).expect("compiles");
    r.backend_for(req, &conn(client)).as_deref() == Some("hit")
}

fn get(uri: &str) -> RequestHead {
    request("GET", uri, &[("Host", "www.example.com")])
}

#[test]
fn path_matchers() {
    let r = get("/static/img/a.png?x=1");
    assert!(hit("  acl a path_beg /static", "a", &r));
    assert!(!hit("  acl a path_beg /img", "a", &r));
    assert!(hit("  acl a path_end .png", "a", &r));
    assert!(
        !hit("  acl a path_end =1", "a", &r),
        "the query is not part of path"
    );
    assert!(hit("  acl a path_sub img/", "a", &r));
    assert!(hit("  acl a path_dir img", "a", &r));
    assert!(
        hit("  acl a path_dir /img/", "a", &r),
        "delimiters at the pattern's ends are ignored"
    );
    assert!(!hit("  acl a path_dir im", "a", &r));
    assert!(hit("  acl a path /static/img/a.png", "a", &r));
    assert!(hit("  acl a path_reg ^/static/.*\\.png$", "a", &r));
    assert!(hit("  acl a path_len 17", "a", &r));
    assert!(hit("  acl a path_len gt 10", "a", &r));
    assert!(!hit("  acl a path_len lt 17", "a", &r));
}

#[test]
fn patterns_are_ored_and_acl_lines_too() {
    let r = get("/b");
    assert!(hit("  acl a path /a /b /c", "a", &r));
    assert!(hit("  acl a path /a\n  acl a path /b", "a", &r));
    assert!(!hit("  acl a path /a\n  acl a path /c", "a", &r));
}

#[test]
fn ignore_case_and_method_quirk() {
    assert!(!hit("  acl a path_beg /STATIC", "a", &get("/static/x")));
    assert!(hit("  acl a path_beg -i /STATIC", "a", &get("/static/x")));
    // pat_match_meth(): a well-known method only matches its exact pattern.
    assert!(hit("  acl a method GET", "a", &get("/")));
    assert!(!hit("  acl a method -i get", "a", &get("/")));
    assert!(hit(
        "  acl a method -i purge",
        "a",
        &request("PURGE", "/", &[])
    ));
    assert!(!hit(
        "  acl a method purge",
        "a",
        &request("PURGE", "/", &[])
    ));
    assert!(hit("", "METH_GET", &request("HEAD", "/", &[])));
    assert!(!hit("", "METH_POST", &get("/")));
}

#[test]
fn headers_iterate_all_values_in_acls() {
    let r = request(
        "GET",
        "/",
        &[
            ("X-A", "one, two"),
            ("x-a", "\"three, four\""),
            ("Host", "Example.COM:8080"),
        ],
    );
    assert!(hit("  acl a hdr(x-a) two", "a", &r));
    assert!(hit("  acl a hdr(x-a) \"\\\"three, four\\\"\"", "a", &r));
    assert!(
        !hit("  acl a hdr(x-a) four\\\"", "a", &r),
        "commas in quotes do not split"
    );
    assert!(hit("  acl a hdr(x-a,1) one", "a", &r));
    assert!(!hit("  acl a hdr(x-a,1) two", "a", &r));
    assert!(hit("  acl a hdr(x-a,-1) \"\\\"three, four\\\"\"", "a", &r));
    assert!(hit("  acl a hdr_cnt(x-a) 3", "a", &r));
    assert!(hit("  acl a req.fhdr(x-a) \"one, two\"", "a", &r));
    assert!(hit("  acl a hdr_dom(host) -i example.com", "a", &r));
    assert!(hit("  acl a hdr_beg(host) -i example.", "a", &r));
    assert!(!hit("  acl a hdr_dom(host) ample.com", "a", &r));
    assert!(hit("  acl a hdr(host) -m found", "a", &r));
    assert!(!hit("  acl a hdr(x-missing) -m found", "a", &r));
    assert!(hit("  acl a hdr_len(host) 16", "a", &r));
}

#[test]
fn a_fetch_that_finds_nothing_is_false_and_its_negation_true() {
    let r = get("/");
    assert!(!hit("  acl a hdr(x-missing) foo", "a", &r));
    assert!(hit("  acl a hdr(x-missing) foo", "!a", &r));
    assert!(hit("  acl a hdr(x-missing) foo", "a || TRUE", &r));
    assert!(!hit("  acl a hdr(x-missing) foo", "!a FALSE", &r));
}

#[test]
fn unless_and_or() {
    let r = get("/x");
    let rules = rules("  acl a path /x\n  acl b path /y", "a").expect("compiles");
    assert!(rules.backend_for(&r, &conn("10.0.0.1:1")).is_some());
    assert!(hit("  acl a path /x\n  acl b path /y", "b or a", &r));
    assert!(!hit("  acl a path /x\n  acl b path /y", "a b", &r));
    let text = "defaults\n  mode http\n  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\n\
                frontend fe\n  bind 127.0.0.1:8080\n  acl a path /x\n  use_backend hit unless a\n  default_backend miss\n\
                backend hit\n  server s 127.0.0.1:1\nbackend miss\n  server s 127.0.0.1:2\n";
    let config = crate::balance::tests::load_config(text);
    let compiled = CompiledRules::compile(&config, config.proxy("fe").expect("fe")).expect("ok");
    assert_eq!(
        compiled.backend_for(&r, &conn("10.0.0.1:1")).as_deref(),
        Some("miss")
    );
    assert_eq!(
        compiled
            .backend_for(&get("/z"), &conn("10.0.0.1:1"))
            .as_deref(),
        Some("hit")
    );
}

#[test]
fn addresses_and_ports() {
    let r = get("/");
    assert!(hit_from("  acl a src 10.0.0.0/8", "a", &r, "10.9.9.9:1"));
    assert!(hit_from(
        "  acl a src 10.0.0.0/255.0.0.0",
        "a",
        &r,
        "10.9.9.9:1"
    ));
    assert!(!hit_from("  acl a src 10.0.0.0/8", "a", &r, "11.0.0.1:1"));
    assert!(hit_from("", "LOCALHOST", &r, "127.0.0.5:1"));
    assert!(hit_from("", "LOCALHOST", &r, "[::1]:1"));
    // pat_match_ip(): IPv4-mapped IPv6 clients match IPv4 networks.
    assert!(hit_from(
        "  acl a src 192.168.0.0/16",
        "a",
        &r,
        "[::ffff:192.168.1.1]:1"
    ));
    assert!(hit_from(
        "  acl a src ::ffff:192.168.0.0/120",
        "a",
        &r,
        "192.168.0.7:1"
    ));
    assert!(hit_from(
        "  acl a src_port 1000:2000",
        "a",
        &r,
        "10.0.0.1:1500"
    ));
    assert!(hit_from(
        "  acl a src_port ge 1024",
        "a",
        &r,
        "10.0.0.1:1024"
    ));
    assert!(!hit_from(
        "  acl a src_port gt 1024",
        "a",
        &r,
        "10.0.0.1:1024"
    ));
    assert!(hit("  acl a dst_port 8080", "a", &r));
    assert!(hit("  acl a dst 127.0.0.1", "a", &r));
    assert!(!hit("  acl a ssl_fc", "a", &r));
    assert!(hit("  acl a ssl_fc", "!a", &r));
}

#[test]
fn url_query_base_and_params() {
    let r = request("GET", "/p/q?a=1&b=2;a=3&c", &[("Host", "h.example")]);
    assert!(
        hit("  acl a url_param(a) 3", "a", &r),
        "every occurrence is tried"
    );
    assert!(hit("  acl a urlp(b) 2", "a", &r));
    assert!(!hit("  acl a urlp(c) -m found", "a", &r), "'c' has no '='");
    assert!(hit("  acl a query a=1&b=2;a=3&c", "a", &r));
    assert!(hit("  acl a base h.example/p/q", "a", &r));
    assert!(hit("  acl a url_beg /p/", "a", &r));
    assert!(hit("  acl a url_end &c", "a", &r));
    assert!(!hit("  acl a query -m found", "a", &get("/noquery")));
    assert!(hit("", "HTTP_URL_SLASH", &r));
    assert!(!hit("", "HTTP_URL_ABS", &r));
    assert!(hit("", "HTTP_URL_ABS", &request("GET", "http://h/x", &[])));
    assert!(hit("", "HTTP_1.1", &r));
    assert!(!hit("", "HTTP_1.0", &r));
    assert!(hit(
        "",
        "HTTP_CONTENT",
        &request("POST", "/", &[("Content-Length", "3")])
    ));
    assert!(!hit(
        "",
        "HTTP_CONTENT",
        &request("POST", "/", &[("Content-Length", "0")])
    ));
}

#[test]
fn pattern_files_skip_comments_and_blank_lines() {
    let path = std::env::temp_dir().join(format!("acl-patterns-{}.lst", std::process::id()));
    std::fs::write(&path, "# comment\n\n  /admin\r\n/api\n #x\n").expect("write");
    let lines = format!("  acl a url_beg -f {}", path.display());
    assert!(hit(&lines, "a", &get("/admin/x")));
    assert!(hit(&lines, "a", &get("/api")));
    assert!(
        hit(&lines, "a", &get("#x")),
        "'#' after a blank is a pattern"
    );
    assert!(!hit(&lines, "a", &get("/other")));
    let _ = std::fs::remove_file(&path);
}

#[test]
fn unsupported_things_are_refused_with_their_line() {
    for (lines, cond) in [
        ("  acl a req.cook(x) y", "a"),
        ("  acl a hdr(host),map(/dev/null) y", "a"),
        ("  acl a path -m bin 00", "a"),
        ("  acl a path_reg (?<=a)b", "a"),
        ("", "RDP_COOKIE"),
    ] {
        let err = rules(lines, cond).map(|_| ()).expect_err(lines);
        let text = err.to_string();
        assert!(text.starts_with("[/"), "{text}");
        assert!(text.contains(".cfg:"), "{text}");
    }
}

#[test]
fn sample_helpers() {
    assert_eq!(uri_path("/a?b"), Some("/a?b"));
    assert_eq!(uri_path("http://h:1/a?b"), Some("/a?b"));
    assert_eq!(uri_path("http://h"), None);
    assert_eq!(uri_path("*"), None);
    assert_eq!(uri_path("h:443"), None);
    assert_eq!(url_params("/?a=1&a=2", "a", b'?'), ["1", "2"]);
    assert_eq!(url_params("/?xa=1&a=", "a", b'?'), [""]);
    assert_eq!(url_params("/?a", "a", b'?'), Vec::<&str>::new());
    assert_eq!(strl2ic("12abc"), 12);
    assert_eq!(strl2ic("-7"), -7);
    assert_eq!(
        parse_int_range("-5"),
        Ok(IntRange {
            min: None,
            max: Some(5)
        })
    );
    assert!(parse_int_range("5:1").is_err());
    // match_word() with a pattern that is empty once its delimiters are stripped.
    assert!(match_word(b"", b"/", false, b"/?"));
    assert!(match_word(b"a/", b"", false, b"/?"));
    assert!(!match_word(b"a", b"", false, b"/?"));
}

#[test]
fn basic_credentials_as_get_http_auth() {
    let creds = |v: &str| basic_credentials(&request("GET", "/", &[("Authorization", v)]));
    let pair = |u: &str, p: &str| Some((u.as_bytes().to_vec(), p.as_bytes().to_vec()));
    assert_eq!(creds("Basic YWxpY2U6czNjcmV0"), pair("alice", "s3cret"));
    assert_eq!(creds("bAsIc   YWxpY2U6czNjcmV0"), pair("alice", "s3cret"));
    assert_eq!(
        creds("B YWxpY2U6czNjcmV0"),
        pair("alice", "s3cret"),
        "strncasecmp on the scheme's length"
    );
    assert_eq!(creds("Basics YWxpY2U6czNjcmV0"), None);
    assert_eq!(
        creds("Basic YWxpY2U6czNjcmV0="),
        None,
        "length not a multiple of 4"
    );
    assert_eq!(creds("Basic Ym9iOmh1bnRlcjI="), pair("bob", "hunter2"));
    assert_eq!(creds("Basic YWxpY2U="), None, "no ':'");
    assert_eq!(base64_decode(b"YQ=="), Some(b"a".to_vec()));
    assert_eq!(base64_decode(b"Y==="), None);
    assert_eq!(base64_decode(b"YQ==YQ=="), None);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn evaluation_never_panics(
            uri in "[ -~]{0,40}",
            name in "[A-Za-z-]{1,8}",
            value in "[ -~]{0,40}",
            method in "[A-Z]{1,8}",
        ) {
            let r = rules(
                "  acl a path_dir /x\n  acl b hdr_dom(host) -i a.b\n  acl c url_param(q) -m sub z\n  acl d hdr(x-a,-2) -m reg ^a\n  acl e base_len gt 3\n  acl f hdr_val(x-a) ge 2",
                "a || b || c || d || e || f || !METH_GET || HTTP_URL_ABS",
            ).expect("compiles");
            let req = request(&method, &uri, &[(&name, &value), ("x-a", &value), ("Host", &value)]);
            let _ = r.backend_for(&req, &conn("[::ffff:1.2.3.4]:5"));
            let mut req2 = req.clone();
            let _ = r.on_request(&mut req2, &conn("1.2.3.4:5"));
        }
    }
}

mod compile_props {
    use super::*;
    use proptest::prelude::*;

    const FETCHES: &[&str] = &[
        "path",
        "path_beg",
        "path_dir",
        "url",
        "url_param",
        "hdr",
        "hdr_dom",
        "hdr_cnt",
        "hdr_val",
        "req.fhdr",
        "method",
        "src",
        "dst_port",
        "ssl_fc",
        "base",
        "query",
        "req.ver",
        "status",
        "res.hdr",
        "nope",
    ];
    const METHODS: &[&str] = &[
        "str", "beg", "end", "sub", "reg", "dir", "dom", "len", "int", "ip", "found", "bool", "bin",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Arbitrary criteria, patterns and requests: compiling either works or says why,
        /// and evaluating never panics.
        #[test]
        fn compiling_and_matching_never_panic(
            fetch in 0..FETCHES.len(),
            args in proptest::collection::vec("[ -~]{0,6}", 0..3),
            method in proptest::option::of(0..METHODS.len()),
            icase in any::<bool>(),
            patterns in proptest::collection::vec("[ -~]{0,12}", 0..4),
            uri in "[ -~]{0,30}",
            value in "[ -~]{0,30}",
            response in any::<bool>(),
        ) {
            let expr = AclExpression {
                fetch: Fetch { name: FETCHES[fetch].into(), args, converters: Vec::new() },
                ignore_case: icase,
                match_method: method.map(|m| METHODS[m].to_string()),
                pattern_files: Vec::new(),
                other_flags: Vec::new(),
                patterns,
            };
            let at = Location { file: "f".into(), line: 1 };
            let phase = if response { Phase::Response } else { Phase::Request };
            if let Ok(m) = AclMatcher::compile(&expr, &at, phase, &[]) {
                let req = request("GET", &uri, &[("Host", &value), ("X", &value)]);
                let res = ResponseHead {
                    version: HttpVersion::Http11,
                    status: 200,
                    reason: String::new(),
                    headers: req.headers.clone(),
                };
                let c = conn("[::1]:2");
                let s = Subject { request: &req, conn: &c, response: response.then_some(&res) };
                let _ = m.matches(&s);
            }
        }
    }
}
