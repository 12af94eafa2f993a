//! `keepalived -t`: the real keepalived 2.2.7 against ha-compat's keepalived personality, over
//! every fixture, in one network namespace that looks like the one
//! fixtures/keepalived/measure.sh records the reference in.
//!
//! Three tests share one run of all fixtures (the first test to get there runs them):
//! - `reference_still_matches_recordings`: the live reference prints and returns exactly what
//!   the fixtures record (`.expected`/`.exit`, `.expected-stderr`/`.expected-exit`), so the
//!   recordings are still true and the lab is set up like measure.sh's.
//! - `exit_codes_match_reference`: ours exits like the reference, except for the differences
//!   listed in compat-tests/known-differences.tsv; a listed difference that no longer
//!   occurs fails too, so the list cannot go stale.
//! - `messages_match_reference`: messages (prefix stripped, de-duplicated) and their line
//!   numbers, compared per fixture; writes target/compat/keepalived-messages.txt and fails
//!   only if more fixtures differ than the thresholds below (so regressions fail).
//!
//! Needs root and keepalived; it panics rather than skip without them.
//! Run: `cargo build -p ha-compat && cargo test -p compat-tests -- --nocapture`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use compat_tests::files::{file_name, relative, sorted_entries};
use compat_tests::{
    exit_code, ours_as, reference_keepalived, require_root, target_dir, workspace_root, Diag, Netns,
};

/// Fixtures whose message sets (reference vs ours) differ today. Lower it when ours improves;
/// a higher count is a regression.
const MAX_FIXTURES_WITH_MESSAGE_DIFFERENCES: usize = 7;
/// Messages that both print with a line number, but with different line numbers, summed over
/// all fixtures. Lower it when ours improves.
const MAX_LINE_NUMBER_MISMATCHES: usize = 0;

/// Lines of ours that are ha-compat's own remarks, not keepalived messages.
const OUR_REMARK: &str = "ha-compat:";

#[derive(Debug)]
struct Fixture {
    /// Path relative to fixtures/, e.g. `keepalived/invalid/crlf.conf`.
    id: String,
    /// Absolute path of the .conf or .args file.
    path: PathBuf,
    /// Its directory (the working directory of the runs).
    dir: PathBuf,
    /// Arguments after `-t`.
    args: Vec<String>,
    recorded_stderr: PathBuf,
    recorded_exit: PathBuf,
}

#[derive(Debug)]
struct Run {
    exit: i32,
    /// stderr with the fixture's absolute path replaced by {FILE} and its directory by
    /// {DIR}, as measure.sh records it.
    stderr: String,
}

#[derive(Debug)]
struct Outcome {
    fixture: Fixture,
    reference: Run,
    ours: Run,
}

fn fixtures() -> Vec<Fixture> {
    let root = workspace_root().join("fixtures");
    let mut out = Vec::new();

    let seeds = root.join("seeds");
    for dir in sorted_entries(&seeds) {
        if !dir.is_dir() {
            continue;
        }
        for file in sorted_entries(&dir) {
            let name = file_name(&file);
            if name.starts_with("keepalived") && name.ends_with(".conf") {
                out.push(Fixture {
                    id: relative(&file, &root),
                    args: vec!["-f".into(), file.display().to_string()],
                    recorded_stderr: with_suffix(&file, ".expected-stderr"),
                    recorded_exit: with_suffix(&file, ".expected-exit"),
                    dir: dir.clone(),
                    path: file,
                });
            }
        }
    }

    let invalid = root.join("keepalived").join("invalid");
    for file in sorted_entries(&invalid) {
        let name = file_name(&file);
        let (stem, is_args) = if let Some(stem) = name.strip_suffix(".conf") {
            (stem.to_owned(), false)
        } else if let Some(stem) = name.strip_suffix(".args") {
            (stem.to_owned(), true)
        } else {
            continue;
        };
        if !file.is_file() {
            continue;
        }
        let args = if is_args {
            // measure.sh: `read -r -a args < FILE`, then {DIR} -> the fixture's directory.
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
            let first = text.lines().next().unwrap_or("");
            let dir = invalid.display().to_string();
            first
                .split_whitespace()
                .map(|a| a.replace("{DIR}", &dir))
                .collect()
        } else {
            vec!["-f".into(), file.display().to_string()]
        };
        out.push(Fixture {
            id: relative(&file, &root),
            args,
            recorded_stderr: invalid.join(format!("{stem}.expected")),
            recorded_exit: invalid.join(format!("{stem}.exit")),
            dir: invalid.clone(),
            path: file,
        });
    }
    assert!(
        out.len() >= 50,
        "found only {} fixtures under {}: is the checkout complete?",
        out.len(),
        root.display()
    );
    out
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Runs every fixture once with each binary; shared by the tests.
fn outcomes() -> &'static [Outcome] {
    static OUTCOMES: OnceLock<Vec<Outcome>> = OnceLock::new();
    OUTCOMES.get_or_init(run_all)
}

