//! The lab client's request timeline (`lab-agent client --out FILE`) read back and analysed.
//!
//! The client writes one TSV line per request, `start_us\tend_us\toutcome\tbackend\tdetail`,
//! times in microseconds since the UNIX epoch (the same clock the lab takes fault times from).
//! [`parse`] / [`read`] turn that into [`Record`]s sorted by start time; the helpers below
//! answer what the scenarios ask: which backends answered in a window ([`backends_in`],
//! [`longest_run`]), how long an outage after a fault lasted ([`outage_after`]), and how many
//! requests succeeded ([`success_ratio`], [`all_ok`], [`outcomes`], [`summary`]).
//!
//! Every helper that takes `&[Record]` expects it sorted by start time, as [`parse`] returns it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// How one request ended (the `outcome` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// `ok`: HTTP 200, or a `PONG NAME` reply.
    Ok,
    /// `http-NNN`: any other HTTP status.
    Http(u16),
    /// `refused`: ECONNREFUSED.
    Refused,
    /// `unreachable`: EHOSTUNREACH / ENETUNREACH.
    Unreachable,
    /// `connect-timeout`: the connection was not established in time.
    ConnectTimeout,
    /// `reset`: ECONNRESET at any point.
    Reset,
    /// `closed`: closed with no or an incomplete response.
    Closed,
    /// `timeout`: the deadline passed after the connection was established.
    Timeout,
    /// `bad-response`: a response that could not be parsed.
    BadResponse,
    /// `error`: anything else (the detail says what).
    Error,
    /// `skipped`: a tick not sent because too many requests were in flight.
    Skipped,
}

impl Outcome {
    /// True for [`Outcome::Ok`] only.
    pub fn is_ok(self) -> bool {
        self == Outcome::Ok
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Outcome::Ok => "ok",
            Outcome::Http(code) => return write!(f, "http-{code}"),
            Outcome::Refused => "refused",
            Outcome::Unreachable => "unreachable",
            Outcome::ConnectTimeout => "connect-timeout",
            Outcome::Reset => "reset",
            Outcome::Closed => "closed",
            Outcome::Timeout => "timeout",
            Outcome::BadResponse => "bad-response",
            Outcome::Error => "error",
            Outcome::Skipped => "skipped",
        };
        f.write_str(s)
    }
}

impl std::str::FromStr for Outcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Outcome, String> {
        Ok(match s {
            "ok" => Outcome::Ok,
            "refused" => Outcome::Refused,
            "unreachable" => Outcome::Unreachable,
            "connect-timeout" => Outcome::ConnectTimeout,
            "reset" => Outcome::Reset,
            "closed" => Outcome::Closed,
            "timeout" => Outcome::Timeout,
            "bad-response" => Outcome::BadResponse,
            "error" => Outcome::Error,
            "skipped" => Outcome::Skipped,
            _ => match s.strip_prefix("http-").map(str::parse::<u16>) {
                Some(Ok(code)) if (100..=999).contains(&code) => Outcome::Http(code),
                _ => return Err(format!("unknown outcome {s:?}")),
            },
        })
    }
}

/// One request of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// When the request started, µs since the UNIX epoch.
    pub start_us: u64,
    /// When it ended (answer read, or failure), µs since the UNIX epoch.
    pub end_us: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// The backend that answered (`None` for `-`).
    pub backend: Option<String>,
    /// Free text (the io error, an escaped bad response, ...); may be empty.
    pub detail: String,
}

impl Record {
    /// True if the request succeeded ([`Outcome::Ok`]).
    pub fn is_ok(&self) -> bool {
        self.outcome.is_ok()
    }

    /// How long the request took, in µs.
    pub fn duration_us(&self) -> u64 {
        self.end_us.saturating_sub(self.start_us)
    }
}

impl fmt::Display for Record {
    /// The record as the client writes it (without the newline).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\t{}\t{}\t{}\t{}",
            self.start_us,
            self.end_us,
            self.outcome,
            self.backend.as_deref().unwrap_or("-"),
            self.detail
        )
    }
}

