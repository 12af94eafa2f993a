//! The line reader: physical lines in, logical lines of words out.
//!
//! This is keepalived's `read_line()` + `alloc_strvec()` pipeline, step for step:
//! comments (`#`, `!`, escaped as `\#`), `@id` conditional lines, `$NAME=value`
//! definitions (a trailing `\` continues a definition, nothing else), `~SEQ(...)`
//! repetition, `$NAME`/`${NAME}` substitution, `include` with glob and brace expansion
//! relative to the including file, and every `{`/`}` outside quotes split onto a line of
//! its own so that `a {`, `a` + `{` on the next line and `a { b }` all read alike.
//! Words are split on white space; a word that starts with `"` runs to the next `"`.
//!
//! Where keepalived silently misreads copy-paste damage (typographic quotes, non-breaking
//! spaces), the reader reads what the author meant and says so.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use conf_diag::{Diagnostic, Diagnostics, FileId, Severity, SourceMap, Span};

/// One word of a logical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub span: Span,
}

/// One logical line: what keepalived hands to a keyword handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalLine {
    pub words: Vec<Word>,
    /// The line's text after comments, definitions and brace splitting: keyword handlers
    /// that re-split with shell-like quoting (`script`, `notify*`) start from this.
    pub text: String,
    pub span: Span,
}

impl LogicalLine {
    pub fn is_open_brace(&self) -> bool {
        self.text == "{"
    }
    pub fn is_close_brace(&self) -> bool {
        self.text == "}"
    }
}

/// Options that change how lines are read.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// keepalived's `-i`/`--config-id`: selects `@ID` lines. Defaults to nothing, like
    /// keepalived without `-i` (which then uses the host name: the caller passes it).
    pub config_id: Option<String>,
}

