//! `haproxy -c`: the real HAProxy 2.6 against ha-compat's haproxy personality, over every
//! fixture, run live side by side (the recorded `.expected*` files are for humans and for the
//! parser's unit tests; this test does not read them).
//!
//! Fixtures: fixtures/haproxy/{valid,invalid,cli,seeds}/NAME.cfg and NAME.args (not
//! recursive), and fixtures/seeds/*/haproxy*.cfg (a fixtures/haproxy/seeds/NNN-NAME.cfg that is
//! a byte-exact copy of fixtures/seeds/NNN/NAME.cfg is run once, as the latter). Each is run
//! like fixtures/haproxy/measure.sh runs it: with the fixture's directory as working directory,
//! as `env -i PATH=... [VAR=value from NAME.env...] haproxy -c -f /ABSOLUTE/NAME.cfg` (or the
//! arguments of NAME.args, one per line, `#` lines skipped, `{DIR}` -> the directory), with the
//! PID of `[LEVEL] (PID)`, the fixture's path and directory and the host-dependent lines of
//! `-v`/`-vv` normalised as measure.sh does.
//!
//! Both programs run inside one fresh network namespace holding only `lo`: `haproxy -c`
//! resolves server host names, and there every name that /etc/hosts does not know fails to
//! resolve, quickly and the same way for both (`measure.sh --check` run in such a namespace
//! reproduces every recording).
//!
//! Three tests share one run of all fixtures (the first test to get there runs them, a few
//! fixtures at a time):
//! - `exit_codes_and_alert_locations_match_reference`: ours exits like the reference, except
//!   for the differences listed in compat-tests/haproxy-known-differences.tsv (a listed
//!   difference that no longer occurs fails too, so the list cannot go stale); and where the
//!   reference exits 1, the `[FILE:LINE]` places named in its `[ALERT]` messages are exactly
//!   those named in ours (both directions). Prints a per-fixture table.
//! - `messages_match_reference`: the stderr messages (a message is a line with its `   | `
//!   continuation lines) except the `[NOTICE]` preamble that names the version and the
//!   executable, and ours' `ha-compat:` remarks, compared as multisets per fixture; writes
//!   target/compat/haproxy-messages.txt and fails only if more fixtures differ than
//!   `MAX_FIXTURES_WITH_MESSAGE_DIFFERENCES` (so regressions fail).
//! - `stdout_matches_reference_when_both_exit_0`: `Configuration file is valid`, `Warnings
//!   were found.` and the like, compared exactly (except the `-v`/`-vv` version banner, where
//!   ours names itself on purpose).
//!
//! Needs root and haproxy; it panics rather than skip without them.
//! Run: `cargo build --release -p ha-compat &&
//! cargo test --release -p compat-tests --test haproxy_config_test -- --nocapture`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use compat_tests::bins::reference_haproxy;
use compat_tests::diag::{normalise_haproxy_pid, HaproxyMessage};
use compat_tests::files::{file_name, relative, sorted_entries};
use compat_tests::{exit_code, ours_as, require_root, target_dir, workspace_root, Netns};

/// Fixtures whose messages (reference vs ours, see `messages_match_reference`) differ today,
/// not counting those listed in haproxy-known-differences.tsv. It ratchets: lower it to the
/// new count whenever the parser improves (the test prints a NOTE when the count is below
/// it); a higher count is a regression and fails. Never raise it to make a change pass.
const MAX_FIXTURES_WITH_MESSAGE_DIFFERENCES: usize = 46;

/// Ours' own remarks, not HAProxy messages, are messages whose text (after the `[LEVEL] (PID) :
/// config : [FILE:LINE] :` prefixes) starts with this, e.g. `[WARNING]  (PID) : config : parsing
/// [F:L] : ha-compat: 'errorloc' is accepted as HAProxy 2.6 accepts it, but ...`. They are left
/// out of the message comparison (and listed apart in the report), like the keepalived test's.
const OUR_REMARK: &str = "ha-compat:";

