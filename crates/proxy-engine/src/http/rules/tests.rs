//! Rule order, stop semantics and rewrites, each read from HAProxy 2.6.12's http_ana.c /
//! http_act.c / http_htx.c. Byte-exact answers and rewrites against the real daemon are
//! in `tests/http_rules_vs_haproxy.rs`.

use super::*;
use crate::http::acl::tests::{conn, request};
use crate::http::head::serialize_request;

fn frontend(lines: &str) -> Result<CompiledRules, ProxyError> {
    let text = format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\n\
         frontend fe\n  bind 127.0.0.1:8080\n{lines}\n  default_backend be\n\
         backend be\n  server s 127.0.0.1:1\nbackend other\n  server s 127.0.0.1:2\n"
    );
    let config = crate::balance::tests::load_config(&text);
    CompiledRules::compile(&config, config.proxy("fe").expect("fe"))
}

fn run(lines: &str, req: &mut RequestHead) -> Verdict {
    frontend(lines)
        .expect("compiles")
        .on_request(req, &conn("10.0.0.1:4242"))
}

fn get(uri: &str) -> RequestHead {
    request("GET", uri, &[("Host", "h.example")])
}

fn text(req: &RequestHead) -> String {
    String::from_utf8(serialize_request(req)).expect("utf-8")
}

#[test]
fn allow_stops_http_request_rules_but_not_redirect_rules() {
    let mut r = get("/");
    let v = run(
        "  http-request allow\n  http-request deny\n  redirect location /x",
        &mut r,
    );
    assert!(matches!(v, Verdict::Redirect(_)), "{v:?}");
}

#[test]
fn deny_auth_return_stop_and_defaults() {
    assert_eq!(
        run(
            "  http-request deny\n  http-request set-header X 1",
            &mut get("/")
        ),
        Verdict::Deny { status: 403 }
    );
    assert_eq!(
        run("  http-request deny deny_status 429", &mut get("/")),
        Verdict::Deny { status: 429 }
    );
    assert_eq!(
        run("  http-request auth", &mut get("/")),
        Verdict::Auth { realm: "fe".into() }
    );
    assert_eq!(
        run("  http-request auth realm Private", &mut get("/")),
        Verdict::Auth {
            realm: "Private".into()
        }
    );
}

#[test]
fn header_rewrites_in_order() {
    let mut r = request(
        "GET",
        "/",
        &[("Host", "h"), ("X-A", "1"), ("x-a", "2"), ("X-B", "b")],
    );
    let v = run(
        "  http-request set-header X-A new\n  http-request add-header X-C %[req.hdr(x-a)]-%[src]:%[src_port]\n  http-request del-header x-b\n  http-request set-header X-Proto https if { ssl_fc }",
        &mut r,
    );
    assert_eq!(v, Verdict::Continue);
    assert_eq!(
        text(&r),
        "GET / HTTP/1.1\r\nhost: h\r\nx-a: new\r\nx-c: new-10.0.0.1:4242\r\n\r\n"
    );
}

#[test]
fn replace_header_and_value() {
    let mut r = request("GET", "/", &[("X-A", "foo=1, bar=2"), ("X-B", "abc")]);
    run(
        "  http-request replace-value X-A ^(\\w+)=(\\d)$ \\2:\\1\n  http-request replace-header X-B b(c) <\\1>",
        &mut r,
    );
    assert_eq!(r.headers.first("x-a"), Some("1:foo, 2:bar"));
    // The whole value becomes the replacement, not only the matched part.
    assert_eq!(r.headers.first("x-b"), Some("<c>"));
}

#[test]
fn path_query_uri_method() {
    let mut r = get("/old/x?q=1");
    run("  http-request set-path /new%[path]", &mut r);
    assert_eq!(r.uri, "/new/old/x?q=1");
    let mut r = get("/a?q=1");
    run("  http-request set-query z=2", &mut r);
    assert_eq!(r.uri, "/a?z=2");
    let mut r = get("/a");
    run("  http-request set-query z=2", &mut r);
    assert_eq!(r.uri, "/a?z=2");
    let mut r = get("/a");
    run("  http-request set-query %[req.hdr(x-none)]", &mut r);
    assert_eq!(r.uri, "/a");
    let mut r = get("/img/a.png?v=3");
    run("  http-request replace-path /img/(.*) /static/\\1", &mut r);
    assert_eq!(r.uri, "/static/a.png?v=3");
    let mut r = get("/a");
    run(
        "  http-request set-uri /b?c\n  http-request set-method POST",
        &mut r,
    );
    assert_eq!((r.method.as_str(), r.uri.as_str()), ("POST", "/b?c"));
    let mut r = get("/a");
    run(
        "  http-request set-uri http://user@other.example:81/z",
        &mut r,
    );
    assert_eq!(r.headers.first("host"), Some("other.example:81"));
}

#[test]
fn redirect_shapes() {
    let reply = |lines: &str, req: &mut RequestHead| match run(lines, req) {
        Verdict::Redirect(r) => String::from_utf8(r.to_bytes()).expect("utf-8"),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        reply("  http-request redirect prefix /p", &mut get("/a?b")),
        "HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /p/a?b\r\ncache-control: no-cache\r\n\r\n"
    );
    assert_eq!(
        reply(
            "  redirect prefix / drop-query append-slash code 301",
            &mut get("/a?b")
        ),
        "HTTP/1.1 301 Moved Permanently\r\ncontent-length: 0\r\nlocation: /a/\r\n\r\n"
    );
    assert_eq!(
        reply("  http-request redirect scheme https code 308", &mut get("/a")),
        "HTTP/1.1 308 Permanent Redirect\r\ncontent-length: 0\r\nlocation: https://h.example/a\r\n\r\n"
    );
    assert_eq!(
        reply("  redirect location /x%[src] set-cookie A=1 code 303", &mut get("/")),
        "HTTP/1.1 303 See Other\r\ncontent-length: 0\r\nlocation: /x%[src]\r\ncache-control: no-cache\r\nset-cookie: A=1; path=/;\r\n\r\n"
    );
}