/// Reads a whole configuration (following includes) into logical lines.
pub fn read_config(
    path: &Path,
    options: &ReadOptions,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Result<Vec<LogicalLine>, conf_diag::DiagError> {
    let id = sources.load(path, None)?;
    let mut reader = Reader::new(options, sources, diags);
    reader.read_file(id, 0);
    reader.finish();
    Ok(reader.out)
}

/// Reads configuration text already in memory; includes resolve relative to `path`'s folder.
pub fn read_str(
    path: &Path,
    text: &str,
    options: &ReadOptions,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Vec<LogicalLine> {
    let id = sources.add(path, text.to_owned(), None);
    let mut reader = Reader::new(options, sources, diags);
    reader.read_file(id, 0);
    reader.finish();
    reader.out
}

/// Files nested deeper than this are refused: an include cycle would otherwise recurse
/// until the stack overflows (keepalived itself has no guard).
const MAX_INCLUDE_DEPTH: usize = 32;

/// A `~SEQ` line may expand to at most this many lines, so a typo cannot eat memory.
const MAX_SEQ_LINES: i64 = 100_000;

#[derive(Debug, Clone)]
struct Definition {
    name: String,
    /// Lines of the value; more than one only for a multi-line (`\`-continued) definition.
    lines: Vec<String>,
}

/// A line waiting to be processed that did not come straight from the file: the
/// expansion of a multi-line definition or a `~SEQ`.
#[derive(Debug, Clone)]
struct Pending {
    text: String,
    span: Span,
    /// A `~SEQ` variable to set before this line is processed.
    set: Option<(String, String)>,
}

struct Reader<'a> {
    options: &'a ReadOptions,
    sources: &'a mut SourceMap,
    diags: &'a mut Diagnostics,
    defs: Vec<Definition>,
    out: Vec<LogicalLine>,
    block_depth: i64,
    last_span: Option<Span>,
    random_state: u64,
}

impl<'a> Reader<'a> {
    fn new(
        options: &'a ReadOptions,
        sources: &'a mut SourceMap,
        diags: &'a mut Diagnostics,
    ) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        Reader {
            options,
            sources,
            diags,
            defs: Vec::new(),
            out: Vec::new(),
            block_depth: 0,
            last_span: None,
            random_state: seed | 1,
        }
    }

    fn finish(&mut self) {
        if self.block_depth > 0 {
            let span = self.last_span;
            self.diags.push(Diagnostic::new(
                Severity::Error,
                span,
                format!("There are {} missing '}}'s or extra '{{'s", self.block_depth),
            ).with_help("a block opened with '{' is never closed; the rich check output points at the last line read").with_code(crate::status::ConfigErr::MissingEob.code()).at_check());
        }
    }

    fn read_file(&mut self, id: FileId, depth: usize) {
        let text = match self.sources.file(id) {
            Some(f) => f.text.clone(),
            None => return,
        };
        let mut multiline_def: Option<usize> = None;
        let mut pending: VecDeque<Pending> = VecDeque::new();
        let mut lines = text.split('\n').enumerate().peekable();
        loop {
            // Lines produced by expansions go first, as in keepalived's read_line().
            if let Some(p) = pending.pop_front() {
                if let Some((name, value)) = p.set {
                    self.set_definition(&name, vec![value]);
                }
                self.process(p.text, p.span, &mut pending, &mut multiline_def, id, depth);
                continue;
            }
            let Some((index, raw)) = lines.next() else {
                break;
            };
            if raw.is_empty() && lines.peek().is_none() {
                break; // the text ended with a newline
            }
            let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            let span = Span::new(id, line_no, 1, 0);
            self.last_span = Some(span);

            let line = self.normalize_copy_paste(raw, span);
            let (line, continued) = decomment(&line);

            if let Some(def_index) = multiline_def {
                // A continuation line of a multi-line definition.
                let piece = line.trim_end_matches([' ', '\t']).to_owned();
                if !piece.is_empty() {
                    self.defs[def_index].lines.push(piece);
                }
                if !continued {
                    multiline_def = None;
                }
                continue;
            }
            if line.is_empty() {
                continue;
            }
            let line = if continued { format!("{line}\\") } else { line };
            self.process(line, span, &mut pending, &mut multiline_def, id, depth);
        }
    }

    /// Replaces typographic quotes and non-breaking spaces by the ASCII the author meant.
    /// keepalived treats them as ordinary letters, so `script “killall -0 haproxy”` runs a
    /// program called `“killall` that does not exist and the tracking silently never fails
    /// over (seed 000). The warning names the line so the file can be mended.
    fn normalize_copy_paste(&mut self, raw: &str, span: Span) -> String {
        if raw.is_ascii() {
            return raw.to_owned();
        }
        let singles_paired = raw.contains('\u{2018}');
        let mut found: Vec<char> = Vec::new();
        let fixed: String =
            raw.chars()
                .map(|c| {
                    let replacement = match c {
                        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' => Some('"'),
                        '\u{2018}' | '\u{2019}' if singles_paired => Some('\''),
                        '\u{00A0}' | '\u{2007}' | '\u{202F}' | '\u{2002}' | '\u{2003}'
                        | '\u{2009}' => Some(' '),
                        _ => None,
                    };
                    match replacement {
                        Some(r) => {
                            if !found.contains(&c) {
                                found.push(c);
                            }
                            r
                        }
                        None => c,
                    }
                })
                .collect();
        if found.is_empty() {
            return fixed;
        }
        // Only worth a word when the replaced characters sit in the configuration part of
        // the line, not in a comment.
        if decomment(raw).0 == decomment(&fixed).0 && !decomment(&fixed).0.is_empty() {
            return raw.to_owned();
        }
        if decomment(&fixed).0.is_empty() {
            return raw.to_owned();
        }
        let names: Vec<String> = found
            .iter()
            .map(|c| format!("U+{:04X} '{c}'", *c as u32))
            .collect();
        let col = raw
            .chars()
            .position(|c| found.contains(&c))
            .map_or(1, |p| p as u32 + 1);
        self.diags.push(
            Diagnostic::warning(
                Span::new(span.file, span.line, col, 1),
                format!(
                    "ha-compat: read typographic character(s) {} as plain ASCII (keepalived would take them literally)",
                    names.join(", ")
                ),
            )
            .with_help("copy-paste from a web page or word processor; replace them with ASCII quotes and spaces"),
        );
        fixed
    }

    fn process(
        &mut self,
        mut line: String,
        span: Span,
        pending: &mut VecDeque<Pending>,
        multiline_def: &mut Option<usize>,
        file: FileId,
        depth: usize,
    ) {
        // `@ID line` / `@^ID line`: keep the line only on the matching (non-matching) host.
        for _ in 0..8 {
            if let Some(rest) = line.strip_prefix('@') {
                let (reverse, rest) = match rest.strip_prefix('^') {
                    Some(r) => (true, r),
                    None => (false, rest),
                };
                let Some(split) = rest.find([' ', '\t']) else {
                    return;
                };
                let id = &rest[..split];
                let matches = self.options.config_id.as_deref() == Some(id);
                if matches == reverse {
                    return;
                }
                line = rest[split..].trim_start_matches([' ', '\t']).to_owned();
            }

            if line.starts_with('$') {
                if let Some((name, value, continued)) = parse_definition(&line) {
                    let lines = if value.is_empty() && continued {
                        Vec::new()
                    } else {
                        vec![value]
                    };
                    let index = self.set_definition(&name, lines);
                    if continued {
                        *multiline_def = Some(index);
                    }
                    return;
                }
            }

            if line.starts_with("~SEQ") {
                self.expand_seq(&line, span, pending);
                return;
            }
            if line.starts_with('~') {
                break;
            }
            if self.defs.is_empty() || !line.contains('$') {
                break;
            }
            match self.substitute(&line, span, pending) {
                Some(replaced) => {
                    let again = replaced.starts_with('@') || replaced.contains('$');
                    line = replaced;
                    if !again {
                        break;
                    }
                }
                None => break,
            }
        }
        // A trailing `\` continues only `$NAME=` definitions; elsewhere it stays part of the
        // last word, as keepalived reads it (`Unknown keyword 'priority\'`).
        let line = line.trim_end().to_owned();
        if line.is_empty() {
            return;
        }
        if self.include(&line, span, file, depth) {
            return;
        }
        self.emit_split_braces(&line, span);
    }

    /// Handles `include PATTERN`; true when the line was an include.
    fn include(&mut self, line: &str, span: Span, file: FileId, depth: usize) -> bool {
        let words = split_words(line, span, self.diags);
        if words.len() != 2 || words[0].text != "include" {
            return false;
        }
        if depth >= MAX_INCLUDE_DEPTH {
            self.diags.push(Diagnostic::error(
                span,
                format!("includes nested deeper than {MAX_INCLUDE_DEPTH} files (an include cycle?) - not reading '{}'", words[1].text),
            ));
            return true;
        }
        let base = self
            .sources
            .path(file)
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let pattern = &words[1].text;
        let mut matched: Vec<PathBuf> = Vec::new();
        for alternative in expand_braces(pattern) {
            let full = if Path::new(&alternative).is_absolute() {
                PathBuf::from(&alternative)
            } else {
                base.join(&alternative)
            };
            let Some(full_str) = full.to_str() else {
                continue;
            };
            let mut found: Vec<PathBuf> = match glob::glob(full_str) {
                Ok(paths) => paths.filter_map(Result::ok).collect(),
                Err(_) => {
                    self.diags.push(Diagnostic::error(
                        words[1].span,
                        format!(
                            "Error reading config file(s): bad pattern '{alternative}', skipping."
                        ),
                    ));
                    continue;
                }
            };
            found.sort();
            matched.extend(found);
        }
        let files: Vec<PathBuf> = matched.into_iter().filter(|p| !p.is_dir()).collect();
        if files.is_empty() {
            // keepalived prints this but does not count it: `-t` still exits 0 (6 with -e).
            self.diags.push(
                Diagnostic::warning(words[1].span, format!("Config files missing '{pattern}'."))
                    .with_code(crate::status::INCLUDE_MISSING_CODE)
                    .with_help("the include is skipped; nothing matched the pattern"),
            );
            return true;
        }
        for path in files {
            if is_executable(&path) {
                self.diags.push(Diagnostic::warning(
                    words[1].span,
                    format!(
                        "Configuration file '{}' is not a regular non-executable file - skipping",
                        path.display()
                    ),
                ));
                continue;
            }
            match self.sources.load(&path, Some(span)) {
                Ok(id) => {
                    // keepalived chdirs to the including file's folder and globs the
                    // pattern as written, so a relative include prints relative.
                    let shown = if Path::new(pattern).is_absolute() {
                        path.display().to_string()
                    } else {
                        path.strip_prefix(&base)
                            .unwrap_or(&path)
                            .display()
                            .to_string()
                    };
                    if let Some(f) = self.sources.file_mut(id) {
                        f.display_name = shown;
                    }
                    self.read_file(id, depth + 1);
                }
                Err(err) => self.diags.push(Diagnostic::warning(
                    words[1].span,
                    format!(
                        "Configuration file '{}' open problem ({err}) - skipping",
                        path.display()
                    ),
                )),
            }
        }
        true
    }

    /// Puts every `{` and `}` outside quotes on a line of its own.
    fn emit_split_braces(&mut self, line: &str, span: Span) {
        let mut rest = line.trim();
        while !rest.is_empty() {
            let cut = find_unquoted_brace(rest);
            let (head, tail) = match cut {
                Some(0) => (&rest[..1], rest[1..].trim_start()),
                Some(at) => (&rest[..at], &rest[at..]),
                None => (rest, ""),
            };
            self.emit(head.trim_end(), span);
            rest = tail;
        }
    }

    fn emit(&mut self, text: &str, span: Span) {
        if text.is_empty() {
            return;
        }
        if text == "{" {
            self.block_depth += 1;
        } else if text == "}" {
            self.block_depth -= 1;
            if self.block_depth < 0 {
                self.diags.push(
                    Diagnostic::error(span, "Extra '}' found")
                        .with_code(crate::status::ConfigErr::UnexpectedEob.code()),
                );
                self.block_depth = 0;
            }
        }
        let words = split_words(text, span, self.diags);
        let words = self.locate(words, span);
        if words.is_empty() {
            return;
        }
        self.out.push(LogicalLine {
            words,
            text: text.to_owned(),
            span,
        });
    }

    /// Gives each word the column where it stands in the source line, when it can be found
    /// there (it cannot after a definition was substituted: then column 1 is kept).
    fn locate(&self, mut words: Vec<Word>, span: Span) -> Vec<Word> {
        let Some(source) = self.sources.line_text(span.file, span.line) else {
            return words;
        };
        let mut from = 0usize;
        for word in &mut words {
            if word.text.is_empty() {
                continue;
            }
            if let Some(found) = source[from..].find(word.text.as_str()) {
                let byte = from + found;
                let col = source[..byte].chars().count() as u32 + 1;
                word.span = Span::new(span.file, span.line, col, word.text.chars().count() as u32);
                from = byte + word.text.len();
            }
        }
        words
    }

    fn set_definition(&mut self, name: &str, lines: Vec<String>) -> usize {
        if let Some(i) = self.defs.iter().position(|d| d.name == name) {
            self.defs[i].lines = lines;
            i
        } else {
            self.defs.push(Definition {
                name: name.to_owned(),
                lines,
            });
            self.defs.len() - 1
        }
    }

    fn definition_value(&mut self, name: &str, params: Option<(i64, i64)>) -> Option<Vec<String>> {
        if let Some(def) = self.defs.iter().find(|d| d.name == name) {
            return Some(def.lines.clone());
        }
        match name {
            "_PWD" => None,
            "_INSTANCE" => Some(vec![self.options.config_id.clone().unwrap_or_default()]),
            "_RANDOM" => {
                let (min, max) = params.unwrap_or((0, 32767));
                // xorshift: good enough for spreading timers, which is what _RANDOM is for.
                self.random_state ^= self.random_state << 13;
                self.random_state ^= self.random_state >> 7;
                self.random_state ^= self.random_state << 17;
                let range = (max - min + 1).max(1) as u64;
                Some(vec![(min + (self.random_state % range) as i64).to_string()])
            }
            _ => None,
        }
    }

    /// `$NAME` and `${NAME}` substitution. Returns the new line, or `None` if nothing was
    /// replaced. A multi-line definition at the end of a line expands to several lines.
    fn substitute(
        &mut self,
        line: &str,
        span: Span,
        pending: &mut VecDeque<Pending>,
    ) -> Option<String> {
        let mut out = String::with_capacity(line.len());
        let mut rest = line;
        let mut replaced = false;
        let mut extra_lines: Vec<String> = Vec::new();
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let (name, params, consumed) = match parse_reference(after) {
                Some(r) => r,
                None => {
                    out.push('$');
                    rest = after;
                    continue;
                }
            };
            let at_end = after[consumed..].is_empty();
            let value = if name == "_PWD" && !self.defs.iter().any(|d| d.name == "_PWD") {
                self.sources
                    .path(span.file)
                    .and_then(Path::parent)
                    .map(|p| vec![p.display().to_string()])
            } else {
                self.definition_value(name, params)
            };
            match value {
                Some(lines) if lines.len() > 1 && !at_end => {
                    // keepalived only expands a multi-line definition at the end of a line.
                    out.push('$');
                    rest = after;
                }
                Some(lines) => {
                    replaced = true;
                    let mut it = lines.into_iter();
                    out.push_str(&it.next().unwrap_or_default());
                    extra_lines.extend(it);
                    rest = &after[consumed..];
                }
                None => {
                    out.push('$');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        if !replaced {
            return None;
        }
        for (i, extra) in extra_lines.into_iter().enumerate() {
            pending.insert(
                i,
                Pending {
                    text: extra,
                    span,
                    set: None,
                },
            );
        }
        Some(out)
    }

    /// `~SEQ(VAR, start, step, end) text` (and `~SEQx` for hex): repeats `text` with
    /// `$VAR` set to each value in turn.
    fn expand_seq(&mut self, line: &str, span: Span, pending: &mut VecDeque<Pending>) {
        let invalid = |diags: &mut Diagnostics| {
            diags.error(span, format!("Invalid ~SEQ specification '{line}'"));
        };
        let mut p = &line[4..];
        let hex = p.starts_with('x');
        if hex {
            p = &p[1..];
        }
        let p = p.trim_start_matches([' ', '\t']);
        let Some(p) = p.strip_prefix('(') else {
            return invalid(self.diags);
        };
        let Some(close) = p.find(')') else {
            return invalid(self.diags);
        };
        let inside = &p[..close];
        let text = p[close + 1..].trim_start_matches([' ', '\t']).to_owned();
        let mut parts = inside.split(',').map(str::trim);
        let Some(var) = parts.next().filter(|v| !v.is_empty()) else {
            return invalid(self.diags);
        };
        let mut numbers = Vec::new();
        for part in parts {
            let substituted = self
                .defs
                .iter()
                .find(|d| Some(d.name.as_str()) == part.strip_prefix('$'))
                .and_then(|d| d.lines.first().cloned())
                .unwrap_or_else(|| part.to_owned());
            match parse_c_long(&substituted) {
                Some(n) => numbers.push(n),
                None => return invalid(self.diags),
            }
        }
        let (start, step, end) = match numbers.as_slice() {
            [end] => (
                if *end < 0 { -1 } else { 1 },
                if *end < 1 { -1 } else { 1 },
                *end,
            ),
            [start, end] => (*start, if start <= end { 1 } else { -1 }, *end),
            [start, step, end] => {
                if *step == 0 || (start < end && *step < 0) || (start > end && *step > 0) {
                    self.diags
                        .error(span, format!("Invalid ~SEQ values '{line}'"));
                    return;
                }
                (*start, *step, *end)
            }
            _ => return invalid(self.diags),
        };
        if hex && (start < 0 || end < 0) {
            self.diags.error(
                span,
                format!("~SEQx is only valid for positive numbers '{line}'"),
            );
            return;
        }
        let count = (i128::from(end) - i128::from(start)) / i128::from(step) + 1;
        if count > i128::from(MAX_SEQ_LINES) {
            self.diags.error(
                span,
                format!("ha-compat: ~SEQ would expand to {count} lines (limit {MAX_SEQ_LINES}) '{line}'"),
            );
            return;
        }
        let mut generated = Vec::new();
        let mut value = start;
        while (step > 0 && value <= end) || (step < 0 && value >= end) {
            let shown = if hex {
                format!("{value:x}")
            } else {
                value.to_string()
            };
            generated.push(Pending {
                text: text.clone(),
                span,
                set: Some((var.to_owned(), shown)),
            });
            match value.checked_add(step) {
                Some(next) => value = next,
                None => break,
            }
        }
        for (i, g) in generated.into_iter().enumerate() {
            pending.insert(i, g);
        }
    }
}

/// Removes comments and leading/trailing blanks, as keepalived's `decomment()`: `#` and `!`
/// start a comment outside `"..."`; `\#` and `\!` are literal; a trailing `\` is reported
/// as a continuation (second value) and removed.
pub fn decomment(raw: &str) -> (String, bool) {
    let line = raw.trim_start_matches([' ', '\t']);
    let mut out = String::with_capacity(line.len());
    let mut quote = false;
    let mut chars = line.chars().peekable();
    let mut continued = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quote = !quote;
                out.push(c);
            }
            '\\' => match chars.peek().copied() {
                None => {
                    continued = true;
                    break;
                }
                Some(next @ ('#' | '!')) if !quote => {
                    out.push(next);
                    chars.next();
                }
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                    chars.next();
                }
            },
            '#' | '!' if !quote => break,
            _ => out.push(c),
        }
    }
    let trimmed = out.trim_end_matches([' ', '\t', '\x0c', '\x0b']).to_owned();
    (trimmed, continued)
}

