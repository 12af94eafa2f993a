//! `vrrp_script`, `vrrp_track_process` and `track_file` blocks.

use std::time::Duration;

use conf_diag::Severity;

use super::Ctx;
use crate::model::{ScriptUser, TrackFile, TrackProcess, VrrpScript, Weight};
use crate::reader::split_shell_words;
use crate::status::ConfigErr;
use crate::syntax::Node;

/// Longest interval keepalived accepts for scripts (`UINT_MAX / TIMER_HZ` seconds).
const MAX_SCRIPT_SECONDS: i64 = (u32::MAX / 1_000_000) as i64;

pub(super) fn vrrp_script(ctx: &mut Ctx<'_>, node: &Node) {
    let Some(name) = ctx.arg(node, 1).map(|w| w.text.clone()) else {
        return;
    };
    let mut script = VrrpScript {
        name: name.clone(),
        command: Vec::new(),
        interval: Duration::from_secs(1),
        timeout: None,
        weight: Weight::default(),
        weight_reverse: false,
        rise: 1,
        fall: 1,
        user: None,
        init_fail: false,
        span: Some(node.span()),
    };
    for item in node.children() {
        let span = item.span();
        match item.name() {
            "script" => match command_words(&item.line.text) {
                Ok(words) if !words.is_empty() => script.command = words,
                Ok(_) => {
                    ctx.arg(item, 1);
                }
                Err(message) => ctx.error(span, ConfigErr::UnmatchedQuote, message),
            },
            "interval" => {
                if let Some(w) = ctx.arg(item, 1) {
                    match w.text.parse::<f64>().ok().filter(|v| v.is_finite()) {
                        Some(0.0) => {
                            ctx.warn(span, ConfigErr::GeneralError, format!("({name}): vrrp script interval must be greater than 0, setting to 1"));
                            script.interval = Duration::from_secs(1);
                        }
                        Some(v) if v > 0.0 && v <= MAX_SCRIPT_SECONDS as f64 => {
                            script.interval = Duration::from_secs_f64(v);
                        }
                        parsed => {
                            if parsed.is_none() {
                                ctx.warn(
                                    w.span,
                                    ConfigErr::InvalidNumber,
                                    format!("invalid number '{}'", w.text),
                                );
                            }
                            ctx.warn(span, ConfigErr::GeneralError, format!("({name}): vrrp script interval '{}' must be between 1 and {MAX_SCRIPT_SECONDS} - ignoring", w.text))
                        }
                    }
                }
            }
            "timeout" => {
                if let Some(w) = ctx.arg(item, 1) {
                    match w.text.parse::<f64>().ok().filter(|v| v.is_finite()) {
                        Some(0.0) => {
                            ctx.warn(span, ConfigErr::GeneralError, format!("({name}): vrrp script timeout must be greater than 0, setting to 1"));
                            script.timeout = Some(Duration::from_secs(1));
                        }
                        Some(v) if v > 0.0 && v <= MAX_SCRIPT_SECONDS as f64 => {
                            script.timeout = Some(Duration::from_secs_f64(v));
                        }
                        _ => ctx.warn(
                            span,
                            ConfigErr::GeneralError,
                            format!(
                                "({name}): vrrp script timeout '{}' invalid - ignoring",
                                w.text
                            ),
                        ),
                    }
                }
            }
            "weight" => {
                if let Some(w) = ctx.arg(item, 1) {
                    match ctx.int(w, -253, 253) {
                        Some(v) => script.weight = Weight::new(v).unwrap_or_default(),
                        None => ctx.warn(
                            span,
                            ConfigErr::GeneralError,
                            format!(
                                "vrrp_script {name} weight {} must be in [-253, 253]",
                                w.text
                            ),
                        ),
                    }
                    match item.args().get(1).map(|w| w.text.as_str()) {
                        Some("reverse") => script.weight_reverse = true,
                        Some("noreverse") | None => {}
                        Some(other) => ctx.warn(
                            span,
                            ConfigErr::GeneralError,
                            format!("vrrp_script {name} unknown weight option {other}"),
                        ),
                    }
                }
            }
            "rise" | "fall" => {
                if let Some(w) = ctx.arg(item, 1) {
                    let value = match w.text.parse::<i64>() {
                        Ok(v) if (1..=i64::from(i32::MAX)).contains(&v) => v as u32,
                        _ => {
                            ctx.warn(
                                span,
                                ConfigErr::GeneralError,
                                format!(
                                    "({name}): vrrp script {} value '{}' invalid, defaulting to 1",
                                    item.name(),
                                    w.text
                                ),
                            );
                            1
                        }
                    };
                    if item.name() == "rise" {
                        script.rise = value;
                    } else {
                        script.fall = value;
                    }
                }
            }
            "user" => {
                if let Some(user) = ctx.arg(item, 1) {
                    script.user = Some(ScriptUser {
                        user: user.text.clone(),
                        group: item.args().get(1).map(|w| w.text.clone()),
                    });
                }
            }
            "init_fail" => script.init_fail = true,
            _ => ctx.other("vrrp_script", item),
        }
    }
    if script.command.is_empty() {
        ctx.check(
            Severity::Error,
            Some(node.span()),
            ConfigErr::GeneralError,
            format!("ha-compat: vrrp_script {name} has no 'script' line - ignoring"),
        );
        return;
    }
    ctx.config.scripts.retain(|s| s.name != name);
    ctx.config.scripts.push(script);
}

