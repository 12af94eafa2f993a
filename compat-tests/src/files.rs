//! Walking fixture directories, shared by the comparison tests. *Test-support*: panics
//! when a directory cannot be listed (a broken checkout, nothing a test could fix).

use std::path::{Path, PathBuf};

/// The entries of `dir`, sorted by path.
pub fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| {
            e.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
                .path()
        })
        .collect();
    v.sort();
    v
}

/// The last component of `p`, lossily as text.
pub fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `p` relative to `root` (as given when it is not under it), for messages and ids.
pub fn relative(p: &Path, root: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}
