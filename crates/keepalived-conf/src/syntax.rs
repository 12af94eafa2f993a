//! The syntax tree: logical lines grouped into blocks, nothing interpreted.
//!
//! A line followed by a `{` line owns the lines up to the matching `}`. This is
//! independent of which keywords exist, so the tree can be built (and shown, and fuzzed)
//! before any meaning is given to it.

use conf_diag::{Diagnostics, Span};

use crate::reader::{LogicalLine, Word};

/// One keyword line and, when it opened one, its block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub line: LogicalLine,
    pub block: Option<Block>,
}

/// The lines between `{` and `}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub open: Span,
    /// `None` when the file ended before the block was closed.
    pub close: Option<Span>,
    pub children: Vec<Node>,
}

impl Node {
    pub fn keyword(&self) -> &Word {
        // A LogicalLine is never built without words (see reader::emit).
        &self.line.words[0]
    }

    pub fn name(&self) -> &str {
        self.line.words.first().map_or("", |w| w.text.as_str())
    }

    /// The words after the keyword.
    pub fn args(&self) -> &[Word] {
        self.line.words.get(1..).unwrap_or(&[])
    }

    pub fn span(&self) -> Span {
        self.line.span
    }

    pub fn children(&self) -> &[Node] {
        self.block.as_ref().map_or(&[], |b| b.children.as_slice())
    }
}

/// Groups logical lines into a tree. Stray `{` lines (no keyword before them) are reported
/// as keepalived does and dropped; an unmatched `}` was already reported by the reader.
pub fn build_tree(lines: Vec<LogicalLine>, diags: &mut Diagnostics) -> Vec<Node> {
    let mut iter = lines.into_iter().peekable();
    let (nodes, _) = build_level(&mut iter, diags, 0);
    nodes
}

/// Blocks nested deeper than this are flattened (with an error) instead of recursing: a
/// file of `{` lines must not overflow the stack. keepalived's own nesting never exceeds 4.
const MAX_DEPTH: usize = 64;

fn build_level(
    iter: &mut std::iter::Peekable<std::vec::IntoIter<LogicalLine>>,
    diags: &mut Diagnostics,
    depth: usize,
) -> (Vec<Node>, Option<Span>) {
    let mut nodes = Vec::new();
    while let Some(line) = iter.next() {
        if line.is_close_brace() {
            if depth > 0 {
                return (nodes, Some(line.span));
            }
            // "Extra '}' found" was reported while reading; at the top level keepalived
            // then looks the '}' up as a keyword.
            diags.push(
                conf_diag::Diagnostic::warning(line.span, "Unknown keyword '}'")
                    .with_code(crate::status::ConfigErr::UnknownKeyword.code()),
            );
            continue;
        }
        if line.is_open_brace() {
            diags.warn(line.span, "Unexpected '{' - ignoring");
            continue;
        }
        let block = if iter.peek().is_some_and(LogicalLine::is_open_brace) && depth >= MAX_DEPTH {
            diags.error(line.span, format!("ha-compat: blocks nested deeper than {MAX_DEPTH} levels - reading the rest flat"));
            iter.next();
            None
        } else if iter.peek().is_some_and(LogicalLine::is_open_brace) {
            let open = iter.next().map(|l| l.span).unwrap_or(line.span);
            let (children, close) = build_level(iter, diags, depth + 1);
            Some(Block {
                open,
                close,
                children,
            })
        } else {
            None
        };
        nodes.push(Node { line, block });
    }
    (nodes, None)
}