/// The command of a `script`/`notify*` line: keepalived re-splits the raw line with
/// shell-like quoting; a single quoted word holding spaces is split once more, which is
/// how `script "killall -0 haproxy"` becomes three words.
pub(super) fn command_words(line_text: &str) -> Result<Vec<String>, String> {
    let mut words = split_shell_words(line_text)?;
    if words.is_empty() {
        return Ok(words);
    }
    words.remove(0);
    if words.len() == 1 && words[0].contains([' ', '\t']) {
        words = split_shell_words(&words[0])?;
    }
    Ok(words)
}

pub(super) fn track_process(ctx: &mut Ctx<'_>, node: &Node) {
    let Some(name) = ctx.arg(node, 1).map(|w| w.text.clone()) else {
        return;
    };
    let mut track = TrackProcess {
        name: name.clone(),
        process: None,
        param_match: None,
        weight: Weight::default(),
        weight_reverse: false,
        quorum: 1,
        quorum_max: None,
        delay: None,
        terminate_delay: None,
        fork_delay: None,
        full_command: false,
    };
    for item in node.children() {
        let span = item.span();
        match item.name() {
            "process" => {
                if let Some(w) = ctx.arg(item, 1) {
                    track.process = Some(w.text.clone());
                }
            }
            "param_match" => track.param_match = item.args().first().map(|w| w.text.clone()),
            "full_command" => track.full_command = true,
            "weight" => {
                if let Some(w) = ctx.arg(item, 1) {
                    match w.text.parse::<i64>().ok().and_then(|v| (-254..=254).contains(&v).then_some(v)) {
                        Some(v) => track.weight = Weight::new(v.clamp(-253, 253)).unwrap_or_default(),
                        None => ctx.warn(span, ConfigErr::GeneralError, format!("Weight ({}) for vrrp_track_process {name} must be between [-254..254] inclusive. Ignoring...", w.text)),
                    }
                    track.weight_reverse = item.args().get(1).is_some_and(|w| w.text == "reverse");
                }
            }
            "quorum" | "quorum_max" => {
                if let Some(w) = ctx.arg(item, 1) {
                    let min = if item.name() == "quorum" { 1 } else { 0 };
                    match w
                        .text
                        .parse::<u32>()
                        .ok()
                        .filter(|v| (min..=65535).contains(v))
                    {
                        Some(v) if item.name() == "quorum" => track.quorum = v,
                        Some(v) => track.quorum_max = Some(v),
                        None => {
                            let label = if item.name() == "quorum" {
                                "Quorum"
                            } else {
                                "quorum_max"
                            };
                            ctx.warn(span, ConfigErr::GeneralError, format!("{label} ({}) for vrrp_track_process {name} must be between [{min}..65535] inclusive. Ignoring...", w.text));
                        }
                    }
                }
            }
            "delay" | "terminate_delay" | "fork_delay" => {
                if let Some(w) = ctx.arg(item, 1) {
                    match w
                        .text
                        .parse::<f64>()
                        .ok()
                        .filter(|v| (0.000_001..=3600.0).contains(v))
                    {
                        Some(v) => {
                            let d = Some(Duration::from_secs_f64(v));
                            match item.name() {
                                "delay" => track.delay = d,
                                "terminate_delay" => track.terminate_delay = d,
                                _ => track.fork_delay = d,
                            }
                        }
                        None => {
                            let prefix = item.name().strip_suffix("delay").unwrap_or("");
                            ctx.warn(span, ConfigErr::GeneralError, format!("{prefix}delay ({}) for vrrp_track_process {name} must be between [0.000001..3600] inclusive. Ignoring...", w.text));
                        }
                    }
                }
            }
            _ => ctx.other("vrrp_track_process", item),
        }
    }
    ctx.config.track_processes.retain(|t| t.name != name);
    ctx.config.track_processes.push(track);
}

pub(super) fn track_file(ctx: &mut Ctx<'_>, node: &Node) {
    let Some(name) = ctx.arg(node, 1).map(|w| w.text.clone()) else {
        return;
    };
    let mut track = TrackFile {
        name: name.clone(),
        file: None,
        weight: Weight::new(1).unwrap_or_default(),
        weight_reverse: false,
        init_file: None,
    };
    for item in node.children() {
        match item.name() {
            "file" => {
                if let Some(w) = ctx.arg(item, 1) {
                    track.file = Some(w.text.clone());
                }
            }
            "weight" => {
                if let Some(w) = ctx.arg(item, 1) {
                    if let Some(v) = ctx.int(w, -254, 254) {
                        track.weight = Weight::new(v.clamp(-253, 253)).unwrap_or_default();
                    }
                    track.weight_reverse = item.args().get(1).is_some_and(|w| w.text == "reverse");
                }
            }
            "init_file" => {
                let value = item
                    .args()
                    .first()
                    .and_then(|w| w.text.parse::<i64>().ok())
                    .unwrap_or(0);
                let overwrite = item.args().iter().any(|w| w.text == "overwrite");
                track.init_file = Some((value, overwrite));
            }
            _ => ctx.other("track_file", item),
        }
    }
    ctx.config.track_files.retain(|t| t.name != name);
    ctx.config.track_files.push(track);
}
