//! The session core against a fake target. Expected bytes were recorded from haproxy
//! 2.6.12's stats socket (see `crates/ha-compat/tests/cli_reference.rs`, which compares
//! the two live).

use std::cell::RefCell;

use super::*;
use crate::http::stats::{BackendSide, ProxyStats, ServerRow};

#[derive(Default)]
struct Fake {
    weights: RefCell<Vec<(u32, u32)>>,
    actions: RefCell<Vec<(usize, AdminAction)>>,
    global: RefCell<Option<u32>>,
}

impl CliTarget for Fake {
    fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            proxies: vec![ProxyStats {
                name: "be".into(),
                iid: 3,
                mode: crate::http::stats::ProxyMode::Http,
                description: None,
                frontend: None,
                backend: Some(BackendSide {
                    servers: vec![
                        ServerRow {
                            name: "s1".into(),
                            sid: 1,
                            addr: "127.0.0.1:8001".into(),
                            uweight: self.weights.borrow()[0].0,
                            ..ServerRow::default()
                        },
                        ServerRow {
                            name: "s2".into(),
                            sid: 2,
                            addr: "127.0.0.1:8002".into(),
                            uweight: self.weights.borrow()[1].0,
                            ..ServerRow::default()
                        },
                    ],
                    ..BackendSide::default()
                }),
            }],
            ..StatsSnapshot::default()
        }
    }
    fn info_extra(&self) -> InfoExtra {
        InfoExtra {
            hard_maxconn: 9984,
            ..InfoExtra::default()
        }
    }
    fn find_server(&self, backend: &str, server: &str) -> Result<ServerRef, LookupError> {
        if backend != "be" {
            return Err(LookupError::NoSuchBackend);
        }
        match server {
            "s1" => Ok(ServerRef {
                backend: 0,
                server: 0,
            }),
            "s2" => Ok(ServerRef {
                backend: 0,
                server: 1,
            }),
            _ => Err(LookupError::NoSuchServer),
        }
    }
    fn find_backend(&self, name: &str) -> Option<usize> {
        (name == "be").then_some(0)
    }
    fn weight(&self, server: ServerRef) -> (u32, u32) {
        self.weights.borrow()[server.server]
    }
    fn set_weight(&self, server: ServerRef, weight: u32) -> Result<(), String> {
        self.weights.borrow_mut()[server.server].0 = weight;
        Ok(())
    }
    fn admin(&self, server: ServerRef, action: AdminAction) {
        self.actions.borrow_mut().push((server.server, action));
    }
    fn set_server_maxconn(&self, _: ServerRef, _: u32) {}
    fn set_frontend_maxconn(&self, _: &str, _: u32) -> bool {
        false
    }
    fn set_global_maxconn(&self, maxconn: u32) {
        *self.global.borrow_mut() = Some(maxconn);
    }
    fn sessions(&self) -> Option<Vec<SessionLine>> {
        None
    }
    fn server_extras(&self, _: ServerRef) -> (bool, u16) {
        (false, 0)
    }
}

fn fake() -> Fake {
    Fake {
        weights: RefCell::new(vec![(1, 1), (50, 50)]),
        ..Fake::default()
    }
}

fn run(level: Level, input: &str, target: &Fake) -> (String, bool) {
    let mut s = Session::new(level);
    let out = s.feed(input.as_bytes(), false, target);
    (String::from_utf8(out.bytes).unwrap(), out.close)
}

#[test]
fn replies_are_haproxys() {
    let t = fake();
    let cases: &[(&str, &str)] = &[
        ("get weight be/s2\n", "50 (initial 50)\n\n"),
        ("get weight be/zz\n", "No such server.\n\n"),
        ("get weight zz/s1\n", "No such backend.\n\n"),
        ("get weight\n", "Require 'backend/server'.\n\n"),
        ("set weight be/s2\n", "Require <weight> or <weight%>.\n\n"),
        (
            "set weight be/s2 300\n",
            "Absolute weight can only be between 0 and 256 inclusive.\n\n",
        ),
        (
            "set weight be/s2 5x\n",
            "Trailing garbage in weight string\n",
        ),
        (
            "set server be/s2 state foo\n",
            "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n",
        ),
        (
            "set maxconn server be/s2 x\n",
            "maxconn string empty or preceded by garbage\n",
        ),
        ("set maxconn global 99999\n", "Value out of range.\n\n"),
        ("set maxconn global\n", "Expects an integer value.\n\n"),
        ("show servers state zz\n", "Can't find backend.\n\n"),
        ("show backend\n", "# name\nbe\n\n"),
        ("show cli level\n", "admin\n\n"),
        (
            "operator;show cli level;user;show cli level;operator\n",
            "\noperator\n\n\nuser\n\nPermission denied\n\n",
        ),
    ];
    for (input, expected) in cases {
        let (out, close) = run(Level::Admin, input, &t);
        assert_eq!(&out, expected, "{input:?}");
        assert!(
            close,
            "{input:?}: a non-interactive session ends when nothing waits"
        );
    }
}

