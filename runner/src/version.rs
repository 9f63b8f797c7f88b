//! The version being deployed: `--version`, else `$VERSION`, else the git
//! HEAD sha with `_uncommitted_<16 hex>` appended when the tree is dirty
//! (Kamal's rule).

use std::path::Path;
use std::process::Command;

/// Why no version could be worked out.
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    /// Not a git checkout and no explicit version.
    #[error(
        "cannot work out the version: {0}. Pass --version=VERSION, or deploy from a git checkout"
    )]
    NoGit(String),
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| format!("git: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Resolves the version for an app rooted at `app_root`.
pub fn resolve(explicit: Option<&str>, app_root: &Path) -> Result<String, VersionError> {
    if let Some(v) = explicit.filter(|v| !v.is_empty()) {
        return Ok(v.to_string());
    }
    if let Ok(v) = std::env::var("VERSION")
        && !v.is_empty()
    {
        return Ok(v);
    }
    let sha = git(app_root, &["rev-parse", "HEAD"]).map_err(VersionError::NoGit)?;
    let dirty = !git(app_root, &["status", "--porcelain"])
        .map_err(VersionError::NoGit)?
        .is_empty();
    Ok(if dirty {
        format!("{sha}_uncommitted_{:016x}", rand::random::<u64>())
    } else {
        sha
    })
}

/// Who runs the deploy: git user.email, else the login name.
pub fn performer(app_root: &Path) -> String {
    git(app_root, &["config", "user.email"])
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// True when `version` is a valid Docker tag.
pub fn valid_tag(version: &str) -> bool {
    !version.is_empty()
        && version.len() <= 128
        && !version.starts_with(['.', '-'])
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_wins_and_tags_are_checked() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(resolve(Some("v9"), d.path()).unwrap(), "v9");
        assert!(valid_tag("abc123_uncommitted_0123456789abcdef"));
        assert!(!valid_tag("has space"));
        assert!(!valid_tag("-x"));
    }

    #[test]
    fn git_sha_and_dirty_suffix() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        let run = |args: &[&str]| {
            assert!(
                Command::new("git")
                    .arg("-C")
                    .arg(p)
                    .args(args)
                    .output()
                    .unwrap()
                    .status
                    .success(),
                "{args:?}"
            );
        };
        run(&["init", "-q"]);
        std::fs::write(p.join("f"), "1").unwrap();
        run(&["add", "f"]);
        run(&[
            "-c",
            "user.email=t@t",
            "-c",
            "user.name=t",
            "commit",
            "-qm",
            "x",
        ]);
        let sha = resolve(None, p).unwrap();
        assert_eq!(sha.len(), 40);
        std::fs::write(p.join("f"), "2").unwrap();
        let dirty = resolve(None, p).unwrap();
        assert!(dirty.starts_with(&format!("{sha}_uncommitted_")), "{dirty}");
    }
}
