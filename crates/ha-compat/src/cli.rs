//! The `ha-compat` personality.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::check::{self, Style};

#[derive(Debug, Parser)]
#[command(
    name = "ha-compat",
    version,
    about = "Replaces keepalived and haproxy: reads their configuration files unchanged"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Configuration files (keepalived.conf, haproxy.cfg), as for the daemons.
    #[arg(short = 'f', value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Where the children's status sockets go (vrrp.sock, haproxy.sock).
    #[arg(long = "status-dir", value_name = "DIR", default_value = crate::status::DEFAULT_STATUS_DIR)]
    status_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Checks configuration files and explains every problem found.
    Check {
        #[arg(short = 'f', value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
        /// Prints the understood configuration as JSON.
        #[arg(long = "dump-conf", short = 'd')]
        dump: bool,
        /// keepalived's `-i`: selects `@ID` lines (default: the host name).
        #[arg(long = "config-id", short = 'i')]
        config_id: Option<String>,
        /// Checks a file meant for another machine: assumes its interfaces, script
        /// programs and users exist (keepalived -t always checks them on this machine).
        #[arg(long = "no-host-checks")]
        no_host_checks: bool,
    },
    /// Runs seed 001 on ha-compat in a throwaway lab of network namespaces (root): shows
    /// who holds the VIP and which web answers, kills the master's haproxy, shows the VIP
    /// move and the service continue, and removes everything.
    Demo {
        /// Only removes what an interrupted demo left behind (hacdemo-* namespaces).
        #[arg(long)]
        cleanup: bool,
    },
    /// The demo's web server and client, run by `demo` inside the lab's namespaces.
    #[command(hide = true)]
    DemoAgent {
        #[command(subcommand)]
        role: DemoAgentRole,
    },
    /// Runs the engines the files are for, as child processes named `keepalived` and
    /// `haproxy` (the same as `ha-compat -f FILE...`).
    Run {
        #[arg(short = 'f', value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
        /// Where the children's status sockets go (vrrp.sock, haproxy.sock).
        #[arg(long = "status-dir", value_name = "DIR", default_value = crate::status::DEFAULT_STATUS_DIR)]
        status_dir: PathBuf,
    },
    /// Shows the running daemon: each VRRP instance (state, priority, VIPs, trackers)
    /// and each backend's servers (status, check, weight, sessions).
    Status {
        /// The status as JSON (layout in docs/operations.md).
        #[arg(long)]
        json: bool,
        /// Where the status sockets are (the supervisor's --status-dir).
        #[arg(long = "status-dir", value_name = "DIR", default_value = crate::status::DEFAULT_STATUS_DIR)]
        status_dir: PathBuf,
        /// haproxy.cfg whose `stats socket` is asked when DIR/haproxy.sock is missing
        /// (default /etc/haproxy/haproxy.cfg).
        #[arg(short = 'f', value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Lists every keepalived (or, with --haproxy, haproxy.cfg) keyword and ha-compat's
    /// support for it.
    Keywords {
        /// As the Markdown table in docs/compatibility.md.
        #[arg(long)]
        markdown: bool,
        /// haproxy.cfg keywords instead of keepalived.conf ones.
        #[arg(long)]
        haproxy: bool,
    },
}

#[derive(Debug, Subcommand)]
enum DemoAgentRole {
    /// A web server on port 80 answering NAME.
    Web { name: String },
    /// Requests to ADDR every 20 ms, one line per request on stdout.
    Client { target: std::net::SocketAddr },
}

