//! The compiled-component cache. A `.cwasm` file is native code that
//! wasmtime maps and runs without checking it, outside the sandbox, so it is
//! loaded only from a place nobody else can write: a directory outside the
//! app's repository, owned by the user running hoist (or root), whose
//! ancestors nobody else can rename it through, holding regular files owned
//! by that user and writable by no one else. Anything else is recompiled
//! from the `.wasm` (and the reason reported once).

use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Why the cache directory is not used for native code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheRefusal {
    /// Inside the app's repository (anyone who can commit could plant code).
    #[error(
        "the plugin cache {dir} is inside the app ({app}); compiled plugins are never loaded from there, so each run recompiles them. Set `plugins.cache_dir` outside the repository, or leave it unset (~/.cache/hoist)"
    )]
    InsideApp {
        /// The cache directory.
        dir: PathBuf,
        /// The app root.
        app: PathBuf,
    },
    /// Owned by someone else, or writable by group or others (the path is
    /// the directory or the ancestor at fault).
    #[error(
        "the plugin cache {dir} is not used: {path} {why}; compiled plugins are loaded only from a directory only you can write (chmod go-w, or choose another `plugins.cache_dir`)"
    )]
    Unsafe {
        /// The cache directory.
        dir: PathBuf,
        /// The directory at fault.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// It cannot be created or read.
    #[error("the plugin cache {dir} is not used: {detail}")]
    Unusable {
        /// The cache directory.
        dir: PathBuf,
        /// The I/O error.
        detail: String,
    },
}

/// A cache directory that passed the checks.
#[derive(Debug, Clone)]
pub struct CodeCache {
    dir: PathBuf,
    uid: u32,
}

fn euid() -> u32 {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() }
}

impl CodeCache {
    /// Opens (creating it `0700` when missing) the cache at `dir`, refusing
    /// it as described in the module docs.
    pub fn open(dir: &Path, app_root: Option<&Path>) -> Result<CodeCache, CacheRefusal> {
        let unusable = |e: std::io::Error| CacheRefusal::Unusable {
            dir: dir.to_path_buf(),
            detail: e.to_string(),
        };
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(unusable)?;
        }
        let real = dir.canonicalize().map_err(unusable)?;
        if let Some(app) = app_root.and_then(|a| a.canonicalize().ok())
            && real.starts_with(&app)
        {
            return Err(CacheRefusal::InsideApp {
                dir: dir.to_path_buf(),
                app,
            });
        }
        let uid = euid();
        let unsafe_at = |path: &Path, why: String| CacheRefusal::Unsafe {
            dir: dir.to_path_buf(),
            path: path.to_path_buf(),
            why,
        };
        // The directory itself: ours, writable by nobody else.
        let meta = std::fs::metadata(&real).map_err(unusable)?;
        if meta.uid() != uid {
            return Err(unsafe_at(&real, format!("is owned by uid {}", meta.uid())));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(unsafe_at(
                &real,
                format!("is writable by others (mode {:o})", meta.mode() & 0o7777),
            ));
        }
        // Its ancestors: nobody else can swap the directory out (a shared
        // directory with the sticky bit, like /tmp, is fine).
        for a in real.ancestors().skip(1) {
            let m = std::fs::metadata(a).map_err(unusable)?;
            if m.uid() != uid && m.uid() != 0 {
                return Err(unsafe_at(a, format!("is owned by uid {}", m.uid())));
            }
            if m.mode() & 0o022 != 0 && m.mode() & 0o1000 == 0 {
                return Err(unsafe_at(
                    a,
                    format!("is writable by others (mode {:o})", m.mode() & 0o7777),
                ));
            }
        }
        Ok(CodeCache { dir: real, uid })
    }

    /// The file for `key`, when it may be loaded as native code: a regular
    /// file (not a link) owned by this user and writable by nobody else.
    pub fn trusted_file(&self, key: &str) -> Option<PathBuf> {
        let path = self.dir.join(key);
        let m = std::fs::symlink_metadata(&path).ok()?;
        (m.file_type().is_file() && m.uid() == self.uid && m.mode() & 0o022 == 0).then_some(path)
    }

    /// Stores `bytes` under `key` (written `0600` beside it, then renamed in
    /// place); a failure only means the next run compiles again.
    pub fn store(&self, key: &str, bytes: &[u8]) {
        use std::io::Write;
        let path = self.dir.join(key);
        let tmp = self.dir.join(format!(
            ".{}.tmp-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(bytes));
        if written.is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
        let _ = std::fs::remove_file(&tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hoist-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        d
    }

    #[test]
    fn a_private_cache_is_used_and_its_own_files_trusted() {
        let d = scratch("ok");
        let c = CodeCache::open(&d.join("components"), None).unwrap();
        c.store("k.cwasm", b"code");
        assert!(c.trusted_file("k.cwasm").is_some());
        let mode = std::fs::metadata(d.join("components/k.cwasm"))
            .unwrap()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn writable_files_links_and_missing_files_are_not_trusted() {
        let d = scratch("files");
        let c = CodeCache::open(&d, None).unwrap();
        c.store("w.cwasm", b"code");
        std::fs::set_permissions(d.join("w.cwasm"), std::fs::Permissions::from_mode(0o666))
            .unwrap();
        assert!(c.trusted_file("w.cwasm").is_none(), "world-writable");
        c.store("real.cwasm", b"code");
        std::os::unix::fs::symlink(d.join("real.cwasm"), d.join("link.cwasm")).unwrap();
        assert!(c.trusted_file("link.cwasm").is_none(), "symlink");
        assert!(c.trusted_file("absent.cwasm").is_none());
    }

    #[test]
    fn a_cache_in_the_app_or_writable_by_others_is_refused() {
        let app = scratch("app");
        let inside = app.join(".hoist/cache");
        assert!(matches!(
            CodeCache::open(&inside, Some(&app)),
            Err(CacheRefusal::InsideApp { .. })
        ));
        let d = scratch("open");
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(
            CodeCache::open(&d, None),
            Err(CacheRefusal::Unsafe { .. })
        ));
        // Below a directory others can write (no sticky bit): refused too.
        let nested = d.join("inner");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::set_permissions(&nested, std::fs::Permissions::from_mode(0o700)).unwrap();
        let e = CodeCache::open(&nested, None).unwrap_err();
        assert!(e.to_string().contains("writable by others"), "{e}");
    }
}
