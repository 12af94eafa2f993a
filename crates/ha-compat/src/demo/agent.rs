//! The demo's own web servers and client, run by the same binary inside the lab's
//! namespaces (`ha-compat demo-agent web NAME` / `client ADDR`), so the demo needs nothing
//! installed but iproute2, util-linux and psmisc.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// A web server on port 80 answering every request (`GET /` from the client, seed 001's
/// `option httpchk` health check `OPTIONS / HTTP/1.0`) with `200 OK` and its own name, then
/// closing the connection. Each request line is printed on stdout with the peer and its
/// `X-Forwarded-For` (seed 001's `option forwardfor`).
pub fn web(name: &str) -> Result<()> {
    let listener = TcpListener::bind("0.0.0.0:80").context("bind port 80")?;
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let name = name.to_owned();
        std::thread::spawn(move || answer(conn, &name));
    }
    Ok(())
}

fn answer(mut conn: TcpStream, name: &str) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&request);
    let line = text.lines().next().unwrap_or("");
    let forwarded = text
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("x-forwarded-for")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_else(|| "-".to_owned());
    let peer = conn
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    {
        let mut out = std::io::stdout().lock();
        // The demo reads this log at the end; a failed write only loses a line of it.
        let _ = writeln!(out, "{peer}\t{forwarded}\t{line}");
        let _ = out.flush();
    }
    let body = format!("{name}\n");
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = conn.write_all(response.as_bytes());
}

/// How often the client starts a request.
pub const CLIENT_INTERVAL: Duration = Duration::from_millis(20);

/// Starts `GET /` to `target` every [`CLIENT_INTERVAL`], each on its own thread with a 1 s
/// limit, and prints one line per request when it ends:
/// `START_MS\tok\tBODY` or `START_MS\tfail\tREASON` (START_MS since the client started).
pub fn client(target: SocketAddr) -> Result<()> {
    let start = Instant::now();
    loop {
        let started = start.elapsed();
        std::thread::spawn(move || {
            let outcome = match request(target) {
                Ok(body) => format!("ok\t{body}"),
                Err(e) => format!("fail\t{e}"),
            };
            let mut out = std::io::stdout().lock();
            // The demo reads these; if it is gone there is nobody to tell.
            let _ = writeln!(out, "{}\t{outcome}", started.as_millis());
            let _ = out.flush();
        });
        std::thread::sleep(CLIENT_INTERVAL);
    }
}

fn request(target: SocketAddr) -> std::result::Result<String, String> {
    let limit = Duration::from_secs(1);
    let mut conn = TcpStream::connect_timeout(&target, limit).map_err(|e| short(&e))?;
    conn.set_read_timeout(Some(limit)).map_err(|e| short(&e))?;
    let req = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        target.ip()
    );
    conn.write_all(req.as_bytes()).map_err(|e| short(&e))?;
    let mut response = Vec::new();
    conn.read_to_end(&mut response).map_err(|e| short(&e))?;
    let text = String::from_utf8_lossy(&response);
    let status = text.lines().next().unwrap_or("").to_owned();
    if !status.starts_with("HTTP/1.1 200") && !status.starts_with("HTTP/1.0 200") {
        return Err(if status.is_empty() {
            "closed without an answer".to_owned()
        } else {
            status
        });
    }
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.trim().to_owned())
        .unwrap_or_default();
    Ok(body)
}

fn short(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => "timed out".to_owned(),
        std::io::ErrorKind::ConnectionReset => "connection reset".to_owned(),
        _ => e.to_string(),
    }
}
