//! Secrets: dotenv files (`.hoist/secrets`, or `.kamal/secrets` when that is
//! what exists; `-common` first, then the destination's file). Values are
//! only ever handed to Docker in an API body or a 0600 env file; they never
//! appear on a command line or in hoist's output.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::docker::Secret;

/// A secrets file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// Parse or read error.
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    /// A secret the config needs is missing.
    #[error(
        "secret `{name}` (needed by {needed_by}) is not in {files}; add `{name}=...` to one of them"
    )]
    Missing {
        name: String,
        needed_by: String,
        files: String,
    },
}

/// Loaded secrets.
#[derive(Debug, Default, Clone)]
pub struct Secrets {
    values: BTreeMap<String, Secret>,
    files: Vec<PathBuf>,
}

impl Secrets {
    /// Reads the files that exist, later files overriding earlier ones.
    pub fn load(files: &[PathBuf]) -> Result<Secrets, SecretsError> {
        let mut values = BTreeMap::new();
        for path in files.iter().filter(|p| p.is_file()) {
            let iter = dotenvy::from_path_iter(path).map_err(|e| SecretsError::File {
                path: path.clone(),
                message: e.to_string(),
            })?;
            for item in iter {
                let (k, v) = item.map_err(|e| SecretsError::File {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                values.insert(k, Secret::new(v));
            }
        }
        Ok(Secrets {
            values,
            files: files.to_vec(),
        })
    }

    /// A secret by name.
    pub fn get(&self, name: &str) -> Option<&Secret> {
        self.values.get(name)
    }

    /// A secret that must exist.
    pub fn require(&self, name: &str, needed_by: &str) -> Result<&Secret, SecretsError> {
        self.get(name).ok_or_else(|| SecretsError::Missing {
            name: name.to_string(),
            needed_by: needed_by.to_string(),
            files: self
                .files
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" or "),
        })
    }

    /// Every secret value (to scrub output).
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.values.values().map(Secret::expose)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_files_win_and_missing_names_the_files() {
        let d = tempfile::tempdir().unwrap();
        let common = d.path().join("secrets-common");
        let main = d.path().join("secrets");
        std::fs::write(&common, "A=1\nB=common\n").unwrap();
        std::fs::write(&main, "B=main\nC=\"quoted value\"\n").unwrap();
        let s = Secrets::load(&[common, main, d.path().join("absent")]).unwrap();
        assert_eq!(s.get("A").unwrap().expose(), "1");
        assert_eq!(s.get("B").unwrap().expose(), "main");
        assert_eq!(s.get("C").unwrap().expose(), "quoted value");
        let e = s.require("D", "env.secret").unwrap_err().to_string();
        assert!(
            e.contains("secret `D` (needed by env.secret)") && e.contains("absent"),
            "{e}"
        );
    }
}
