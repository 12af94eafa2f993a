//! What HAProxy 2.6 prints on SIGHUP (`sig_dump_state()` in `haproxy.c`): every proxy's
//! servers with their state and connection counts, then a summary of the proxy. Pure:
//! a typed snapshot in, the lines and where each goes out. The engine fills the snapshot
//! ([`crate::engine::StateDumper`]); the process calls it on SIGHUP and keeps running.

/// One server as `sig_dump_state()` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerDump {
    pub name: String,
    /// `cur_state != SRV_ST_STOPPED`: a server in maintenance is DOWN (HAProxy stops
    /// it), a draining one is UP.
    pub up: bool,
    /// `cur_sess`: connections to the server being made or established.
    pub sessions: u32,
    /// `queue.length`: connections waiting in the server's own queue.
    pub queued: u32,
    /// `counters.cum_sess` (the stats page's `stot`).
    pub cumulated: u64,
}

/// One proxy (frontend, backend or listen) as `sig_dump_state()` reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyDump {
    pub name: String,
    /// `p->srv`, in configuration order.
    pub servers: Vec<ServerDump>,
    /// `srv_act`/`srv_bck`: usable active and backup servers.
    pub usable_active: u32,
    pub usable_backup: u32,
    /// `feconn`: the frontend's connections now.
    pub frontend_conns: u32,
    /// `beconn`: the streams in the backend now (queued ones included).
    pub backend_conns: u32,
    /// `totpend`: connections waiting in the backend's and its servers' queues.
    pub pending: u32,
    /// `queue.length`: those waiting in the backend's own queue (not yet assigned).
    pub unassigned: u32,
    /// `fe_counters.cum_conn` and `be_counters.cum_conn`.
    pub frontend_cumulated: u64,
    pub backend_cumulated: u64,
}

/// Where a line goes: HAProxy's `ha_warning()` (stderr, `[WARNING]`) and/or
/// `send_log(p, LOG_NOTICE, ...)` with the proxy's own log targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Stderr,
    /// The log of the proxy at this index of the snapshot.
    Log(usize),
    Both(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpLine {
    pub target: Target,
    pub text: String,
}

/// The lines of one SIGHUP, in HAProxy's order (`proxies_list`: configuration order,
/// the internal `<HTTPCLIENT>` last).
pub fn dump_lines(proxies: &[ProxyDump]) -> Vec<DumpLine> {
    let mut lines = vec![DumpLine {
        target: Target::Stderr,
        text: "SIGHUP received, dumping servers states.".into(),
    }];
    for (index, p) in proxies.iter().enumerate() {
        lines.push(DumpLine {
            target: Target::Log(index),
            text: format!(
                "SIGHUP received, dumping servers states for proxy {}.",
                p.name
            ),
        });
        for s in &p.servers {
            lines.push(DumpLine {
                target: Target::Both(index),
                text: format!(
                    "SIGHUP: Server {}/{} is {}. Conn: {} act, {} pend, {} tot.",
                    p.name,
                    s.name,
                    if s.up { "UP" } else { "DOWN" },
                    s.sessions,
                    s.queued,
                    s.cumulated
                ),
            });
        }
        let conns = format!(
            "Conn: act(FE+BE): {}+{}, {} pend ({} unass), tot(FE+BE): {}+{}.",
            p.frontend_conns,
            p.backend_conns,
            p.pending,
            p.unassigned,
            p.frontend_cumulated,
            p.backend_cumulated
        );
        let summary = if p.servers.is_empty() {
            format!("SIGHUP: Proxy {} has no servers. {conns}", p.name)
        } else if p.usable_active == 0 {
            let state = if p.usable_backup > 0 {
                "is running on backup servers"
            } else {
                "has no server available"
            };
            format!("SIGHUP: Proxy {} {state} ! {conns}", p.name)
        } else {
            format!(
                "SIGHUP: Proxy {} has {} active servers and {} backup servers available. {conns}",
                p.name, p.usable_active, p.usable_backup
            )
        };
        lines.push(DumpLine {
            target: Target::Both(index),
            text: summary,
        });
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str, up: bool) -> ServerDump {
        ServerDump {
            name: name.into(),
            up,
            sessions: 1,
            queued: 2,
            cumulated: 3,
        }
    }

    #[test]
    fn each_proxy_gets_its_header_servers_and_one_of_three_summaries() {
        let proxies = vec![
            ProxyDump {
                name: "fe".into(),
                frontend_conns: 2,
                frontend_cumulated: 7,
                ..ProxyDump::default()
            },
            ProxyDump {
                name: "be".into(),
                servers: vec![server("a", true), server("b", false)],
                usable_active: 1,
                usable_backup: 1,
                backend_conns: 4,
                pending: 3,
                unassigned: 1,
                backend_cumulated: 9,
                ..ProxyDump::default()
            },
            ProxyDump {
                name: "bk".into(),
                servers: vec![server("c", false)],
                usable_backup: 1,
                ..ProxyDump::default()
            },
            ProxyDump {
                name: "dead".into(),
                servers: vec![server("d", false)],
                ..ProxyDump::default()
            },
        ];
        let lines = dump_lines(&proxies);
        let texts: Vec<(Target, &str)> = lines.iter().map(|l| (l.target, &*l.text)).collect();
        assert_eq!(
            texts,
            vec![
                (Target::Stderr, "SIGHUP received, dumping servers states."),
                (Target::Log(0), "SIGHUP received, dumping servers states for proxy fe."),
                (Target::Both(0), "SIGHUP: Proxy fe has no servers. Conn: act(FE+BE): 2+0, 0 pend (0 unass), tot(FE+BE): 7+0."),
                (Target::Log(1), "SIGHUP received, dumping servers states for proxy be."),
                (Target::Both(1), "SIGHUP: Server be/a is UP. Conn: 1 act, 2 pend, 3 tot."),
                (Target::Both(1), "SIGHUP: Server be/b is DOWN. Conn: 1 act, 2 pend, 3 tot."),
                (Target::Both(1), "SIGHUP: Proxy be has 1 active servers and 1 backup servers available. Conn: act(FE+BE): 0+4, 3 pend (1 unass), tot(FE+BE): 0+9."),
                (Target::Log(2), "SIGHUP received, dumping servers states for proxy bk."),
                (Target::Both(2), "SIGHUP: Server bk/c is DOWN. Conn: 1 act, 2 pend, 3 tot."),
                (Target::Both(2), "SIGHUP: Proxy bk is running on backup servers ! Conn: act(FE+BE): 0+0, 0 pend (0 unass), tot(FE+BE): 0+0."),
                (Target::Log(3), "SIGHUP received, dumping servers states for proxy dead."),
                (Target::Both(3), "SIGHUP: Server dead/d is DOWN. Conn: 1 act, 2 pend, 3 tot."),
                (Target::Both(3), "SIGHUP: Proxy dead has no server available ! Conn: act(FE+BE): 0+0, 0 pend (0 unass), tot(FE+BE): 0+0."),
            ]
        );
    }
}
