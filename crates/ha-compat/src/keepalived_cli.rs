//! The `keepalived` personality: keepalived 2.2.7's command line.
//!
//! `-t` tests the configuration, `-d` dumps it; otherwise the VRRP engine runs in the
//! foreground (see [`crate::vrrp_run`]).

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use crate::check::{self, Style};

/// Options of keepalived 2.2.7 that take a value (short and long forms).
const WITH_VALUE: &[(&str, &str)] = &[
    ("-f", "--use-file"),
    ("-S", "--log-facility"),
    ("-p", "--pid"),
    ("-c", "--checkers_pid"),
    ("-r", "--vrrp_pid"),
    ("-b", "--bfd_pid"),
    ("-s", "--namespace"),
    ("-i", "--config-id"),
    ("-A", "--snmp-agent-socket"),
    ("-u", "--umask"),
    ("-M", "--core-dump-pattern"),
    ("-g", "--log-file"),
];

/// Flags without a value (short and long forms); `-T` (genhash) is refused.
const WITHOUT_VALUE: &[(&str, &str)] = &[
    ("-P", "--vrrp"),
    ("-C", "--check"),
    ("-B", "--no_bfd"),
    ("", "--all"),
    ("-l", "--log-console"),
    ("-D", "--log-detail"),
    ("-G", "--no-syslog"),
    ("-X", "--release-vips"),
    ("-V", "--dont-release-vrrp"),
    ("-I", "--dont-release-ipvs"),
    ("-R", "--dont-respawn"),
    ("-n", "--dont-fork"),
    ("-d", "--dump-conf"),
    ("-a", "--address-monitoring"),
    ("-x", "--snmp"),
    ("-m", "--core-dump"),
    ("-e", "--all-config"),
    ("-t", "--config-test"),
    ("-v", "--version"),
    ("-h", "--help"),
    ("", "--flush-log-file"),
    ("-T", "--genhash"),
];

/// Default pid files (keepalived 2.2.7 as packaged by Debian, measured: `/run/keepalived.pid`
/// and `/run/vrrp.pid`, written even with `-n`).
pub const DEFAULT_MAIN_PIDFILE: &str = "/run/keepalived.pid";
pub const DEFAULT_VRRP_PIDFILE: &str = "/run/vrrp.pid";

/// `keepalived --help` as 2.2.7 prints it (on stderr).
/// The first line names argv[0]: `Usage: {argv0} [OPTION...]`.
const HELP: &str = r#"
  -f, --use-file=FILE          Use the specified configuration file
                                default '/etc/keepalived/keepalived.conf'
  -P, --vrrp                   Only run with VRRP subsystem
  -C, --check                  Only run with Health-checker subsystem
  -B, --no_bfd                 Don't run BFD subsystem
      --all                    Force all child processes to run, even if have no configuration
  -l, --log-console            Log messages to local console
  -D, --log-detail             Detailed log messages
  -S, --log-facility=([0-7]|local[0-7]|user|daemon)
                               Set syslog facility to LOG_LOCAL[0-7], user or daemon (default)
  -G, --no-syslog              Don't log via syslog
  -u, --umask=MASK             umask for file creation (in numeric form)
  -X, --release-vips           Drop VIP on transition from signal.
  -V, --dont-release-vrrp      Don't remove VRRP VIPs and VROUTEs on daemon stop
  -I, --dont-release-ipvs      Don't remove IPVS topology on daemon stop
  -R, --dont-respawn           Don't respawn child processes
  -n, --dont-fork              Don't fork the daemon process
  -d, --dump-conf              Dump the configuration data
  -p, --pid=FILE               Use specified pidfile for parent process
  -r, --vrrp_pid=FILE          Use specified pidfile for VRRP child process
  -T, --genhash                Enter into genhash utility mode (this should be the first option used).
  -c, --checkers_pid=FILE      Use specified pidfile for checkers child process
  -a, --address-monitoring     Report all address additions/deletions notified via netlink
  -b, --bfd_pid=FILE           Use specified pidfile for BFD child process
  -x, --snmp                   Enable SNMP subsystem
  -A, --snmp-agent-socket=FILE Use the specified socket for master agent
  -s, --namespace=NAME         Run in network namespace NAME (overrides config)
  -m, --core-dump              Produce core dump if terminate abnormally
  -M, --core-dump-pattern=PATN Also set /proc/sys/kernel/core_pattern to PATN (default 'core')
  -e, --all-config             Error if any configuration file missing (same as includet)
  -i, --config-id id           Skip any configuration lines beginning '@' that don't match id
                                or any lines beginning @^ that do match.
                                The config-id defaults to the node name if option not used
      --signum=SIGFUNC         Return signal number for STOP, RELOAD, DATA, STATS, STATS_CLEAR, JSON
  -t, --config-test[=LOG_FILE] Check the configuration for obvious errors, output to
                                stderr by default
  -v, --version                Display the version number
  -h, --help                   Display this help message
