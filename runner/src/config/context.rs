//! What every section's resolve step gets: the files (for error messages)
//! and the app root (for relative paths).

use std::path::{Path, PathBuf};

use super::ConfigError;

/// What every section's resolve step needs: the files (for error messages)
/// and the app root (for relative paths).
pub struct Cx<'a> {
    /// The files as errors name them (`a.yml + b.yml`).
    pub files: &'a str,
    /// Where relative paths start.
    pub app_root: &'a Path,
}

impl Cx<'_> {
    /// An error at `key` of the merged config.
    pub fn err(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Key {
            files: self.files.to_string(),
            key: key.into(),
            message: message.into(),
        }
    }

    /// A config path, relative to the app root.
    pub fn rel(&self, p: &str) -> PathBuf {
        normalize(&self.app_root.join(p))
    }
}

/// Drops `.` components (`/app/./Dockerfile` -> `/app/Dockerfile`).
pub fn normalize(p: &Path) -> PathBuf {
    p.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}
