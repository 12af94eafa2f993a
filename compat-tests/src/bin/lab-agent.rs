//! `lab-agent`: the helper program the network-namespace labs run inside their nodes.
//!
//! - `client`: sends one HTTP (or PING) request every few ms on a fixed schedule, forever, and
//!   appends one TSV record per request to a timeline file (read back with
//!   [`compat_tests::timeline`]).
//! - `request`: one raw TCP request, the response copied byte-exact to stdout.
//! - `pong`: the PING -> `PONG NAME` TCP service of seed 004.
//! - `syslog`: a UDP syslog receiver that appends one line per datagram to a file.
//!
//! Standalone and std only, so it can run anywhere through `nsenter` / `ip netns exec`. It never
//! panics on network input; usage and setup errors exit 2 with a message on stderr.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use compat_tests::timeline::{Outcome, Record};

const USAGE: &str = "\
usage: lab-agent COMMAND [OPTIONS]

  lab-agent client --target IP:PORT --mode http|ping --out FILE
                   [--interval-ms 10] [--timeout-ms 1000] [--host NAME] [--path /]
      One request every interval (request k starts at start + k*interval, each on its own
      thread, at most 500 in flight, else the tick is recorded as `skipped`), until killed.
      FILE is truncated, then one line is appended per request:
        start_us TAB end_us TAB outcome TAB backend TAB detail
      (µs since the UNIX epoch; outcome: ok http-NNN refused unreachable connect-timeout
      reset closed timeout bad-response error skipped; backend `-` if none).
      http: GET PATH with Host NAME (default: the target IP); 200 -> backend = first body
      line. ping: sends `PING\\r\\n`; `PONG NAME` -> backend NAME.

  lab-agent request --target IP:PORT [--send STRING] [--timeout-ms 2000]
      Connects, writes STRING (escapes \\r \\n \\t \\0 \\\\ \\xHH), shuts down the write side,
      copies the response to stdout until EOF or the timeout. Exit 0 if connected, 3 if the
      connection failed (refused, timeout, unreachable; message on stderr).

  lab-agent pong --listen IP:PORT --name NAME
      TCP service: a line starting with PING gets `PONG NAME\\n`, then the connection is
      closed. Prints `listening IP:PORT` once bound (port 0 picks a free port).

  lab-agent syslog --udp IP:PORT --out FILE
      Appends each datagram to FILE as one line (trailing newline/NUL trimmed, inner newlines
      replaced by spaces). Prints `listening IP:PORT` once bound.

  lab-agent help
      This text.

Options take a value: `--name VALUE` or `--name=VALUE`. Usage and setup errors exit 2.
";

/// Most client requests in flight at once; further ticks are recorded as `skipped`.
const MAX_IN_FLIGHT: usize = 500;
/// Most response bytes the client reads per request (the rest is ignored).
const CLIENT_READ_CAP: usize = 1 << 20;
/// Most response bytes `request` copies to stdout.
const REQUEST_READ_CAP: usize = 64 << 20;
/// Longest backend name and detail text written to the timeline.
const MAX_BACKEND: usize = 60;
const MAX_DETAIL: usize = 200;

// Linux errno values (no libc: the crate has no dependencies).
const EPIPE: i32 = 32;
const ENETDOWN: i32 = 100;
const ENETUNREACH: i32 = 101;
const ECONNABORTED: i32 = 103;
const ECONNRESET: i32 = 104;
const ETIMEDOUT: i32 = 110;
const ECONNREFUSED: i32 = 111;
const EHOSTDOWN: i32 = 112;
const EHOSTUNREACH: i32 = 113;

/// A failure that ends the program: message on stderr, exit `code`.
#[derive(Debug)]
struct Fail {
    code: i32,
    msg: String,
}

fn fail(msg: impl Into<String>) -> Fail {
    Fail {
        code: 2,
        msg: msg.into(),
    }
}

/// Writes a line to stderr, ignoring errors (eprintln! would panic on a closed stderr).
fn warn(msg: &str) {
    let _ = writeln!(io::stderr(), "lab-agent: {msg}");
}

/// Writes a line to stdout and flushes it, ignoring errors.
fn say(msg: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{msg}");
    let _ = out.flush();
}