"#;

/// keepalived 2.2.7's command line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KeepalivedOptions {
    pub config_test: bool,
    /// `-t=FILE` / `--config-test=FILE`: where the test's output goes.
    pub config_test_log: Option<PathBuf>,
    pub dump_conf: bool,
    /// `-e` / `--all-config`: missing configuration files are errors.
    pub all_config: bool,
    pub version: bool,
    pub help: bool,
    pub file: Option<PathBuf>,
    pub config_id: Option<String>,
    /// `-l`: log to the console.
    pub log_console: bool,
    /// `-D`: detailed log lines.
    pub log_detail: bool,
    /// `-S`: syslog facility number (LOG_LOCAL0..7 as 16..23, user 1, daemon 3).
    pub facility: Option<u8>,
    /// `-S` with a value keepalived refuses (it says so and goes on).
    pub bad_facility: Option<String>,
    /// `-G`: no syslog.
    pub no_syslog: bool,
    /// `-n`: stay in the foreground.
    pub dont_fork: bool,
    /// `-P`, `-C`: only these subsystems (ha-compat has only VRRP).
    pub vrrp_only: bool,
    pub checker_only: bool,
    /// `-p`, `-r`, `-c`, `-b`: pid files.
    pub main_pidfile: Option<PathBuf>,
    pub vrrp_pidfile: Option<PathBuf>,
    pub checkers_pidfile: Option<PathBuf>,
    pub bfd_pidfile: Option<PathBuf>,
    /// `-s NAME`: network namespace.
    pub namespace: Option<String>,
    /// `--signum=NAME`.
    pub signum: Option<String>,
    /// Flags accepted without effect here (`-B`, `-X`, `-V`, `-I`, `-R`, `-a`, `-x`, `-m`,
    /// `-u`, `-A`, `-M`, `-g`, `--all`, `--flush-log-file`), kept to say so.
    pub without_effect: Vec<String>,
    /// `-T`: genhash mode (not provided).
    pub genhash: bool,
}

/// Parses keepalived's options (getopt_long: clustered short flags, `-fFILE`,
/// `--long=VALUE`, `--long VALUE`). `Err` is the message before exit 1.
pub fn parse(args: &[OsString]) -> Result<KeepalivedOptions, String> {
    let mut o = KeepalivedOptions::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].to_string_lossy().into_owned();
        i += 1;
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (format!("--{n}"), Some(v.to_owned())),
                None => (arg.clone(), None),
            };
            if name == "--signum" {
                o.signum = Some(match inline {
                    Some(v) => v,
                    None => take(args, &mut i).ok_or("Missing parameter for option --signum")?,
                });
                continue;
            }
            if name == "--config-test" {
                o.config_test = true;
                o.config_test_log = inline.map(PathBuf::from);
                continue;
            }
            if let Some((short, _)) = WITH_VALUE.iter().find(|(_, l)| *l == name) {
                let value = match inline {
                    Some(v) => v,
                    None => take(args, &mut i)
                        .ok_or_else(|| format!("Missing parameter for option {name}"))?,
                };
                apply_value(&mut o, short, value);
                continue;
            }
            match WITHOUT_VALUE.iter().find(|(_, l)| *l == name) {
                Some((short, long)) if inline.is_none() => {
                    apply_flag(&mut o, if short.is_empty() { long } else { short })
                }
                _ => return Err(format!("Unknown option {arg}")),
            }
            continue;
        }
        if arg.len() < 2 || !arg.starts_with('-') {
            // getopt leaves operands; keepalived then complains about them.
            return Err(format!("Unknown option {arg}"));
        }
        // Clustered short flags; one that takes a value takes the rest of the word, or
        // the next word.
        let letters: Vec<char> = arg[1..].chars().collect();
        let mut k = 0;
        while k < letters.len() {
            let flag = format!("-{}", letters[k]);
            k += 1;
            if WITH_VALUE.iter().any(|(s, _)| *s == flag) {
                let rest: String = letters[k..].iter().collect();
                let value = if rest.is_empty() {
                    take(args, &mut i)
                        .ok_or_else(|| format!("Missing parameter for option {flag}"))?
                } else {
                    rest
                };
                apply_value(&mut o, &flag, value);
                break;
            }
            if flag == "-t" {
                // Optional argument: only attached (`-tFILE`).
                o.config_test = true;
                let rest: String = letters[k..].iter().collect();
                if !rest.is_empty() {
                    o.config_test_log = Some(PathBuf::from(rest));
                }
                break;
            }
            if !WITHOUT_VALUE.iter().any(|(s, _)| *s == flag) {
                return Err(format!("Unknown option {flag}"));
            }
            apply_flag(&mut o, &flag);
        }
    }
    Ok(o)
}

