//! The byte-level cookie scan (spaces around `=`, `indirect` removal) and the response
//! side. What the real haproxy 2.6.12 sends and logs for the same shapes is checked in
//! `crates/ha-compat/tests/http_reference.rs` (the "cookie: …" cases).

use proptest::prelude::*;

use super::*;
use crate::http::acl::tests::request;
use crate::http::head::HttpVersion;

fn persistence(lines: &str) -> Result<Option<CookiePersistence>, ProxyError> {
    let text = format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\n\
         backend be\n{lines}\n  server w1 127.0.0.1:1 cookie s1\n  server w2 127.0.0.1:2 cookie s2\n"
    );
    let config = crate::balance::tests::load_config(&text);
    CookiePersistence::compile(config.proxy("be").expect("be"))
}

fn insert() -> CookiePersistence {
    persistence("  cookie SERVERID insert indirect nocache")
        .expect("compiles")
        .expect("configured")
}

fn cookies(value: &str, down: &[&str]) -> (RequestCookie, Vec<String>) {
    let mut req = request("GET", "/", &[("Host", "h"), ("Cookie", value)]);
    let result = insert().on_request(&mut req, &|s: &str| !down.contains(&s));
    (
        result,
        req.headers.values("cookie").map(str::to_string).collect(),
    )
}

#[test]
fn only_insert_mode_runs() {
    for refused in [
        "  cookie SERVERID rewrite",
        "  cookie SERVERID prefix",
        "  cookie SERVERID",
        "  cookie SERVERID insert preserve",
        "  cookie SERVERID insert maxidle 10s",
    ] {
        assert!(persistence(refused).is_err(), "{refused}");
    }
}

#[test]
fn indirect_removes_our_cookie_wherever_it_is() {
    let (r, left) = cookies("SERVERID=s2", &[]);
    assert_eq!((r.flag, r.server.as_deref()), ('V', Some("w2")));
    assert!(left.is_empty());
    let (_, left) = cookies("a=1; SERVERID=s1; b=2", &[]);
    assert_eq!(left, ["a=1; b=2"]);
    let (_, left) = cookies("SERVERID=s1; a=1", &[]);
    assert_eq!(left, ["a=1"]);
    let (_, left) = cookies("a=1; SERVERID=s1", &[]);
    assert_eq!(left, ["a=1"]);
}

#[test]
fn unknown_down_and_repeated_cookies() {
    assert_eq!(cookies("SERVERID=zz", &[]).0.flag, 'I');
    let (down, _) = cookies("SERVERID=s1", &["w1"]);
    assert_eq!((down.flag, down.server), ('D', None));
    // The first finding stays (haproxy 2.6.12 logs `VN`).
    assert_eq!(cookies("SERVERID=s1; SERVERID=s2", &[]).0.flag, 'V');
    // A later valid one still wins over an unknown first one.
    assert_eq!(cookies("SERVERID=zz; SERVERID=s2", &[]).0.flag, 'V');
    assert_eq!(cookies("a=1", &[]).0.flag, 'N');
}

#[test]
fn spaces_around_the_equal_sign_are_stripped_from_every_cookie() {
    let (_, left) = cookies("a = 1;  b=2", &[]);
    assert_eq!(left, ["a=1;  b=2"]);
}

#[test]
fn response_gets_the_cookie_unless_it_came_by_it() {
    let p = insert();
    let mut res = ResponseHead {
        version: HttpVersion::Http11,
        status: 200,
        reason: "OK".into(),
        headers: Headers(Vec::new()),
    };
    let none = RequestCookie {
        flag: 'N',
        server: None,
        dated: false,
    };
    assert_eq!(p.on_response(&mut res, "w1", &none, "GET"), 'I');
    assert_eq!(res.headers.first("set-cookie"), Some("SERVERID=s1; path=/"));
    // No validator nor freshness: not cacheable, no `Cache-control: private`.
    assert!(!res.headers.contains("cache-control"));
    let mut res2 = ResponseHead {
        headers: Headers(Vec::new()),
        ..res.clone()
    };
    res2.headers
        .add("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT");
    p.on_response(&mut res2, "w2", &none, "GET");
    assert_eq!(res2.headers.first("cache-control"), Some("private"));
    let direct = RequestCookie {
        flag: 'V',
        server: Some("w1".into()),
        dated: false,
    };
    let mut res3 = ResponseHead {
        headers: Headers(Vec::new()),
        ..res
    };
    assert_eq!(p.on_response(&mut res3, "w1", &direct, "GET"), 'N');
    assert!(!res3.headers.contains("set-cookie"));
}

