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
];

#[derive(Debug, Default)]
struct Options {
    config_test: bool,
    dump_conf: bool,
    /// `-e` / `--all-config`: missing configuration files are errors.
    all_config: bool,
    version: bool,
    help: bool,
    file: Option<PathBuf>,
    config_id: Option<String>,
    /// `-l`: log to the console.
    log_console: bool,
    /// `-D`: detailed log lines.
    log_detail: bool,
    /// `-S N`: syslog facility LOG_LOCALN.
    facility: Option<u8>,
}

fn parse(args: &[OsString]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].to_string_lossy().into_owned();
        i += 1;
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ if arg.len() > 2 && arg.starts_with('-') && !arg.starts_with("--") => {
                let (f, rest) = arg.split_at(2);
                if WITH_VALUE.iter().any(|(s, _)| *s == f) {
                    (f.to_owned(), Some(rest.to_owned()))
                } else {
                    // Clustered short flags: -nlD.
                    for c in rest.chars() {
                        apply_flag(&mut o, &format!("-{c}"));
                    }
                    (f.to_owned(), None)
                }
            }
            _ => (arg.clone(), None),
        };
        if let Some((short, _)) = WITH_VALUE.iter().find(|(s, l)| *s == flag || *l == flag) {
            let value = match inline {
                Some(v) => v,
                None => {
                    let v = args.get(i).map(|a| a.to_string_lossy().into_owned());
                    i += 1;
                    v.ok_or_else(|| format!("option '{flag}' requires an argument"))?
                }
            };
            match *short {
                "-f" => o.file = Some(PathBuf::from(value)),
                "-i" => o.config_id = Some(value),
                "-S" => {
                    o.facility = Some(
                        value
                            .parse::<u8>()
                            .ok()
                            .filter(|n| *n <= 7)
                            .ok_or_else(|| format!("invalid syslog facility {value}"))?,
                    )
                }
                _ => {}
            }
            continue;
        }
        apply_flag(&mut o, &flag);
    }
    Ok(o)
}

fn apply_flag(o: &mut Options, flag: &str) {
    match flag {
        "-t" | "--config-test" => o.config_test = true,
        "-d" | "--dump-conf" => o.dump_conf = true,
        "-e" | "--all-config" => o.all_config = true,
        "-v" | "--version" => o.version = true,
        "-h" | "--help" => o.help = true,
        "-l" | "--log-console" => o.log_console = true,
        "-D" | "--log-detail" => o.log_detail = true,
        // The rest (-n -P -C -B -G -X -V -I -R ...) select processes and pid files:
        // ha-compat runs in the foreground with the VRRP engine only (no LVS checker,
        // no BFD), which is what they ask for in the tutorials' `-n -l -D -P` use.
        _ => {}
    }
}

pub fn run(args: &[OsString], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let options = match parse(args) {
        Ok(o) => o,
        Err(message) => {
            let _ = writeln!(err, "keepalived: {message}");
            return 1;
        }
    };
    if options.version {
        let _ = writeln!(
            err,
            "Keepalived v2.2.7 (ha-compat {})",
            env!("CARGO_PKG_VERSION")
        );
        return 0;
    }
    if options.help {
        let _ = writeln!(out, "Usage: keepalived [OPTION...]\n  -f, --use-file=FILE   Use the specified configuration file\n  -t, --config-test     Check the configuration for obvious errors\n  -d, --dump-conf       Dump the configuration data\n  -i, --config-id ID    Skip any configuration lines beginning '@' that don't match ID\n  -v, --version         Display the version number\n  (ha-compat accepts and ignores keepalived's other options)");
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
    let mut command_line = vec!["keepalived".to_owned()];
    command_line.extend(args.iter().map(|a| a.to_string_lossy().into_owned()));
    crate::vrrp_run::run(
        &crate::vrrp_run::VrrpRun {
            file,
            config_id: options.config_id,
            console: options.log_console,
            detail: options.log_detail,
            facility: options.facility,
            command_line,
        },
        err,
    )
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
}