fn take(args: &[OsString], i: &mut usize) -> Option<String> {
    let v = args.get(*i).map(|a| a.to_string_lossy().into_owned());
    *i += 1;
    v
}

fn apply_value(o: &mut KeepalivedOptions, short: &str, value: String) {
    match short {
        "-f" => o.file = Some(PathBuf::from(value)),
        "-i" => o.config_id = Some(value),
        "-S" => match parse_facility(&value) {
            Some(n) => o.facility = Some(n),
            None => o.bad_facility = Some(value),
        },
        "-p" => o.main_pidfile = Some(PathBuf::from(value)),
        "-r" => o.vrrp_pidfile = Some(PathBuf::from(value)),
        "-c" => o.checkers_pidfile = Some(PathBuf::from(value)),
        "-b" => o.bfd_pidfile = Some(PathBuf::from(value)),
        "-s" => o.namespace = Some(value),
        other => o.without_effect.push(format!("{other} {value}")),
    }
}

/// `-S`: `0`..`7` and `local0`..`local7` (LOG_LOCALn), `user`, `daemon`.
fn parse_facility(value: &str) -> Option<u8> {
    let local = value.strip_prefix("local").unwrap_or(value);
    match value {
        "user" => Some(1),
        "daemon" => Some(3),
        _ => local
            .parse::<u8>()
            .ok()
            .filter(|n| *n <= 7 && local.len() == 1)
            .map(|n| 16 + n),
    }
}

fn apply_flag(o: &mut KeepalivedOptions, flag: &str) {
    match flag {
        "-t" => o.config_test = true,
        "-d" => o.dump_conf = true,
        "-e" => o.all_config = true,
        "-v" => o.version = true,
        "-h" => o.help = true,
        "-l" => o.log_console = true,
        "-D" => o.log_detail = true,
        "-G" => o.no_syslog = true,
        "-n" => o.dont_fork = true,
        "-P" => o.vrrp_only = true,
        "-C" => o.checker_only = true,
        "-T" => o.genhash = true,
        other => o.without_effect.push(other.to_owned()),
    }
}

/// `--signum=NAME`: the signal keepalived 2.2.7 uses for NAME (measured on Linux).
fn signum(name: &str) -> Option<i32> {
    Some(match name {
        "STOP" => 15,
        "RELOAD" => 1,
        "DATA" => 10,
        "STATS" => 12,
        "STATS_CLEAR" => 63,
        "JSON" => 36,
        _ => return None,
    })
}