/// Why a timeline could not be read.
#[derive(Debug)]
pub enum TimelineError {
    /// The file could not be read.
    Io {
        /// The timeline file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Line `line` (1-based) is not a valid record.
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
}

impl fmt::Display for TimelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimelineError::Io { path, source } => {
                write!(f, "cannot read timeline {}: {source}", path.display())
            }
            TimelineError::Line { line, message } => write!(f, "timeline line {line}: {message}"),
        }
    }
}

impl std::error::Error for TimelineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TimelineError::Io { source, .. } => Some(source),
            TimelineError::Line { .. } => None,
        }
    }
}

/// Parses a timeline. Empty lines are skipped; a last line without `\n` is ignored (the
/// writer may have been killed while writing it). The records are sorted by start time.
pub fn parse(text: &str) -> Result<Vec<Record>, TimelineError> {
    // Everything after the last '\n' is an incomplete line.
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    let mut records = Vec::new();
    for (i, line) in complete.split('\n').enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record = parse_line(line).map_err(|message| TimelineError::Line {
            line: i + 1,
            message,
        })?;
        records.push(record);
    }
    // Stable: records that started in the same µs keep the file's order.
    records.sort_by_key(|r| r.start_us);
    Ok(records)
}

fn parse_line(line: &str) -> Result<Record, String> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let fields: Vec<&str> = line.splitn(5, '\t').collect();
    let [start, end, outcome, backend, detail] = fields[..] else {
        return Err(format!(
            "expected 5 tab-separated fields, found {}: {line:?}",
            fields.len()
        ));
    };
    let start_us = start
        .parse::<u64>()
        .map_err(|e| format!("start_us {start:?}: {e}"))?;
    let end_us = end
        .parse::<u64>()
        .map_err(|e| format!("end_us {end:?}: {e}"))?;
    if end_us < start_us {
        return Err(format!("end_us {end_us} is before start_us {start_us}"));
    }
    let outcome = outcome.parse::<Outcome>()?;
    let backend = match backend {
        "" => return Err("empty backend field (expected a name or -)".to_string()),
        "-" => None,
        name => Some(name.to_string()),
    };
    Ok(Record {
        start_us,
        end_us,
        outcome,
        backend,
        detail: detail.to_string(),
    })
}

/// Reads and parses the timeline file at `path` (see [`parse`]).
pub fn read(path: &Path) -> Result<Vec<Record>, TimelineError> {
    let bytes = std::fs::read(path).map_err(|source| TimelineError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&String::from_utf8_lossy(&bytes))
}

/// The records that started in `[from_us, to_us)`.
pub fn window(records: &[Record], from_us: u64, to_us: u64) -> &[Record] {
    let lo = records.partition_point(|r| r.start_us < from_us);
    let hi = records.partition_point(|r| r.start_us < to_us).max(lo);
    &records[lo..hi]
}

/// Successful answers per backend (records with outcome `ok` and a backend).
pub fn backends_in(records: &[Record]) -> BTreeMap<String, usize> {
    let mut map = BTreeMap::new();
    for r in records.iter().filter(|r| r.is_ok()) {
        if let Some(b) = &r.backend {
            *map.entry(b.clone()).or_insert(0) += 1;
        }
    }
    map
}

/// A run of consecutive successful answers from the same backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The backend that answered.
    pub backend: String,
    /// How many successes in a row.
    pub len: usize,
    /// Start time of the run's first request.
    pub first_start_us: u64,
}

/// The longest run of the same backend among the successful answers in start order (failures
/// in between are skipped, they neither break nor extend a run; a success without a backend
/// breaks it). The earliest such run on ties; `None` without successes with a backend.
///
/// Round-robin over two servers gives runs of 1; one server gives a single long run.
pub fn longest_run(records: &[Record]) -> Option<Run> {
    let mut best: Option<Run> = None;
    let mut cur: Option<Run> = None;
    for r in records.iter().filter(|r| r.is_ok()) {
        let Some(b) = &r.backend else {
            cur = None;
            continue;
        };
        match &mut cur {
            Some(run) if run.backend == *b => run.len += 1,
            _ => {
                cur = Some(Run {
                    backend: b.clone(),
                    len: 1,
                    first_start_us: r.start_us,
                })
            }
        }
        if let Some(run) = &cur {
            let longer = match &best {
                Some(b) => run.len > b.len,
                None => true,
            };
            if longer {
                best = Some(run.clone());
            }
        }
    }
    best
}