fn sess(len: usize) -> CookieCapture {
    CookieCapture {
        prefix: "SESS".into(),
        len,
    }
}

/// `capture cookie SESS len N` on these `Cookie` lines: `%CC` and the lines as they go
/// on (the shapes of the "capture cookie: …" reference cases, haproxy 2.6.12's answers).
fn captured(lines: &[&str], len: usize) -> (Option<String>, Vec<String>) {
    let headers: Vec<(&str, &str)> = lines.iter().map(|l| ("Cookie", *l)).collect();
    let mut req = request("GET", "/", &headers);
    let (found, cc) = scan_request_cookies(&mut req, None, Some(&sess(len)), &|_| true);
    assert_eq!(found.flag, 'N');
    (
        cc,
        req.headers.values("cookie").map(str::to_string).collect(),
    )
}

#[test]
fn capture_takes_the_first_cookie_starting_with_the_name() {
    let (cc, _) = captured(&["a=1; SESSIONID=abcdefghijklmnop; SESS=x"], 12);
    assert_eq!(cc.as_deref(), Some("SESSIONID=ab"));
    let (cc, left) = captured(&["sess=lower; SES=1; SESS ; SESS = v1 ; b=2"], 12);
    assert_eq!(cc.as_deref(), Some("SESS=v1"));
    // Spaces around `=` go from the line sent on, with nothing else touched.
    assert_eq!(left, ["sess=lower; SES=1; SESS ; SESS=v1 ; b=2"]);
    let (cc, _) = captured(&["$Version=1; SESS=\"a b#{|}\""], 12);
    assert_eq!(cc.as_deref(), Some("SESS=\"a b#{|"));
    let (cc, _) = captured(&["a=1", "SESS=2nd"], 12);
    assert_eq!(cc.as_deref(), Some("SESS=2nd"));
    assert_eq!(captured(&["SESS="], 12).0.as_deref(), Some("SESS="));
    assert_eq!(captured(&["a=1"], 12).0, None);
    assert_eq!(captured(&["SESS=abc"], 0).0.as_deref(), Some(""));
}

#[test]
fn capture_and_persistence_read_the_same_scan() {
    let mut req = request("GET", "/", &[("Cookie", "SESS=1; SERVERID=s2")]);
    let p = insert();
    let (found, cc) = scan_request_cookies(&mut req, Some(&p), Some(&sess(63)), &|_| true);
    assert_eq!((found.flag, found.server.as_deref()), ('V', Some("w2")));
    assert_eq!(cc.as_deref(), Some("SESS=1"));
    assert_eq!(req.headers.values("cookie").collect::<Vec<_>>(), ["SESS=1"]);
}

#[test]
fn set_cookie_capture_reads_the_first_cookie_of_each_line() {
    let mut res = ResponseHead {
        version: HttpVersion::Http11,
        status: 200,
        reason: "OK".into(),
        headers: Headers(Vec::new()),
    };
    res.headers.add("Set-Cookie", "other=1");
    res.headers
        .add("Set-Cookie", "SESS = srv-value-long; path=/");
    res.headers.add("Set-Cookie", "SESS=second");
    let (flag, cs) = scan_set_cookies(&mut res, None, Some(&sess(12)));
    assert_eq!((flag, cs.as_deref()), ('N', Some("SESS=srv-val")));
    assert_eq!(
        res.headers.values("set-cookie").collect::<Vec<_>>(),
        ["other=1", "SESS=srv-value-long; path=/", "SESS=second"]
    );
}

proptest! {
    #[test]
    fn any_cookie_line_is_scanned_without_panic(value in "[ -~\t]{0,80}") {
        let p = insert();
        let mut req = request("GET", "/", &[("Cookie", value.as_str())]);
        let _ = p.on_request(&mut req, &|_| true);
        let mut req = request("GET", "/", &[("Cookie", value.as_str())]);
        let _ = scan_request_cookies(&mut req, Some(&p), Some(&sess(5)), &|_| true);
        let mut res = ResponseHead {
            version: HttpVersion::Http11,
            status: 200,
            reason: "OK".into(),
            headers: Headers(Vec::new()),
        };
        res.headers.add("Set-Cookie", &value);
        let _ = scan_set_cookies(&mut res, Some(&p), Some(&sess(3)));
    }
}
