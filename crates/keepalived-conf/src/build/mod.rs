//! Syntax tree -> [`KeepalivedConfig`]: keyword dispatch, value parsing with keepalived's
//! own messages, defaults, cross-references, and the checks keepalived makes once the
//! whole file is read.
//!
//! - `global`: `global_defs`.
//! - `script`: `vrrp_script`, `vrrp_track_process`, `track_file`.
//! - `instance`: `vrrp_instance` and its blocks.
//! - `address`: `virtual_ipaddress` and `virtual_routes` lines.
//! - `group`: `vrrp_sync_group`.
//! - `complete`: the after-reading checks (`vrrp_complete_instance()` and friends).

mod address;
mod complete;
mod global;
mod group;
mod instance;
mod script;

use std::time::Duration;

use conf_diag::{Diagnostic, Diagnostics, Severity, Span};

use crate::host::Host;
use crate::keywords::{self, Support};
use crate::model::{Command, KeepalivedConfig};
use crate::reader::Word;
use crate::status::{ConfigErr, STOPPED_CODE};
use crate::syntax::Node;

/// Builds the model from the tree. Everything wrong is reported to `diags`; what can be
/// used is kept, with keepalived's fallbacks.
pub fn build(nodes: &[Node], host: &dyn Host, diags: &mut Diagnostics) -> KeepalivedConfig {
    let script_names = nodes
        .iter()
        .filter(|n| n.name() == "vrrp_script")
        .filter_map(|n| n.args().first().map(|w| w.text.clone()))
        .collect();
    let mut ctx = Ctx {
        diags,
        host,
        config: KeepalivedConfig::default(),
        pending_instances: Vec::new(),
        script_names,
        fifo_scripts: [None, None],
    };
    let mut lvs_warned = false;
    for node in nodes {
        match node.name() {
            "global_defs" => global::global_defs(&mut ctx, node),
            "vrrp_script" => script::vrrp_script(&mut ctx, node),
            "vrrp_track_process" => script::track_process(&mut ctx, node),
            "track_file" | "vrrp_track_file" => script::track_file(&mut ctx, node),
            "vrrp_sync_group" => group::sync_group(&mut ctx, node),
            "vrrp_instance" => instance::vrrp_instance(&mut ctx, node),
            _ => {
                let support = ctx.known_keyword("root", node);
                if support == Some(Support::OtherSubsystem) {
                    ctx.config.lvs_blocks_skipped += 1;
                    if !lvs_warned {
                        lvs_warned = true;
                        ctx.diags.push(
                            Diagnostic::warning(
                                node.keyword().span,
                                format!(
                                    "ha-compat: '{}' (LVS/BFD) is not supported: this block and any like it are skipped",
                                    node.name()
                                ),
                            )
                            .with_help("ha-compat replaces keepalived's VRRP side; the load balancing itself is done by the haproxy.cfg front end"),
                        );
                    }
                }
            }
        }
    }
    complete::complete(&mut ctx);
    ctx.config
}

pub(crate) struct Ctx<'a> {
    pub diags: &'a mut Diagnostics,
    pub host: &'a dyn Host,
    pub config: KeepalivedConfig,
    /// Instances read but not yet completed: `complete` finishes them once the whole file
    /// is read, as keepalived's `vrrp_complete_init()` runs after parsing.
    pub pending_instances: Vec<instance::RawInstance>,
    /// Every `vrrp_script` name in the file, before or after: lets the "not found"
    /// warning say that the order is the problem.
    pub script_names: Vec<String>,
    /// `notify_fifo_script` and `vrrp_notify_fifo_script` as read (with the line of the
    /// keyword): `complete` gives each to its FIFO, which may come later in the file.
    pub fifo_scripts: [Option<(Command, Span)>; 2],
}