/// Fixtures run at the same time (each runs the reference, then ours).
const THREADS: usize = 4;

#[derive(Debug)]
struct Fixture {
    /// Path relative to the workspace, e.g. `fixtures/haproxy/invalid/contimeout.cfg`.
    id: String,
    /// Absolute path of the .cfg or .args file.
    path: PathBuf,
    /// Its directory (the working directory of the runs).
    dir: PathBuf,
    /// All arguments: `-c -f PATH`, or those of the .args file.
    args: Vec<String>,
    /// Variables from NAME.env.
    env: Vec<(String, String)>,
}

#[derive(Debug)]
struct Run {
    exit: i32,
    /// stderr normalised as measure.sh records it: `[LEVEL] (PID)`, the fixture's absolute
    /// path -> {FILE}, its directory -> {DIR}.
    stderr: String,
    /// stdout, normalised the same way.
    stdout: String,
}

#[derive(Debug)]
struct Outcome {
    fixture: Fixture,
    reference: Run,
    ours: Run,
}

fn fixtures() -> Vec<Fixture> {
    let root = workspace_root();
    let mut out = Vec::new();

    for sub in ["valid", "invalid", "cli", "seeds"] {
        let dir = root.join("fixtures").join("haproxy").join(sub);
        if !dir.is_dir() {
            continue;
        }
        for file in sorted_entries(&dir) {
            let name = file_name(&file);
            if !file.is_file() {
                continue;
            }
            if sub == "seeds" && is_copy_of_seed(&file, &name) {
                continue;
            }
            let (stem, args) = if let Some(stem) = name.strip_suffix(".cfg") {
                (
                    stem,
                    vec!["-c".into(), "-f".into(), file.display().to_string()],
                )
            } else if let Some(stem) = name.strip_suffix(".args") {
                (stem, args_file(&file, &dir))
            } else {
                continue;
            };
            out.push(Fixture {
                id: relative(&file, &root),
                env: env_file(&dir.join(format!("{stem}.env"))),
                args,
                dir: dir.clone(),
                path: file,
            });
        }
    }

    let seeds = root.join("fixtures").join("seeds");
    for dir in sorted_entries(&seeds) {
        if !dir.is_dir() {
            continue;
        }
        for file in sorted_entries(&dir) {
            let name = file_name(&file);
            if name.starts_with("haproxy") && name.ends_with(".cfg") && file.is_file() {
                out.push(Fixture {
                    id: relative(&file, &root),
                    args: vec!["-c".into(), "-f".into(), file.display().to_string()],
                    env: Vec::new(),
                    dir: dir.clone(),
                    path: file,
                });
            }
        }
    }
    assert!(
        out.len() >= 5,
        "found only {} haproxy fixtures under {}: is the checkout complete?",
        out.len(),
        root.join("fixtures").display()
    );
    out
}

/// fixtures/haproxy/seeds/NNN-NAME.cfg is a copy of fixtures/seeds/NNN/NAME.cfg made so that
/// measure.sh records it; a byte-identical copy is run once, under its fixtures/seeds name.
fn is_copy_of_seed(file: &Path, name: &str) -> bool {
    let Some((nnn, rest)) = name.split_once('-') else {
        return false;
    };
    let original = workspace_root()
        .join("fixtures")
        .join("seeds")
        .join(nnn)
        .join(rest);
    matches!(
        (std::fs::read(file), std::fs::read(&original)),
        (Ok(a), Ok(b)) if a == b
    )
}

/// NAME.args as measure.sh reads it: one argument per line, verbatim; lines starting with `#`
/// are comments; `{DIR}` -> the fixture's directory.
fn args_file(file: &Path, dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    let dir = dir.display().to_string();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.replace("{DIR}", &dir))
        .collect()
}