pub fn run(args: Vec<OsString>, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            if e.use_stderr() {
                let _ = write!(err, "{e}");
                return 2;
            }
            let _ = write!(out, "{e}");
            return 0;
        }
    };
    match cli.command {
        Some(Command::Check {
            files,
            dump,
            config_id,
            no_host_checks,
        }) => check_files(&files, dump, config_id, no_host_checks, out, err),
        Some(Command::Demo { cleanup }) => crate::demo::run(cleanup, out, err),
        Some(Command::DemoAgent { role }) => {
            let result = match role {
                DemoAgentRole::Web { name } => crate::demo::agent::web(&name),
                DemoAgentRole::Client { target } => crate::demo::agent::client(target),
            };
            match result {
                Ok(()) => 0,
                Err(e) => {
                    let _ = writeln!(err, "ha-compat demo-agent: {e:#}");
                    1
                }
            }
        }
        Some(Command::Keywords {
            markdown,
            haproxy: true,
        }) => {
            if markdown {
                let _ = write!(out, "{}", haproxy_conf::keywords::compatibility_markdown());
            } else {
                for r in haproxy_conf::keywords::all() {
                    let _ = writeln!(out, "{}\t{}\t{}", r.section, r.keyword, r.status);
                }
            }
            0
        }
        Some(Command::Keywords {
            markdown,
            haproxy: false,
        }) => {
            if markdown {
                let _ = write!(
                    out,
                    "{}",
                    keepalived_conf::keywords::compatibility_markdown()
                );
            } else {
                for k in keepalived_conf::keywords::all() {
                    let support = keepalived_conf::keywords::support(k.section, k.name);
                    let _ = writeln!(out, "{}\t{}\t{:?}", k.section, k.name, support);
                }
            }
            0
        }
        None if cli.files.is_empty() => {
            let _ = writeln!(
                err,
                "ha-compat: nothing to do; try `ha-compat check -f FILE` or --help"
            );
            2
        }
        None => run_supervised(&cli.files, &cli.status_dir, err),
        Some(Command::Run { files, status_dir }) => run_supervised(&files, &status_dir, err),
        Some(Command::Status {
            json,
            status_dir,
            files,
        }) => {
            let status = crate::status::gather(&status_dir, &files);
            let text = if json {
                crate::status::render_json(&status)
            } else {
                crate::status::render_table(&status)
            };
            let _ = write!(out, "{text}");
            crate::status::exit_code(&status)
        }
    }
}

/// `ha-compat [run] -f FILE...`: each file goes to the engine its content is for; one
/// child per engine that has a file (see [`crate::supervisor`]).
fn run_supervised(files: &[PathBuf], status_dir: &std::path::Path, err: &mut dyn Write) -> i32 {
    let (haproxy, keepalived): (Vec<&PathBuf>, Vec<&PathBuf>) = files
        .iter()
        .partition(|f| check::kind_of(f) == check::ConfigKind::Haproxy);
    // A file that cannot be read now would only make its child exit and be restarted
    // forever: say so once and stop.
    for f in files {
        if let Err(e) = std::fs::File::open(f) {
            let _ = writeln!(err, "ha-compat: cannot read {}: {e}", f.display());
            return 1;
        }
    }
    if keepalived.len() > 1 {
        let _ = writeln!(err, "ha-compat: one keepalived.conf at a time");
        return 2;
    }
    crate::supervisor::runtime::run(&crate::supervisor::runtime::SupervisorRun {
        keepalived: keepalived.first().map(|f| (*f).clone()),
        haproxy: haproxy.into_iter().cloned().collect(),
        status_dir: Some(status_dir.to_path_buf()),
    })
}

/// `ha-compat check`: 0 when every file is usable (warnings allowed), 1 when not.
fn check_files(
    files: &[PathBuf],
    dump: bool,
    config_id: Option<String>,
    no_host_checks: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let mut status = 0;
    for file in files {
        if check::kind_of(file) == check::ConfigKind::Haproxy {
            let code = check::check_haproxy(file, dump, no_host_checks, out, err);
            status = status.max(u8::from(code == 1).into());
            continue;
        }
        let parsed = match check::load_keepalived(file, config_id.clone(), no_host_checks) {
            Ok(p) => p,
            Err(e) => {
                let _ = writeln!(err, "error: {e:#}");
                status = 1;
                continue;
            }
        };
        let _ = check::report(&parsed, Style::Rich, err);
        let errors = parsed
            .diagnostics
            .iter()
            .filter(|d| d.severity >= conf_diag::Severity::Error)
            .count();
        let warnings = parsed.diagnostics.len() - errors;
        let _ = writeln!(
            err,
            "{}: {} VRRP instance(s), {} error(s), {} warning(s)",
            file.display(),
            parsed.config.instances.len(),
            errors,
            warnings
        );
        if errors > 0 {
            status = 1;
        }
        if dump {
            if let Err(e) = check::dump(&parsed, out) {
                let _ = writeln!(err, "error: {e:#}");
                status = 1;
            }
        }
    }
    status
}
