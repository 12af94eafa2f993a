//! The pump's splice path (`option splice-*`) against its copy path, inside a network
//! namespace of the test's own (`hapio-<pid>-<n>`, deleted on drop), on its 127.0.0.1:
//! large payloads must arrive byte for byte in both directions across a half-close, and
//! the record must count what HAProxy's tcplog counts (`%B`: the bytes sent to the
//! client; the request bytes read from it), whichever path carried them. The splice
//! counter says which path did. The reference's own logs with `option splice-*` are
//! compared in tests/reference_io.rs.
//! Needs root; skipped otherwise.
#![allow(clippy::unwrap_used)]
#![cfg(target_os = "linux")]

mod common;

use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use proxy_engine::tcp_session::{
    run_session, BackendView, ClientConnection, Picked, PipeLimits, ServerPicker, ServerTarget,
    SessionRecord, SessionSettings, SplicePolicy, Splicing, BUFFER_SIZE,
};
use proxy_engine::traffic_log::{TerminationCause, TerminationPhase};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Always the one server.
struct One(SocketAddr);

impl ServerPicker for One {
    fn pick(&mut self, _client: SocketAddr, _previous: Option<&str>) -> Picked {
        Picked::Server(ServerTarget {
            name: "s1".into(),
            address: self.0,
            send_proxy: None,
            kill: Default::default(),
        })
    }

    fn view(&self, _server: &str) -> BackendView {
        BackendView {
            active_servers: 1,
            hash_based: false,
            server_running: true,
        }
    }
}

/// A payload no offset or repetition error can reproduce (xorshift bytes).
fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

const REQUEST: usize = 8 * 1024 * 1024 + 12_345;
const RESPONSE: usize = 16 * 1024 * 1024 + 678;

/// What the client and the server received, and the session's record.
struct Run {
    server_got: Vec<u8>,
    client_got: Vec<u8>,
    record: SessionRecord,
}

/// One session through `run_session`: the client sends `request` and half-closes; the
/// server reads to the FIN, only then answers `response` and closes; the client reads to
/// the end. The half-close is forwarded while the response still has to flow.
fn session(splice: Splicing, request: Vec<u8>, response: Vec<u8>) -> Run {
    let ns = common::Ns::new();
    ns.enter(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let server_addr = server.local_addr().unwrap();
            let front = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let front_addr = front.local_addr().unwrap();
            let server_task = tokio::spawn(async move {
                let (mut c, _) = server.accept().await.unwrap();
                let mut got = Vec::new();
                c.read_to_end(&mut got).await.unwrap();
                c.write_all(&response).await.unwrap();
                c.shutdown().await.unwrap();
                // Wait for the proxy's close so nothing is reset.
                let _ = c.read(&mut [0u8; 1]).await;
                got
            });
            let proxy_task = tokio::spawn(async move {
                let (stream, client) = front.accept().await.unwrap();
                let connection = ClientConnection {
                    local: stream.local_addr().unwrap(),
                    stream: stream.into(),
                    client,
                    accept_proxy: false,
                    accepted_at: SystemTime::now(),
                    accepted: Instant::now(),
                };
                let settings = SessionSettings {
                    splice,
                    ..SessionSettings::default()
                };
                run_session(connection, settings, &mut One(server_addr)).await
            });
            let client = TcpStream::connect(front_addr).await.unwrap();
            let (mut rd, mut wr) = client.into_split();
            let writer = tokio::spawn(async move {
                wr.write_all(&request).await.unwrap();
                wr.shutdown().await.unwrap();
                wr
            });
            let mut client_got = Vec::new();
            rd.read_to_end(&mut client_got).await.unwrap();
            drop(writer.await.unwrap());
            let server_got = server_task.await.unwrap();
            let record = proxy_task.await.unwrap();
            Run {
                server_got,
                client_got,
                record,
            }
        })
    })
}

fn check_exact(run: &Run, request: &[u8], response: &[u8]) {
    assert!(run.server_got == request, "request bytes differ");
    assert!(run.client_got == response, "response bytes differ");
    assert_eq!(run.record.bytes_from_client, request.len() as u64);
    assert_eq!(run.record.bytes_to_client, response.len() as u64);
    // Both sides closed cleanly: `--`.
    assert_eq!(run.record.termination.cause, TerminationCause::Normal);
    assert_eq!(run.record.termination.phase, TerminationPhase::None);
}

#[test]
fn splicing_both_ways_is_byte_exact_across_a_half_close() {
    if !common::can_run("splice") {
        return;
    }
    let request = payload(REQUEST, 1);
    let response = payload(RESPONSE, 2);
    let always = Splicing {
        request: SplicePolicy::Always,
        response: SplicePolicy::Always,
        pipes: PipeLimits::default(),
    };
    let run = session(always, request.clone(), response.clone());
    check_exact(&run, &request, &response);
    // Every byte went through the pipes but those the client sent while the server was
    // being connected: read into the buffer then (at most one, 32 KiB), as HAProxy does.
    let total = (REQUEST + RESPONSE) as u64;
    let early = total - run.record.bytes_spliced;
    assert!(early <= BUFFER_SIZE as u64, "{early} bytes copied");

    // One direction only: the other copies.
    let response_only = Splicing {
        request: SplicePolicy::Never,
        response: SplicePolicy::Always,
        pipes: PipeLimits::default(),
    };
    let run = session(response_only, request.clone(), response.clone());
    check_exact(&run, &request, &response);
    assert_eq!(run.record.bytes_spliced, RESPONSE as u64);

    // Bigger pipes (`tune.pipesize`).
    let big_pipes = Splicing {
        pipes: PipeLimits {
            max_pipes: None,
            pipe_size: Some(1024 * 1024),
        },
        ..always
    };
    let run = session(big_pipes, request.clone(), response.clone());
    check_exact(&run, &request, &response);
    assert!(total - run.record.bytes_spliced <= BUFFER_SIZE as u64);

    // No pipe left (`maxpipes` reached): copied, as HAProxy does.
    let no_pipes = Splicing {
        pipes: PipeLimits {
            max_pipes: Some(0),
            pipe_size: None,
        },
        ..always
    };
    let run = session(no_pipes, request.clone(), response.clone());
    check_exact(&run, &request, &response);
    assert_eq!(run.record.bytes_spliced, 0);

    // The copy path, same traffic, same counts.
    let run = session(Splicing::default(), request.clone(), response.clone());
    check_exact(&run, &request, &response);
    assert_eq!(run.record.bytes_spliced, 0);
}

#[test]
fn splice_auto_starts_on_a_fast_stream_only() {
    if !common::can_run("splice") {
        return;
    }
    let auto = Splicing {
        request: SplicePolicy::Auto,
        response: SplicePolicy::Auto,
        pipes: PipeLimits::default(),
    };
    // A small exchange never fills the buffer three times: copied.
    let (request, response) = (payload(100, 3), payload(3000, 4));
    let run = session(auto, request.clone(), response.clone());
    check_exact(&run, &request, &response);
    assert_eq!(run.record.bytes_spliced, 0);

    // A bulk response turns into a fast stream after its first full reads; what came
    // before stays in order.
    let (request, response) = (payload(100, 5), payload(RESPONSE, 6));
    let run = session(auto, request.clone(), response.clone());
    check_exact(&run, &request, &response);
    assert!(
        run.record.bytes_spliced > 0 && run.record.bytes_spliced < RESPONSE as u64,
        "spliced {} of {RESPONSE}",
        run.record.bytes_spliced
    );
}