/// NAME.env as measure.sh reads it: `VAR=value` lines, verbatim; blank and `#` lines skipped.
/// No such file: no variables.
fn env_file(file: &Path) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return Vec::new();
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(i, l)| {
            let (k, v) = l.split_once('=').unwrap_or_else(|| {
                panic!(
                    "{}:{}: expected VAR=value, got '{l}'",
                    file.display(),
                    i + 1
                )
            });
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// Runs every fixture once with each binary; shared by the tests.
fn outcomes() -> &'static [Outcome] {
    static OUTCOMES: OnceLock<Vec<Outcome>> = OnceLock::new();
    OUTCOMES.get_or_init(run_all)
}

fn run_all() -> Vec<Outcome> {
    require_root();
    let reference = reference_haproxy();
    let version = Command::new(&reference)
        .arg("-v")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", reference.display()));
    let version = String::from_utf8_lossy(&version.stdout).into_owned()
        + &String::from_utf8_lossy(&version.stderr);
    let version = version
        .lines()
        .next()
        .unwrap_or("(no output)")
        .trim()
        .to_owned();
    assert!(
        version.contains("version 2.6."),
        "the fixtures are for HAProxy 2.6, but {} is: {version}",
        reference.display(),
    );
    let ours = ours_as("haproxy");
    eprintln!(
        "reference: {} ({version})\nours:      {} -> {}",
        reference.display(),
        ours.display(),
        compat_tests::ours().display()
    );

    // Only `lo`: names that /etc/hosts does not know fail to resolve, at once, for both.
    let ns = Netns::create("hac-ht").expect("create network namespace");
    let fixtures = fixtures();
    let started = std::time::Instant::now();
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Run, Run)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..THREADS.min(fixtures.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(fixture) = fixtures.get(i) else {
                    break;
                };
                let r = run(&ns, &reference, fixture);
                let o = run(&ns, &ours, fixture);
                done.lock().expect("lock").push((i, r, o));
            });
        }
    });
    let mut done = done.into_inner().expect("lock");
    done.sort_by_key(|(i, _, _)| *i);
    eprintln!(
        "ran {} fixtures with both programs in {:.1} s ({THREADS} at a time)",
        fixtures.len(),
        started.elapsed().as_secs_f64()
    );
    fixtures
        .into_iter()
        .zip(done)
        .map(|(fixture, (_, reference, ours))| Outcome {
            fixture,
            reference,
            ours,
        })
        .collect()
    // `ns` is dropped here (and on any panic above): the namespace is deleted.
}

fn run(ns: &Netns, program: &Path, fixture: &Fixture) -> Run {
    let mut cmd = Command::new(program);
    cmd.args(&fixture.args).current_dir(&fixture.dir);
    for (k, v) in &fixture.env {
        cmd.env(k, v);
    }
    let out = ns
        .exec(&cmd)
        .unwrap_or_else(|e| panic!("{}: cannot run {}: {e}", fixture.id, program.display()));
    Run {
        exit: exit_code(&out.status),
        stderr: normalise(&out.stderr, fixture),
        stdout: normalise(&out.stdout, fixture),
    }
}