fn main() {
    let mut args = Vec::new();
    for arg in std::env::args_os().skip(1) {
        match arg.into_string() {
            Ok(s) => args.push(s),
            Err(raw) => {
                warn(&format!("argument is not valid UTF-8: {raw:?}"));
                std::process::exit(2);
            }
        }
    }
    let code = match run(&args) {
        Ok(()) => 0,
        Err(f) => {
            warn(&f.msg);
            f.code
        }
    };
    std::process::exit(code);
}

fn run(args: &[String]) -> Result<(), Fail> {
    let Some((cmd, rest)) = args.split_first() else {
        let _ = io::stderr().write_all(USAGE.as_bytes());
        return Err(fail("missing command"));
    };
    if matches!(cmd.as_str(), "help" | "-h" | "--help") || rest.iter().any(|a| a == "--help") {
        let _ = io::stdout().write_all(USAGE.as_bytes());
        return Ok(());
    }
    match cmd.as_str() {
        "client" => client(&Opts::parse(
            cmd,
            rest,
            &[
                "target",
                "mode",
                "out",
                "interval-ms",
                "timeout-ms",
                "host",
                "path",
            ],
        )?),
        "request" => request(&Opts::parse(cmd, rest, &["target", "send", "timeout-ms"])?),
        "pong" => pong(&Opts::parse(cmd, rest, &["listen", "name"])?),
        "syslog" => syslog(&Opts::parse(cmd, rest, &["udp", "out"])?),
        other => Err(fail(format!(
            "unknown command {other:?} (client, request, pong, syslog, help)"
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Options

/// `--name value` options of one command.
#[derive(Debug)]
struct Opts {
    cmd: String,
    values: Vec<(String, String)>,
}

impl Opts {
    fn parse(cmd: &str, args: &[String], allowed: &[&str]) -> Result<Opts, Fail> {
        let mut values: Vec<(String, String)> = Vec::new();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let Some(opt) = arg.strip_prefix("--") else {
                return Err(fail(format!("{cmd}: unexpected argument {arg:?}")));
            };
            let (name, value) = match opt.split_once('=') {
                Some((n, v)) => (n, v.to_string()),
                None => match it.next() {
                    Some(v) => (opt, v.clone()),
                    None => return Err(fail(format!("{cmd}: --{opt} needs a value"))),
                },
            };
            if !allowed.contains(&name) {
                let list: Vec<String> = allowed.iter().map(|a| format!("--{a}")).collect();
                return Err(fail(format!(
                    "{cmd}: unknown option --{name} (expected {})",
                    list.join(", ")
                )));
            }
            if values.iter().any(|(n, _)| n == name) {
                return Err(fail(format!("{cmd}: --{name} given twice")));
            }
            values.push((name.to_string(), value));
        }
        Ok(Opts {
            cmd: cmd.to_string(),
            values,
        })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str) -> Result<&str, Fail> {
        self.get(name)
            .ok_or_else(|| fail(format!("{}: --{name} is required", self.cmd)))
    }

    fn addr(&self, name: &str) -> Result<SocketAddr, Fail> {
        let v = self.required(name)?;
        v.parse().map_err(|_| {
            fail(format!(
                "{}: --{name} {v:?} is not IP:PORT (e.g. 10.0.0.1:80 or [fd00::1]:80)",
                self.cmd
            ))
        })
    }

    /// A duration in ms of at least 1 ms.
    fn millis(&self, name: &str, default: u64) -> Result<Duration, Fail> {
        let ms = match self.get(name) {
            None => default,
            Some(v) => v.parse::<u64>().ok().filter(|&ms| ms >= 1).ok_or_else(|| {
                fail(format!(
                    "{}: --{name} {v:?} is not a number of milliseconds >= 1",
                    self.cmd
                ))
            })?,
        };
        Ok(Duration::from_millis(ms))
    }

    /// A value that goes into a protocol line: no CR, LF or NUL.
    fn text(&self, name: &str) -> Result<Option<&str>, Fail> {
        match self.get(name) {
            Some(v) if v.is_empty() || v.contains(['\r', '\n', '\0']) => Err(fail(format!(
                "{}: --{name} must be non-empty, without CR, LF or NUL",
                self.cmd
            ))),
            other => Ok(other),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/// Microseconds since the UNIX epoch (0 if the clock is before it).
fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Bytes as printable ASCII: `\\`, `\r`, `\n`, `\t` and `\xHH` escapes; at most `max` input
/// bytes, `...` appended if there were more.
fn escape(bytes: &[u8], max: usize) -> String {
    let mut s = String::new();
    for &b in bytes.iter().take(max) {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    if bytes.len() > max {
        s.push_str("...");
    }
    s
}

/// Interprets `\r \n \t \0 \\ \xHH` in `s`.
fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let Some(&e) = bytes.get(i) else {
            return Err("a trailing backslash (write \\\\ for one)".to_string());
        };
        i += 1;
        match e {
            b'r' => out.push(b'\r'),
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'0' => out.push(0),
            b'\\' => out.push(b'\\'),
            b'x' => {
                let hex = bytes
                    .get(i..i + 2)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("\\x at byte {} needs two hex digits", i - 2))?;
                out.push(hex);
                i += 2;
            }
            other => {
                return Err(format!(
                    "unknown escape \\{} at byte {} (known: \\r \\n \\t \\0 \\\\ \\xHH)",
                    escape(&[other], 1),
                    i - 2
                ))
            }
        }
    }
    Ok(out)
}

/// Text for one timeline field: no tabs, newlines or other control characters, at most `max`
/// characters.
fn field(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().nth(max).is_some() {
        out.push_str("...");
    }
    out
}

/// How an io error ends a request (`connecting`: it came from connect()).
fn classify(e: &io::Error, connecting: bool) -> Outcome {
    let timed_out = if connecting {
        Outcome::ConnectTimeout
    } else {
        Outcome::Timeout
    };
    match e.raw_os_error() {
        Some(ECONNREFUSED) => Outcome::Refused,
        Some(EHOSTUNREACH | ENETUNREACH | EHOSTDOWN | ENETDOWN) => Outcome::Unreachable,
        Some(ECONNRESET | ECONNABORTED) => Outcome::Reset,
        Some(EPIPE) => Outcome::Closed,
        Some(ETIMEDOUT) => timed_out,
        _ => match e.kind() {
            io::ErrorKind::ConnectionRefused => Outcome::Refused,
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => Outcome::Reset,
            io::ErrorKind::BrokenPipe => Outcome::Closed,
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => timed_out,
            _ => Outcome::Error,
        },
    }
}

/// Time left until `deadline`, `None` once it has passed.
fn remaining(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
}

/// How reading a response ended.
#[derive(Debug)]
enum End {
    Eof,
    /// The deadline passed.
    Timeout,
    /// The size cap was reached.
    Cap,
    Error(io::Error),
}

/// Reads until EOF, the deadline, an error, or `cap` bytes.
fn read_until_end(stream: &mut TcpStream, deadline: Instant, cap: usize) -> (Vec<u8>, End) {
    let mut data = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        if data.len() >= cap {
            return (data, End::Cap);
        }
        let Some(left) = remaining(deadline) else {
            return (data, End::Timeout);
        };
        if let Err(e) = stream.set_read_timeout(Some(left)) {
            return (data, End::Error(e));
        }
        match stream.read(&mut buf) {
            Ok(0) => return (data, End::Eof),
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return (data, End::Timeout)
            }
            Err(e) => return (data, End::Error(e)),
        }
    }
}

/// Writes all of `bytes` before the deadline.
fn write_before(stream: &mut TcpStream, bytes: &[u8], deadline: Instant) -> io::Result<()> {
    let left = remaining(deadline)
        .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "deadline passed"))?;
    stream.set_write_timeout(Some(left))?;
    stream.write_all(bytes)
}

// ---------------------------------------------------------------------------------------------
// client

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Http,
    Ping,
}

