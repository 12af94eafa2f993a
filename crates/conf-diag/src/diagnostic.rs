//! Diagnostics and the sink parsers report them to.

use serde::Serialize;

use crate::span::Span;

/// How bad a diagnostic is.
///
/// The order matters: `Fatal > Error > Warning > Notice`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Information only (HAProxy's `[NOTICE]`, from `.notice`); never changes the outcome.
    Notice,
    /// The original accepts it and carries on, possibly with a default; so do we.
    Warning,
    /// The configuration cannot be used as written.
    Error,
    /// The original stops reading at this point (keepalived exits with status 4).
    Fatal,
}

/// When a diagnostic was found. keepalived prints a file position only for what it finds
/// while reading lines; checks run once the whole file is read carry no position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Read,
    Check,
}

/// One finding about a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub stage: Stage,
    pub span: Option<Span>,
    /// The message as the original words it, where it has one: drop-in mode prints this.
    pub message: String,
    /// Why, or what to write instead: shown by the rich renderer only.
    pub help: Option<String>,
    /// A machine-readable class, named after the original's own (for keepalived its
    /// `config_err_t`, e.g. `CONFIG_UNKNOWN_KEYWORD`). `None` for what only ha-compat says:
    /// drop-in mode prints those but does not let them change the exit status.
    pub code: Option<&'static str>,
    /// How many times the original prints it (keepalived 2.2.7 validates an instance in
    /// two stages and prints `No VIP specified` from both): drop-in mode repeats it, the
    /// rich renderer shows it once.
    pub printed: u8,
}

impl Diagnostic {
    pub fn new(severity: Severity, span: Option<Span>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            stage: Stage::Read,
            span,
            message: message.into(),
            help: None,
            code: None,
            printed: 1,
        }
    }

    pub fn warning(span: Span, message: impl Into<String>) -> Self {
        Diagnostic::new(Severity::Warning, Some(span), message)
    }

    pub fn error(span: Span, message: impl Into<String>) -> Self {
        Diagnostic::new(Severity::Error, Some(span), message)
    }

    pub fn fatal(span: Span, message: impl Into<String>) -> Self {
        Diagnostic::new(Severity::Fatal, Some(span), message)
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn at_check(mut self) -> Self {
        self.stage = Stage::Check;
        self
    }

    /// The original prints it `times` times.
    pub fn printed_times(mut self, times: u8) -> Self {
        self.printed = times.max(1);
        self
    }
}

/// Everything found while reading one configuration, in the order found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Diagnostics::default()
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    pub fn warn(&mut self, span: Span, message: impl Into<String>) {
        self.push(Diagnostic::warning(span, message));
    }

    pub fn error(&mut self, span: Span, message: impl Into<String>) {
        self.push(Diagnostic::error(span, message));
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The worst severity present, if any.
    pub fn worst(&self) -> Option<Severity> {
        self.items.iter().map(|d| d.severity).max()
    }

    pub fn has_errors(&self) -> bool {
        self.worst().is_some_and(|s| s >= Severity::Error)
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}
