//! Who holds a lock: the runner process that took it (machine, boot, pid
//! and the pid's start time, so a reused pid is not mistaken for the
//! owner), and whether that process is provably gone.

use std::fmt;

/// The process that takes a lock, as written into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The runner machine's host name.
    pub machine: String,
    /// The machine's boot id (`/proc/sys/kernel/random/boot_id`).
    pub boot: String,
    /// The runner's pid.
    pub pid: u32,
    /// The pid's start time (clock ticks since boot, `/proc/<pid>/stat`).
    pub start: u64,
    /// `deploy` for a run holding it, `manual` for `hoist lock acquire`
    /// (whose process ends at once: never stale).
    pub kind: Kind,
}

/// What took the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A running command (deploy, `app stop`, ...): stale once it is gone.
    Run,
    /// `hoist lock acquire`: held until released.
    Manual,
}

/// How a holder relates to the process asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// This very process holds it.
    Mine,
    /// A process on this machine that still runs (or a manual lock).
    Alive,
    /// A run on this machine whose process is gone (killed, crashed).
    Gone,
    /// Held from another machine: hoist cannot tell.
    Unknown,
}

const FIELD: &str = "Owner-Id: ";

impl Owner {
    /// This process.
    pub fn me(kind: Kind) -> Owner {
        let pid = std::process::id();
        Owner {
            machine: machine(),
            boot: boot_id(),
            pid,
            start: start_time(pid).unwrap_or(0),
            kind,
        }
    }

    /// The line stored in the lock's details.
    pub fn line(&self) -> String {
        format!("{FIELD}{self}")
    }

    /// The owner recorded in a lock's `details`, if it has one (locks from
    /// older hoist versions do not).
    pub fn parse(details: &str) -> Option<Owner> {
        let value = details.lines().find_map(|l| l.strip_prefix(FIELD))?;
        let mut it = value.split_whitespace();
        let kind = match it.next()? {
            "run" => Kind::Run,
            "manual" => Kind::Manual,
            _ => return None,
        };
        let machine = it.next()?.to_string();
        let boot = it.next()?.to_string();
        let pid = it.next()?.parse().ok()?;
        let start = it.next()?.parse().ok()?;
        Some(Owner {
            machine,
            boot,
            pid,
            start,
            kind,
        })
    }

    /// Whether the owner still runs, seen from this process.
    pub fn liveness(&self) -> Liveness {
        let here = Owner::me(Kind::Run);
        if self.machine != here.machine || self.boot != here.boot {
            return Liveness::Unknown;
        }
        if self.kind == Kind::Run && self.pid == here.pid && self.start == here.start {
            return Liveness::Mine;
        }
        if self.kind == Kind::Manual {
            return Liveness::Alive;
        }
        match start_time(self.pid) {
            Some(start) if start == self.start => Liveness::Alive,
            _ => Liveness::Gone,
        }
    }

    /// `pid 1234 on laptop`.
    pub fn describe(&self) -> String {
        format!("pid {} on {}", self.pid, self.machine)
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Run => "run",
            Kind::Manual => "manual",
        };
        write!(
            f,
            "{kind} {} {} {} {}",
            self.machine, self.boot, self.pid, self.start
        )
    }
}

fn machine() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into());
    // One word: the field is split on whitespace.
    name.split_whitespace().collect::<Vec<_>>().join("_")
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Field 22 of `/proc/<pid>/stat` (after the parenthesised command name,
/// which may hold spaces).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tells_the_living_from_the_gone() {
        let me = Owner::me(Kind::Run);
        assert!(me.start > 0, "{me}");
        let details = format!("Locked by: x\n{}\nVersion: v\n", me.line());
        let parsed = Owner::parse(&details).unwrap();
        assert_eq!(parsed, me);
        assert_eq!(parsed.liveness(), Liveness::Mine);
        // A process that ended: its pid has no /proc entry (or another start).
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let gone = Owner { pid, ..me.clone() };
        assert_eq!(gone.liveness(), Liveness::Gone);
        // The pid of a living process, but not the start time recorded.
        let reused = Owner {
            pid: 1,
            start: u64::MAX,
            ..me.clone()
        };
        assert_eq!(reused.liveness(), Liveness::Gone);
        let manual = Owner {
            kind: Kind::Manual,
            ..gone
        };
        assert_eq!(manual.liveness(), Liveness::Alive);
        let elsewhere = Owner {
            machine: "other".into(),
            ..me
        };
        assert_eq!(elsewhere.liveness(), Liveness::Unknown);
        assert_eq!(Owner::parse("Locked by: old hoist\n"), None);
    }
}
