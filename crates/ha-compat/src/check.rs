//! Loading a configuration and reporting what was found.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use conf_diag::{render_keepalived, render_rich};
use keepalived_conf::host::{PermissiveHost, SystemHost};
use keepalived_conf::{Parsed, ReadOptions};

/// Which way diagnostics are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// keepalived's own one-line format, for drop-in use.
    Keepalived,
    /// rustc-like, with the source line and a caret.
    Rich,
}

/// Reads a keepalived.conf as `keepalived -t` would on this machine; with `portable`,
/// nothing is looked up on this machine (the file is meant for another).
pub fn load_keepalived(
    path: &Path,
    config_id: Option<String>,
    portable: bool,
) -> anyhow::Result<Parsed> {
    let options = ReadOptions {
        config_id: config_id.or_else(host_name),
    };
    let host: Box<dyn keepalived_conf::host::Host> = if portable {
        Box::new(PermissiveHost)
    } else {
        Box::new(SystemHost::new())
    };
    keepalived_conf::parse_file(path, &options, host.as_ref())
        .with_context(|| format!("reading {}", path.display()))
}

/// Writes every diagnostic in the chosen style. In keepalived's style the output stops
/// where keepalived stops: at a line missing its parameter (keepalived exits there).
pub fn report(parsed: &Parsed, style: Style, err: &mut dyn Write) -> std::io::Result<()> {
    for d in &parsed.diagnostics {
        let stops = d.code == Some(keepalived_conf::status::STOPPED_CODE);
        let text = match style {
            Style::Keepalived => render_keepalived(d, &parsed.sources) + "\n",
            Style::Rich => render_rich(d, &parsed.sources) + "\n",
        };
        err.write_all(text.as_bytes())?;
        if stops && style == Style::Keepalived {
            break;
        }
    }
    Ok(())
}

/// Which daemon a configuration file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    Keepalived,
    Haproxy,
}

/// Tells a haproxy.cfg from a keepalived.conf by its first keyword (both are plain text
/// and either may have any name); falls back to the file name.
pub fn kind_of(path: &Path) -> ConfigKind {
    const HAPROXY_FIRST: &[&str] = &[
        "global",
        "defaults",
        "frontend",
        "backend",
        "listen",
        "userlist",
        "peers",
        "resolvers",
        "mailers",
        "http-errors",
        "ring",
        "cache",
        "program",
        "log-forward",
        "fcgi-app",
        ".if",
        ".notice",
        ".warning",
        ".alert",
    ];
    if let Ok(text) = std::fs::read(path) {
        let text = String::from_utf8_lossy(&text);
        for line in text.lines() {
            let line = line.split(['#', '!']).next().unwrap_or("").trim();
            let Some(word) = line.split_whitespace().next() else {
                continue;
            };
            return if HAPROXY_FIRST.contains(&word) {
                ConfigKind::Haproxy
            } else {
                ConfigKind::Keepalived
            };
        }
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.ends_with(".cfg") || name.contains("haproxy") {
        ConfigKind::Haproxy
    } else {
        ConfigKind::Keepalived
    }
}

/// `ha-compat check -f haproxy.cfg`: every diagnostic in the rich form, a summary line,
/// and HAProxy's exit status (0 valid, 1 invalid, 2 valid without a listener).
pub fn check_haproxy(
    path: &Path,
    dump: bool,
    portable: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    use haproxy_conf::host::{AnyAccounts, SystemAccounts};
    use haproxy_conf::lexer::ProcessEnv;
    use haproxy_conf::{NoResolver, Outcome, SystemResolver};
    let options = haproxy_conf::LoadOptions {
        env: &ProcessEnv,
        features: haproxy_conf::version::FEATURES,
        resolver: if portable {
            &NoResolver
        } else {
            &SystemResolver
        },
        accounts: if portable {
            &AnyAccounts
        } else {
            &SystemAccounts
        },
        host_files: !portable,
    };
    let files = match haproxy_conf::files::expand(&[path.to_path_buf()]) {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return 1;
        }
    };
    let loaded = haproxy_conf::load(&files, &options);
    let mut errors = 0;
    let mut warnings = 0;
    for d in &loaded.diagnostics {
        match d.severity {
            conf_diag::Severity::Warning => warnings += 1,
            conf_diag::Severity::Error | conf_diag::Severity::Fatal => errors += 1,
            conf_diag::Severity::Notice => {}
        }
        let _ = writeln!(err, "{}", render_rich(d, &loaded.sources));
    }
    let c = &loaded.config;
    let _ = writeln!(
        err,
        "{}: {} frontend(s), {} backend(s), {} server(s), {} error(s), {} warning(s)",
        path.display(),
        c.frontends().count(),
        c.backends().count(),
        c.backends().map(|b| b.servers.len()).sum::<usize>(),
        errors,
        warnings
    );
    if dump {
        let _ = serde_json::to_writer_pretty(&mut *out, &loaded.config);
        let _ = writeln!(out);
    }
    match loaded.outcome {
        Outcome::Valid { listeners: true } => 0,
        Outcome::Valid { listeners: false } => 2,
        _ => 1,
    }
}

/// keepalived's default config id is the host name up to the first dot.
fn host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    Some(name.split('.').next().unwrap_or(name).to_owned()).filter(|n| !n.is_empty())
}

/// The model as JSON, for `--dump-conf`.
pub fn dump(parsed: &Parsed, out: &mut dyn Write) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &parsed.config)?;
    writeln!(out)?;
    Ok(())
}
