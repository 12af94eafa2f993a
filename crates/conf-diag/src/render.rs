//! Showing diagnostics: keepalived's drop-in format and a rich rustc-like format.

use std::fmt::Write as _;

use crate::diagnostic::{Diagnostic, Severity, Stage};
use crate::source::SourceMap;

/// One line as keepalived 2.2.7's VRRP process prints it with `-t`:
/// `(FILE: Line N) message`; checks made after reading carry no position. A message the
/// original prints more than once comes as that many lines.
pub fn render_keepalived(diagnostic: &Diagnostic, sources: &SourceMap) -> String {
    let position = match (diagnostic.stage, diagnostic.span) {
        (Stage::Read, Some(span)) => match sources.file(span.file) {
            Some(file) => format!("({}: Line {}) ", file.display_name, span.line),
            None => String::new(),
        },
        _ => String::new(),
    };
    let line = format!("{position}{}", diagnostic.message);
    vec![line; usize::from(diagnostic.printed.max(1))].join("\n")
}

/// A multi-line, rustc-like rendering:
///
/// ```text
/// warning: unknown keyword 'Priority'
///   --> /etc/keepalived/keepalived.conf:5:5
///    |
///  5 |     Priority 100
///    |     ^^^^^^^^
///    = help: keywords are case-sensitive; did you mean 'priority'?
/// ```
pub fn render_rich(diagnostic: &Diagnostic, sources: &SourceMap) -> String {
    let label = match diagnostic.severity {
        Severity::Notice => "note",
        Severity::Warning => "warning",
        Severity::Error => "error",
        Severity::Fatal => "error",
    };
    let mut out = format!("{label}: {}\n", diagnostic.message);
    if let Some(span) = diagnostic.span {
        let path = sources
            .path(span.file)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let gutter = span.line.to_string().len();
        let pad = " ".repeat(gutter);
        let _ = writeln!(out, "{pad}--> {path}:{}:{}", span.line, span.col);
        if let Some(text) = sources.line_text(span.file, span.line) {
            let shown = text.replace('\t', " ");
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{} | {shown}", span.line);
            let caret_at = span.col.saturating_sub(1) as usize;
            let width = (span.len as usize).max(1);
            let _ = writeln!(out, "{pad} | {}{}", " ".repeat(caret_at), "^".repeat(width));
        }
        for include in sources.include_stack(span.file) {
            let from = sources.path(include.file).map(|p| p.display().to_string());
            let _ = writeln!(
                out,
                "{pad} = note: included from {}:{}",
                from.unwrap_or_default(),
                include.line
            );
        }
        if let Some(help) = &diagnostic.help {
            let _ = writeln!(out, "{pad} = help: {help}");
        }
    } else if let Some(help) = &diagnostic.help {
        let _ = writeln!(out, "  = help: {help}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;

    fn one_file() -> (SourceMap, crate::FileId) {
        let mut map = SourceMap::new();
        let id = map.add(
            "/etc/keepalived/keepalived.conf",
            "vrrp_instance VI_1 {\n    Priority 100\n}\n".into(),
            None,
        );
        (map, id)
    }

    #[test]
    fn keepalived_format_names_file_and_line() {
        let (map, id) = one_file();
        let d = Diagnostic::warning(Span::new(id, 2, 5, 8), "Unknown keyword 'Priority'");
        assert_eq!(
            render_keepalived(&d, &map),
            "(/etc/keepalived/keepalived.conf: Line 2) Unknown keyword 'Priority'"
        );
    }

    #[test]
    fn keepalived_format_has_no_position_for_checks_after_reading() {
        let (map, id) = one_file();
        let d = Diagnostic::warning(Span::new(id, 1, 1, 4), "(VI_1) no interface").at_check();
        assert_eq!(render_keepalived(&d, &map), "(VI_1) no interface");
    }

    #[test]
    fn rich_format_points_a_caret_under_the_word() {
        let (map, id) = one_file();
        let d = Diagnostic::warning(Span::new(id, 2, 5, 8), "unknown keyword 'Priority'")
            .with_help("did you mean 'priority'?");
        let text = render_rich(&d, &map);
        let expected = "warning: unknown keyword 'Priority'\n \
                        --> /etc/keepalived/keepalived.conf:2:5\n  \
                        |\n\
                        2 |     Priority 100\n  \
                        |     ^^^^^^^^\n  \
                        = help: did you mean 'priority'?\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn rich_format_shows_the_include_stack() {
        let mut map = SourceMap::new();
        let root = map.add("main.conf", "include extra.conf\n".into(), None);
        let inc = map.add(
            "extra.conf",
            "bogus\n".into(),
            Some(Span::new(root, 1, 1, 7)),
        );
        let d = Diagnostic::error(Span::new(inc, 1, 1, 5), "unknown keyword 'bogus'");
        let text = render_rich(&d, &map);
        assert!(text.contains("--> extra.conf:1:1"), "{text}");
        assert!(text.contains("= note: included from main.conf:1"), "{text}");
    }
}
