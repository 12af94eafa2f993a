//! Running the VRRP engine in the foreground: `keepalived -n -l -D -f FILE` (also
//! the supervisor's `keepalived` child). Loads the file, starts the tracking runner and the
//! runtime on the Linux platform, turns SIGTERM/SIGINT into a clean stop (priority 0,
//! addresses removed), SIGHUP into a reload, SIGUSR1/SIGUSR2/SIGRTMIN+2 into keepalived's
//! `/tmp/keepalived.{data,stats,json}` dumps, and logs keepalived's start and stop lines.
//! With `$HA_COMPAT_STATUS_DIR` set it also serves `vrrp.sock` there
//! ([`vrrp_engine::status`]).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use keepalived_conf::model::KeepalivedConfig;
use vrrp_engine::linux::LinuxPlatform;
use vrrp_engine::log::Logger;
use vrrp_engine::plan::PlanOptions;
use vrrp_engine::platform::Input;
use vrrp_engine::runtime::{RunEnd, Runtime};
use vrrp_engine::tracker::TrackerRunner;

use crate::check;
use crate::sd_notify::Notifier;

/// How the engine runs (from keepalived's flags).
#[derive(Debug, Clone)]
pub struct VrrpRun {
    pub file: PathBuf,
    pub config_id: Option<String>,
    /// `-l`: log to the console (stderr).
    pub console: bool,
    /// `-D`: keepalived's detailed lines.
    pub detail: bool,
    /// `-S N`: syslog facility LOG_LOCALN (else LOG_DAEMON).
    pub facility: Option<u8>,
    /// The command line, for keepalived's "Command line:" line.
    pub command_line: Vec<String>,
}

/// keepalived's version string, as it logs it.
pub const VERSION_LINE: &str = "Keepalived v2.2.7 (01/16,2022)";