pub fn run(args: &[OsString], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let options = match parse(args) {
        Ok(o) => o,
        Err(message) => {
            let _ = writeln!(err, "{message}");
            return 1;
        }
    };
    if let Some(name) = &options.signum {
        return match signum(name) {
            Some(n) => {
                let _ = writeln!(out, "{n}");
                0
            }
            None => {
                let _ = writeln!(err, "Unknown sigfunc {name}");
                1
            }
        };
    }
    if let Some(value) = &options.bad_facility {
        let _ = writeln!(err, "Invalid log facility '{value}'");
    }
    if options.genhash {
        let _ = writeln!(err, "keepalived: -T (genhash) is not provided by ha-compat");
        return 1;
    }
    if options.version {
        let _ = writeln!(
            err,
            "Keepalived v2.2.7 (ha-compat {})",
            env!("CARGO_PKG_VERSION")
        );
        return 0;
    }
    if options.help {
        // keepalived 2.2.7's text, on stderr, exit 0 (recorded from `keepalived --help`).
        let argv0 = std::env::args()
            .next()
            .unwrap_or_else(|| "keepalived".into());
        let _ = write!(err, "Usage: {argv0} [OPTION...]{HELP}");
        return 0;
    }
    let file = options
        .file
        .unwrap_or_else(|| PathBuf::from("/etc/keepalived/keepalived.conf"));
    if options.config_test || options.dump_conf {
        if !file.exists() {
            // keepalived 2.2.7 prints this and still exits 0, or 4 with -e (measured).
            let _ = writeln!(err, "Config files missing '{}'.", file.display());
            return if options.all_config {
                keepalived_conf::status::exit::CONFIG
            } else {
                0
            };
        }
        if !is_regular_non_executable(&file) {
            // keepalived skips such a file (then has nothing to check) and exits 0.
            let _ = writeln!(
                err,
                "Configuration file '{}' is not a regular non-executable file - skipping",
                file.display()
            );
            return 0;
        }
        let parsed = match check::load_keepalived(&file, options.config_id, false) {
            Ok(p) => p,
            Err(e) => {
                let _ = writeln!(err, "{e:#}");
                return 4;
            }
        };
        if options.config_test {
            let _ = check::report(&parsed, Style::Keepalived, err);
        }
        if options.dump_conf {
            if let Err(e) = check::dump(&parsed, out) {
                let _ = writeln!(err, "{e:#}");
                return 1;
            }
        }
        if !options.config_test {
            return 0;
        }
        let include_missing = parsed
            .diagnostics
            .iter()
            .any(|d| d.code == Some(keepalived_conf::status::INCLUDE_MISSING_CODE));
        let status = if options.all_config && include_missing {
            keepalived_conf::status::EXIT_NO_CONFIG
        } else {
            parsed.config_test_exit()
        };
        // The process exits right after this: freeing a model of thousands of instances
        // one allocation at a time would only delay the exit (measured: ~10% of `-t` on
        // scripts/bench-parse.sh's file).
        std::mem::forget(parsed);
        return status;
    }
    if options.checker_only {
        // keepalived -C with no checker configuration runs nothing; ha-compat has no
        // checker (LVS) subsystem at all.
        let _ = writeln!(err, "keepalived: -C (health-checker only): ha-compat has no health-checker (LVS) subsystem; nothing to run");
        return 1;
    }
    if !options.dont_fork && !crate::daemon::is_child() {
        // keepalived forks at once and its parent exits 0 whatever follows (measured).
        return crate::daemon::spawn("keepalived", args, crate::daemon::ParentWaits::No);
    }
    if options.no_syslog {
        let _ = writeln!(
            err,
            "keepalived: ha-compat: option -G has no effect (not implemented): logging to syslog as well"
        );
    }
    for ignored in &options.without_effect {
        let _ = writeln!(
            err,
            "keepalived: ha-compat: option {ignored} has no effect (not implemented)"
        );
    }
    if let Some(ns) = &options.namespace {
        let _ = writeln!(err, "keepalived: -s {ns}: running in a network namespace by name is not implemented; refusing to run in the current one instead");
        return 1;
    }
    // keepalived 2.2.7 has a parent process (`-p`) and a VRRP child (`-r`); ha-compat
    // runs VRRP in the one process, so both files name it: a signal sent to either pid
    // reaches the VRRP engine, as keepalived's parent forwards it to its children.
    let main_pidfile = options
        .main_pidfile
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MAIN_PIDFILE));
    let vrrp_pidfile = options
        .vrrp_pidfile
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_VRRP_PIDFILE));
    if crate::pidfile::live_pid(&main_pidfile, "keepalived").is_some() {
        // Measured: logged, exit 0.
        let _ = writeln!(err, "daemon is already running");
        return 0;
    }
    let pid = std::process::id();
    for path in [&main_pidfile, &vrrp_pidfile] {
        if let Err(e) = crate::pidfile::write(path, pid) {
            let _ = writeln!(
                err,
                "keepalived: cannot write pid file {}: {e}",
                path.display()
            );
            crate::pidfile::remove_if_ours(&main_pidfile, pid);
            return 1;
        }
    }
    if crate::daemon::is_child() {
        crate::daemon::ready();
    }
    let mut command_line = vec!["keepalived".to_owned()];
    command_line.extend(args.iter().map(|a| a.to_string_lossy().into_owned()));
    let status = crate::vrrp_run::run(
        &crate::vrrp_run::VrrpRun {
            file,
            config_id: options.config_id,
            console: options.log_console,
            detail: options.log_detail,
            facility: options.facility,
            command_line,
        },
        err,
    );
    // Measured: keepalived removes both pid files when it stops.
    crate::pidfile::remove_if_ours(&vrrp_pidfile, pid);
    crate::pidfile::remove_if_ours(&main_pidfile, pid);
    status
}

