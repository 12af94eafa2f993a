//! The seed labs: every seed setup run for real in network namespaces, with each subject
//! (`HA_COMPAT_SUBJECT=reference|ha-compat|mixed`, comma-separated; all when unset), and a
//! summary table at the end. Root only.
//!
//! `cargo test -p compat-tests --release --test labs -- [SCENARIO...]` runs the named
//! scenarios (`seed000` ... `seed004`, `seed003-nopreempt`); see docs/compat-tests.md.
//!
//! Not a libtest harness (`harness = false` in Cargo.toml): the scenarios run one after the
//! other (their timings must not disturb each other), the summary is printed to stdout
//! uncaptured, and the run fails on a failed check, a crashed lab or anything left behind.

use compat_tests::scenario::{details, summary, Subject};
use compat_tests::seeds::{self, ReferenceRecord, SCENARIOS};

fn main() {
    // libtest's flags (`--quiet`, `--nocapture`...) may be passed by cargo; names without
    // a dash select scenarios.
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let unknown: Vec<&String> = wanted
        .iter()
        .filter(|w| !SCENARIOS.contains(&w.as_str()))
        .collect();
    if !unknown.is_empty() {
        eprintln!("labs: unknown scenario(s) {unknown:?}; known: {SCENARIOS:?}");
        std::process::exit(2);
    }
    compat_tests::require_root();
    let subjects = Subject::from_env();
    let mut reference = ReferenceRecord::default();
    let mut reports = Vec::new();
    for subject in subjects {
        for name in SCENARIOS {
            if !wanted.is_empty() && !wanted.iter().any(|w| w == name) {
                continue;
            }
            reports.push(seeds::run(name, subject, &mut reference));
        }
    }
    // Only this process's labs: another run may share the machine.
    let own = format!("{}-{}-", compat_tests::lab::PREFIX, std::process::id());
    let left: Vec<String> = compat_tests::lab::leftovers()
        .into_iter()
        .filter(|l| l.contains(&own))
        .collect();
    let table = summary(&reports);
    let dir = compat_tests::target_dir().join("compat/labs");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("summary.md"), &table);
    let _ = std::fs::write(dir.join("details.md"), details(&reports));
    println!("\nseed labs (artifacts in {}):\n{table}", dir.display());
    let mut failed = false;
    if !left.is_empty() {
        println!("left behind after the labs: {left:?}");
        failed = true;
    }
    for r in &reports {
        if r.is_failure() {
            println!("FAILED: {} with {}: {}", r.scenario, r.subject, r.status());
            failed = true;
        }
    }
    if failed {
        println!("details: {}", dir.join("details.md").display());
        std::process::exit(1);
    }
}
