//! `-f FILE|DIR` as `cfgfiles_expand_directories()` (src/haproxy.c) expands it: a
//! directory stands for its non-hidden regular `*.cfg` files in C-locale (byte) order.

use std::path::{Path, PathBuf};

use crate::HaproxyConfError;

/// The files to read, in order.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, HaproxyConfError> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            out.extend(dir_files(path)?);
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

fn dir_files(dir: &Path) -> Result<Vec<PathBuf>, HaproxyConfError> {
    let entries = std::fs::read_dir(dir).map_err(|source| HaproxyConfError::ReadDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names: Vec<Vec<u8>> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().into_encoded_bytes())
        .filter(|n| !n.starts_with(b".") && n.len() > 4 && n.ends_with(b".cfg"))
        .collect();
    names.sort();
    let mut files = Vec::new();
    for name in names {
        let name = String::from_utf8_lossy(&name).into_owned();
        // HAProxy joins with '/', keeping the directory as given.
        let joined = if dir.as_os_str().to_string_lossy().ends_with('/') {
            PathBuf::from(format!("{}{name}", dir.display()))
        } else {
            PathBuf::from(format!("{}/{name}", dir.display()))
        };
        if joined.is_file() {
            files.push(joined);
        }
    }
    Ok(files)
}