fn run_all() -> Vec<Outcome> {
    require_root();
    let reference = reference_keepalived();
    let version = Command::new(&reference)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", reference.display()));
    let version = String::from_utf8_lossy(&version.stderr).into_owned()
        + &String::from_utf8_lossy(&version.stdout);
    assert!(
        version.contains("v2.2.7 "),
        "the fixtures record keepalived v2.2.7, but {} is: {}",
        reference.display(),
        version.lines().next().unwrap_or("(no output)")
    );
    let ours = ours_as("keepalived");
    eprintln!(
        "reference: {} ({})\nours:      {} -> {}",
        reference.display(),
        version.lines().next().unwrap_or("").trim(),
        ours.display(),
        compat_tests::ours().display()
    );

    // The namespace of measure.sh: lo up, eth0 10.0.0.1/24 and eth1 192.168.56.21/24 as veth
    // pairs whose peers are in the namespace too; no other ethN.
    let ns = Netns::create("hac-kt").expect("create network namespace");
    ns.add_veth("eth0", "peth0").expect("add eth0");
    ns.add_veth("eth1", "peth1").expect("add eth1");
    ns.add_addr("eth0", "10.0.0.1/24").expect("address eth0");
    ns.add_addr("eth1", "192.168.56.21/24")
        .expect("address eth1");

    fixtures()
        .into_iter()
        .map(|fixture| {
            let reference = run(&ns, &reference, &fixture);
            let ours = run(&ns, &ours, &fixture);
            Outcome {
                fixture,
                reference,
                ours,
            }
        })
        .collect()
    // `ns` is dropped here (and on any panic above): the namespace is deleted.
}

