//! keepalived-style diagnostic lines, read back into their parts.
//!
//! keepalived 2.2.7 prints `(PATH: Line N) MSG`, `(Line N) MSG` or plain `MSG` (see
//! fixtures/keepalived/REFERENCE.md, "Diagnostic line format"); ha-compat's keepalived
//! personality prints the same shapes.

/// One diagnostic line: the optional `(PATH: Line N)` / `(Line N)` prefix split off.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diag {
    /// PATH of a `(PATH: Line N)` prefix.
    pub file: Option<String>,
    /// N of a `(PATH: Line N)` or `(Line N)` prefix.
    pub line: Option<u32>,
    /// The message after the prefix (the whole line if there is none).
    pub text: String,
}

impl Diag {
    /// Splits one line (without its newline).
    pub fn parse(line: &str) -> Diag {
        let plain = || Diag {
            file: None,
            line: None,
            text: line.to_owned(),
        };
        let Some(inner) = line.strip_prefix('(') else {
            return plain();
        };
        if let Some(rest) = inner.strip_prefix("Line ") {
            if let Some((n, text)) = line_number(rest) {
                return Diag {
                    file: None,
                    line: Some(n),
                    text: text.to_owned(),
                };
            }
            return plain();
        }
        let mut from = 0;
        while let Some(pos) = inner[from..].find(": Line ") {
            let path = &inner[..from + pos];
            // `(VI_1) msg` and the like: a closing parenthesis before ": Line " means the
            // parentheses were not a location prefix.
            if path.contains(')') {
                break;
            }
            if let Some((n, text)) = line_number(&inner[from + pos + ": Line ".len()..]) {
                return Diag {
                    file: Some(path.to_owned()),
                    line: Some(n),
                    text: text.to_owned(),
                };
            }
            from += pos + 1;
        }
        plain()
    }

    /// Splits every line of a program's stderr.
    pub fn parse_all(stderr: &str) -> Vec<Diag> {
        stderr.lines().map(Diag::parse).collect()
    }
}

/// `N) REST` -> (N, REST).
fn line_number(s: &str) -> Option<(u32, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let n = s[..digits].parse().ok()?;
    let rest = s[digits..].strip_prefix(") ")?;
    Some((n, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_three_shapes() {
        let d = Diag::parse("({FILE}: Line 5) number '0' outside range [1, 255]");
        assert_eq!(d.file.as_deref(), Some("{FILE}"));
        assert_eq!(d.line, Some(5));
        assert_eq!(d.text, "number '0' outside range [1, 255]");

        let d = Diag::parse("(Line 11) Extra '}' found");
        assert_eq!((d.file, d.line), (None, Some(11)));
        assert_eq!(d.text, "Extra '}' found");

        let d = Diag::parse("(VI_1) No VIP specified; at least one is sensible");
        assert_eq!((d.file.clone(), d.line), (None, None));
        assert_eq!(d.text, "(VI_1) No VIP specified; at least one is sensible");

        let d = Diag::parse("(VI_1): VRID '0' not valid - must be between 1 & 255");
        assert_eq!(d.line, None);

        let d = Diag::parse("(include-error.d/inner.part: Line 2) (VI_1) unknown state");
        assert_eq!(d.file.as_deref(), Some("include-error.d/inner.part"));
        assert_eq!(d.line, Some(2));
        assert_eq!(d.text, "(VI_1) unknown state");

        // A path that contains ": Line " itself, then the real prefix.
        let d = Diag::parse("(/a: Line x/b.conf: Line 3) msg");
        assert_eq!(d.file.as_deref(), Some("/a: Line x/b.conf"));
        assert_eq!(d.line, Some(3));
        assert_eq!(d.text, "msg");

        let d = Diag::parse("(Line x) msg");
        assert_eq!(d.line, None);
        assert_eq!(d.text, "(Line x) msg");
    }
}
