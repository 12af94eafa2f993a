//! Diagnostic lines, read back into their parts.
//!
//! keepalived 2.2.7 prints `(PATH: Line N) MSG`, `(Line N) MSG` or plain `MSG` (see
//! fixtures/keepalived/REFERENCE.md, "Diagnostic line format"); ha-compat's keepalived
//! personality prints the same shapes: [`Diag`].
//!
//! HAProxy 2.6 prints `[LEVEL]    (PID) : TEXT`, where TEXT may go on in continuation lines
//! `   | MORE`, and names places as `[FILE:LINE]` inside TEXT: [`HaproxyMessage`].

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

/// One HAProxy message: a `[LEVEL]    (PID) : TEXT` line with its continuation lines
/// (`   | ...`), or any other line of stderr on its own.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HaproxyMessage {
    /// `ALERT`, `WARNING`, `NOTICE`, `DIAG`...; `None` for a line without a `[LEVEL]` tag.
    pub level: Option<String>,
    /// The lines as printed, the PID replaced by `PID`, joined with `\n`.
    pub text: String,
}

impl HaproxyMessage {
    /// Splits stderr into messages, continuation lines attached to the message before them.
    pub fn parse_all(stderr: &str) -> Vec<HaproxyMessage> {
        let mut out: Vec<HaproxyMessage> = Vec::new();
        for line in stderr.lines() {
            if line.starts_with("   |") {
                if let Some(last) = out.last_mut() {
                    last.text.push('\n');
                    last.text.push_str(line);
                    continue;
                }
            }
            out.push(HaproxyMessage {
                level: haproxy_level(line).map(str::to_owned),
                text: normalise_haproxy_pid(line),
            });
        }
        out
    }

    /// Every `[FILE:LINE]` the message names (as in `parsing [FILE:LINE] : ...`), in order.
    pub fn locations(&self) -> Vec<(String, u32)> {
        haproxy_locations(&self.text)
    }
}

/// `LEVEL` of a line starting with `[LEVEL]` (capital letters only).
fn haproxy_level(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('[')?;
    let end = rest.find(']')?;
    let level = &rest[..end];
    (!level.is_empty() && level.bytes().all(|b| b.is_ascii_uppercase())).then_some(level)
}

/// The PID of `[LEVEL]    (12345) : ...` replaced by `PID`, as fixtures/haproxy/measure.sh
/// does (`s/^(\[[A-Z]+\]\s*)\(\d+\)/$1(PID)/`); other lines unchanged.
pub fn normalise_haproxy_pid(line: &str) -> String {
    let Some(level) = haproxy_level(line) else {
        return line.to_owned();
    };
    let after_tag = level.len() + 2;
    let rest = &line[after_tag..];
    let spaces = rest.len() - rest.trim_start().len();
    let Some(inner) = rest[spaces..].strip_prefix('(') else {
        return line.to_owned();
    };
    let digits = inner.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || !inner[digits..].starts_with(')') {
        return line.to_owned();
    }
    format!(
        "{}(PID){}",
        &line[..after_tag + spaces],
        &inner[digits + 1..]
    )
}

/// Every `[FILE:LINE]` in `text`: a `[`, a non-empty FILE without `[` or `]`, `:`, decimal
/// LINE, `]`.
pub fn haproxy_locations(text: &str) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find(']') else {
            break;
        };
        let inside = &rest[..close];
        if inside.contains('[') {
            continue;
        }
        if let Some((file, line)) = inside.rsplit_once(':') {
            if !file.is_empty() && !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) {
                if let Ok(n) = line.parse() {
                    out.push((file.to_owned(), n));
                }
            }
        }
        rest = &rest[close + 1..];
    }
    out
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

    #[test]
    fn haproxy_messages_and_locations() {
        let stderr = "[NOTICE]   (20786) : haproxy version is 2.6.12-1+deb12u4\n\
            [WARNING]  (20786) : config : missing timeouts for frontend 'myweb'.\n\
            \x20  | While not properly invalid, you will certainly encounter various problems\n\
            \x20  | with such a configuration.\n\
            [ALERT]    (7) : config : parsing [{FILE}:14] : the 'contimeout' directive is gone.\n\
            [ALERT]    (7) : config : Error(s) found in configuration file : {FILE}\n\
            usage: haproxy [ -f <cfgfile|cfgdir> ]*\n";
        let m = HaproxyMessage::parse_all(stderr);
        assert_eq!(m.len(), 5);
        assert_eq!(m[0].level.as_deref(), Some("NOTICE"));
        assert_eq!(
            m[0].text,
            "[NOTICE]   (PID) : haproxy version is 2.6.12-1+deb12u4"
        );
        assert_eq!(m[1].level.as_deref(), Some("WARNING"));
        assert_eq!(m[1].text.lines().count(), 3);
        assert!(m[1].text.starts_with("[WARNING]  (PID) : config : missing"));
        assert_eq!(
            m[2].text,
            "[ALERT]    (PID) : config : parsing [{FILE}:14] : the 'contimeout' directive is gone."
        );
        assert_eq!(m[2].locations(), [("{FILE}".to_owned(), 14)]);
        assert!(m[1].locations().is_empty());
        assert!(m[3].locations().is_empty());
        assert_eq!(m[4].level, None);
        assert!(m[4].locations().is_empty());

        assert_eq!(
            haproxy_locations("[ALERT] x [a [b.cfg:3] : [c:d:12] [e:] [:4] [f:5"),
            [("b.cfg".to_owned(), 3), ("c:d".to_owned(), 12)]
        );
        assert_eq!(normalise_haproxy_pid("[ALERT] (x) : y"), "[ALERT] (x) : y");
        assert_eq!(normalise_haproxy_pid("[ALERT](12) : y"), "[ALERT](PID) : y");
        assert_eq!(normalise_haproxy_pid("plain (12)"), "plain (12)");
    }
}
