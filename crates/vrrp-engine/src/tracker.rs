//! The tracking runner: runs every `vrrp_script`, watches every `vrrp_track_process` and
//! `track_file` on its own threads and reports to the runtime's queue as
//! [`Input::Tracker`] (the first determination and every change) and [`Input::Log`]
//! (keepalived's log lines). Interfaces are not watched here (the runtime maps link
//! events). Dropping the [`TrackerRunner`] stops every thread and kills running scripts.
//!
//! - Scripts: one thread each, run at once and then every `interval` (the next run is
//!   timed from the start of the previous one, as keepalived's timer is), killed after
//!   `timeout` (default: the interval) with SIGTERM to the process group, SIGKILL 2 s
//!   later, as `vrrp_script_child_thread()` does. A run still going when the next is due is
//!   skipped with keepalived's "expect idle - skipping run" line (keepalived 2.2.7 logs that
//!   line and then starts a second copy anyway; running one at a time is the evident intent).
//! - Processes: keepalived learns of forks and exits from the netlink proc connector;
//!   that needs a raw netlink socket and CAP_NET_ADMIN, so /proc is scanned every
//!   [`POLL_INTERVAL`] instead: a process living less than that can be missed, and quorum
//!   changes are seen up to that much later. `delay`/`fork_delay` apply to gains and
//!   `terminate_delay` to losses, as keepalived's fork and exit timers do.
//! - Files: keepalived uses inotify (needs `unsafe` or another dependency); the file is
//!   read every [`POLL_INTERVAL`] instead and handled when its contents change (where
//!   inotify's `IN_CLOSE_WRITE`/`IN_MOVE`/`IN_DELETE` would wake keepalived). A rewrite
//!   with the same invalid number is therefore logged once, not once per write.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::process::Child;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use keepalived_conf::model::{KeepalivedConfig, TrackFile, TrackProcess, VrrpScript};
use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::platform::Input;
use crate::script_exec::{PreparedScript, ScriptKind, ScriptSecurity};
use crate::script_state::{ScriptCounter, ScriptExit};
use crate::track::{TrackerId, TrackerKind, TrackerState, TrackerTable};
use crate::VrrpError;

/// How often /proc and tracked files are polled.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How often a running script is checked for exit.
const CHILD_POLL: Duration = Duration::from_millis(10);

/// A stop flag threads can sleep on.
#[derive(Debug, Default)]
pub(crate) struct Stopper {
    stopped: Mutex<bool>,
    cv: Condvar,
}