/// measure.sh's `normalise`, per line: the PID after a leading `[LEVEL]` -> `PID`; the
/// fixture's absolute path -> {FILE}, then its directory -> {DIR}; `Running on: ...` ->
/// `Running on: {UNAME}`; `Built with multi-threading support (MAX_THREADS=N, default=NCPU)`
/// -> `default={NBCPU})`.
fn normalise(bytes: &[u8], fixture: &Fixture) -> String {
    const THREADS_LINE: &str = "Built with multi-threading support (MAX_THREADS=";
    let path = fixture.path.display().to_string();
    let dir = fixture.dir.display().to_string();
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let mut body = normalise_haproxy_pid(body)
            .replace(&path, "{FILE}")
            .replace(&dir, "{DIR}");
        if body.starts_with("Running on: ") {
            body = "Running on: {UNAME}".to_owned();
        } else if let Some(rest) = body.strip_prefix(THREADS_LINE) {
            // `64, default=2)` -> `64, default={NBCPU})`
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if let Some(cpus) = rest[digits..]
                .strip_prefix(", default=")
                .filter(|_| digits > 0)
            {
                let n = cpus.bytes().take_while(u8::is_ascii_digit).count();
                if n > 0 && cpus[n..].starts_with(')') {
                    body = format!(
                        "{THREADS_LINE}{}, default={{NBCPU}}{}",
                        &rest[..digits],
                        &cpus[n..]
                    );
                }
            }
        }
        out.push_str(&body);
        out.push_str(nl);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// (a) exit codes and the places named in ALERTs

#[derive(Debug)]
struct KnownDifference {
    reference: i32,
    ours: i32,
    reason: String,
}

/// compat-tests/haproxy-known-differences.tsv:
/// `fixture<TAB>reference-exit<TAB>ours-exit<TAB>reason`, `#` comments and blank lines ignored.
fn known_differences() -> BTreeMap<String, KnownDifference> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("haproxy-known-differences.tsv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let at = || format!("{}:{}", path.display(), i + 1);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let [fixture, reference, ours, reason] = cols[..] else {
            panic!(
                "{}: expected 4 tab-separated columns (fixture, reference-exit, ours-exit, reason), got {}",
                at(),
                cols.len()
            );
        };
        assert!(!reason.trim().is_empty(), "{}: a reason is required", at());
        let number = |s: &str| -> i32 {
            s.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{}: '{s}' is not an exit code", at()))
        };
        let entry = KnownDifference {
            reference: number(reference),
            ours: number(ours),
            reason: reason.trim().to_owned(),
        };
        assert!(
            out.insert(fixture.to_owned(), entry).is_none(),
            "{}: {fixture} is listed twice",
            at()
        );
    }
    out
}

/// The `[FILE:LINE]` places named in the `[ALERT]` messages of `stderr`.
fn alert_locations(stderr: &str) -> BTreeSet<(String, u32)> {
    HaproxyMessage::parse_all(stderr)
        .iter()
        .filter(|m| m.level.as_deref() == Some("ALERT"))
        .flat_map(HaproxyMessage::locations)
        .collect()
}

/// `14-16,20` for places in {FILE}, `FILE:3` for others; `-` for none.
fn show_locations<'a>(places: impl IntoIterator<Item = &'a (String, u32)>) -> String {
    let mut by_file: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for (file, line) in places {
        by_file.entry(file).or_default().push(*line);
    }
    let mut parts = Vec::new();
    for (file, mut lines) in by_file {
        lines.sort_unstable();
        let mut ranges = Vec::new();
        let mut i = 0;
        while i < lines.len() {
            let mut j = i;
            while j + 1 < lines.len() && lines[j + 1] == lines[j] + 1 {
                j += 1;
            }
            ranges.push(if i == j {
                lines[i].to_string()
            } else {
                format!("{}-{}", lines[i], lines[j])
            });
            i = j + 1;
        }
        let ranges = ranges.join(",");
        parts.push(if file == "{FILE}" {
            ranges
        } else {
            format!("{file}:{ranges}")
        });
    }
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(" ")
    }
}

