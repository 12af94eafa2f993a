//! The set of files a configuration was read from.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::DiagError;
use crate::span::Span;

/// Index of a file in its [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FileId(pub u32);

/// One file as it was read.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    /// The `include` line that pulled this file in; `None` for a file named on the
    /// command line. Following it gives the include stack.
    pub included_from: Option<Span>,
    /// The name the original daemon prints for this file: the path as given on the
    /// command line, or an include pattern's match as written (keepalived changes into
    /// the including file's folder, so relative includes print relative).
    pub display_name: String,
    /// Byte offset where each line starts, so a line's text is found without a scan.
    line_starts: Vec<usize>,
}

/// Every file read for one configuration, indexed by [`FileId`].
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn new() -> Self {
        SourceMap::default()
    }

    /// Adds a file whose text is already in memory (tests, stdin, generated configs).
    pub fn add(
        &mut self,
        path: impl Into<PathBuf>,
        text: String,
        included_from: Option<Span>,
    ) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        let path = path.into();
        let display_name = path.display().to_string();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        self.files.push(SourceFile {
            path,
            text,
            included_from,
            display_name,
            line_starts,
        });
        id
    }

    /// Reads a file from disk. Invalid UTF-8 is replaced rather than refused: keepalived
    /// reads bytes, and a stray Latin-1 byte in a comment must not stop the parse.
    pub fn load(&mut self, path: &Path, included_from: Option<Span>) -> Result<FileId, DiagError> {
        let bytes = std::fs::read(path).map_err(|source| DiagError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
        };
        Ok(self.add(path, text, included_from))
    }

    pub fn file(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    pub fn file_mut(&mut self, id: FileId) -> Option<&mut SourceFile> {
        self.files.get_mut(id.0 as usize)
    }

    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    pub fn path(&self, id: FileId) -> Option<&Path> {
        self.file(id).map(|f| f.path.as_path())
    }

    /// The text of a 1-based line, without its line ending.
    pub fn line_text(&self, id: FileId, line: u32) -> Option<&str> {
        let file = self.file(id)?;
        let index = line.checked_sub(1)? as usize;
        let start = *file.line_starts.get(index)?;
        if start > file.text.len() || (start == file.text.len() && index > 0) {
            return None;
        }
        let end = file
            .line_starts
            .get(index + 1)
            .map_or(file.text.len(), |next| next - 1);
        let raw = &file.text[start..end];
        Some(raw.strip_suffix('\r').unwrap_or(raw))
    }

    /// The include lines that led to `id`, innermost first.
    pub fn include_stack(&self, id: FileId) -> Vec<Span> {
        let mut stack = Vec::new();
        let mut current = id;
        while let Some(span) = self.file(current).and_then(|f| f.included_from) {
            stack.push(span);
            if stack.len() > 64 {
                break; // a cycle cannot be built by the loaders, but never loop forever
            }
            current = span.file;
        }
        stack
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_text_strips_crlf_and_counts_from_one() {
        let mut map = SourceMap::new();
        let id = map.add("a.conf", "one\r\ntwo\nthree".into(), None);
        assert_eq!(map.line_text(id, 1), Some("one"));
        assert_eq!(map.line_text(id, 3), Some("three"));
        assert_eq!(map.line_text(id, 0), None);
        assert_eq!(map.line_text(id, 4), None);
    }

    #[test]
    fn include_stack_walks_to_the_root() {
        let mut map = SourceMap::new();
        let root = map.add("main.conf", "include a.conf\n".into(), None);
        let a = map.add(
            "a.conf",
            "include b.conf\n".into(),
            Some(Span::line(root, 1)),
        );
        let b = map.add("b.conf", "x\n".into(), Some(Span::line(a, 1)));
        assert_eq!(
            map.include_stack(b),
            vec![Span::line(a, 1), Span::line(root, 1)]
        );
        assert!(map.include_stack(root).is_empty());
    }
}