fn run(ns: &Netns, program: &Path, fixture: &Fixture) -> Run {
    let mut cmd = Command::new(program);
    cmd.arg("-t").args(&fixture.args).current_dir(&fixture.dir);
    let out = ns
        .exec(&cmd)
        .unwrap_or_else(|e| panic!("{}: cannot run {}: {e}", fixture.id, program.display()));
    let stderr = String::from_utf8_lossy(&out.stderr)
        .replace(&fixture.path.display().to_string(), "{FILE}")
        .replace(&fixture.dir.display().to_string(), "{DIR}");
    if !out.stdout.is_empty() {
        eprintln!(
            "NOTE {}: {} wrote to stdout: {}",
            fixture.id,
            program.display(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    Run {
        exit: exit_code(&out.status),
        stderr,
    }
}

// ---------------------------------------------------------------------------------------------
// (c) the recordings are still what the reference does

#[test]
fn reference_still_matches_recordings() {
    let mut problems = Vec::new();
    for o in outcomes() {
        let f = &o.fixture;
        match std::fs::read_to_string(&f.recorded_exit) {
            Ok(text) if text.trim() == o.reference.exit.to_string() => {}
            Ok(text) => problems.push(format!(
                "{}: recorded exit {} but the reference exits {} now",
                f.id,
                text.trim(),
                o.reference.exit
            )),
            Err(e) => problems.push(format!(
                "{}: cannot read {}: {e}",
                f.id,
                f.recorded_exit.display()
            )),
        }
        match std::fs::read(&f.recorded_stderr) {
            Ok(bytes) if String::from_utf8_lossy(&bytes) == o.reference.stderr => {}
            Ok(bytes) => problems.push(format!(
                "{}: recorded stderr differs from the reference's now:\n--- recorded\n{}--- reference now\n{}",
                f.id,
                String::from_utf8_lossy(&bytes),
                o.reference.stderr
            )),
            Err(e) => problems.push(format!(
                "{}: cannot read {}: {e}",
                f.id,
                f.recorded_stderr.display()
            )),
        }
    }
    assert!(
        problems.is_empty(),
        "the live keepalived no longer does what the fixtures record ({} problem(s)).\n\
         Either the lab differs from measure.sh's (killall/psmisc installed? no user \
         keepalived_script? keepalived 2.2.7?) or a fixture changed without re-running \
         fixtures/keepalived/measure.sh:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// (a) exit codes

#[derive(Debug)]
struct KnownDifference {
    kind: String,
    reference: i32,
    ours: i32,
    reason: String,
}

/// compat-tests/known-differences.tsv: `fixture<TAB>kind<TAB>reference-exit<TAB>ours-exit<TAB>reason`,
/// `#` comments and blank lines ignored.
fn known_differences() -> BTreeMap<String, KnownDifference> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("known-differences.tsv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let at = || format!("{}:{}", path.display(), i + 1);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let [fixture, kind, reference, ours, reason] = cols[..] else {
            panic!(
                "{}: expected 5 tab-separated columns (fixture, kind, reference-exit, ours-exit, reason), got {}",
                at(),
                cols.len()
            );
        };
        assert!(
            kind == "deliberate" || kind == "bug-pending",
            "{}: kind must be 'deliberate' or 'bug-pending', not '{kind}'",
            at()
        );
        assert!(!reason.trim().is_empty(), "{}: a reason is required", at());
        let number = |s: &str| -> i32 {
            s.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{}: '{s}' is not an exit code", at()))
        };
        let entry = KnownDifference {
            kind: kind.to_owned(),
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

#[test]
fn exit_codes_match_reference() {
    let known = known_differences();
    let outcomes = outcomes();
    let mut table = String::new();
    let mut problems = Vec::new();
    let width = outcomes
        .iter()
        .map(|o| o.fixture.id.len())
        .max()
        .unwrap_or(7);
    let _ = writeln!(table, "{:width$}  ref  ours  status", "fixture");
    for o in outcomes {
        let id = &o.fixture.id;
        let (r, u) = (o.reference.exit, o.ours.exit);
        let status = match known.get(id) {
            None if r == u => continue,
            None => {
                problems.push(format!(
                    "{id}: reference exits {r}, ours {u}, and this is not in known-differences.tsv"
                ));
                "UNLISTED".to_owned()
            }
            Some(k) if k.reference == r && k.ours == u => {
                format!("known {}: {}", k.kind, k.reason)
            }
            Some(k) => {
                problems.push(format!(
                    "{id}: known-differences.tsv says reference {} / ours {}, but now reference {r} / ours {u}{}",
                    k.reference,
                    k.ours,
                    if r == u { " (no longer differs: remove the entry)" } else { "" }
                ));
                "STALE".to_owned()
            }
        };
        let _ = writeln!(table, "{id:width$}  {r:>3}  {u:>4}  {status}");
    }
    for id in known.keys() {
        if !outcomes.iter().any(|o| &o.fixture.id == id) {
            problems.push(format!(
                "{id}: listed in known-differences.tsv but there is no such fixture"
            ));
        }
    }
    eprintln!("exit code differences (keepalived -t):\n{table}");
    assert!(
        problems.is_empty(),
        "exit codes of ours differ from the reference:\n{}\n\n{table}",
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// (b) messages

#[derive(Debug, Default)]
struct Messages {
    /// Message texts, prefix stripped, de-duplicated.
    texts: BTreeSet<String>,
    /// Line numbers each text was printed with.
    lines: BTreeMap<String, BTreeSet<u32>>,
}

fn messages(stderr: &str, ours: bool) -> Messages {
    let mut m = Messages::default();
    for d in Diag::parse_all(stderr) {
        if ours && d.text.starts_with(OUR_REMARK) {
            continue;
        }
        if let Some(n) = d.line {
            m.lines.entry(d.text.clone()).or_default().insert(n);
        }
        m.texts.insert(d.text);
    }
    m
}

#[test]
fn messages_match_reference() {
    let outcomes = outcomes();
    let mut report = String::new();
    let mut differing = Vec::new();
    let mut line_mismatches = 0usize;
    for o in outcomes {
        let reference = messages(&o.reference.stderr, false);
        let ours = messages(&o.ours.stderr, true);
        let missing: Vec<&String> = reference.texts.difference(&ours.texts).collect();
        let extra: Vec<&String> = ours.texts.difference(&reference.texts).collect();
        let mut lines = Vec::new();
        for (text, ref_lines) in &reference.lines {
            if let Some(our_lines) = ours.lines.get(text) {
                if ref_lines != our_lines {
                    lines.push(format!(
                        "  ~ line {:?} in reference, {:?} in ours: {text}",
                        ref_lines, our_lines
                    ));
                }
            }
        }
        if missing.is_empty() && extra.is_empty() && lines.is_empty() {
            continue;
        }
        if !missing.is_empty() || !extra.is_empty() {
            differing.push(o.fixture.id.clone());
        }
        line_mismatches += lines.len();
        let _ = writeln!(
            report,
            "== {} (exit: reference {}, ours {})",
            o.fixture.id, o.reference.exit, o.ours.exit
        );
        for t in missing {
            let _ = writeln!(report, "  - only in reference: {t}");
        }
        for t in extra {
            let _ = writeln!(report, "  + only in ours:      {t}");
        }
        for l in lines {
            let _ = writeln!(report, "{l}");
        }
    }
    let header = format!(
        "keepalived -t messages, reference vs ours ('(PATH: Line N) ' prefixes stripped, \
         duplicates merged, ours' '{OUR_REMARK}' remarks ignored)\n\
         {} fixtures; {} with differing message sets (threshold {}); \
         {} line-number mismatches (threshold {})\n\n",
        outcomes.len(),
        differing.len(),
        MAX_FIXTURES_WITH_MESSAGE_DIFFERENCES,
        line_mismatches,
        MAX_LINE_NUMBER_MISMATCHES
    );
    let report = header + &report;
    let dir = target_dir().join("compat");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let path = dir.join("keepalived-messages.txt");
    std::fs::write(&path, &report)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    eprintln!("{report}(written to {})", path.display());

    let problems: Vec<String> = [
        threshold(
            "fixtures with differing message sets",
            "MAX_FIXTURES_WITH_MESSAGE_DIFFERENCES",
            differing.len(),
            MAX_FIXTURES_WITH_MESSAGE_DIFFERENCES,
        )
        .map(|p| format!("{p}: {}", differing.join(", "))),
        threshold(
            "line-number mismatches",
            "MAX_LINE_NUMBER_MISMATCHES",
            line_mismatches,
            MAX_LINE_NUMBER_MISMATCHES,
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(
        problems.is_empty(),
        "messages regressed against the reference (see {}):\n{}",
        path.display(),
        problems.join("\n")
    );
}

/// `None` if `count` is within `max` (with a note to tighten `constant` when it is below),
/// else the problem.
fn threshold(what: &str, constant: &str, count: usize, max: usize) -> Option<String> {
    if count < max {
        eprintln!("NOTE: only {count} {what} now: lower {constant} to {count}");
    }
    (count > max).then(|| format!("{count} {what}, more than the {max} recorded in {constant}"))
}