/// keepalived's `alloc_strvec()`: split on white space; a word starting with `"` runs to
/// the next `"` (the quotes are dropped); a `"` inside a word ends that word.
pub fn split_words(text: &str, span: Span, diags: &mut Diagnostics) -> Vec<Word> {
    let mut words = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(is_keepalived_space);
        if rest.is_empty() {
            break;
        }
        let word;
        if let Some(inner) = rest.strip_prefix('"') {
            match inner.find('"') {
                Some(end) => {
                    word = &inner[..end];
                    rest = &inner[end + 1..];
                }
                None => {
                    diags.error(span, format!("Unmatched quote: '{text}'"));
                    break;
                }
            }
        } else {
            let end = rest
                .find(|c: char| is_keepalived_space(c) || c == '"')
                .unwrap_or(rest.len());
            word = &rest[..end];
            rest = &rest[end..];
        }
        words.push(Word {
            text: word.to_owned(),
            span,
        });
    }
    words
}

/// keepalived's `alloc_strvec_quoted_escaped()`, used for `script` and `notify*`: shell-like
/// words with `"..."` and `'...'` quoting glued within a word, and backslash escapes.
pub fn split_shell_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| is_keepalived_space(*c)) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(&c) = chars.peek() {
            match (quote, c) {
                (None, c) if is_keepalived_space(c) => break,
                (None, '"' | '\'') => {
                    quote = Some(c);
                    chars.next();
                }
                (Some(q), c) if c == q => {
                    quote = None;
                    chars.next();
                }
                (Some('\''), c) if c != '\\' => {
                    word.push(c);
                    chars.next();
                }
                (_, '\\') => {
                    chars.next();
                    let Some(e) = chars.next() else {
                        return Err(format!("Missing escape char at end: '{text}'"));
                    };
                    word.push(match e {
                        'a' => '\x07',
                        'b' => '\x08',
                        'E' => '\x1b',
                        'f' => '\x0c',
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        'v' => '\x0b',
                        other => other,
                    });
                }
                (_, c) => {
                    word.push(c);
                    chars.next();
                }
            }
        }
        if let Some(q) = quote {
            return Err(format!("String '{text}': missing terminating {q}"));
        }
        words.push(word);
    }
    Ok(words)
}