#[test]
fn exit_codes_and_alert_locations_match_reference() {
    let known = known_differences();
    let outcomes = outcomes();
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for o in outcomes {
        let id = &o.fixture.id;
        let (r, u) = (o.reference.exit, o.ours.exit);
        let mut status = Vec::new();
        let listed = known.get(id);
        match listed {
            None if r == u => {}
            None => {
                problems.push(format!(
                    "{id}: reference exits {r}, ours {u}, and this is not in haproxy-known-differences.tsv"
                ));
                status.push("EXIT".to_owned());
            }
            Some(k) if k.reference == r && k.ours == u => {
                status.push(format!("known: {}", k.reason));
            }
            Some(k) => {
                problems.push(format!(
                    "{id}: haproxy-known-differences.tsv says reference {} / ours {}, but now reference {r} / ours {u}{}",
                    k.reference,
                    k.ours,
                    if r == u { " (no longer differs: remove the entry)" } else { "" }
                ));
                status.push("STALE".to_owned());
            }
        }
        let (mut missing, mut extra) = (String::from("-"), String::from("-"));
        // A listed difference is one where ours deliberately does not fail: its messages are
        // warnings, so there are no ALERT places to compare.
        if r == 1 && listed.is_none() {
            let theirs = alert_locations(&o.reference.stderr);
            let mine = alert_locations(&o.ours.stderr);
            let only_theirs: Vec<_> = theirs.difference(&mine).collect();
            let only_mine: Vec<_> = mine.difference(&theirs).collect();
            if !only_theirs.is_empty() || !only_mine.is_empty() {
                missing = show_locations(only_theirs.iter().copied());
                extra = show_locations(only_mine.iter().copied());
                problems.push(format!(
                    "{id}: ALERT places (line numbers in {{FILE}} unless a file is named): \
                     missing in ours [{missing}], extra in ours [{extra}]"
                ));
                status.push("PLACES".to_owned());
            }
        }
        let status = if status.is_empty() {
            "ok".to_owned()
        } else {
            status.join(" ")
        };
        *counts
            .entry(match status.split(' ').next().unwrap_or("") {
                "known:" => "known",
                "ok" => "ok",
                _ => "differ",
            })
            .or_default() += 1;
        rows.push([
            id.clone(),
            r.to_string(),
            u.to_string(),
            missing,
            extra,
            status,
        ]);
    }
    for id in known.keys() {
        if !outcomes.iter().any(|o| &o.fixture.id == id) {
            problems.push(format!(
                "{id}: listed in haproxy-known-differences.tsv but there is no such fixture"
            ));
        }
    }

    let header = [
        "fixture",
        "ref",
        "ours",
        "missing ALERT places",
        "extra ALERT places",
        "status",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row).take(5) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut table = String::new();
    let mut line = |cells: [&str; 6]| {
        let _ = writeln!(
            table,
            "{:w0$}  {:>w1$}  {:>w2$}  {:w3$}  {:w4$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            cells[5],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4],
        );
    };
    line(header);
    for row in &rows {
        line(row.each_ref().map(String::as_str));
    }
    let summary = format!(
        "{} fixtures: {} ok, {} known differences, {} differ \
         (ALERT places are line numbers in {{FILE}} unless a file is named; \
         compared where the reference exits 1)",
        outcomes.len(),
        counts.get("ok").copied().unwrap_or(0),
        counts.get("known").copied().unwrap_or(0),
        counts.get("differ").copied().unwrap_or(0),
    );
    eprintln!("haproxy -c, reference vs ours:\n{table}{summary}");
    assert!(
        problems.is_empty(),
        "{} problem(s): exit codes or ALERT places of ours differ from the reference:\n{}\n{summary}\n\
         (the per-fixture table is printed above; run with --nocapture to see it)",
        problems.len(),
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// (b) messages

/// The `[NOTICE]` lines HAProxy prints before the first warning or alert, which say which
/// binary runs (`haproxy version is 2.6.12-1+deb12u4`, `path to executable is /usr/sbin/haproxy`).
const PREAMBLE: [&str; 2] = ["haproxy version is ", "path to executable is "];

fn is_preamble(m: &HaproxyMessage) -> bool {
    m.level.as_deref() == Some("NOTICE")
        && m.text
            .split_once(") : ")
            .is_some_and(|(_, text)| PREAMBLE.iter().any(|p| text.starts_with(p)))
}

/// One of ours' remarks (see [`OUR_REMARK`]).
fn is_remark(text: &str) -> bool {
    text.starts_with(OUR_REMARK) || text.contains(&format!(": {OUR_REMARK} "))
}

/// The messages of `stderr` without the [`PREAMBLE`], in the order printed.
fn messages_in_order(stderr: &str) -> Vec<String> {
    HaproxyMessage::parse_all(stderr)
        .into_iter()
        .filter(|m| !is_preamble(m))
        .map(|m| m.text)
        .collect()
}

/// [`messages_in_order`] without ours' remarks if `ours`, sorted: a multiset.
fn messages(stderr: &str, ours: bool) -> Vec<String> {
    let mut v: Vec<String> = messages_in_order(stderr)
        .into_iter()
        .filter(|m| !(ours && is_remark(m)))
        .collect();
    v.sort();
    v
}

/// Multiset difference `a - b` of two sorted lists.
fn minus<'a>(a: &'a [String], b: &[String]) -> Vec<&'a String> {
    let mut out = Vec::new();
    let mut j = 0;
    for x in a {
        while j < b.len() && b[j] < *x {
            j += 1;
        }
        if j < b.len() && b[j] == *x {
            j += 1;
        } else {
            out.push(x);
        }
    }
    out
}