#[derive(Debug)]
struct ClientCfg {
    target: SocketAddr,
    mode: Mode,
    timeout: Duration,
    /// The request bytes (the same for every request).
    request: Vec<u8>,
}

/// How a request ended, before the times are added.
#[derive(Debug)]
struct Answer {
    outcome: Outcome,
    backend: Option<String>,
    detail: String,
}

impl Answer {
    fn new(outcome: Outcome, detail: impl Into<String>) -> Answer {
        Answer {
            outcome,
            backend: None,
            detail: detail.into(),
        }
    }

    fn io(e: &io::Error, connecting: bool, what: &str) -> Answer {
        Answer::new(classify(e, connecting), format!("{what}: {e}"))
    }
}

fn client(opts: &Opts) -> Result<(), Fail> {
    let target = opts.addr("target")?;
    let mode = match opts.required("mode")? {
        "http" => Mode::Http,
        "ping" => Mode::Ping,
        other => {
            return Err(fail(format!(
                "client: --mode {other:?} is not http or ping"
            )))
        }
    };
    let out_path = opts.required("out")?;
    let interval = opts.millis("interval-ms", 10)?;
    let timeout = opts.millis("timeout-ms", 1000)?;
    let host = match opts.text("host")? {
        Some(h) => h.to_string(),
        None => match target.ip() {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        },
    };
    let path = opts.text("path")?.unwrap_or("/");
    if path.contains([' ', '\t']) {
        return Err(fail("client: --path must not contain spaces"));
    }
    if mode == Mode::Ping && (opts.get("host").is_some() || opts.get("path").is_some()) {
        return Err(fail("client: --host and --path are for --mode http"));
    }
    let request = match mode {
        Mode::Http => format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
             User-Agent: lab-agent\r\n\r\n"
        )
        .into_bytes(),
        Mode::Ping => b"PING\r\n".to_vec(),
    };
    let cfg = Arc::new(ClientCfg {
        target,
        mode,
        timeout,
        request,
    });
    let out = Arc::new(open_timeline(Path::new(out_path))?);
    let in_flight = Arc::new(AtomicUsize::new(0));
    let interval_us = u64::try_from(interval.as_micros()).unwrap_or(u64::MAX);
    let start = Instant::now();
    // A fixed schedule: tick k is due at start + k * interval. After a stall (e.g. the host
    // was suspended) the missed ticks are sent at once.
    for k in 0u64.. {
        let due = start + Duration::from_micros(interval_us.saturating_mul(k));
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        if in_flight.load(Ordering::SeqCst) >= MAX_IN_FLIGHT {
            let now = now_us();
            let detail = format!("{MAX_IN_FLIGHT} requests in flight");
            write_record(&out, now, now, Answer::new(Outcome::Skipped, detail));
            continue;
        }
        let guard = InFlight::new(&in_flight);
        let (cfg2, out2) = (Arc::clone(&cfg), Arc::clone(&out));
        let spawned = thread::Builder::new()
            .name(format!("request-{k}"))
            .stack_size(256 * 1024)
            .spawn(move || {
                let _guard = guard;
                let start_us = now_us();
                let answer = one_request(&cfg2);
                write_record(&out2, start_us, now_us(), answer);
            });
        if let Err(e) = spawned {
            // The guard moved into the closure, which was dropped with the error.
            let now = now_us();
            let detail = format!("cannot start a thread: {e}");
            write_record(&out, now, now, Answer::new(Outcome::Error, detail));
        }
    }
    Ok(())
}

