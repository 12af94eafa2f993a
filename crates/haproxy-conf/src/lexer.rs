//! One configuration line into words, exactly as HAProxy 2.6's `parse_line()` (src/tools.c)
//! does it with the options `readcfgfile()` passes: `#` comments, `"..."` (weak: `$VAR`
//! expanded inside) and `'...'` (strong) quoting glued anywhere in a word, backslash
//! escapes, `$VAR` / `${VAR}` / `${VAR-default}` / `${VAR[*]}` expansion inside double
//! quotes only, and the pseudo-variables `.FILE`, `.LINE`, `.SECTION`.
//!
//! Works on bytes: a config may hold any byte, and positions in messages are byte offsets.

/// HAProxy's `MAX_LINE_ARGS`: more words than this on one line is an error.
pub const MAX_LINE_ARGS: usize = 64;

/// Why a line could not be split, with the 0-based byte offset HAProxy reports
/// (`errptr - line`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexError {
    /// `unmatched quote at position N`
    UnmatchedQuote(usize),
    /// `unmatched brace in environment variable name at position N`
    UnmatchedBrace(usize),
    /// `forbidden first char in environment variable name at position N`
    VarName(usize),
    /// `truncated or invalid hexadecimal sequence at position N`
    Hex(usize),
    /// `truncated or invalid word expansion sequence at position N`
    WrongExpand(usize),
    /// `too many words, truncating after word 64, position N: <WORD>.`
    TooMany { position: usize, word: Vec<u8> },
}

impl LexError {
    /// HAProxy's message text before the position (the `TooMany` case has its own shape).
    pub fn what(&self) -> &'static str {
        match self {
            LexError::UnmatchedQuote(_) => "unmatched quote",
            LexError::UnmatchedBrace(_) => "unmatched brace in environment variable name",
            LexError::VarName(_) => "forbidden first char in environment variable name",
            LexError::Hex(_) => "truncated or invalid hexadecimal sequence",
            LexError::WrongExpand(_) => "truncated or invalid word expansion sequence",
            LexError::TooMany { .. } => "too many words",
        }
    }

    /// The 0-based offset of the offending character in the line.
    pub fn offset(&self) -> usize {
        match self {
            LexError::UnmatchedQuote(p)
            | LexError::UnmatchedBrace(p)
            | LexError::VarName(p)
            | LexError::Hex(p)
            | LexError::WrongExpand(p) => *p,
            LexError::TooMany { position, .. } => *position,
        }
    }
}

/// Where `$VAR` values come from: the process environment, or a fixed table in tests.
pub trait Environment {
    fn get(&self, name: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Environment for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| String::from_utf8_lossy(v.as_encoded_bytes()).into_owned())
    }
}

impl Environment for std::collections::BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// What `.FILE`, `.LINE` and `.SECTION` expand to on this line.
#[derive(Debug, Clone, Copy)]
pub struct Pseudo<'a> {
    pub file: &'a str,
    pub line: u32,
    pub section: &'a str,
}

