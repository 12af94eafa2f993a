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