impl Stopper {
    /// Sleeps until `deadline` or until stopped; true when stopped.
    pub(crate) fn sleep_until(&self, deadline: Instant) -> bool {
        let mut stopped = match self.stopped.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        loop {
            if *stopped {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            stopped = match self.cv.wait_timeout(stopped, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    pub(crate) fn is_stopped(&self) -> bool {
        match self.stopped.lock() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        }
    }

    pub(crate) fn stop(&self) {
        match self.stopped.lock() {
            Ok(mut g) => *g = true,
            Err(p) => *p.into_inner() = true,
        }
        self.cv.notify_all();
    }
}

/// The running trackers. Dropping it stops them (running scripts are killed).
#[derive(Debug)]
pub struct TrackerRunner {
    stopper: Arc<Stopper>,
    /// Script threads hand back their counter when they end (carried over a reload).
    threads: Vec<JoinHandle<Option<ScriptCounter>>>,
    /// The first readings of the tracked files and processes.
    initial: Vec<(TrackerId, TrackerState)>,
}

impl TrackerRunner {
    /// Stops every thread and waits for them; returns each script's result counter by
    /// name (what a reload carries over, see [`spawn_reloaded`]).
    pub fn stop(mut self) -> BTreeMap<String, ScriptCounter> {
        self.shutdown()
    }

    /// The state of every tracked file and process as read when the runner started
    /// (keepalived reads them before its instances start: see
    /// [`crate::runtime::Runtime::preset_trackers`]). The threads report them again.
    pub fn initial_states(&self) -> &[(TrackerId, TrackerState)] {
        &self.initial
    }

    fn shutdown(&mut self) -> BTreeMap<String, ScriptCounter> {
        self.stopper.stop();
        self.threads
            .drain(..)
            .filter_map(|t| t.join().ok().flatten())
            .map(|c| (c.name().to_string(), c))
            .collect()
    }
}

impl Drop for TrackerRunner {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Starts tracking every script, process and file of `table` defined in `config`.
pub fn spawn(
    config: &KeepalivedConfig,
    table: &TrackerTable,
    inbound: Sender<Input>,
) -> Result<TrackerRunner, VrrpError> {
    spawn_reloaded(config, table, inbound, &BTreeMap::new())
}

/// The scripts' counters for a reload, from those [`TrackerRunner::stop`] returned: a
/// script of `config` that ran before keeps its result as keepalived's
/// `clear_diff_script()` does, with its log line ("considered successful on reload"),
/// which keepalived writes before the instances' lines.
pub fn carry_scripts(
    config: &KeepalivedConfig,
    old: &BTreeMap<String, ScriptCounter>,
) -> (BTreeMap<String, ScriptCounter>, Vec<String>) {
    let mut carried = BTreeMap::new();
    let mut logs = Vec::new();
    for script in &config.scripts {
        if let Some(o) = old.get(&script.name) {
            let (counter, line) = o.reloaded(counter_for(script));
            logs.extend(line);
            carried.insert(script.name.clone(), counter);
        }
    }
    (carried, logs)
}

/// [`spawn`] with the scripts' counters carried over a reload (from [`carry_scripts`], or
/// as [`TrackerRunner::stop`] returned them when the old configuration goes on).
pub fn spawn_reloaded(
    config: &KeepalivedConfig,
    table: &TrackerTable,
    inbound: Sender<Input>,
    carried: &BTreeMap<String, ScriptCounter>,
) -> Result<TrackerRunner, VrrpError> {
    let stopper = Arc::new(Stopper::default());
    let mut runner = TrackerRunner {
        stopper: stopper.clone(),
        threads: Vec::new(),
        initial: Vec::new(),
    };
    let mut security = ScriptSecurity::new(&config.global);

    for script in &config.scripts {
        let Some(id) = table.id(&TrackerKind::Script(script.name.clone())) else {
            continue;
        };
        let mut logs = Vec::new();
        let prepared = security.prepare(
            ScriptKind::Track(&script.name),
            &script.command,
            script.user.as_ref(),
            &mut logs,
        );
        send_logs(&inbound, logs);
        let Some(prepared) = prepared else {
            continue;
        };
        let job = ScriptJob {
            id,
            name: script.name.clone(),
            prepared,
            interval: script.interval.max(Duration::from_millis(1)),
            timeout: script.timeout.unwrap_or(script.interval),
            counter: carried
                .get(&script.name)
                .cloned()
                .unwrap_or_else(|| counter_for(script)),
            tx: inbound.clone(),
            stopper: stopper.clone(),
        };
        let t = std::thread::Builder::new()
            .name(format!("vrrp_script {}", script.name))
            .spawn(move || job.run())
            .map_err(|source| VrrpError::Spawn {
                what: format!("vrrp_script {}", script.name),
                source,
            })?;
        runner.threads.push(t);
    }

    let mut processes: Vec<(TrackerId, ProcessMatcher, ProcessQuorum)> = config
        .track_processes
        .iter()
        .filter_map(|p| {
            let id = table.id(&TrackerKind::Process(p.name.clone()))?;
            Some((id, ProcessMatcher::new(p)?, ProcessQuorum::new(p)))
        })
        .collect();
    if !processes.is_empty() {
        // The first count now, silently (keepalived's start-up reading).
        let matchers: Vec<&ProcessMatcher> = processes.iter().map(|(_, m, _)| m).collect();
        let counts = count_processes(&matchers);
        let now = Instant::now();
        for ((id, _, q), count) in processes.iter_mut().zip(counts) {
            if let Some((state, _)) = q.observe(count, now) {
                runner.initial.push((*id, state));
            }
        }
    }
    if !processes.is_empty() {
        let tx = inbound.clone();
        let st = stopper.clone();
        // Reported again by the thread, as the files' first readings are.
        let first = runner.initial.clone();
        let t = std::thread::Builder::new()
            .name("track_process".to_string())
            .spawn(move || {
                for (id, state) in first {
                    let _ = tx.send(Input::Tracker(id, state));
                }
                process_loop(processes, tx, st);
                None
            })
            .map_err(|source| VrrpError::Spawn {
                what: "vrrp_track_process".to_string(),
                source,
            })?;
        runner.threads.push(t);
    }

    let mut files = Vec::new();
    for f in &config.track_files {
        let Some(id) = table.id(&TrackerKind::File(f.name.clone())) else {
            continue;
        };
        let mut logs = Vec::new();
        let watched = FileWatch::init(f, &mut logs);
        send_logs(&inbound, logs);
        if let Some(w) = watched {
            runner.initial.push((id, TrackerState::Value(w.last)));
            files.push((id, w));
        }
    }
    if !files.is_empty() {
        let tx = inbound.clone();
        let st = stopper.clone();
        let t = std::thread::Builder::new()
            .name("track_file".to_string())
            .spawn(move || {
                file_loop(files, tx, st);
                None
            })
            .map_err(|source| VrrpError::Spawn {
                what: "track_file".to_string(),
                source,
            })?;
        runner.threads.push(t);
    }
    Ok(runner)
}

fn send_logs(tx: &Sender<Input>, logs: Vec<String>) {
    for l in logs {
        let _ = tx.send(Input::Log(l));
    }
}

/// `init_fail` is parsed but has no effect: keepalived 2.2.7's `alloc_track_script()`
/// sets the script back to `SCRIPT_INIT_STATE_INIT` when an instance or group tracks it,
/// and a script nobody tracks is removed. Measured: with `init_fail` and weight 0 the real
/// daemon logs no FAULT line at start, logs the first failure (`VRRP_Script(chk_flag)
/// failed (exited with status 1)`, which an already failed script would not) and the
/// instance enters BACKUP on the first success, exactly as without `init_fail`.
fn counter_for(script: &VrrpScript) -> ScriptCounter {
    ScriptCounter::new(&script.name, script.rise, script.fall, false)
}

/// keepalived's `SCRIPT_STATE_*` while a child runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunState {
    Running,
    RequestingTermination,
    ForcingTermination,
}

struct ScriptJob {
    id: TrackerId,
    name: String,
    prepared: PreparedScript,
    interval: Duration,
    timeout: Duration,
    counter: ScriptCounter,
    tx: Sender<Input>,
    stopper: Arc<Stopper>,
}

impl ScriptJob {
    /// Runs the script every interval until stopped; hands its counter back.
    fn run(mut self) -> Option<ScriptCounter> {
        if let Some(s) = self.counter.initial() {
            let _ = self.tx.send(Input::Tracker(self.id, s));
        }
        let mut next = Instant::now();
        loop {
            if self.stopper.sleep_until(next) {
                return Some(self.counter);
            }
            next += self.interval;
            let Some(exit) = self.run_once(&mut next) else {
                return Some(self.counter);
            };
            let up = self.counter.feed(exit);
            send_logs(&self.tx, up.logs);
            if let Some(s) = up.state {
                let _ = self.tx.send(Input::Tracker(self.id, s));
            }
        }
    }

    fn log(&self, line: String) {
        let _ = self.tx.send(Input::Log(line));
    }

    /// One run; `None` when stopped meanwhile (the child is killed and reaped).
    fn run_once(&self, next: &mut Instant) -> Option<ScriptExit> {
        let mut child: Child = match self.prepared.command(&[]).spawn() {
            Ok(c) => c,
            Err(e) => {
                // keepalived's child logs this and exits 0: a success.
                self.log(self.prepared.exec_error(&e));
                return Some(ScriptExit::Exited(0));
            }
        };
        let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
        let mut state = RunState::Running;
        let mut deadline = Instant::now() + self.timeout;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    if let Some(code) = status.code() {
                        return Some(ScriptExit::Exited(code));
                    }
                    let sig = status.signal().unwrap_or(0);
                    let term = Signal::SIGTERM as i32;
                    let kill = Signal::SIGKILL as i32;
                    if state == RunState::RequestingTermination && sig == term {
                        // Make sure anything it started dies too.
                        let _ = killpg(pid, Signal::SIGKILL);
                    }
                    if (state == RunState::RequestingTermination && sig == term)
                        || (state == RunState::ForcingTermination && (sig == kill || sig == term))
                    {
                        return Some(ScriptExit::TimedOut);
                    }
                    return Some(ScriptExit::Signaled(sig));
                }
                Ok(None) => {}
                Err(_) => return Some(ScriptExit::Exited(0)),
            }
            let now = Instant::now();
            if now >= *next {
                self.log(format!(
                    "Track script {} is {}, expect idle - skipping run",
                    self.name,
                    if state == RunState::Running {
                        "already running"
                    } else {
                        "being timed out"
                    }
                ));
                *next += self.interval;
            }
            if now >= deadline {
                let (sig, wait) = match state {
                    RunState::Running => {
                        state = RunState::RequestingTermination;
                        (Signal::SIGTERM, 2)
                    }
                    RunState::RequestingTermination => {
                        state = RunState::ForcingTermination;
                        (Signal::SIGKILL, 2)
                    }
                    RunState::ForcingTermination => {
                        self.log(format!(
                            "Script {} child (PID {}) failed to terminate after kill",
                            self.name, pid
                        ));
                        (Signal::SIGKILL, 10)
                    }
                };
                deadline = now + Duration::from_secs(wait);
                if let Err(e) = killpg(pid, sig) {
                    if e == Errno::ESRCH {
                        self.log(format!("Script {} child (PID {}) lost", self.name, pid));
                    } else {
                        self.log(format!(
                            "kill -{} of process {}({}) with new state {} failed with errno {}",
                            sig as i32,
                            self.prepared.argv[0],
                            pid,
                            match state {
                                RunState::Running => 1,
                                RunState::RequestingTermination => 2,
                                RunState::ForcingTermination => 3,
                            },
                            e as i32
                        ));
                        deadline = now + Duration::from_secs(1000);
                    }
                }
            }
            if self.stopper.sleep_until(
                Instant::now() + CHILD_POLL.min(deadline.saturating_duration_since(Instant::now())),
            ) {
                let _ = killpg(pid, Signal::SIGKILL);
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// keepalived's `param_match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ParamMatch {
    None,
    Exact,
    Partial,
    Initial,
}

/// Which processes a `vrrp_track_process` counts.
#[derive(Debug, Clone)]
pub struct ProcessMatcher {
    process: String,
    full_command: bool,
    param_match: ParamMatch,
}

impl ProcessMatcher {
    /// `None` without a `process` (keepalived drops such a block).
    pub fn new(p: &TrackProcess) -> Option<ProcessMatcher> {
        let process = p.process.clone()?;
        // The model keeps `process`'s first word only (no parameters), so a bare
        // `param_match` (exact) cannot be told from none; `initial` and `partial` with no
        // parameters match any parameters.
        let param_match = match p.param_match.as_deref() {
            Some("initial") => ParamMatch::Initial,
            Some("partial") => ParamMatch::Partial,
            Some("") => ParamMatch::Exact,
            _ => ParamMatch::None,
        };
        Some(ProcessMatcher {
            full_command: p.full_command || param_match != ParamMatch::None,
            process,
            param_match,
        })
    }

    /// Does the process with this `/proc/PID/stat` comm and `/proc/PID/cmdline` match?
    pub fn matches(&self, comm: Option<&str>, cmdline: Option<&[u8]>) -> bool {
        if self.full_command {
            let Some(cmd) = cmdline else {
                return false;
            };
            let end = cmd.iter().position(|b| *b == 0).unwrap_or(cmd.len());
            if &cmd[..end] != self.process.as_bytes() {
                return false;
            }
            let params_len = cmd.len().saturating_sub(end + 1);
            match self.param_match {
                ParamMatch::Exact => params_len == 0,
                _ => true,
            }
        } else {
            comm == Some(self.process.as_str())
        }
    }
}

/// A tracked process's quorum, sans IO: counts in, states and keepalived's lines out.
#[derive(Debug, Clone)]
pub struct ProcessQuorum {
    name: String,
    quorum: u32,
    quorum_max: u32,
    fork_delay: Option<Duration>,
    terminate_delay: Option<Duration>,
    have: Option<bool>,
    pending: Option<(bool, Instant)>,
}

impl ProcessQuorum {
    /// From the configuration block.
    pub fn new(p: &TrackProcess) -> ProcessQuorum {
        ProcessQuorum {
            name: p.name.clone(),
            quorum: p.quorum,
            quorum_max: p.quorum_max.unwrap_or(u32::MAX),
            fork_delay: p.fork_delay.or(p.delay),
            terminate_delay: p.terminate_delay.or(p.delay),
            have: None,
            pending: None,
        }
    }

    /// One observation of `count` matching processes at `now`: the state when it is first
    /// determined (silently, as keepalived's start-up) or changes (with its
    /// "Quorum gained/lost" line).
    pub fn observe(&mut self, count: u32, now: Instant) -> Option<(TrackerState, Option<String>)> {
        let in_range = count >= self.quorum && count <= self.quorum_max;
        let state = |up: bool| {
            if up {
                TrackerState::Ok
            } else {
                TrackerState::Failed
            }
        };
        let Some(have) = self.have else {
            self.have = Some(in_range);
            return Some((state(in_range), None));
        };
        if in_range == have {
            self.pending = None;
            return None;
        }
        match self.pending {
            Some((target, at)) if target == in_range => {
                if now < at {
                    return None;
                }
            }
            _ => {
                let delay = if in_range {
                    self.fork_delay
                } else {
                    self.terminate_delay
                };
                if let Some(d) = delay {
                    self.pending = Some((in_range, now + d));
                    return None;
                }
            }
        }
        self.pending = None;
        self.have = Some(in_range);
        Some((
            state(in_range),
            Some(format!(
                "Quorum {} for tracked process {}",
                if in_range { "gained" } else { "lost" },
                self.name
            )),
        ))
    }
}

/// One pass over /proc: for each matcher, how many live (non-zombie) processes match.
fn count_processes(matchers: &[&ProcessMatcher]) -> Vec<u32> {
    let mut counts = vec![0u32; matchers.len()];
    let need_cmdline = matchers.iter().any(|m| m.full_command);
    let need_comm = matchers.iter().any(|m| !m.full_command);
    let Ok(dir) = fs::read_dir("/proc") else {
        return counts;
    };
    for ent in dir.flatten() {
        let name = ent.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(|c: char| ('1'..='9').contains(&c)) {
            continue;
        }
        let cmdline = if need_cmdline {
            match fs::read(format!("/proc/{name}/cmdline")) {
                Ok(c) => Some(c),
                Err(_) => continue,
            }
        } else {
            None
        };
        let comm = if need_comm {
            let Ok(stat) = fs::read_to_string(format!("/proc/{name}/stat")) else {
                continue;
            };
            // keepalived: the comm is from the first '(' to the first ')' after it, and a
            // zombie (state 'Z') is not counted.
            let Some(open) = stat.find('(') else { continue };
            let Some(close) = stat[open..].find(')').map(|i| i + open) else {
                continue;
            };
            if stat.as_bytes().get(close + 2) == Some(&b'Z') {
                continue;
            }
            Some(stat[open + 1..close].to_string())
        } else {
            None
        };
        for (i, m) in matchers.iter().enumerate() {
            if m.matches(comm.as_deref(), cmdline.as_deref()) {
                counts[i] += 1;
            }
        }
    }
    counts
}

fn process_loop(
    mut procs: Vec<(TrackerId, ProcessMatcher, ProcessQuorum)>,
    tx: Sender<Input>,
    stopper: Arc<Stopper>,
) {
    loop {
        let matchers: Vec<&ProcessMatcher> = procs.iter().map(|(_, m, _)| m).collect();
        let counts = count_processes(&matchers);
        let now = Instant::now();
        for ((id, _, q), count) in procs.iter_mut().zip(counts) {
            if let Some((state, line)) = q.observe(count, now) {
                if let Some(l) = line {
                    let _ = tx.send(Input::Log(l));
                }
                let _ = tx.send(Input::Tracker(*id, state));
            }
        }
        if stopper.sleep_until(Instant::now() + POLL_INTERVAL) {
            return;
        }
    }
}

/// C `strtol(buf, NULL, 0)`: the value and whether it overflowed (`ERANGE`).
pub fn strtol(s: &str) -> (i64, bool) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let mut base = 10u32;
    if i < b.len() && b[i] == b'0' {
        if matches!(b.get(i + 1), Some(b'x' | b'X'))
            && b.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit())
        {
            base = 16;
            i += 2;
        } else {
            base = 8;
        }
    }
    let mut acc: i128 = 0;
    let mut overflow = false;
    while i < b.len() {
        let Some(d) = (b[i] as char).to_digit(base) else {
            break;
        };
        acc = acc * i128::from(base) + i128::from(d);
        if acc > i128::from(i64::MAX) + 1 {
            overflow = true;
            acc = i128::from(i64::MAX) + 1;
        }
        i += 1;
    }
    let v = if neg { -acc } else { acc };
    if v > i128::from(i64::MAX) {
        return (i64::MAX, true);
    }
    if overflow {
        return (if neg { i64::MIN } else { i64::MAX }, true);
    }
    (i64::try_from(v).unwrap_or(i64::MAX), false)
}

/// `process_track_file()`'s reading: `Some(value)`, or `None` with keepalived's line when
/// the number is out of range (the last value is kept). A missing or empty file is 0.
pub fn read_track_file(path: &str) -> Result<i64, String> {
    let Ok(bytes) = fs::read(path) else {
        return Ok(0);
    };
    let bytes = &bytes[..bytes.len().min(127)];
    if bytes.is_empty() {
        return Ok(0);
    }
    let text = String::from_utf8_lossy(bytes);
    let text = text.split('\0').next().unwrap_or("");
    let (v, overflow) = strtol(text);
    if overflow || v < i64::from(i32::MIN) || v > i64::from(i32::MAX) + 1 {
        return Err(format!("Invalid number {v} read from {path} - ignoring"));
    }
    Ok(v)
}

/// A watched `track_file`.
#[derive(Debug)]
struct FileWatch {
    path: String,
    last: i64,
    signature: Option<Vec<u8>>,
}

/// What a poll compares: the file's first bytes (all keepalived reads), `None` when it
/// cannot be read. Contents, not mtimes: two writes within one timestamp tick differ.
fn signature(path: &str) -> Option<Vec<u8>> {
    fs::read(path).ok().map(|mut b| {
        b.truncate(128);
        b
    })
}

impl FileWatch {
    /// `init_file` then `init_track_files()`: `None` (with keepalived's line) when the file
    /// cannot be tracked.
    fn init(f: &TrackFile, logs: &mut Vec<String>) -> Option<FileWatch> {
        let Some(path) = f.file.clone() else {
            logs.push(format!("No file set for track_file {} - ignoring", f.name));
            return None;
        };
        if let Some((value, overwrite)) = f.init_file {
            init_file(f, &path, value, overwrite, logs);
        }
        let path = match fs::canonicalize(&path) {
            Ok(p) => p.to_string_lossy().into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let (dir, file) = match path.rsplit_once('/') {
                    Some((d, f)) => (if d.is_empty() { "/" } else { d }, f),
                    None => (".", path.as_str()),
                };
                match fs::canonicalize(dir) {
                    Ok(d) if d.is_dir() => {
                        let d = d.to_string_lossy().into_owned();
                        if d == "/" {
                            format!("/{file}")
                        } else {
                            format!("{d}/{file}")
                        }
                    }
                    _ => {
                        logs.push(format!(
                            "Track file directory for {} does not exist - removing",
                            f.name
                        ));
                        return None;
                    }
                }
            }
            Err(_) => {
                logs.push(format!(
                    "track file {} is not accessible - ignoring",
                    f.name
                ));
                return None;
            }
        };
        let signature = signature(&path);
        let last = if signature.is_some() {
            match read_track_file(&path) {
                Ok(v) => v,
                Err(line) => {
                    logs.push(line);
                    0
                }
            }
        } else {
            0
        };
        Some(FileWatch {
            path,
            last,
            signature,
        })
    }
}