#[test]
fn levels_are_enforced() {
    let t = fake();
    for cmd in [
        "set weight be/s1 2\n",
        "disable server be/s1\n",
        "set maxconn global 5\n",
        "enable health be/s1\n",
    ] {
        assert_eq!(
            run(Level::Operator, cmd, &t).0,
            "Permission denied\n\n",
            "{cmd}"
        );
        assert_eq!(
            run(Level::User, cmd, &t).0,
            "Permission denied\n\n",
            "{cmd}"
        );
    }
    assert_eq!(
        run(Level::User, "show sess\n", &t).0,
        "Permission denied\n\n"
    );
    assert_eq!(
        run(Level::User, "get weight be/s1\n", &t).0,
        "1 (initial 1)\n\n"
    );
    assert!(t.actions.borrow().is_empty());
    assert_eq!(t.weights.borrow()[0].0, 1);
}

#[test]
fn changes_reach_the_target() {
    let t = fake();
    assert_eq!(run(Level::Admin, "set weight be/s2 20%\n", &t).0, "\n");
    assert_eq!(t.weights.borrow()[1].0, 10, "20% of the initial 50");
    assert_eq!(
        run(
            Level::Admin,
            "set server be/s1 state drain;disable server be/s2;enable health be/s1\n",
            &t
        )
        .0,
        "\n\n\n"
    );
    assert_eq!(
        *t.actions.borrow(),
        vec![
            (0, AdminAction::Drain),
            (1, AdminAction::Maint),
            (0, AdminAction::EnableHealth)
        ]
    );
    assert_eq!(run(Level::Admin, "set maxconn global 0\n", &t).0, "\n");
    assert_eq!(*t.global.borrow(), Some(9984), "0 means the hard limit");
}

#[test]
fn framing_prompt_and_severity() {
    let t = fake();
    // Recorded from 2.6.12: prompt, a refusal, severity numbers, two commands on a line.
    let mut s = Session::new(Level::Admin);
    let mut all = Vec::new();
    for chunk in [
        "prompt\n",
        "show cli level\n",
        "user\n",
        "operator\n",
        "set severity-output number\n",
        "get weight be/zz\n",
        "get weight be/s1;get weight be/s2\n",
    ] {
        let out = s.feed(chunk.as_bytes(), false, &t);
        assert!(!out.close);
        all.extend(out.bytes);
    }
    assert_eq!(
        String::from_utf8(all).unwrap(),
        "\n> admin\n\n> \n> Permission denied\n\n> \n> [3]: No such server.\n\n> 1 (initial 1)\n\n> 50 (initial 50)\n\n> "
    );
    assert!(s.feed(b"quit\n", false, &t).close);
    // A line still incomplete waits; `\r\n` ends a line; `\;` is not a separator.
    let mut s = Session::new(Level::Admin);
    let out = s.feed(b"get weight be/s1", false, &t);
    assert!(out.bytes.is_empty() && !out.close);
    let out = s.feed(b"\r\n", false, &t);
    assert_eq!(out.bytes, b"1 (initial 1)\n\n");
    assert_eq!(
        split_words(b"set  server be\\;x\\\\ \tstate"),
        ["set", "server", "be;x\\", "state"]
    );
}

#[test]
fn unknown_commands_get_the_lists() {
    let t = fake();
    let (out, _) = run(Level::Admin, "set maxconn foo\n", &t);
    assert_eq!(
        out,
        "Unknown command, but maybe one of the following ones is a better match:\n  set maxconn frontend <frontend> <value> : change a frontend's maxconn setting\n  set maxconn global <value>              : change the per-process maxconn setting\n  set maxconn server <bk>/<srv>           : change a server's maxconn setting\n  help [<command>]                        : list matching or all commands\n  prompt                                  : toggle interactive mode with prompt\n  quit                                    : disconnect\n\n"
    );
    let (out, _) = run(Level::Admin, "\n", &t);
    assert!(out.starts_with("Unknown command. Please enter one of the following commands only:\n"));
    let (out, _) = run(Level::Admin, "help get weight\n", &t);
    assert_eq!(out, "The following commands are valid at this level:\n  get weight <bk>/<srv>                   : report a server's current weight\n  help [<command>]                        : list matching or all commands\n  prompt                                  : toggle interactive mode with prompt\n  quit                                    : disconnect\n\n");
}

proptest::proptest! {
    #[test]
    fn any_input_is_answered_without_panicking(chunks in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), 0..6)) {
        let t = fake();
        let mut s = Session::new(Level::Admin);
        for c in &chunks {
            let _ = s.feed(c, false, &t);
        }
        let _ = s.feed(b"", true, &t);
    }
}
