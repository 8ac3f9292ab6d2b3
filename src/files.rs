//! Files written whole or not at all. A report, a summary or a store part that a killed run
//! left half-written would be read later as if it were whole, so every output goes through a
//! temporary file in the same folder, fsync'd and renamed over the target. This sits below
//! every layer: the runner's store, the analyses' outputs and the reports all use it.

use std::path::{Path, PathBuf};

/// `text` with every character but ASCII letters, digits, `-` and `_` replaced by `_`: safe in
/// a file name and an HTML id (a unit's card anchor and its cached visualization share it).
pub fn safe_component(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// A file could not be written (or its folder made).
#[derive(Debug, thiserror::Error)]
#[error("{action} {path}: {source}")]
pub struct FileError {
    /// What was being done.
    pub action: &'static str,
    /// The path.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

impl FileError {
    /// An error maker for `map_err`: `what` was being done to `path`.
    pub fn at<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> FileError + 'a {
        move |source| FileError { action, path: path.to_path_buf(), source }
    }
}

/// Writes `path` whole or not at all: `fill` writes a temporary file in the same folder, which
/// is fsync'd and then renamed over `path`. `fill`'s own errors pass through as they are.
pub fn write_whole<E: From<FileError>>(
    path: &Path,
    fill: impl FnOnce(&std::fs::File) -> Result<(), E>,
) -> Result<(), E> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".part-").suffix(".tmp");
    // Readable like any other output file (tempfile's default is owner-only), minus the umask.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let tmp = builder.tempfile_in(dir).map_err(FileError::at("cannot create a file in", dir))?;
    fill(tmp.as_file())?;
    tmp.as_file().sync_all().map_err(FileError::at("cannot write", path))?;
    tmp.persist(path).map_err(|e| FileError { action: "cannot write", path: path.to_path_buf(), source: e.error })?;
    Ok(())
}

/// Writes bytes to `path` whole or not at all.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    use std::io::Write;
    write_whole(path, |mut file: &std::fs::File| file.write_all(bytes).map_err(FileError::at("cannot write", path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_fill_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        write_atomic(&path, b"old").unwrap();
        let err = write_whole(&path, |_| -> Result<(), FileError> {
            Err(FileError { action: "cannot write", path: path.clone(), source: std::io::Error::other("full") })
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary left behind");
    }
}