fn is_keepalived_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

fn find_unquoted_brace(text: &str) -> Option<usize> {
    let mut quote = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quote = !quote,
            '{' | '}' if !quote => return Some(i),
            _ => {}
        }
    }
    None
}

/// `$NAME=value` (spaces allowed before `=`). Returns name, value and whether the line
/// ended in `\` (a multi-line definition follows).
fn parse_definition(line: &str) -> Option<(String, String, bool)> {
    let body = line.strip_prefix('$')?;
    let name_end = identifier_len(body)?;
    let name = &body[..name_end];
    let after = body[name_end..].trim_start_matches([' ', '\t']);
    let value = after.strip_prefix('=')?;
    let value = value.trim_start_matches([' ', '\t']);
    let (value, continued) = match value.strip_suffix('\\') {
        Some(v) => (v.trim_end_matches([' ', '\t']), true),
        None => (value, false),
    };
    Some((name.to_owned(), value.to_owned(), continued))
}

/// The length of the definition name at the start of `text` (a letter or `_`, then
/// letters, digits and `_`), as keepalived's `find_definition()` scans it.
fn identifier_len(text: &str) -> Option<usize> {
    let first = text.chars().next()?;
    if !(first.is_ascii_alphabetic() || first == '_') {
        return None;
    }
    Some(
        text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(text.len()),
    )
}