/// Runs until SIGTERM/SIGINT; returns the exit status. Called while the process is still
/// single-threaded (it takes `$NOTIFY_SOCKET` out of the environment).
pub fn run(options: &VrrpRun, err: &mut dyn Write) -> i32 {
    let started = Instant::now();
    // keepalived 2.2.7 built with systemd support (Debian's is) talks to systemd when its
    // parent is systemd; its VRRP child, which runs the scripts, unsets the variable.
    let systemd = Notifier::take_from_env(crate::sd_notify::this_parent_is_systemd);
    // Before any thread exists: threads inherit the reduced sets.
    let dropped = crate::capabilities::keep_only_vrrp();
    let facility = options
        .facility
        .map_or(vrrp_engine::log::FACILITY_DAEMON, |n| 16 + n.min(7));
    let logger = Logger::new(options.console, false, facility, "Keepalived_vrrp");
    logger.info(&format!("Starting {VERSION_LINE}"));
    let quoted: Vec<String> = options
        .command_line
        .iter()
        .map(|a| format!("'{a}'"))
        .collect();
    logger.info(&format!("Command line: {}", quoted.join(" ")));
    // Silent when it works: keepalived logs nothing of the kind, and the log lines are
    // compared with its own.
    if let Err(e) = dropped {
        logger.info(&format!("Unable to drop capabilities, keeping root's: {e}"));
    }
    logger.info(&format!("Opening file '{}'.", options.file.display()));
    let parsed = match check::load_keepalived(&options.file, options.config_id.clone(), false) {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(err, "{e:#}");
            return 1;
        }
    };
    let _ = check::report(&parsed, check::Style::Keepalived, err);
    if parsed
        .diagnostics
        .iter()
        .any(|d| d.severity >= conf_diag::Severity::Fatal)
    {
        return keepalived_conf::status::exit::CONFIG;
    }
    // Refused keywords, named with their place like the configuration's own errors.
    if let Some(refused) = vrrp_engine::plan::not_runnable(&parsed.config).first() {
        let text = refusal_text(refused, &parsed.sources);
        logger.info(&format!("Unable to start the VRRP engine: {text}"));
        if !options.console {
            let _ = writeln!(err, "{text}");
        }
        return 1;
    }
    let config = parsed.config;
    let platform = match vrrp_engine::linux::LinuxPlatform::new() {
        Ok(p) => p,
        Err(e) => {
            logger.info(&format!("Unable to start the VRRP engine: {e}"));
            return 1;
        }
    };
    let mut runtime = match vrrp_engine::runtime::Runtime::new(
        platform,
        &config,
        PlanOptions {
            log_detail: options.detail,
        },
        logger.clone(),
        Box::new(vrrp_engine::runtime::NoNotifications),
    ) {
        Ok(r) => r,
        Err(e) => {
            logger.info(&format!("Unable to start the VRRP engine: {e}"));
            return 1;
        }
    };
    let sender = runtime.sender();
    runtime.set_notifications(Box::new(vrrp_engine::notify::Notifier::new(
        &config,
        sender.clone(),
    )));
    let mut trackers = match vrrp_engine::tracker::spawn(&config, runtime.table(), sender.clone()) {
        Ok(t) => t,
        Err(e) => {
            logger.info(&format!("Unable to start the trackers: {e}"));
            return 1;
        }
    };
    runtime.preset_trackers(trackers.initial_states());
    if let Err(e) = forward_signals(sender.clone(), logger.clone(), systemd.clone()) {
        logger.info(&format!("Unable to handle signals: {e}"));
        return 1;
    }
    // The status socket (`ha-compat status`, metrics) when the supervisor asks for one;
    // removed when `_status` is dropped, at the end of this function. A failure to open
    // it is said and the engine runs on: status is not worth an outage.
    let _status = std::env::var_os(vrrp_engine::status::STATUS_DIR_ENV)
        .filter(|d| !d.is_empty())
        .and_then(|dir| {
            let dir = PathBuf::from(dir);
            match vrrp_engine::status::serve(&dir, sender.clone()) {
                Ok(socket) => Some(socket),
                Err(e) => {
                    logger.info(&format!(
                        "Unable to open the status socket {}: {e}",
                        dir.join(vrrp_engine::status::SOCKET_NAME).display()
                    ));
                    None
                }
            }
        });
    // keepalived: once its VRRP child has read the configuration ("Startup complete");
    // here the file is loaded and the sockets are open.
    systemd.ready();
    let mut config = config;
    loop {
        match runtime.run() {
            Ok(RunEnd::Stopped) => break,
            Ok(RunEnd::ReloadRequested) => {
                match reload(
                    options,
                    &config,
                    &mut runtime,
                    trackers,
                    &logger,
                    &systemd,
                    err,
                ) {
                    Ok((t, new_config)) => {
                        trackers = t;
                        config = new_config;
                    }
                    Err(e) => {
                        logger.info(&format!("VRRP engine error: {e:#}"));
                        return 1;
                    }
                }
            }
            Err(e) => {
                logger.info(&format!("VRRP engine error: {e}"));
                return 1;
            }
        }
    }
    drop(trackers);
    let used = started.elapsed();
    logger.info(&format!(
        "Stopped - ran {}.{:03} s",
        used.as_secs(),
        used.subsec_millis()
    ));
    logger.info(&format!("Stopped {VERSION_LINE}"));
    0
}