/// Counts one request in flight while it lives.
#[derive(Debug)]
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn new(count: &Arc<AtomicUsize>) -> InFlight {
        count.fetch_add(1, Ordering::SeqCst);
        InFlight(Arc::clone(count))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Creates (truncates) the timeline file and opens it for appending, so that each record is
/// one append-mode write(2), never interleaved with another thread's.
fn open_timeline(path: &Path) -> Result<File, Fail> {
    let open = || -> io::Result<File> {
        let file = OpenOptions::new().append(true).create(true).open(path)?;
        file.set_len(0)?;
        Ok(file)
    };
    open().map_err(|e| fail(format!("cannot open {}: {e}", path.display())))
}

/// Appends one record as a single write; a failed write ends the program (exit 2).
fn write_record(out: &File, start_us: u64, end_us: u64, answer: Answer) {
    let record = Record {
        start_us,
        end_us: end_us.max(start_us),
        outcome: answer.outcome,
        backend: answer
            .backend
            .map(|b| field(&b, MAX_BACKEND).replace(' ', "_"))
            .filter(|b| !b.is_empty() && b != "-"),
        detail: field(&answer.detail, MAX_DETAIL),
    };
    let line = format!("{record}\n");
    // One write(2) in practice (a short line to a regular file); write_all only loops on a
    // partial write, which a regular file does not do short of a full disk.
    let mut w: &File = out;
    if let Err(e) = w.write_all(line.as_bytes()) {
        warn(&format!("cannot write the timeline: {e}"));
        std::process::exit(2);
    }
}

/// One request of the client, start to end.
fn one_request(cfg: &ClientCfg) -> Answer {
    let deadline = Instant::now() + cfg.timeout;
    let mut stream = match TcpStream::connect_timeout(&cfg.target, cfg.timeout) {
        Ok(s) => s,
        Err(e) => return Answer::io(&e, true, "connect"),
    };
    if let Err(e) = write_before(&mut stream, &cfg.request, deadline) {
        return Answer::io(&e, false, "send");
    }
    let (data, end) = read_until_end(&mut stream, deadline, CLIENT_READ_CAP);
    match end {
        End::Eof | End::Cap => {}
        End::Timeout => {
            let mut detail = format!("no EOF within the timeout ({} bytes)", data.len());
            if !data.is_empty() {
                detail = format!("{detail}: {}", escape(&data, 60));
            }
            return Answer::new(Outcome::Timeout, detail);
        }
        End::Error(e) => {
            let mut a = Answer::io(&e, false, "receive");
            a.detail = format!("{} after {} bytes", a.detail, data.len());
            return a;
        }
    }
    match cfg.mode {
        Mode::Http => parse_http(&data),
        Mode::Ping => parse_pong(&data),
    }
}

/// Position just after the first `\r\n\r\n` (or `\n\n`).
fn header_end(data: &[u8]) -> Option<usize> {
    let crlf = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4);
    let lf = data.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A whole HTTP response (read until EOF) judged.
fn parse_http(data: &[u8]) -> Answer {
    if data.is_empty() {
        return Answer::new(Outcome::Closed, "no response");
    }
    let bad = || Answer::new(Outcome::BadResponse, escape(data, 60));
    let incomplete = |what: &str| {
        Answer::new(
            Outcome::Closed,
            format!(
                "incomplete {what} ({} bytes): {}",
                data.len(),
                escape(data, 60)
            ),
        )
    };
    if !data.starts_with(b"HTTP/") {
        return if b"HTTP/".starts_with(data) {
            incomplete("status line")
        } else {
            bad()
        };
    }
    let Some(line_end) = data.iter().position(|&b| b == b'\n') else {
        return incomplete("status line");
    };
    let status_line = String::from_utf8_lossy(&data[..line_end]);
    let status_line = status_line.trim_end_matches('\r');
    let mut parts = status_line.splitn(3, ' ');
    let _version = parts.next();
    let code = match parts.next() {
        Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()) => match c.parse() {
            Ok(code) if code >= 100 => code,
            _ => return bad(),
        },
        _ => return bad(),
    };
    let reason = parts.next().unwrap_or("").trim().to_string();
    let Some(body_start) = header_end(data) else {
        return incomplete("headers");
    };
    let headers = String::from_utf8_lossy(&data[line_end + 1..body_start]);
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    for h in headers.lines() {
        let Some((name, value)) = h.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.trim().eq_ignore_ascii_case("content-length") {
            match value.parse() {
                Ok(n) => content_length = Some(n),
                Err(_) => return bad(),
            }
        } else if name.trim().eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    let raw_body = &data[body_start..];
    let body: Vec<u8> = if chunked {
        match dechunk(raw_body) {
            Ok(b) => b,
            Err(Dechunk::Incomplete) => return incomplete("chunked body"),
            Err(Dechunk::Bad) => return bad(),
        }
    } else if let Some(n) = content_length {
        if raw_body.len() < n {
            return Answer::new(
                Outcome::Closed,
                format!("incomplete body ({} of {n} bytes)", raw_body.len()),
            );
        }
        raw_body[..n].to_vec()
    } else {
        raw_body.to_vec()
    };
    if code != 200 {
        let mut a = Answer::new(Outcome::Http(code), reason);
        if a.detail.is_empty() {
            a.detail = status_line.to_string();
        }
        return a;
    }
    let text = String::from_utf8_lossy(&body);
    let first = text.lines().next().unwrap_or("").trim();
    if first.is_empty() {
        return Answer::new(Outcome::Ok, "empty body");
    }
    Answer {
        outcome: Outcome::Ok,
        backend: Some(first.to_string()),
        detail: String::new(),
    }
}

#[derive(Debug)]
enum Dechunk {
    Incomplete,
    Bad,
}

/// Decodes a chunked body (trailers ignored).
fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, Dechunk> {
    let mut body = Vec::new();
    loop {
        let nl = data
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(Dechunk::Incomplete)?;
        let line = std::str::from_utf8(&data[..nl]).map_err(|_| Dechunk::Bad)?;
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| Dechunk::Bad)?;
        data = &data[nl + 1..];
        if size == 0 {
            return Ok(body);
        }
        if data.len() < size {
            return Err(Dechunk::Incomplete);
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size..];
        data = data.strip_prefix(b"\r").unwrap_or(data);
        data = match data.strip_prefix(b"\n") {
            Some(rest) => rest,
            None if data.is_empty() => return Err(Dechunk::Incomplete),
            None => return Err(Dechunk::Bad),
        };
    }
}