/// A parsed `$NAME` reference: name, `${_RANDOM min max}` parameters, bytes used.
type Reference<'a> = (&'a str, Option<(i64, i64)>, usize);

/// A reference after `$`: `NAME` or `{NAME}` or `{_RANDOM 1 10}`.
fn parse_reference(after: &str) -> Option<Reference<'_>> {
    let braced = after.starts_with('{');
    let body = if braced { &after[1..] } else { after };
    let end = identifier_len(body)?;
    let name = &body[..end];
    if braced {
        let tail = &body[end..];
        let close = tail.find('}')?;
        let params_text = &tail[..close];
        if !params_text.chars().all(|c| c == ' ' || c.is_ascii_digit()) {
            return None;
        }
        let nums: Vec<i64> = params_text
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        let params = match nums.as_slice() {
            [] => None,
            [max] => Some((0, *max)),
            [min, max, ..] => Some((*min, *max)),
        };
        Some((name, params, 1 + end + close + 1))
    } else {
        match body[end..].chars().next() {
            None | Some(' ' | '\t' | ',' | ')') => Some((name, None, end)),
            _ => None,
        }
    }
}

/// `strtol(s, _, 0)`: decimal, `0x` hex or leading-0 octal, with a sign.
fn parse_c_long(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let value = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse().ok()?
    };
    Some(if neg { -value } else { value })
}

/// glibc `GLOB_BRACE`: `a{b,c}d` -> `abd`, `acd`; nested braces allowed.
pub fn expand_braces(pattern: &str) -> Vec<String> {
    let bytes = pattern.as_bytes();
    let Some(open) = pattern.find('{') else {
        return vec![pattern.to_owned()];
    };
    let mut depth = 0usize;
    let mut close = None;
    let mut commas = Vec::new();
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            b',' if depth == 1 => commas.push(i),
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![pattern.to_owned()];
    };
    let prefix = &pattern[..open];
    let suffix = &pattern[close + 1..];
    let mut bounds = vec![open];
    bounds.extend(commas);
    bounds.push(close);
    let mut out = Vec::new();
    for pair in bounds.windows(2) {
        let alternative = &pattern[pair[0] + 1..pair[1]];
        for expanded in expand_braces(&format!("{prefix}{alternative}{suffix}")) {
            out.push(expanded);
        }
    }
    out
}