impl Ctx<'_> {
    /// Reports something keepalived itself reports, with its class.
    pub fn report(
        &mut self,
        severity: Severity,
        span: Span,
        class: ConfigErr,
        message: impl Into<String>,
    ) {
        self.diags
            .push(Diagnostic::new(severity, Some(span), message).with_code(class.code()));
    }

    pub fn warn(&mut self, span: Span, class: ConfigErr, message: impl Into<String>) {
        self.report(Severity::Warning, span, class, message);
    }

    pub fn error(&mut self, span: Span, class: ConfigErr, message: impl Into<String>) {
        self.report(Severity::Error, span, class, message);
    }

    /// A check keepalived prints twice (without a position).
    pub fn check_printed_twice(
        &mut self,
        severity: Severity,
        span: Option<Span>,
        class: ConfigErr,
        message: impl Into<String>,
    ) {
        self.diags.push(
            Diagnostic::new(severity, span, message)
                .with_code(class.code())
                .at_check()
                .printed_times(2),
        );
    }

    /// A check made after reading: keepalived prints it without a position.
    pub fn check(
        &mut self,
        severity: Severity,
        span: Option<Span>,
        class: ConfigErr,
        message: impl Into<String>,
    ) {
        self.diags.push(
            Diagnostic::new(severity, span, message)
                .with_code(class.code())
                .at_check(),
        );
    }

    /// The word at `index` (1 = first argument). Missing: keepalived's `null_strvec()`,
    /// which stops keepalived; we report it and go on to find the rest.
    pub fn arg<'n>(&mut self, node: &'n Node, index: usize) -> Option<&'n Word> {
        let word = node.line.words.get(index);
        if word.is_none() {
            let previous = node
                .line
                .words
                .get(index - 1)
                .map_or("", |w| w.text.as_str());
            self.diags.push(
                Diagnostic::new(
                    Severity::Fatal,
                    Some(node.span()),
                    format!(
                        "*** Configuration line starting `{}` is missing a parameter after keyword `{}` at word position {}",
                        node.name(),
                        previous,
                        index + 1
                    ),
                )
                .with_code(STOPPED_CODE),
            );
        }
        word
    }

    /// A keyword that is not handled by the caller's section: warn as keepalived does
    /// (unknown), or as ha-compat does (known but ignored / refused). Returns the support
    /// level when keepalived knows the keyword.
    pub fn known_keyword(&mut self, section: &str, node: &Node) -> Option<Support> {
        let name = node.name();
        let span = node.keyword().span;
        if keywords::find(section, name).is_none() {
            self.unknown(section, node);
            return None;
        }
        let support = keywords::support(section, name);
        match support {
            Support::Supported | Support::OtherSubsystem => {}
            Support::Ignored => self.diags.push(
                Diagnostic::warning(span, format!("ha-compat: keyword '{name}' is accepted by keepalived but ignored by ha-compat"))
                    .with_help("see docs/compatibility.md; it changes neither routing nor security"),
            ),
            Support::Refused => self.diags.push(
                Diagnostic::error(span, format!("ha-compat: keyword '{name}' is not supported and is refused"))
                    .with_code(REFUSED_CODE)
                    .with_help("it changes routing, addressing or security; running without it would silently do something else"),
            ),
        }
        Some(support)
    }

    /// `Unknown keyword 'X'`, and for a block each line inside, as keepalived reports them.
    pub fn unknown(&mut self, section: &str, node: &Node) {
        let mut d = Diagnostic::warning(
            node.keyword().span,
            format!("Unknown keyword '{}'", node.name()),
        )
        .with_code(ConfigErr::UnknownKeyword.code());
        if let Some(hint) = suggest(section, node.name()) {
            d = d.with_help(format!("did you mean '{hint}'?"));
        }
        self.diags.push(d);
        if let Some(block) = &node.block {
            self.warn(
                block.open,
                ConfigErr::UnexpectedBob,
                "Unexpected '{' - ignoring",
            );
            for child in &block.children {
                self.unknown_inner(child);
            }
            if section == "root" {
                if let Some(close) = block.close {
                    self.warn(close, ConfigErr::UnknownKeyword, "Unknown keyword '}'");
                }
            }
        }
    }

    fn unknown_inner(&mut self, node: &Node) {
        self.warn(
            node.keyword().span,
            ConfigErr::UnknownKeyword,
            format!("Unknown keyword '{}'", node.name()),
        );
        for child in node.children() {
            self.unknown_inner(child);
        }
    }

    /// keepalived's `read_unsigned()` / `read_int()` with its messages; `None` when invalid.
    pub fn int(&mut self, word: &Word, min: i64, max: i64) -> Option<i64> {
        let text = word.text.as_str();
        let trimmed = text.trim_start_matches([' ', '\t']);
        let parsed = parse_strtol(trimmed);
        let message = match parsed {
            Some(v) if v >= min && v <= max => return Some(v),
            Some(_) if min >= 0 && trimmed.starts_with('-') => format!("negative number '{text}'"),
            Some(_) => format!("number '{text}' outside range [{min}, {max}]"),
            None => format!("invalid number '{text}'"),
        };
        self.warn(word.span, ConfigErr::InvalidNumber, message);
        None
    }

    /// keepalived's `read_decimal_unsigned_strvec` / `read_timer`: seconds, possibly
    /// fractional, within `[min, max]` seconds.
    pub fn seconds(&mut self, word: &Word, min: f64, max: f64) -> Option<Duration> {
        let text = word.text.as_str();
        let message = match text.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= min && v <= max => {
                return Some(Duration::from_secs_f64(v))
            }
            Ok(v) if v.is_finite() => format!("number '{text}' outside range [{min:.6}, {max:.6}]"),
            _ => format!("invalid number '{text}'"),
        };
        self.warn(word.span, ConfigErr::InvalidNumber, message);
        None
    }

    /// on/true/yes, off/false/no; a missing value means true.
    pub fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        let Some(word) = node.args().first() else {
            return Some(true);
        };
        match word.text.as_str() {
            "true" | "on" | "yes" => Some(true),
            "false" | "off" | "no" => Some(false),
            other => {
                self.warn(
                    word.span,
                    ConfigErr::GeneralError,
                    format!("Invalid {what} parameter {other}"),
                );
                None
            }
        }
    }

    /// Keywords in a block the caller does not handle.
    pub fn other(&mut self, section: &str, node: &Node) {
        if self.known_keyword(section, node) == Some(Support::Supported) {
            // Supported in the table but not handled by the caller: a bug in ha-compat,
            // reported rather than hidden.
            self.diags.push(Diagnostic::error(
                node.keyword().span,
                format!("ha-compat internal: keyword '{}' in {section} is listed as supported but was not read", node.name()),
            ));
        }
    }
}

/// Code of ha-compat's refusal of a keyword keepalived would accept: counted as an error
/// in drop-in mode too, since the configuration will not run as written.
pub const REFUSED_CODE: &str = "HA_COMPAT_REFUSED";

/// `strtol(s, _, 10)` over the whole word.
fn parse_strtol(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() {
        return None;
    }
    digits.parse::<i64>().ok()
}

/// The closest keyword of the section, for a "did you mean" (case slips first).
fn suggest(section: &str, name: &str) -> Option<&'static str> {
    let candidates: Vec<&'static str> = keywords::all()
        .filter(|k| k.section == section)
        .map(|k| k.name)
        .collect();
    if let Some(same) = candidates
        .iter()
        .find(|c| c.eq_ignore_ascii_case(name.trim()))
    {
        return Some(same);
    }
    candidates
        .into_iter()
        .map(|c| (edit_distance(c, name), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 5))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(cur)
            };
            prev = cur;
        }
    }
    row[b.len()]
}