/// A PING reply (read until EOF) judged.
fn parse_pong(data: &[u8]) -> Answer {
    if data.is_empty() {
        return Answer::new(Outcome::Closed, "no response");
    }
    let text = String::from_utf8_lossy(data);
    let line = text.lines().next().unwrap_or("").trim();
    if let Some(name) = line.strip_prefix("PONG ") {
        if let Some(name) = name.split_whitespace().next() {
            return Answer {
                outcome: Outcome::Ok,
                backend: Some(name.to_string()),
                detail: String::new(),
            };
        }
    }
    if b"PONG ".starts_with(data) {
        return Answer::new(
            Outcome::Closed,
            format!("incomplete reply: {}", escape(data, 60)),
        );
    }
    Answer::new(Outcome::BadResponse, escape(data, 60))
}

// ---------------------------------------------------------------------------------------------
// request

fn request(opts: &Opts) -> Result<(), Fail> {
    let target = opts.addr("target")?;
    let send = match opts.get("send") {
        Some(s) => Some(unescape(s).map_err(|e| fail(format!("request: --send: {e}")))?),
        None => None,
    };
    let timeout = opts.millis("timeout-ms", 2000)?;
    let deadline = Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(&target, timeout).map_err(|e| {
        let what = match classify(&e, true) {
            Outcome::ConnectTimeout => "timeout".to_string(),
            other => other.to_string(),
        };
        Fail {
            code: 3,
            msg: format!("connect to {target}: {what} ({e})"),
        }
    })?;
    if let Some(bytes) = send {
        if let Err(e) = write_before(&mut stream, &bytes, deadline) {
            warn(&format!("send to {target}: {e}"));
        }
    }
    // The peer sees EOF after the request; ignore errors (the peer may already be gone).
    let _ = stream.shutdown(Shutdown::Write);
    let (data, end) = read_until_end(&mut stream, deadline, REQUEST_READ_CAP);
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(&data)
        .and_then(|()| stdout.flush())
        .map_err(|e| fail(format!("cannot write stdout: {e}")))?;
    match end {
        End::Eof => {}
        End::Timeout => warn(&format!("timeout: no EOF after {} bytes", data.len())),
        End::Cap => warn(&format!("stopped after {} bytes", data.len())),
        End::Error(e) => warn(&format!("receive after {} bytes: {e}", data.len())),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// pong

fn pong(opts: &Opts) -> Result<(), Fail> {
    let listen = opts.addr("listen")?;
    let name = opts
        .text("name")?
        .ok_or_else(|| fail("pong: --name is required"))?;
    if name.contains(char::is_whitespace) {
        return Err(fail("pong: --name must not contain spaces"));
    }
    let reply: Arc<[u8]> = Arc::from(format!("PONG {name}\n").into_bytes());
    let listener =
        TcpListener::bind(listen).map_err(|e| fail(format!("cannot listen on {listen}: {e}")))?;
    let local = listener.local_addr().unwrap_or(listen);
    say(&format!("listening {local}"));
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                let reply = Arc::clone(&reply);
                let spawned = thread::Builder::new()
                    .stack_size(128 * 1024)
                    .spawn(move || serve_ping(stream, &reply));
                if let Err(e) = spawned {
                    warn(&format!("cannot start a thread: {e}"));
                }
            }
            Err(e) => {
                warn(&format!("accept: {e}"));
                // E.g. out of file descriptors: do not spin.
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// One PING connection: reads a line (at most 1 KiB, 5 s); PING gets the reply.
fn serve_ping(mut stream: TcpStream, reply: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 1024];
    let mut len = 0;
    while len < buf.len() && !buf[..len].contains(&b'\n') {
        let Some(left) = remaining(deadline) else {
            break;
        };
        if stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if buf[..len].starts_with(b"PING") {
        let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
        let _ = stream.write_all(reply);
    }
}

// ---------------------------------------------------------------------------------------------
// syslog

fn syslog(opts: &Opts) -> Result<(), Fail> {
    let addr = opts.addr("udp")?;
    let path = Path::new(opts.required("out")?);
    let mut out = OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| fail(format!("cannot open {}: {e}", path.display())))?;
    let sock = UdpSocket::bind(addr).map_err(|e| fail(format!("cannot bind {addr}: {e}")))?;
    let local = sock.local_addr().unwrap_or(addr);
    say(&format!("listening {local}"));
    let mut buf = vec![0u8; 65536];
    loop {
        match sock.recv_from(&mut buf) {
            Ok((n, _)) => {
                let line = syslog_line(&buf[..n]);
                out.write_all(line.as_bytes())
                    .map_err(|e| fail(format!("cannot write {}: {e}", path.display())))?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                warn(&format!("receive: {e}"));
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// One datagram as one line, with its `\n`.
fn syslog_line(datagram: &[u8]) -> String {
    let mut end = datagram.len();
    while end > 0 && matches!(datagram[end - 1], b'\n' | b'\r' | 0) {
        end -= 1;
    }
    let mut line = String::from_utf8_lossy(&datagram[..end]).replace(['\n', '\r'], " ");
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(unescape(r"PING\r\n").unwrap(), b"PING\r\n");
        assert_eq!(unescape(r"a\\b\x41\x0a\t\0").unwrap(), b"a\\bA\n\t\0");
        assert!(unescape(r"\q").is_err());
        assert!(unescape(r"\x4").is_err());
        assert!(unescape("\\").is_err());
        assert_eq!(escape(b"a\\b\r\n\x01\xff", 60), r"a\\b\r\n\x01\xff");
        assert_eq!(escape(b"abcdef", 3), "abc...");
    }

    #[test]
    fn http_responses() {
        let ok = parse_http(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nweb1\n");
        assert_eq!(
            (ok.outcome, ok.backend.as_deref()),
            (Outcome::Ok, Some("web1"))
        );
        let chunked = parse_http(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nweb\r\n2\r\n2\n\r\n0\r\n\r\n",
        );
        assert_eq!(chunked.backend.as_deref(), Some("web2"));
        let e503 = parse_http(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 3\r\n\r\nabc");
        assert_eq!(e503.outcome, Outcome::Http(503));
        assert_eq!(e503.detail, "Service Unavailable");
        assert_eq!(parse_http(b"").outcome, Outcome::Closed);
        assert_eq!(parse_http(b"HTT").outcome, Outcome::Closed);
        assert_eq!(
            parse_http(b"HTTP/1.1 200 OK\r\nX: y").outcome,
            Outcome::Closed
        );
        let short = parse_http(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nweb1\n");
        assert_eq!(short.outcome, Outcome::Closed);
        assert_eq!(parse_http(b"SSH-2.0-x\r\n").outcome, Outcome::BadResponse);
        assert_eq!(
            parse_http(b"HTTP/1.1 2x0 OK\r\n\r\n").outcome,
            Outcome::BadResponse
        );
        let empty = parse_http(b"HTTP/1.0 200 OK\r\n\r\n");
        assert_eq!((empty.outcome, empty.backend), (Outcome::Ok, None));
    }

    #[test]
    fn pong_replies() {
        let a = parse_pong(b"PONG web2\n");
        assert_eq!(
            (a.outcome, a.backend.as_deref()),
            (Outcome::Ok, Some("web2"))
        );
        assert_eq!(parse_pong(b"").outcome, Outcome::Closed);
        assert_eq!(parse_pong(b"PON").outcome, Outcome::Closed);
        assert_eq!(parse_pong(b"HELLO\n").outcome, Outcome::BadResponse);
    }

    #[test]
    fn syslog_lines() {
        assert_eq!(syslog_line(b"<134>a\nb\n\0"), "<134>a b\n");
        assert_eq!(syslog_line(b"x\xffy"), "x\u{fffd}y\n");
        assert_eq!(syslog_line(b""), "\n");
    }

    #[test]
    fn options() {
        let args: Vec<String> = ["--target", "1.2.3.4:80", "--mode=http"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let o = Opts::parse("client", &args, &["target", "mode"]).unwrap();
        assert_eq!(o.get("mode"), Some("http"));
        assert_eq!(o.addr("target").unwrap().port(), 80);
        assert!(Opts::parse("client", &args, &["target"]).is_err());
        assert!(Opts::parse("client", &args[..1], &["target"]).is_err());
        assert!(o.millis("mode", 1).is_err());
        assert_eq!(o.millis("none", 7).unwrap(), Duration::from_millis(7));
    }
}
