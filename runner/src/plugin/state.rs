//! The `/state` quota: what a plugin's state dir may hold. WASI writes go
//! straight to the directory, so the dir is measured before a call, every
//! 10 ms while it runs (marking the call's [`Quota`], which ends it at the
//! next epoch check or host call) and after it.

use std::path::Path;
use std::time::Duration;

use super::call::{Quota, QuotaExceeded};

/// Bytes a plugin's state dir may hold.
pub const STATE_BYTES_QUOTA: u64 = 16 << 20;
/// Files and directories it may hold.
pub const STATE_ENTRIES_QUOTA: u64 = 4096;

/// How often a running call's state dir is measured.
const EVERY: Duration = Duration::from_millis(10);

/// What a state dir holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of its files.
    pub bytes: u64,
    /// Its files and directories.
    pub entries: u64,
}

/// Measures `dir` (symlinks counted, never followed); stops counting once
/// over a quota.
pub fn usage(dir: &Path) -> Usage {
    let mut u = Usage::default();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            u.entries += 1;
            if let Ok(m) = e.path().symlink_metadata() {
                if m.is_dir() {
                    todo.push(e.path());
                } else {
                    u.bytes += m.len();
                }
            }
            if over(u).is_some() {
                return u;
            }
        }
    }
    u
}

/// The quota `u` is over, if any.
pub fn over(u: Usage) -> Option<QuotaExceeded> {
    if u.bytes > STATE_BYTES_QUOTA {
        Some(QuotaExceeded {
            what: "/state size",
            limit: format!("{} MiB", STATE_BYTES_QUOTA >> 20),
        })
    } else if u.entries > STATE_ENTRIES_QUOTA {
        Some(QuotaExceeded {
            what: "/state entries",
            limit: format!("{STATE_ENTRIES_QUOTA} files and directories"),
        })
    } else {
        None
    }
}

/// Why a call may not start: its state dir is over a quota already (from
/// an earlier call), with what to do.
pub fn refuse_start(dir: &Path) -> Option<String> {
    let u = usage(dir);
    over(u).map(|q| {
        format!(
            "its state dir {} is over its {} quota ({}): it holds {} bytes in {} entries; remove what the plugin does not need there",
            dir.display(),
            q.what,
            q.limit,
            u.bytes,
            u.entries
        )
    })
}

/// Runs while a call runs: marks `quota` and returns once `dir` goes over.
pub async fn watch(dir: &Path, quota: &Quota) -> QuotaExceeded {
    loop {
        tokio::time::sleep(EVERY).await;
        if let Some(q) = over(usage(dir)) {
            quota.mark(q.clone());
            return q;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_bytes_and_entries() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/a"), vec![0u8; 1000]).unwrap();
        std::fs::write(d.path().join("b"), vec![0u8; 24]).unwrap();
        assert_eq!(
            usage(d.path()),
            Usage {
                bytes: 1024,
                entries: 3
            }
        );
        assert!(over(usage(d.path())).is_none());
        let f = std::fs::File::create(d.path().join("big")).unwrap();
        f.set_len(STATE_BYTES_QUOTA + 1).unwrap();
        assert_eq!(over(usage(d.path())).unwrap().what, "/state size");
        assert!(refuse_start(d.path()).unwrap().contains("remove what"));
    }
}