fn init_file(f: &TrackFile, path: &str, value: i64, overwrite: bool, logs: &mut Vec<String>) {
    if let Ok(meta) = fs::metadata(path) {
        if !overwrite {
            return;
        }
        if !meta.is_file() {
            logs.push(format!(
                "Cannot initialise track file {} - it is not a regular file",
                f.name
            ));
            return;
        }
    }
    if fs::write(path, format!("{value}\n")).is_err() {
        logs.push(format!("Unable to initialise track file {}", f.name));
    }
}

fn file_loop(mut files: Vec<(TrackerId, FileWatch)>, tx: Sender<Input>, stopper: Arc<Stopper>) {
    for (id, w) in &files {
        let _ = tx.send(Input::Tracker(*id, TrackerState::Value(w.last)));
    }
    loop {
        if stopper.sleep_until(Instant::now() + POLL_INTERVAL) {
            return;
        }
        for (id, w) in files.iter_mut() {
            let sig = signature(&w.path);
            if sig == w.signature {
                continue;
            }
            w.signature = sig;
            match read_track_file(&w.path) {
                Ok(v) => {
                    if v != w.last {
                        w.last = v;
                        let _ = tx.send(Input::Tracker(*id, TrackerState::Value(v)));
                    }
                }
                Err(line) => {
                    let _ = tx.send(Input::Log(line));
                }
            }
        }
        if stopper.is_stopped() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepalived_conf::model::Weight;

    fn tp(quorum: u32, max: Option<u32>, delay: Option<Duration>) -> TrackProcess {
        TrackProcess {
            name: "p".into(),
            process: Some("x".into()),
            param_match: None,
            weight: Weight::default(),
            weight_reverse: false,
            quorum,
            quorum_max: max,
            delay,
            terminate_delay: None,
            fork_delay: None,
            full_command: false,
        }
    }

    #[test]
    fn quorum_first_determination_is_silent_then_lines() {
        let mut q = ProcessQuorum::new(&tp(2, Some(3), None));
        let t = Instant::now();
        assert_eq!(q.observe(1, t), Some((TrackerState::Failed, None)));
        assert_eq!(q.observe(1, t), None);
        assert_eq!(
            q.observe(2, t),
            Some((
                TrackerState::Ok,
                Some("Quorum gained for tracked process p".into())
            ))
        );
        assert_eq!(q.observe(3, t), None);
        assert_eq!(
            q.observe(4, t),
            Some((
                TrackerState::Failed,
                Some("Quorum lost for tracked process p".into())
            ))
        );
    }

    #[test]
    fn quorum_delays() {
        let d = Duration::from_secs(1);
        let mut q = ProcessQuorum::new(&tp(1, None, Some(d)));
        let t = Instant::now();
        assert_eq!(q.observe(1, t), Some((TrackerState::Ok, None)));
        // Lost, but back before terminate_delay: nothing.
        assert_eq!(q.observe(0, t), None);
        assert_eq!(q.observe(1, t + d / 2), None);
        assert_eq!(q.observe(0, t + d), None);
        assert_eq!(q.observe(0, t + d + d / 2), None);
        assert_eq!(
            q.observe(0, t + 2 * d),
            Some((
                TrackerState::Failed,
                Some("Quorum lost for tracked process p".into())
            ))
        );
    }

    #[test]
    fn matcher_comm_and_cmdline() {
        let mut p = tp(1, None, None);
        let m = ProcessMatcher::new(&p).expect("process set");
        assert!(m.matches(Some("x"), None));
        assert!(!m.matches(Some("xy"), None));
        p.full_command = true;
        p.process = Some("/usr/bin/x".into());
        let m = ProcessMatcher::new(&p).expect("process set");
        assert!(m.matches(None, Some(b"/usr/bin/x\0-a\0")));
        assert!(!m.matches(None, Some(b"x\0")));
    }

    #[test]
    fn strtol_like_c() {
        assert_eq!(strtol("  42\n"), (42, false));
        assert_eq!(strtol("-7 apples"), (-7, false));
        assert_eq!(strtol("0x10"), (16, false));
        assert_eq!(strtol("010"), (8, false));
        assert_eq!(strtol("abc"), (0, false));
        assert_eq!(strtol("99999999999999999999"), (i64::MAX, true));
    }
}
