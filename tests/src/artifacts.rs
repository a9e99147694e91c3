//! Per-test artifact directories: `<target>/test-artifacts/<test name>/`.
//!
//! Every test writes its peers' logs and the screenshots it compared there;
//! on a mismatch the expected and actual pictures and a diff mask are saved
//! too, so a failure can be understood after the fact.

use std::path::{Path, PathBuf};

/// The directory of one test's artifacts (emptied when created).
#[derive(Debug, Clone)]
pub struct Artifacts {
    dir: PathBuf,
}

/// The target directory: `$CARGO_TARGET_DIR` (at run or build time), else
/// the workspace's `target/`.
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = option_env!("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .join("target")
}

impl Artifacts {
    /// Creates (and empties) `<target>/test-artifacts/<test_name>/`.
    pub fn new(test_name: &str) -> Self {
        let safe: String = test_name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let dir = target_dir().join("test-artifacts").join(safe);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        Self { dir }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A path inside the directory.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Writes a file (panics on error).
    pub fn write(&self, file: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(file);
        std::fs::write(&p, contents)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", p.display()));
        p
    }

    /// A sub-directory for one part of a test (e.g. one encoding).
    pub fn sub(&self, name: &str) -> Artifacts {
        let dir = self.dir.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        Artifacts { dir }
    }
}