/// SIGHUP: reads the file again and applies it as keepalived's reload does (unchanged
/// instances keep their state; see `Runtime::reload`). Better than keepalived 2.2.7, which
/// stops altogether (leaving the VIPs in place) when the new file has a fatal error: the
/// running configuration stays and the log says why. Returns the tracking runner and the
/// configuration now running; `Err` only if not even the old configuration can be
/// tracked again.
fn reload(
    options: &VrrpRun,
    running: &KeepalivedConfig,
    runtime: &mut Runtime<LinuxPlatform>,
    trackers: TrackerRunner,
    logger: &Logger,
    systemd: &Notifier,
    err: &mut dyn Write,
) -> anyhow::Result<(TrackerRunner, KeepalivedConfig)> {
    logger.info("Reloading ...");
    logger.info(&format!("Opening file '{}'.", options.file.display()));
    let keep = |why: String| {
        logger.info(&format!(
            "Reload failed, the running configuration stays: {why}"
        ));
    };
    let parsed = match check::load_keepalived(&options.file, options.config_id.clone(), false) {
        Ok(p) => p,
        Err(e) => {
            keep(format!("{e:#}"));
            return Ok((trackers, running.clone()));
        }
    };
    let _ = check::report(&parsed, check::Style::Keepalived, err);
    if let Some(fatal) = parsed
        .diagnostics
        .iter()
        .find(|d| d.severity >= conf_diag::Severity::Fatal)
    {
        keep(fatal.message.clone());
        return Ok((trackers, running.clone()));
    }
    if let Some(refused) = vrrp_engine::plan::not_runnable(&parsed.config).first() {
        keep(refusal_text(refused, &parsed.sources));
        return Ok((trackers, running.clone()));
    }
    // keepalived's parent: RELOADING=1 once the new file is read, before the VRRP child
    // reloads; READY=1 when it has ("Reload complete"). A file that does not load sends
    // neither (keepalived's parent stops at its `reload_config()` failure too).
    systemd.notify("RELOADING=1");
    logger.info("Reloading");
    let sender = runtime.sender();
    let counters = trackers.stop();
    let (carried, lines) = vrrp_engine::tracker::carry_scripts(&parsed.config, &counters);
    for line in lines {
        logger.info(&line);
    }
    let plan_options = PlanOptions {
        log_detail: options.detail,
    };
    // The runtime tells the notifier (notify FIFOs reopened, scripts replaced); on error
    // nothing has changed.
    let (config, counters) = match runtime.reload(&parsed.config, plan_options) {
        Ok(()) => (parsed.config, carried),
        Err(e) => {
            keep(e.to_string());
            (running.clone(), counters)
        }
    };
    systemd.ready();
    let trackers =
        vrrp_engine::tracker::spawn_reloaded(&config, runtime.table(), sender, &counters)?;
    Ok((trackers, config))
}

/// A refused keyword as `FILE:LINE: (VI_1) use_vmac: not implemented yet; ha-compat
/// refuses to run rather than ignore it` (the file as it was opened or included).
pub fn refusal_text(
    refused: &vrrp_engine::plan::Refusal,
    sources: &conf_diag::SourceMap,
) -> String {
    match refused
        .span
        .and_then(|s| Some((sources.path(s.file)?, s.line)))
    {
        Some((path, line)) => format!("{}:{line}: {refused}", path.display()),
        None => refused.to_string(),
    }
}

/// keepalived's `SIGJSON`: SIGRTMIN+2, with glibc's SIGRTMIN (34: 36 here, as `kill -s
/// RTMIN+2` sends it).
pub(crate) fn sigjson() -> i32 {
    nix::libc::SIGRTMIN() + 2
}

/// SIGTERM and SIGINT stop, SIGHUP reloads; SIGUSR1, SIGUSR2 and SIGRTMIN+2 write
/// keepalived's data, stats and JSON dumps: each becomes an input of the runtime's loop.
fn forward_signals(
    sender: std::sync::mpsc::Sender<Input>,
    logger: Logger,
    systemd: Notifier,
) -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
    use vrrp_engine::dump::DumpKind;
    let json = sigjson();
    let mut signals =
        signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, json])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                let input = match signal {
                    SIGHUP => Input::Reload,
                    SIGUSR1 => Input::Dump(DumpKind::Data),
                    SIGUSR2 => Input::Dump(DumpKind::Stats),
                    s if s == json => Input::Dump(DumpKind::Json),
                    _ => {
                        logger.info("Stopping");
                        systemd.notify("STOPPING=1");
                        Input::Stop
                    }
                };
                if sender.send(input).is_err() {
                    return;
                }
            }
        })?;
    Ok(())
}
