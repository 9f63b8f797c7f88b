//! What one plugin call may use: its time limit and one memory budget that
//! every linear memory and every table of the call draws from, so neither a
//! second memory nor a `table.grow` gets past `limits.memory`.

use std::time::Duration;

use wasmtime::ResourceLimiter;

/// Per-call limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock deadline for the call, host calls included.
    pub timeout: Duration,
    /// Bytes of linear memory and table storage, all of the call's together.
    pub memory: u64,
}

/// Host bytes a table element is counted as (a function reference with its
/// instance data is at most this on 64-bit hosts).
pub const TABLE_ELEMENT_BYTES: u64 = 16;

/// Component instances, core instances, tables and memories one call may
/// create (a Rust component has a handful of each).
const INSTANCES: usize = 32;
const TABLES: usize = 16;
const MEMORIES: usize = 4;

/// The call ran into [`Limits::memory`] (the typed cause of the trap).
#[derive(Debug, thiserror::Error)]
#[error("plugin memory limit of {limit} bytes reached")]
pub struct OverBudget {
    /// The limit, in bytes.
    pub limit: u64,
}

/// The store's limiter: one budget shared by every memory and table.
#[derive(Debug)]
pub struct Budget {
    limit: u64,
    used: u64,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Budget {
        Budget { limit, used: 0 }
    }

    fn grow(&mut self, more: u64) -> wasmtime::Result<bool> {
        match self.used.checked_add(more) {
            Some(total) if total <= self.limit => {
                self.used = total;
                Ok(true)
            }
            _ => Err(wasmtime::Error::new(OverBudget { limit: self.limit })),
        }
    }

    /// Bytes in use by the call's memories and tables.
    pub fn used(&self) -> u64 {
        self.used
    }
}

impl ResourceLimiter for Budget {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|m| desired > m) {
            return Ok(false);
        }
        self.grow(desired.saturating_sub(current) as u64)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|m| desired > m) {
            return Ok(false);
        }
        let more = (desired.saturating_sub(current) as u64).saturating_mul(TABLE_ELEMENT_BYTES);
        self.grow(more)
    }

    fn instances(&self) -> usize {
        INSTANCES
    }

    fn tables(&self) -> usize {
        TABLES
    }

    fn memories(&self) -> usize {
        MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memories_and_tables_share_one_budget() {
        let mut b = Budget::new(1 << 20);
        assert!(b.memory_growing(0, 512 << 10, None).unwrap());
        // A second memory cannot take another full limit.
        assert!(b.memory_growing(0, 512 << 10, None).unwrap());
        assert!(b.memory_growing(0, 1, None).is_err());
        let mut b = Budget::new(1 << 20);
        // A table of 65,536 elements is 1 MiB of host memory: that is all.
        assert!(b.table_growing(0, 65_536, None).unwrap());
        let err = b.table_growing(65_536, 65_537, None).unwrap_err();
        assert!(err.downcast_ref::<OverBudget>().is_some());
        assert_eq!(b.used(), 1 << 20);
    }

    #[test]
    fn a_huge_growth_does_not_overflow() {
        let mut b = Budget::new(1 << 20);
        assert!(b.table_growing(0, usize::MAX, None).is_err());
        assert!(b.memory_growing(0, usize::MAX, None).is_err());
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn a_declared_maximum_is_kept() {
        let mut b = Budget::new(1 << 30);
        assert!(!b.memory_growing(0, 2 << 20, Some(1 << 20)).unwrap());
        assert!(!b.table_growing(0, 20, Some(10)).unwrap());
    }
}