/// True if at least two backends answered and no backend answered twice in a row (strict
/// round-robin over the successes, see [`longest_run`]).
pub fn alternates(records: &[Record]) -> bool {
    backends_in(records).len() >= 2 && longest_run(records).is_some_and(|run| run.len == 1)
}

/// `(successful, total)` requests.
pub fn success_ratio(records: &[Record]) -> (usize, usize) {
    (records.iter().filter(|r| r.is_ok()).count(), records.len())
}

/// True if every request succeeded (also for no requests).
pub fn all_ok(records: &[Record]) -> bool {
    records.iter().all(Record::is_ok)
}

/// Requests per outcome, keyed by the outcome as written (`ok`, `http-503`, `refused`, ...).
pub fn outcomes(records: &[Record]) -> BTreeMap<String, usize> {
    let mut map = BTreeMap::new();
    for r in records {
        *map.entry(r.outcome.to_string()).or_insert(0) += 1;
    }
    map
}

/// A short description for assertion messages: consecutive records with the same outcome and
/// backend folded into `outcome[/backend]xN`, at most `max_runs` runs shown.
pub fn summary(records: &[Record], max_runs: usize) -> String {
    let mut runs: Vec<(String, usize)> = Vec::new();
    for r in records {
        let key = match &r.backend {
            Some(b) => format!("{}/{b}", r.outcome),
            None => r.outcome.to_string(),
        };
        match runs.last_mut() {
            Some((k, n)) if *k == key => *n += 1,
            _ => runs.push((key, 1)),
        }
    }
    let mut out: Vec<String> = runs
        .iter()
        .take(max_runs)
        .map(|(k, n)| {
            if *n == 1 {
                k.clone()
            } else {
                format!("{k}x{n}")
            }
        })
        .collect();
    if runs.len() > max_runs {
        out.push(format!("... ({} more runs)", runs.len() - max_runs));
    }
    format!("{} requests: {}", records.len(), out.join(" "))
}

/// The service interruption that followed a fault (see [`outage_after`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outage {
    /// The fault time the outage was measured from.
    pub fault_us: u64,
    /// Start time of the first failed request that ended at or after the fault (it may have
    /// started before the fault, if it was in flight).
    pub first_failure_us: u64,
    /// Outcome of that first failure.
    pub first_outcome: Outcome,
    /// Start time of the first successful request that started after the first failure;
    /// `None` if the service never recovered within the records.
    pub recovered_us: Option<u64>,
    /// Fault to recovery (`recovered_us - fault_us`), in ms rounded up; `None` if never
    /// recovered.
    pub duration_ms: Option<u64>,
    /// Failed requests from the first failure up to the recovery (all of them if never
    /// recovered).
    pub failed_requests: usize,
    /// Failed requests that started after the recovery (flapping, or a later fault).
    pub later_failures: usize,
    /// Start time of the last failed request after the fault (equals `first_failure_us` when
    /// only one request failed).
    pub last_failure_us: u64,
}

impl Outage {
    /// Fault to the last failure's start, in ms rounded up (0 if it started before the fault).
    pub fn until_last_failure_ms(&self) -> u64 {
        self.last_failure_us
            .saturating_sub(self.fault_us)
            .div_ceil(1000)
    }
}

impl fmt::Display for Outage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = self.first_failure_us as i128 - self.fault_us as i128;
        write!(
            f,
            "first failure ({}) {:+.1} ms after the fault, ",
            self.first_outcome,
            first as f64 / 1000.0
        )?;
        match self.duration_ms {
            Some(ms) => write!(f, "recovered after {ms} ms")?,
            None => write!(f, "never recovered")?,
        }
        write!(f, ", {} failed requests", self.failed_requests)?;
        if self.later_failures > 0 {
            write!(
                f,
                ", {} more failures later (last {} ms after the fault)",
                self.later_failures,
                self.until_last_failure_ms()
            )?;
        }
        Ok(())
    }
}

