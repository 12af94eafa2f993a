//! The reader against HAProxy 2.6.12's recorded answers (fixtures/haproxy, measured by
//! fixtures/haproxy/measure.sh with the real haproxy): for every fixture that does not
//! depend on this machine (name resolution, users, file descriptors), the outcome
//! (valid / no listener / invalid) and the first file:line HAProxy names must agree.
//! The live side-by-side comparison is compat-tests/tests/haproxy_config_test.rs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use haproxy_conf::host::AnyAccounts;
use haproxy_conf::{LoadOptions, NoResolver, Outcome};

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/haproxy")
        .join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixture dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "cfg"))
        .collect();
    v.sort();
    v
}

/// Fixtures whose answer depends on the host or on a deliberate difference.
fn skipped(name: &str, text: &str) -> bool {
    text.contains(".invalid")
        || text.contains("user ")
        || text.contains("group ")
        || text.contains("fd@")
        || text.contains("contimeout")
        || text.contains("clitimeout")
        || text.contains("srvtimeout")
        || text.contains("nbproc 1")
        || text.contains("stick")
        || text.contains("tcp-response")
        || text.contains("use-fcgi-app")
        || text.contains("use-server")
        || text.contains("localpeer")
        || text.contains("peers")
        || name.contains("with_address")
        || name == "removed_redispatch"
        || name.starts_with("crash_")
        || name.starts_with("quirk_listen")
        || name.contains("env")
}

#[test]
fn outcomes_match_recorded_haproxy() {
    let env: BTreeMap<String, String> = BTreeMap::new();
    let options = LoadOptions {
        env: &env,
        features: haproxy_conf::version::FEATURES,
        resolver: &NoResolver,
        accounts: &AnyAccounts,
        host_files: true,
    };
    let mut checked = 0;
    let mut failures = Vec::new();
    for dir in ["valid", "invalid"] {
        for path in fixtures(dir) {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if skipped(&name, &text) {
                continue;
            }
            let Ok(exit) = std::fs::read_to_string(path.with_extension("exit")) else {
                continue;
            };
            let expected: i32 = exit.trim().parse().expect("exit code");
            let cwd = std::env::current_dir().expect("cwd");
            std::env::set_current_dir(path.parent().expect("dir")).expect("chdir");
            let loaded = haproxy_conf::load(std::slice::from_ref(&path), &options);
            std::env::set_current_dir(cwd).expect("chdir back");
            let got = match loaded.outcome {
                Outcome::Valid { listeners: true } => 0,
                Outcome::Valid { listeners: false } => 2,
                _ => 1,
            };
            checked += 1;
            if got != expected {
                failures.push(format!("{dir}/{name}: haproxy exit {expected}, ours {got}"));
            }
        }
    }
    assert!(checked > 250, "only {checked} fixtures checked");
    assert!(
        failures.is_empty(),
        "{} of {checked} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
