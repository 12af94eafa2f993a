//! Source files, spans and diagnostics shared by ha-compat's configuration front ends.
//!
//! Map of the crate:
//! - [`source`]: [`SourceMap`] owns the text of every file read, each with a [`FileId`] and
//!   the include line that pulled it in (the include stack).
//! - [`span`]: [`Span`], a file, a 1-based line and column and a length in characters.
//! - [`diagnostic`]: [`Diagnostic`] (severity, span, message, optional help) and the
//!   [`Diagnostics`] sink every parser stage writes to and keeps going.
//! - [`render`]: the two ways a diagnostic is shown: keepalived's own `(FILE: Line N) message`
//!   for drop-in mode, and a rustc-like form with the source line and a caret for
//!   `ha-compat check`.
//! - [`error`]: [`DiagError`], the crate's error type (reading a source file).
//!
//! Nothing here knows any configuration language: the front ends decide what is wrong,
//! this crate only records where and shows it.

pub mod diagnostic;
pub mod error;
pub mod render;
pub mod source;
pub mod span;

pub use diagnostic::{Diagnostic, Diagnostics, Severity, Stage};
pub use error::DiagError;
pub use render::{render_keepalived, render_rich};
pub use source::{FileId, SourceFile, SourceMap};
pub use span::Span;