fn is_space(c: u8) -> bool {
    // C isspace() in the C locale.
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Splits `line` (without its trailing newline) into words. An empty result is an empty
/// line (or one starting with an empty `""` word, which HAProxy also treats as empty).
pub fn split_line(
    line: &[u8],
    env: &dyn Environment,
    pseudo: Pseudo<'_>,
) -> Result<Vec<Vec<u8>>, LexError> {
    let mut words: Vec<Vec<u8>> = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    // Whether `current` has been started (HAProxy counts a word once a separator or
    // character was emitted after the previous separator).
    let mut quote: Option<usize> = None;
    let mut squote = false;
    let mut dquote = false;
    let at = |i: usize| -> u8 { line.get(i).copied().unwrap_or(0) };
    // readcfgfile() skips leading spaces before parse_line(); positions stay line-relative.
    let mut i = 0usize;
    while i < line.len() && is_space(line[i]) {
        i += 1;
    }

    loop {
        let c = at(i);
        if c == 0 || c == b'\n' || c == b'\r' {
            break;
        }
        if c == b'#' && !squote && !dquote {
            break;
        }
        if c == b'"' && !squote {
            if dquote {
                dquote = false;
                quote = None;
            } else {
                dquote = true;
                quote = Some(i);
            }
            i += 1;
            continue;
        }
        if c == b'\'' && !dquote {
            if squote {
                squote = false;
                quote = None;
            } else {
                squote = true;
                quote = Some(i);
            }
            i += 1;
            continue;
        }
        if c == b'\\' && !squote {
            let mut tosend = c;
            match at(i + 1) {
                b' ' | b'\\' => {
                    tosend = at(i + 1);
                    i += 1;
                }
                b't' => {
                    tosend = b'\t';
                    i += 1;
                }
                b'n' => {
                    tosend = b'\n';
                    i += 1;
                }
                b'r' => {
                    tosend = b'\r';
                    i += 1;
                }
                b'#' | b'\'' | b'"' => {
                    i += 1;
                    tosend = at(i);
                }
                b'$' => {
                    if dquote {
                        i += 1;
                    }
                    tosend = at(i);
                }
                b'x' => match (hex_value(at(i + 2)), hex_value(at(i + 3))) {
                    (Some(h), Some(l)) => {
                        tosend = (h << 4) | l;
                        i += 3;
                    }
                    _ => return Err(LexError::Hex(i)),
                },
                _ => {}
            }
            i += 1;
            current.push(tosend);
            continue;
        }
        if is_space(c) && !squote && !dquote {
            while is_space(at(i)) && i < line.len() {
                i += 1;
            }
            words.push(std::mem::take(&mut current));
            if words.len() >= MAX_LINE_ARGS {
                return Err(too_many(line, &words, i));
            }
            continue;
        }
        if c == b'$' && dquote {
            i += 1;
            let mut brace = None;
            if at(i) == b'{' {
                brace = Some(i);
                i += 1;
            }
            let first = at(i);
            if !first.is_ascii_alphabetic() && first != b'_' && first != b'.' {
                return Err(LexError::VarName(i));
            }
            let name_start = i;
            if first == b'.' {
                i += 1;
            }
            while at(i).is_ascii_alphanumeric() || at(i) == b'_' {
                i += 1;
            }
            let name = String::from_utf8_lossy(&line[name_start..i.min(line.len())]).into_owned();
            let mut value: Option<Vec<u8>> = if let Some(internal) = name.strip_prefix('.') {
                match internal {
                    "LINE" => Some(pseudo.line.to_string().into_bytes()),
                    "FILE" => Some(pseudo.file.as_bytes().to_vec()),
                    "SECTION" => Some(pseudo.section.as_bytes().to_vec()),
                    _ => return Err(LexError::VarName(name_start)),
                }
            } else {
                env.get(&name).map(String::into_bytes)
            };
            let mut word_expand = false;
            if at(i) == b'[' && brace.is_some() {
                let start = i;
                if at(i + 1) != b'*' || at(i + 2) != b']' {
                    return Err(LexError::WrongExpand(start));
                }
                i += 3;
                word_expand = true;
            }
            if let Some(brace_at) = brace {
                if at(i) == b'-' {
                    let default_start = i + 1;
                    while at(i) != 0 && at(i) != b'}' && i < line.len() {
                        i += 1;
                    }
                    if at(i) != b'}' {
                        return Err(LexError::UnmatchedBrace(brace_at));
                    }
                    if value.is_none() {
                        value = Some(line[default_start..i].to_vec());
                    }
                } else if at(i) != b'}' {
                    return Err(LexError::UnmatchedBrace(brace_at));
                }
                i += 1;
            }
            if let Some(value) = value {
                let mut v = 0usize;
                while v < value.len() {
                    if word_expand && is_space(value[v]) {
                        words.push(std::mem::take(&mut current));
                        if words.len() >= MAX_LINE_ARGS {
                            return Err(too_many(line, &words, i));
                        }
                        v += 1;
                        while v < value.len() && is_space(value[v]) {
                            v += 1;
                        }
                    } else {
                        current.push(value[v]);
                        v += 1;
                    }
                }
            }
            continue;
        }
        current.push(c);
        i += 1;
    }
    if let Some(q) = quote {
        return Err(LexError::UnmatchedQuote(q));
    }
    // HAProxy does not add an empty last word after trailing spaces.
    if !current.is_empty() {
        words.push(current);
    }
    // An empty first word makes HAProxy see an empty line (`if (!**args) continue;`).
    if words.first().is_some_and(|w| w.is_empty()) {
        words.clear();
    }
    // Trailing empty words are indistinguishable from absent ones for every keyword parser
    // (they test `*args[n]`), so drop them.
    while words.last().is_some_and(|w| w.is_empty()) {
        words.pop();
    }
    Ok(words)
}

fn too_many(line: &[u8], words: &[Vec<u8>], _at: usize) -> LexError {
    // HAProxy reports the position of word 64 in its output buffer (1-based); the output
    // buffer holds every word followed by a NUL, so it is the sum of the previous lengths.
    let before: usize = words
        .iter()
        .take(MAX_LINE_ARGS - 1)
        .map(|w| w.len() + 1)
        .sum();
    let word = words.get(MAX_LINE_ARGS - 1).cloned().unwrap_or_default();
    let _ = line;
    LexError::TooMany {
        position: before,
        word,
    }
}

/// HAProxy's `sanitize_for_printing()` for an error caret: when `pos` is beyond `width`,
/// the text is shifted to put it near the middle, with `...` on both sides; spaces become
/// ` `, non-printable bytes `?`. Returns the text and the caret's new 0-based column.
pub fn sanitize_for_printing(line: &[u8], pos: usize, width: usize) -> (String, usize) {
    let mut out = String::new();
    let (from, room, shift) = if pos >= width {
        let shift = pos - width / 2;
        out.push_str("...");
        (shift + 3, width - 6, shift)
    } else {
        (0, width, 0)
    };
    for &b in line.iter().skip(from).take(room) {
        out.push(if is_space(b) {
            ' '
        } else if (0x20..0x7f).contains(&b) {
            b as char
        } else {
            '?'
        });
    }
    if shift > 0 || pos >= width {
        out.push_str("...");
    }
    (out, pos - shift)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn env() -> BTreeMap<String, String> {
        let mut e = BTreeMap::new();
        e.insert("HOST".into(), "10.0.0.1".into());
        e.insert("LIST".into(), "a  b c".into());
        e
    }

    fn words(s: &str) -> Vec<String> {
        let p = Pseudo {
            file: "f.cfg",
            line: 7,
            section: "global",
        };
        split_line(s.as_bytes(), &env(), p)
            .map(|w| {
                w.into_iter()
                    .map(|w| String::from_utf8(w).expect("utf8"))
                    .collect()
            })
            .unwrap_or_else(|e| vec![format!("ERR {e:?}")])
    }

    #[test]
    fn plain_words_and_comments() {
        assert_eq!(words("  bind *:80   # web"), ["bind", "*:80"]);
        assert_eq!(words("a#b"), ["a"]);
        assert_eq!(words("# only"), Vec::<String>::new());
        assert_eq!(words("a b   "), ["a", "b"]);
    }

    #[test]
    fn quotes_glue_within_a_word() {
        assert_eq!(words(r#"x "a b"'c d'e"#), ["x", "a bc de"]);
        assert_eq!(words(r#"x 'a "b" $HOST'"#), ["x", r#"a "b" $HOST"#]);
        assert_eq!(words(r##"x "# not comment""##), ["x", "# not comment"]);
    }

    #[test]
    fn env_only_inside_double_quotes() {
        assert_eq!(
            words(r#"x $HOST "$HOST" "${HOST}:80""#),
            ["x", "$HOST", "10.0.0.1", "10.0.0.1:80"]
        );
        assert_eq!(
            words(r#"x "${NOPE-def ault}" "${NOPE}""#),
            ["x", "def ault"]
        );
        assert_eq!(words(r#"x "${LIST[*]}" y"#), ["x", "a", "b", "c", "y"]);
        assert_eq!(words(r#"x "${.LINE}" "$.FILE""#), ["x", "7", "f.cfg"]);
        assert_eq!(words(r#"x "\$HOST""#), ["x", "$HOST"]);
    }

    #[test]
    fn escapes() {
        assert_eq!(
            words(r"x a\ b c\\d \x41 \q"),
            ["x", "a b", r"c\d", "A", r"\q"]
        );
        assert_eq!(words(r"x \#y"), ["x", "#y"]);
        assert_eq!(words(r"x '\x41'"), ["x", r"\x41"]);
    }

    #[test]
    fn errors_carry_haproxy_positions() {
        let p = Pseudo {
            file: "f",
            line: 1,
            section: "",
        };
        let e = BTreeMap::new();
        assert_eq!(
            split_line(b"bind \"abc", &e, p),
            Err(LexError::UnmatchedQuote(5))
        );
        assert_eq!(split_line(b"x \\x4", &e, p), Err(LexError::Hex(2)));
        assert_eq!(
            split_line(b"x \"${A\"", &e, p),
            Err(LexError::UnmatchedBrace(4))
        );
        assert_eq!(split_line(b"x \"$1\"", &e, p), Err(LexError::VarName(4)));
        assert_eq!(
            split_line(b"x \"${A[x]}\"", &e, p),
            Err(LexError::WrongExpand(6))
        );
    }

    #[test]
    fn empty_first_word_is_an_empty_line() {
        assert_eq!(words(r#""" bind"#), Vec::<String>::new());
        assert_eq!(words(r#"a "" b"#), ["a", "", "b"]);
    }

    #[test]
    fn too_many_words() {
        let line = (0..70)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let p = Pseudo {
            file: "f",
            line: 1,
            section: "",
        };
        match split_line(line.as_bytes(), &BTreeMap::new(), p) {
            Err(LexError::TooMany { word, .. }) => assert_eq!(word, b"w63"),
            other => panic!("{other:?}"),
        }
    }
}
