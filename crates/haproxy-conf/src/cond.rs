//! `.if` / `.elif` conditions, as HAProxy 2.6's src/cfgcond.c parses and evaluates them:
//! terms are integers (0 false, anything else true), `!term`, `( expr )` and predicates
//! (`defined(VAR)`, `feature(NAME)`, `streq(a,b)`, `strneq(a,b)`, `version_atleast(v)`,
//! `version_before(v)`, `openssl_version_*`, `ssllib_name_startswith`), joined by `&&`
//! (binds tighter) and `||`.

use crate::lexer::Environment;
use crate::version;

/// HAProxy's `MAX_CFG_RECURSION`.
const MAX_DEPTH: i32 = 1024;

/// A condition that could not be parsed: HAProxy's message and the 0-based offset of the
/// first bad character in the re-joined expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CondError {
    pub message: String,
    pub offset: usize,
}

/// What a condition may look at.
pub struct CondContext<'a> {
    pub env: &'a dyn Environment,
    /// `haproxy -vv`'s feature list (`+OPENSSL -LUA ...`).
    pub features: &'a str,
}

impl std::fmt::Debug for CondContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CondContext")
            .field("features", &self.features)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pred {
    Defined,
    Feature,
    Streq,
    Strneq,
    VersionAtLeast,
    VersionBefore,
    OpensslAtLeast,
    OpensslBefore,
    SslLibStartsWith,
}

const PREDICATES: &[(&str, Pred, usize)] = &[
    ("defined", Pred::Defined, 1),
    ("feature", Pred::Feature, 1),
    ("streq", Pred::Streq, 2),
    ("strneq", Pred::Strneq, 2),
    ("version_atleast", Pred::VersionAtLeast, 1),
    ("version_before", Pred::VersionBefore, 1),
    ("openssl_version_atleast", Pred::OpensslAtLeast, 1),
    ("openssl_version_before", Pred::OpensslBefore, 1),
    ("ssllib_name_startswith", Pred::SslLibStartsWith, 1),
];

#[derive(Debug)]
enum Term {
    Const(bool),
    Paren(Box<Expr>),
    Pred(Pred, Vec<String>),
}

#[derive(Debug)]
struct NegTerm {
    neg: bool,
    term: Term,
}

