//! Positions in source files.

use serde::Serialize;

use crate::source::FileId;

/// A range on one line of one source file. Lines and columns are 1-based; columns and
/// length count characters (not bytes), so carets line up under non-ASCII text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Span {
    pub file: FileId,
    pub line: u32,
    pub col: u32,
    pub len: u32,
}

impl Span {
    pub fn new(file: FileId, line: u32, col: u32, len: u32) -> Self {
        Span {
            file,
            line,
            col,
            len,
        }
    }

    /// A span covering a whole line (column 1, no caret length known).
    pub fn line(file: FileId, line: u32) -> Self {
        Span {
            file,
            line,
            col: 1,
            len: 0,
        }
    }
}