#[test]
fn return_shapes() {
    let reply = |lines: &str| match run(lines, &mut get("/")) {
        Verdict::Return(r) => String::from_utf8(r.to_bytes()).expect("utf-8"),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        reply("  http-request return status 204"),
        // No content-length on a 204: the H1 multiplexer drops it (measured on 2.6.12).
        "HTTP/1.1 204 No Content\r\n\r\n"
    );
    assert_eq!(
        reply("  http-request return status 200 content-type text/plain string hi hdr X-A %[src] hdr X-E %[req.hdr(none)]"),
        "HTTP/1.1 200 OK\r\nx-a: 10.0.0.1\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nhi"
    );
}

#[test]
fn use_backend_dynamic_names() {
    let r = frontend("  use_backend %[req.hdr(x-be)] if { req.hdr(x-be) -m found }").expect("ok");
    let c = conn("10.0.0.1:1");
    let with = |v: &str| request("GET", "/", &[("X-Be", v)]);
    assert_eq!(r.backend_for(&with("other"), &c).as_deref(), Some("other"));
    assert_eq!(r.backend_for(&with("nope"), &c).as_deref(), Some("be"));
    assert_eq!(r.backend_for(&get("/"), &c).as_deref(), Some("be"));
}

#[test]
fn response_rules() {
    let r = frontend(
        "  http-response set-header X-S %[status]\n  http-response del-header server\n  http-response deny if { status 500 }",
    )
    .expect("ok");
    let req = get("/");
    let mut res = ResponseHead {
        version: HttpVersion::Http11,
        status: 200,
        reason: "OK".into(),
        headers: Headers(vec![header("Server", "x")]),
    };
    assert_eq!(
        r.on_response(&req, &conn("10.0.0.1:1"), &mut res),
        ResponseVerdict::Continue
    );
    assert_eq!(res.headers.0, vec![header("X-S", "200")]);
    res.status = 500;
    assert_eq!(
        r.on_response(&req, &conn("10.0.0.1:1"), &mut res),
        ResponseVerdict::Deny { status: 502 }
    );
}

#[test]
fn after_response_rules_set_the_status_and_allow_stops_them() {
    let r = frontend(
        "  http-after-response set-status 299 reason Fine if { status 204 }\n  http-after-response set-status 418 if { status 299 }\n  http-after-response allow if { status 418 }\n  http-after-response add-header X-S %[status]",
    )
    .expect("ok");
    let req = get("/");
    let mut res = ResponseHead {
        version: HttpVersion::Http11,
        status: 204,
        reason: "No Content".into(),
        headers: Headers(Vec::new()),
    };
    assert!(r.has_after_response_rules());
    assert_eq!(
        r.on_after_response(&req, &conn("10.0.0.1:1"), &mut res),
        ResponseVerdict::Continue
    );
    // Each rule sees what the one before did; without a reason, the status's own.
    assert_eq!((res.status, res.reason.as_str()), (418, "I'm a teapot"));
    assert!(res.headers.0.is_empty());
    // `http-response` rules are another list.
    assert_eq!(
        r.on_response(&req, &conn("10.0.0.1:1"), &mut res),
        ResponseVerdict::Continue
    );
}

#[test]
fn stats_rules_first_match_decides() {
    let r = frontend(
        "  stats enable\n  stats http-request allow if { hdr(x-a) 1 }\n  stats http-request deny deny_status 429 if { hdr(x-d) 1 }\n  stats http-request auth unless { hdr(x-d) 2 }",
    )
    .expect("ok");
    let c = conn("10.0.0.1:1");
    let with = |name: &str| request("GET", "/", &[("Host", "h"), (name, "1")]);
    assert_eq!(r.on_stats_request(&with("x-a"), &c), StatsVerdict::Page);
    assert_eq!(
        r.on_stats_request(&with("x-d"), &c),
        StatsVerdict::Deny { status: 429 }
    );
    // No realm: the stats page's, not the proxy name.
    assert_eq!(
        r.on_stats_request(&get("/"), &c),
        StatsVerdict::Auth {
            realm: "HAProxy Statistics".into()
        }
    );
    let none = request("GET", "/", &[("Host", "h"), ("x-d", "2")]);
    assert_eq!(r.on_stats_request(&none, &c), StatsVerdict::Page);
}

#[test]
fn refusals() {
    for line in [
        "  http-request tarpit",
        "  http-request set-header X %ci",
        "  http-request set-header X %[req.cook(a)]",
        "  http-request return status 200 errorfile /dev/null",
        "  http-request deny deny_status 403 content-type text/plain string no",
        "  http-response set-header X %[path]",
        "  http-request set-var(txn.a) str(b)",
        "  http-after-response set-var(txn.a) str(b)",
        "  http-after-response strict-mode on",
    ] {
        assert!(frontend(line).is_err(), "{line}");
    }
}
