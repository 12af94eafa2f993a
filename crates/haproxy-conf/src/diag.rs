//! HAProxy's message shapes on top of conf-diag.
//!
//! Every message HAProxy prints while reading a configuration is
//! `[LABEL]    (PID) : config : <location><text>`, where the location is one of a few
//! fixed forms that differ in spacing and capitalisation (`parsing [f:l] : `,
//! `parsing [f:l]: `, `Parsing [f:l]: `, `[f:l] : `). The form is kept in the diagnostic's
//! `code` so the same diagnostic renders byte-exact for `haproxy -c` and rich for
//! `ha-compat check`.

use conf_diag::{Diagnostic, Severity, SourceMap, Span};

/// `parsing [FILE:LINE] : ` (section keyword parsers).
pub const PARSING: &str = "parsing";
/// `parsing [FILE:LINE]: ` (the line reader itself, and some keyword parsers).
pub const PARSING_TIGHT: &str = "parsing:";
/// `Parsing [FILE:LINE]: ` (duplicate proxy names).
pub const PARSING_CAPITAL: &str = "Parsing:";
/// `[FILE:LINE] : ` (HAProxy's message context, used after parsing: servers, checks).
pub const CONTEXT: &str = "ctx";
/// `parsing [FILE:LINE]` followed by the text with no separator (a few messages).
pub const PARSING_BARE: &str = "parsing-bare";

/// A diagnostic in one of HAProxy's location forms.
pub fn at(
    severity: Severity,
    form: &'static str,
    span: Span,
    text: impl Into<String>,
) -> Diagnostic {
    Diagnostic::new(severity, Some(span), text).with_code(form)
}

/// A diagnostic with no location (`Fatal errors found in configuration.`).
pub fn bare(severity: Severity, text: impl Into<String>) -> Diagnostic {
    Diagnostic::new(severity, None, text)
}

/// HAProxy's label for a severity, padded as `print_message()` pads it.
pub fn label(severity: Severity) -> &'static str {
    match severity {
        Severity::Notice => "[NOTICE]  ",
        Severity::Warning => "[WARNING] ",
        Severity::Error | Severity::Fatal => "[ALERT]   ",
    }
}

/// One message exactly as `haproxy -c` prints it (with its trailing newline).
pub fn render_haproxy(d: &Diagnostic, sources: &SourceMap, pid: u32) -> String {
    let mut out = format!("{} ({pid}) : config : ", label(d.severity));
    if let Some(span) = d.span {
        let file = sources
            .file(span.file)
            .map(|f| f.display_name.as_str())
            .unwrap_or("");
        let line = span.line;
        match d.code {
            Some(PARSING) => out.push_str(&format!("parsing [{file}:{line}] : ")),
            Some(PARSING_TIGHT) => out.push_str(&format!("parsing [{file}:{line}]: ")),
            Some(PARSING_CAPITAL) => out.push_str(&format!("Parsing [{file}:{line}]: ")),
            Some(PARSING_BARE) => out.push_str(&format!("parsing [{file}:{line}]")),
            Some(CONTEXT) => out.push_str(&format!("[{file}:{line}] : ")),
            _ => {}
        }
    }
    out.push_str(&d.message);
    out.push('\n');
    out
}