/// The outage after a fault at `fault_us`: from the first failed request that started at or
/// after the fault (or, if none did, the first that was in flight and ended after it) to the
/// first successful request that started after that failure. `None` if no request failed
/// after the fault. Pass a [`window`] to bound what counts as "later".
///
/// Anchoring on requests *started* after the fault matters: a request in flight at the fault
/// may fail (a timeout) while the next one still gets through the dying path, and that one
/// success is not a recovery.
pub fn outage_after(records: &[Record], fault_us: u64) -> Option<Outage> {
    let failed_after = |r: &&Record| !r.is_ok() && r.end_us >= fault_us;
    let first = records
        .iter()
        .find(|r| !r.is_ok() && r.start_us >= fault_us)
        .or_else(|| records.iter().find(failed_after))?;
    let recovered_us = records
        .iter()
        .find(|r| r.is_ok() && r.start_us > first.start_us)
        .map(|r| r.start_us);
    let (mut failed_requests, mut later_failures, mut last_failure_us) = (0, 0, first.start_us);
    for r in records.iter().filter(failed_after) {
        last_failure_us = last_failure_us.max(r.start_us);
        match recovered_us {
            Some(rec) if r.start_us > rec => later_failures += 1,
            _ => failed_requests += 1,
        }
    }
    Some(Outage {
        fault_us,
        first_failure_us: first.start_us,
        first_outcome: first.outcome,
        recovered_us,
        duration_ms: recovered_us.map(|rec| rec.saturating_sub(fault_us).div_ceil(1000)),
        failed_requests,
        later_failures,
        last_failure_us,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record starting at `ms` ms, lasting 1 ms; `what` is `ok/NAME` or an outcome.
    fn rec(ms: u64, what: &str) -> Record {
        let (outcome, backend) = match what.split_once('/') {
            Some((o, b)) => (o.parse().unwrap(), Some(b.to_string())),
            None => (what.parse().unwrap(), None),
        };
        Record {
            start_us: ms * 1000,
            end_us: ms * 1000 + 1000,
            outcome,
            backend,
            detail: String::new(),
        }
    }

    fn timeline(items: &[(u64, &str)]) -> Vec<Record> {
        items.iter().map(|&(ms, w)| rec(ms, w)).collect()
    }

    #[test]
    fn parses_all_outcomes_and_sorts() {
        let text = "2000\t2500\tok\tweb2\t\n\
                    1000\t1500\tok\tweb1\t\n\
                    3000\t3001\thttp-503\t-\tService Unavailable\n\
                    4000\t4001\trefused\t-\tConnection refused (os error 111)\n\
                    5000\t5001\tunreachable\t-\tx\n\
                    6000\t7000\tconnect-timeout\t-\t\n\
                    7000\t7001\treset\t-\t\n\
                    8000\t8001\tclosed\t-\tno response\n\
                    9000\t9001\ttimeout\t-\t\n\
                    10000\t10001\tbad-response\t-\tFOO\\r\\n\n\
                    11000\t11001\terror\t-\tsomething\n\
                    12000\t12000\tskipped\t-\tcap\n";
        let recs = parse(text).unwrap();
        assert_eq!(recs.len(), 12);
        assert_eq!(recs[0].backend.as_deref(), Some("web1"));
        assert_eq!(recs[1].start_us, 2000);
        assert_eq!(recs[2].outcome, Outcome::Http(503));
        assert_eq!(recs[2].detail, "Service Unavailable");
        assert_eq!(recs[5].outcome, Outcome::ConnectTimeout);
        assert_eq!(recs[11].outcome, Outcome::Skipped);
        // Display writes the same line back.
        for (line, r) in text.lines().zip([&recs[1], &recs[0]]) {
            assert_eq!(r.to_string(), line);
        }
        assert_eq!(recs[3].to_string(), text.lines().nth(3).unwrap());
    }

    #[test]
    fn incomplete_last_line_is_ignored() {
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse("1000\t10").unwrap(), vec![]);
        let recs = parse("1000\t2000\tok\tweb1\t\n3000\t40").unwrap();
        assert_eq!(recs.len(), 1);
        // Blank lines are skipped, CRLF accepted.
        let recs = parse("\n1000\t2000\tok\tweb1\t\r\n\n").unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].detail, "");
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("1\t2\tok\tweb1\t\nfoo\n", 2, "5 tab-separated fields"),
            (
                "1\t2\tok\tweb1\t\n\n1\t2\tnope\t-\t\n",
                3,
                "unknown outcome",
            ),
            ("x\t2\tok\t-\t\n", 1, "start_us"),
            ("1\t-2\tok\t-\t\n", 1, "end_us"),
            ("5\t2\tok\t-\t\n", 1, "before start_us"),
            ("1\t2\thttp-abc\t-\t\n", 1, "unknown outcome"),
            ("1\t2\tok\t\t\n", 1, "empty backend"),
        ];
        for (text, line, msg) in cases {
            let err = parse(text).unwrap_err();
            match &err {
                TimelineError::Line { line: l, message } => {
                    assert_eq!(*l, line, "{text:?}: {err}");
                    assert!(message.contains(msg), "{text:?}: {err}");
                }
                other => panic!("{other}"),
            }
            assert!(err
                .to_string()
                .starts_with(&format!("timeline line {line}: ")));
        }
    }

    #[test]
    fn read_reports_missing_file() {
        let err = read(Path::new("/nonexistent/timeline.tsv")).unwrap_err();
        assert!(matches!(err, TimelineError::Io { .. }));
        assert!(
            err.to_string().contains("/nonexistent/timeline.tsv"),
            "{err}"
        );
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn window_selects_by_start() {
        let t = timeline(&[(0, "ok/a"), (10, "ok/b"), (20, "ok/a"), (30, "ok/b")]);
        assert_eq!(window(&t, 10_000, 30_000).len(), 2);
        assert_eq!(window(&t, 10_000, 30_000)[0].start_us, 10_000);
        assert_eq!(window(&t, 10_001, 30_001).len(), 2);
        assert_eq!(window(&t, 0, u64::MAX).len(), 4);
        assert!(window(&t, 40_000, 50_000).is_empty());
        assert!(window(&t, 30_000, 10_000).is_empty());
    }

    #[test]
    fn backends_and_runs() {
        let rr = timeline(&[
            (0, "ok/web1"),
            (10, "ok/web2"),
            (20, "http-503"),
            (30, "ok/web1"),
            (40, "ok/web2"),
        ]);
        let counts = backends_in(&rr);
        assert_eq!(counts.get("web1"), Some(&2));
        assert_eq!(counts.get("web2"), Some(&2));
        assert_eq!(counts.len(), 2);
        let run = longest_run(&rr).unwrap();
        assert_eq!(
            (run.backend.as_str(), run.len, run.first_start_us),
            ("web1", 1, 0)
        );
        assert!(alternates(&rr));

        let failover = timeline(&[
            (0, "ok/web1"),
            (10, "ok/web2"),
            (20, "refused"),
            (30, "ok/web1"),
            (40, "ok/web1"),
            (50, "ok/web1"),
            (60, "ok/web2"),
        ]);
        let run = longest_run(&failover).unwrap();
        assert_eq!(
            (run.backend.as_str(), run.len, run.first_start_us),
            ("web1", 3, 30_000)
        );
        assert!(!alternates(&failover));
        // One backend only is no alternation, even with runs of 1.
        assert!(!alternates(&timeline(&[(0, "ok/web1")])));
        assert_eq!(longest_run(&timeline(&[(0, "refused")])), None);
        assert_eq!(longest_run(&[]), None);
    }

    #[test]
    fn ratios_and_outcomes() {
        let t = timeline(&[
            (0, "ok/a"),
            (10, "http-503"),
            (20, "http-503"),
            (30, "refused"),
        ]);
        assert_eq!(success_ratio(&t), (1, 4));
        assert!(!all_ok(&t));
        assert!(all_ok(&t[..1]));
        assert!(all_ok(&[]));
        let o = outcomes(&t);
        assert_eq!(
            o.into_iter().collect::<Vec<_>>(),
            vec![
                ("http-503".to_string(), 2),
                ("ok".to_string(), 1),
                ("refused".to_string(), 1)
            ]
        );
        assert_eq!(
            summary(&t, 10),
            "4 requests: ok/a http-503x2 refused".to_string()
        );
        assert_eq!(
            summary(&t, 1),
            "4 requests: ok/a ... (2 more runs)".to_string()
        );
    }

    #[test]
    fn outage_with_recovery() {
        let t = timeline(&[
            (0, "ok/web1"),
            (10, "ok/web2"),
            (20, "refused"),
            (30, "refused"),
            (40, "http-503"),
            (50, "ok/web2"),
            (60, "ok/web2"),
        ]);
        let o = outage_after(&t, 15_000).unwrap();
        assert_eq!(o.first_failure_us, 20_000);
        assert_eq!(o.first_outcome, Outcome::Refused);
        assert_eq!(o.recovered_us, Some(50_000));
        assert_eq!(o.duration_ms, Some(35));
        assert_eq!(o.failed_requests, 3);
        assert_eq!(o.later_failures, 0);
        assert_eq!(o.last_failure_us, 40_000);
        assert_eq!(
            o.to_string(),
            "first failure (refused) +5.0 ms after the fault, recovered after 35 ms, \
             3 failed requests"
        );
        // Nothing failed after a fault at 45 ms.
        assert_eq!(outage_after(&t, 45_000), None);
        // A failure that ended before the fault does not count.
        assert_eq!(outage_after(&t, 41_500), None);
    }

    #[test]
    fn outage_in_flight_flapping_and_never_recovered() {
        // The request at 10 ms was in flight at the fault (11 ms) and failed; the one at
        // 30 ms is the first failure that started after the fault, so it anchors the outage.
        let mut t = timeline(&[
            (0, "ok/web1"),
            (10, "reset"),
            (20, "ok/web2"),
            (30, "refused"),
            (40, "ok/web2"),
            (50, "refused"),
        ]);
        t[1].end_us = 12_000;
        let o = outage_after(&t, 11_000).unwrap();
        assert_eq!(o.first_failure_us, 30_000);
        assert_eq!(o.recovered_us, Some(40_000));
        assert_eq!(o.duration_ms, Some(29));
        assert_eq!((o.failed_requests, o.later_failures), (2, 1));
        assert_eq!(o.until_last_failure_ms(), 39);
        let s = o.to_string();
        assert!(
            s.starts_with("first failure (refused) +19.0 ms after the fault"),
            "{s}"
        );
        assert!(
            s.ends_with("1 more failures later (last 39 ms after the fault)"),
            "{s}"
        );
        // Only the in-flight request failed: it anchors the outage.
        let o = outage_after(&t[..3], 11_000).unwrap();
        assert_eq!(o.first_failure_us, 10_000);
        assert_eq!(o.recovered_us, Some(20_000));
        assert_eq!(o.duration_ms, Some(9));
        assert!(o
            .to_string()
            .starts_with("first failure (reset) -1.0 ms after the fault"));

        let down = timeline(&[(0, "ok/web1"), (10, "timeout"), (20, "connect-timeout")]);
        let o = outage_after(&down, 5_000).unwrap();
        assert_eq!(o.recovered_us, None);
        assert_eq!(o.duration_ms, None);
        assert_eq!(o.failed_requests, 2);
        assert_eq!(
            o.to_string(),
            "first failure (timeout) +5.0 ms after the fault, never recovered, 2 failed requests"
        );
    }

    #[test]
    fn outcome_round_trip() {
        for s in [
            "ok",
            "http-200",
            "http-503",
            "refused",
            "unreachable",
            "connect-timeout",
            "reset",
            "closed",
            "timeout",
            "bad-response",
            "error",
            "skipped",
        ] {
            assert_eq!(s.parse::<Outcome>().unwrap().to_string(), s);
        }
        assert!("http-".parse::<Outcome>().is_err());
        assert!("http-99".parse::<Outcome>().is_err());
        assert!("OK".parse::<Outcome>().is_err());
    }

    #[test]
    fn a_success_right_after_an_in_flight_failure_is_not_the_recovery() {
        // Fault at 100 ms: the request in flight since 95 ms times out, the one at 100 ms
        // still gets through, then everything fails until 3000 ms.
        let mut items = vec![(95, "timeout"), (100, "ok/web1")];
        for ms in (110..3000).step_by(10) {
            items.push((ms, "connect-timeout"));
        }
        items.push((3000, "ok/web2"));
        let t = timeline(&items);
        let o = outage_after(&t, 100_000).unwrap();
        assert_eq!(o.first_failure_us, 110_000);
        assert_eq!(o.recovered_us, Some(3_000_000));
        assert_eq!(o.duration_ms, Some(2900));
    }
}