fn indent(text: &str, prefix: &str) -> String {
    if text.is_empty() {
        return format!("{prefix}(empty line)\n");
    }
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{prefix}{l}\n")
            } else {
                format!("{}{l}\n", " ".repeat(prefix.len()))
            }
        })
        .collect()
}

#[test]
fn messages_match_reference() {
    let outcomes = outcomes();
    let mut report = String::new();
    let mut differing = Vec::new();
    let mut remarks = 0usize;
    let known = known_differences();
    let mut known_differing = 0usize;
    for o in outcomes {
        let reference = messages(&o.reference.stderr, false);
        let ours = messages(&o.ours.stderr, true);
        let our_remarks = messages_in_order(&o.ours.stderr)
            .into_iter()
            .filter(|m| is_remark(m))
            .count();
        remarks += our_remarks;
        if reference == ours && our_remarks == 0 {
            continue;
        }
        let listed = known.contains_key(&o.fixture.id);
        if reference == ours {
            let _ = writeln!(
                report,
                "== {} (exit: reference {}, ours {}): same messages, and {our_remarks} remark(s) of ours:",
                o.fixture.id, o.reference.exit, o.ours.exit
            );
            for m in messages_in_order(&o.ours.stderr)
                .iter()
                .filter(|m| is_remark(m))
            {
                report.push_str(&indent(m, "    "));
            }
            report.push('\n');
            continue;
        }
        if listed {
            known_differing += 1;
        } else {
            differing.push(o.fixture.id.clone());
        }
        let _ = writeln!(
            report,
            "== {} (exit: reference {}, ours {}){}",
            o.fixture.id,
            o.reference.exit,
            o.ours.exit,
            if listed {
                " [in haproxy-known-differences.tsv: not counted]"
            } else {
                ""
            }
        );
        let _ = writeln!(report, "  reference stderr (without the preamble):");
        for m in messages_in_order(&o.reference.stderr) {
            report.push_str(&indent(&m, "    "));
        }
        let _ = writeln!(report, "  ours (remarks, not compared, marked with *):");
        for m in messages_in_order(&o.ours.stderr) {
            let prefix = if is_remark(&m) { "  * " } else { "    " };
            report.push_str(&indent(&m, prefix));
        }
        for m in minus(&reference, &ours) {
            report.push_str(&indent(m, "  - only in reference: "));
        }
        for m in minus(&ours, &reference) {
            report.push_str(&indent(m, "  + only in ours:      "));
        }
        report.push('\n');
    }
    let header = format!(
        "haproxy -c messages, reference vs ours (stderr without the [NOTICE] preamble (version, \
         path to executable) and ours' \
         '{OUR_REMARK}' remarks; a message is a line with its '   |' continuation lines; \
         PIDs, the fixture's path and directory normalised; compared as multisets)\n\
         {} fixtures; {} with differing messages (threshold MAX_FIXTURES_WITH_MESSAGE_DIFFERENCES = {}), \
         not counting {known_differing} listed in haproxy-known-differences.tsv; \
         {remarks} remarks of ours (not compared, listed too)\n\n",
        outcomes.len(),
        differing.len(),
        MAX_FIXTURES_WITH_MESSAGE_DIFFERENCES,
    );
    let report = header + &report;
    let dir = target_dir().join("compat");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let path = dir.join("haproxy-messages.txt");
    std::fs::write(&path, &report)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    eprintln!(
        "haproxy -c messages: {} of {} fixtures differ (threshold {}), report in {}",
        differing.len(),
        outcomes.len(),
        MAX_FIXTURES_WITH_MESSAGE_DIFFERENCES,
        path.display()
    );
    let count = differing.len();
    if count < MAX_FIXTURES_WITH_MESSAGE_DIFFERENCES {
        eprintln!(
            "NOTE: only {count} fixtures with differing messages now: \
             lower MAX_FIXTURES_WITH_MESSAGE_DIFFERENCES to {count}"
        );
    }
    assert!(
        count <= MAX_FIXTURES_WITH_MESSAGE_DIFFERENCES,
        "messages regressed against the reference: {count} fixtures differ, more than the {} \
         recorded in MAX_FIXTURES_WITH_MESSAGE_DIFFERENCES (see {}): {}",
        MAX_FIXTURES_WITH_MESSAGE_DIFFERENCES,
        path.display(),
        differing.join(", ")
    );
}