/// OR of ANDs.
#[derive(Debug)]
struct Expr {
    ors: Vec<Vec<NegTerm>>,
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        self.text.get(i).copied().unwrap_or(0)
    }

    fn skip_blanks(&mut self) {
        while matches!(self.at(self.pos), b' ' | b'\t') {
            self.pos += 1;
        }
    }

    fn rest(&self, from: usize) -> String {
        String::from_utf8_lossy(&self.text[from.min(self.text.len())..]).into_owned()
    }

    fn err<T>(&self, message: String, offset: usize) -> Result<T, CondError> {
        Err(CondError { message, offset })
    }

    /// `Ok(None)` is HAProxy's "desynchronized" (0) return.
    fn term(&mut self, depth: i32) -> Result<Option<NegTerm>, CondError> {
        self.skip_blanks();
        let start = self.pos;
        if self.at(self.pos) == 0 {
            return Ok(None);
        }
        if depth <= 0 {
            return self.err(
                format!("unparsable conditional expression '{}'", self.rest(start)),
                start,
            );
        }
        let mut neg = false;
        while self.at(self.pos) == b'!' {
            neg = !neg;
            self.pos += 1;
            self.skip_blanks();
        }
        if let Some((value, len)) = strtol(&self.text[self.pos..]) {
            self.pos += len;
            return Ok(Some(NegTerm {
                neg,
                term: Term::Const(value != 0),
            }));
        }
        if self.at(self.pos) == b'(' {
            self.pos += 1;
            self.skip_blanks();
            let inner = match self.expr(depth - 1)? {
                Some(e) => e,
                None => {
                    return self.err(
                        format!("unparsable conditional expression '{}'", self.rest(start)),
                        start,
                    )
                }
            };
            self.skip_blanks();
            if self.at(self.pos) != b')' {
                return self.err(
                    format!(
                        "expected ')' after conditional expression '{}'",
                        self.rest(start)
                    ),
                    start,
                );
            }
            self.pos += 1;
            self.skip_blanks();
            return Ok(Some(NegTerm {
                neg,
                term: Term::Paren(Box::new(inner)),
            }));
        }
        let word_len = self.text[self.pos..]
            .iter()
            .position(|&c| c == b' ' || c == b'(')
            .unwrap_or(self.text.len() - self.pos);
        let word = &self.text[self.pos..self.pos + word_len];
        if let Some(&(name, pred, nargs)) = PREDICATES.iter().find(|(n, _, _)| n.as_bytes() == word)
        {
            self.pos += word_len;
            let args = self.arg_list(name, nargs)?;
            return Ok(Some(NegTerm {
                neg,
                term: Term::Pred(pred, args),
            }));
        }
        self.err(
            format!("unparsable conditional expression '{}'", self.rest(start)),
            start,
        )
    }

    /// `make_arg_list()` for string arguments: `(a,b)`; quotes and backslashes are taken
    /// literally here because parse_line() already removed them.
    fn arg_list(&mut self, name: &str, nargs: usize) -> Result<Vec<String>, CondError> {
        let mut args = Vec::new();
        if self.at(self.pos) == b'(' {
            self.pos += 1;
            let mut cur = Vec::new();
            loop {
                match self.at(self.pos) {
                    0 => {
                        return self.err(
                            format!(
                                "expected ')' before '' in argument {} of predicate '{name}' used in conditional expression",
                                args.len() + 1
                            ),
                            self.pos,
                        )
                    }
                    b')' => {
                        self.pos += 1;
                        args.push(String::from_utf8_lossy(&cur).into_owned());
                        break;
                    }
                    b',' => {
                        self.pos += 1;
                        args.push(String::from_utf8_lossy(&std::mem::take(&mut cur)).into_owned());
                    }
                    c => {
                        cur.push(c);
                        self.pos += 1;
                    }
                }
            }
        }
        if args.len() < nargs {
            return self.err(
                format!(
                    "missing arguments (got {}/{}) in argument {} of predicate '{name}' used in conditional expression",
                    args.len(),
                    nargs,
                    args.len() + 1
                ),
                self.pos,
            );
        }
        if args.len() > nargs {
            return self.err(
                format!(
                    "end of arguments expected at position {} in argument {} of predicate '{name}' used in conditional expression",
                    nargs + 1,
                    nargs + 1
                ),
                self.pos,
            );
        }
        Ok(args)
    }

    fn and(&mut self, depth: i32) -> Result<Option<Vec<NegTerm>>, CondError> {
        if self.at(self.pos) == 0 {
            return Ok(None);
        }
        let mut terms = Vec::new();
        let mut depth = depth;
        loop {
            let start = self.pos;
            if depth <= 0 {
                return self.err(
                    format!(
                        "unparsable conditional sub-expression '{}'",
                        self.rest(start)
                    ),
                    start,
                );
            }
            match self.term(depth - 1)? {
                Some(t) => terms.push(t),
                None => {
                    return self.err(
                        format!(
                            "unparsable conditional sub-expression '{}'",
                            self.rest(self.pos)
                        ),
                        self.pos,
                    )
                }
            }
            self.skip_blanks();
            if self.at(self.pos) == b'&' && self.at(self.pos + 1) == b'&' {
                self.pos += 2;
                self.skip_blanks();
                depth -= 1;
                continue;
            }
            return Ok(Some(terms));
        }
    }

    fn expr(&mut self, depth: i32) -> Result<Option<Expr>, CondError> {
        if self.at(self.pos) == 0 {
            return Ok(None);
        }
        let mut ors = Vec::new();
        let mut depth = depth;
        loop {
            let start = self.pos;
            if depth <= 0 {
                return self.err(
                    format!("unparsable conditional expression '{}'", self.rest(start)),
                    start,
                );
            }
            match self.and(depth - 1)? {
                Some(a) => ors.push(a),
                None => {
                    return self.err(
                        format!(
                            "unparsable conditional expression '{}'",
                            self.rest(self.pos)
                        ),
                        self.pos,
                    )
                }
            }
            self.skip_blanks();
            if self.at(self.pos) == b'|' && self.at(self.pos + 1) == b'|' {
                self.pos += 2;
                self.skip_blanks();
                depth -= 1;
                continue;
            }
            return Ok(Some(Expr { ors }));
        }
    }
}

/// C `strtol(s, &end, 0)`: optional blanks and sign, then decimal, `0x` hex or `0` octal.
/// Returns the value and the number of bytes consumed, or None when nothing was parsed.
fn strtol(s: &[u8]) -> Option<(i64, usize)> {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let (radix, digits_at) = if s.get(i) == Some(&b'0')
        && matches!(s.get(i + 1), Some(b'x' | b'X'))
        && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    {
        (16, i + 2)
    } else if s.get(i) == Some(&b'0') {
        (8, i)
    } else {
        (10, i)
    };
    let mut j = digits_at;
    let mut value: i64 = 0;
    while let Some(d) = s.get(j).and_then(|&c| (c as char).to_digit(radix)) {
        value = value
            .saturating_mul(i64::from(radix))
            .saturating_add(i64::from(d));
        j += 1;
    }
    if j == digits_at {
        return None;
    }
    Some((if neg { -value } else { value }, j))
}

fn eval_expr(e: &Expr, ctx: &CondContext<'_>) -> Result<bool, String> {
    for and in &e.ors {
        let mut all = true;
        for t in and {
            if !eval_term(t, ctx)? {
                all = false;
                break;
            }
        }
        if all {
            return Ok(true);
        }
    }
    Ok(false)
}

