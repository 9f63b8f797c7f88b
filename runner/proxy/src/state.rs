//! The persisted state: `<state-dir>/state.json`, written atomically.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::ServiceConfig;

/// Contents of `state.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StateFile {
    /// Format version (1).
    pub version: u32,
    /// Every service, with its active target and paused state.
    pub services: Vec<ServiceConfig>,
}

/// Path of the state file in `dir`.
pub fn state_path(dir: &Path) -> PathBuf {
    dir.join("state.json")
}

/// Creates the state directory (mode 0700).
pub fn create_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Loads the state; a missing file is an empty state, a corrupt one is
/// logged, kept as `state.json.corrupt`, and replaced by an empty state.
pub fn load(dir: &Path) -> StateFile {
    let path = state_path(dir);
    let text = match fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return StateFile::default(),
        Err(e) => {
            eprintln!(
                "hoist-proxy: cannot read state file {}: {e}; starting with no services",
                path.display()
            );
            return StateFile::default();
        }
    };
    match serde_json::from_slice::<StateFile>(&text) {
        Ok(s) => s,
        Err(e) => {
            let keep = dir.join("state.json.corrupt");
            let kept = fs::copy(&path, &keep).is_ok();
            eprintln!(
                "hoist-proxy: state file {} is corrupt ({e}); starting with no services{}",
                path.display(),
                if kept {
                    format!(" (copy kept as {})", keep.display())
                } else {
                    String::new()
                }
            );
            StateFile::default()
        }
    }
}

/// Writes the state atomically: `state.json.tmp`, fsync, rename, fsync dir.
pub fn save(dir: &Path, state: &StateFile) -> io::Result<()> {
    let mut json = serde_json::to_vec_pretty(state).map_err(io::Error::other)?;
    json.push(b'\n');
    write_private(&state_path(dir), &json)
}

/// Writes a file only its owner can read, atomically: `<path>.tmp`, fsync,
/// rename, fsync the directory.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent()
        && let Ok(d) = fs::File::open(parent)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_state_is_kept_and_ignored() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(state_path(dir.path()), b"{not json").unwrap();
        let s = load(dir.path());
        assert!(s.services.is_empty());
        assert!(dir.path().join("state.json.corrupt").exists());
        save(
            dir.path(),
            &StateFile {
                version: 1,
                services: vec![],
            },
        )
        .unwrap();
        assert!(!dir.path().join("state.json.tmp").exists());
        assert_eq!(load(dir.path()).version, 1);
    }
}