// ---------------------------------------------------------------------------------------------
// (c) stdout

/// Fixtures where both exit 0 but stdout differs on purpose, and why.
const STDOUT_KNOWN_DIFFERENCES: &[(&str, &str)] = &[(
    "fixtures/haproxy/valid/quirk_listen_with_address_alert_only.cfg",
    "HAProxy prints an ALERT for `listen NAME ADDR:PORT` but, the section being empty, still \
     exits 0 without 'Warnings were found.'; ours reads the address as `bind ADDR:PORT` and says \
     so with a WARNING, hence 'Warnings were found.'",
)];

#[test]
fn stdout_matches_reference_when_both_exit_0() {
    let mut problems = Vec::new();
    let mut compared = 0;
    let mut banners = Vec::new();
    for o in outcomes() {
        if o.reference.exit != 0 || o.ours.exit != 0 {
            continue;
        }
        // `-v`/`-vv` print the version banner, where ours names itself on purpose
        // (`HAProxy version 2.6.12-ha-compat-...`): not compared.
        if o.fixture.args.iter().any(|a| a == "-v" || a == "-vv") {
            banners.push(o.fixture.id.as_str());
            continue;
        }
        compared += 1;
        if o.reference.stdout == o.ours.stdout {
            continue;
        }
        if STDOUT_KNOWN_DIFFERENCES
            .iter()
            .any(|(id, _)| *id == o.fixture.id)
        {
            continue;
        }
        let (r, u): (Vec<&str>, Vec<&str>) = (
            o.reference.stdout.lines().collect(),
            o.ours.stdout.lines().collect(),
        );
        let what = if r.len() <= 3 && u.len() <= 3 {
            format!("reference {r:?}, ours {u:?}")
        } else {
            let n = r.iter().zip(&u).take_while(|(a, b)| a == b).count();
            format!(
                "{} vs {} lines, first difference at line {}: reference {:?}, ours {:?}",
                r.len(),
                u.len(),
                n + 1,
                r.get(n).copied().unwrap_or("(end)"),
                u.get(n).copied().unwrap_or("(end)")
            )
        };
        let remarks = messages_in_order(&o.ours.stderr)
            .iter()
            .filter(|m| m.starts_with("[WARNING]") && is_remark(m))
            .count();
        let note = if remarks > 0 {
            format!(" (ours printed {remarks} '{OUR_REMARK}' remark WARNING(s))")
        } else {
            String::new()
        };
        problems.push(format!("{}: {what}{note}", o.fixture.id));
    }
    eprintln!(
        "haproxy stdout: {} of {compared} fixtures where both exit 0 differ \
         (not compared: the version banners of {})",
        problems.len(),
        banners.join(", ")
    );
    assert!(
        problems.is_empty(),
        "stdout of ours differs from the reference in {} of {compared} fixtures where both \
         exit 0:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