fn eval_term(t: &NegTerm, ctx: &CondContext<'_>) -> Result<bool, String> {
    let value = match &t.term {
        Term::Const(b) => *b,
        Term::Paren(e) => eval_expr(e, ctx)?,
        Term::Pred(p, args) => {
            let a = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
            match p {
                Pred::Defined => ctx.env.get(a(0)).is_some(),
                Pred::Feature => feature_enabled(ctx.features, a(0)),
                Pred::Streq => a(0) == a(1),
                Pred::Strneq => a(0) != a(1),
                Pred::VersionAtLeast => version::compare_current(a(0)) <= 0,
                Pred::VersionBefore => version::compare_current(a(0)) > 0,
                Pred::OpensslAtLeast | Pred::OpensslBefore => {
                    // ha-compat's TLS (rustls) offers what OpenSSL 3.0 offers to a config
                    // (TLS 1.3, ciphersuites); compare against that.
                    let Some(theirs) = openssl_version(a(0)) else {
                        return Err(String::new());
                    };
                    let ours = (3u32, 0u32, 0u32, 0u32);
                    if *p == Pred::OpensslAtLeast {
                        theirs <= ours
                    } else {
                        theirs > ours
                    }
                }
                Pred::SslLibStartsWith => false,
            }
        }
    };
    Ok(value != t.neg)
}

/// `openssl_version_parser()`: `MAJOR.MINOR.PATCH[letter]`.
fn openssl_version(v: &str) -> Option<(u32, u32, u32, u32)> {
    let mut parts = v.splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let last = parts.next()?;
    let digits: String = last.chars().take_while(char::is_ascii_digit).collect();
    let patch = digits.parse().ok()?;
    let rest = &last[digits.len()..];
    let letter = match rest.as_bytes() {
        [] => 0,
        [c] if c.is_ascii_lowercase() => u32::from(c - b'a') + 1,
        _ => return None,
    };
    Some((major, minor, patch, letter))
}

/// HAProxy's feature lookup: the name must be a whole word preceded by `+` (enabled) or
/// `-` (disabled) in the feature list.
pub fn feature_enabled(features: &str, name: &str) -> bool {
    if name.is_empty() {
        return false;
    }
    let bytes = features.as_bytes();
    let mut from = 0;
    while let Some(found) = features[from..].find(name) {
        let p = from + found;
        let after = bytes.get(p + name.len()).copied().unwrap_or(b' ');
        if p > 0 && after == b' ' {
            match bytes[p - 1] {
                b'+' => return true,
                b'-' => return false,
                _ => {}
            }
        }
        from = p + 1;
    }
    false
}

/// Evaluates the words after `.if` (re-joined with single spaces, as HAProxy does).
/// An empty condition is false.
pub fn evaluate(text: &str, ctx: &CondContext<'_>) -> Result<bool, CondError> {
    if text.is_empty() {
        return Ok(false);
    }
    let mut p = Parser {
        text: text.as_bytes(),
        pos: 0,
    };
    let expr = match p.expr(MAX_DEPTH)? {
        Some(e) => e,
        None => {
            return Err(CondError {
                message: format!("unparsable conditional expression '{text}'"),
                offset: p.pos,
            })
        }
    };
    p.skip_blanks();
    if p.at(p.pos) != 0 {
        return Err(CondError {
            message: format!(
                "unexpected character '{}' at the end of conditional expression '{text}'",
                p.at(p.pos) as char
            ),
            offset: p.pos,
        });
    }
    eval_expr(&expr, ctx).map_err(|message| CondError { message, offset: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn eval(s: &str) -> Result<bool, CondError> {
        let mut env = BTreeMap::new();
        env.insert("SET".to_string(), "1".to_string());
        let ctx = CondContext {
            env: &env,
            features: "+EPOLL -KQUEUE +OPENSSL -LUA",
        };
        evaluate(s, &ctx)
    }

    #[test]
    fn constants_and_operators() {
        assert_eq!(eval("1"), Ok(true));
        assert_eq!(eval("0"), Ok(false));
        assert_eq!(eval("0x10"), Ok(true));
        assert_eq!(eval("!1"), Ok(false));
        assert_eq!(eval("0 || 1 && 0"), Ok(false));
        assert_eq!(eval("1 || 0 && 0"), Ok(true));
        assert_eq!(eval("(0 || 1) && !0"), Ok(true));
        assert_eq!(eval(""), Ok(false));
    }

    #[test]
    fn predicates() {
        assert_eq!(eval("defined(SET)"), Ok(true));
        assert_eq!(eval("defined(UNSET)"), Ok(false));
        assert_eq!(eval("feature(OPENSSL)"), Ok(true));
        assert_eq!(eval("feature(LUA)"), Ok(false));
        assert_eq!(eval("feature(SSL)"), Ok(false));
        assert_eq!(eval("streq(a,a) && strneq(a,b)"), Ok(true));
        assert_eq!(eval("version_atleast(2.4)"), Ok(true));
        assert_eq!(eval("version_before(2.6)"), Ok(false));
        assert_eq!(eval("version_before(2.7-dev1)"), Ok(true));
    }

    #[test]
    fn errors() {
        assert!(eval("foo(1)").is_err());
        assert!(eval("1 2").is_err_and(|e| e.message.starts_with("unexpected character '2'")));
        assert!(eval("(1").is_err_and(|e| e.message.starts_with("expected ')'")));
        assert!(eval("streq(a)").is_err());
    }
}