fn is_regular_non_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn takes_keepalived_flag_forms() {
        let o = parse(&os(&["-t", "-f", "/x.conf"])).unwrap();
        assert!(o.config_test);
        assert_eq!(o.file, Some(PathBuf::from("/x.conf")));
        let o = parse(&os(&["--config-test", "--use-file=/y.conf"])).unwrap();
        assert!(o.config_test);
        assert_eq!(o.file, Some(PathBuf::from("/y.conf")));
        let o = parse(&os(&["-nlD", "-P", "-f/z.conf", "-d"])).unwrap();
        assert!(o.dump_conf && !o.config_test);
        assert_eq!(o.file, Some(PathBuf::from("/z.conf")));
        assert!(parse(&os(&["-f"])).is_err());
    }

    #[test]
    fn pid_files_and_process_flags() {
        let o = parse(&os(&[
            "-n",
            "-P",
            "-p",
            "/k.pid",
            "--vrrp_pid=/v.pid",
            "-c/c.pid",
            "-G",
            "-S",
            "local3",
        ]))
        .unwrap();
        assert!(o.dont_fork && o.vrrp_only && o.no_syslog);
        assert_eq!(o.main_pidfile, Some(PathBuf::from("/k.pid")));
        assert_eq!(o.vrrp_pidfile, Some(PathBuf::from("/v.pid")));
        assert_eq!(o.checkers_pidfile, Some(PathBuf::from("/c.pid")));
        assert_eq!(o.facility, Some(19));
        let o = parse(&os(&["-S", "7", "--log-facility=user"])).unwrap();
        assert_eq!(o.facility, Some(1));
        // Measured: an invalid facility is reported and keepalived goes on.
        let o = parse(&os(&["-S", "bogus"])).unwrap();
        assert_eq!(o.bad_facility.as_deref(), Some("bogus"));
        let o = parse(&os(&["-tlog.txt"])).unwrap();
        assert!(o.config_test);
        assert_eq!(o.config_test_log, Some(PathBuf::from("log.txt")));
        let o = parse(&os(&["--signum=STOP"])).unwrap();
        assert_eq!(o.signum.as_deref(), Some("STOP"));
        assert_eq!(signum("STOP"), Some(15));
    }

    #[test]
    fn unknown_options_as_keepalived() {
        // Measured: `keepalived -Z` and `keepalived --bogus`, exit 1.
        assert_eq!(parse(&os(&["-Z"])).unwrap_err(), "Unknown option -Z");
        assert_eq!(
            parse(&os(&["--bogus"])).unwrap_err(),
            "Unknown option --bogus"
        );
        assert_eq!(
            parse(&os(&["-f"])).unwrap_err(),
            "Missing parameter for option -f"
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_argv_never_panics(args in proptest::collection::vec(
            proptest::prop_oneof![
                "-[a-zA-Z]{0,4}",
                "--[a-z_-]{0,12}(=.{0,4})?",
                ".{0,8}",
            ],
            0..8,
        )) {
            let _ = parse(&os(&args.iter().map(String::as_str).collect::<Vec<_>>()));
        }
    }
}
