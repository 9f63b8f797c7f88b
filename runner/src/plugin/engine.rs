//! The wasm engine every plugin call runs on: epoch interruption (ticking
//! every 10 ms, which is how time limits reach wasm code) and where
//! instances get their memory, tables and stacks.
//!
//! By default from a pool of slots reserved once and reused across calls
//! (a slot is reset, not unmapped and mapped again), which is what makes a
//! fresh instance per call cheap. Reserving the pool needs virtual address
//! space (about 300 GiB, never committed); where that is refused (a low
//! `ulimit -v`) the engine allocates per call instead.

use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::capabilities::MAX_PLUGIN_MEMORY;

/// Where a call's instances get their memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// Slots of a pool reserved once per run (the default).
    Pooled,
    /// A fresh mapping per instance.
    OnDemand,
}

/// Calls (of every plugin together) that can be live at once.
const CONCURRENT_CALLS: u32 = 16;
/// Elements a table may grow to (a Rust component uses a few hundred; the
/// call's memory budget still counts each).
const TABLE_ELEMENTS: usize = 1 << 20;

fn pool() -> PoolingAllocationConfig {
    let mut p = PoolingAllocationConfig::default();
    p.total_component_instances(CONCURRENT_CALLS)
        .total_core_instances(CONCURRENT_CALLS * 8)
        .total_memories(CONCURRENT_CALLS * 4)
        .total_tables(CONCURRENT_CALLS * 8)
        .total_stacks(CONCURRENT_CALLS * 4)
        .max_memories_per_component(4)
        .max_tables_per_component(16)
        .max_core_instances_per_component(32)
        .max_memory_size(MAX_PLUGIN_MEMORY as usize)
        .table_elements(TABLE_ELEMENTS);
    p
}

/// Builds the engine (and its epoch ticker thread), pooled when it can be;
/// the allocation it got.
pub fn build(want: Allocation) -> Result<(Engine, Allocation), String> {
    let make = |allocation: Allocation| {
        let mut cfg = Config::new();
        cfg.epoch_interruption(true);
        if allocation == Allocation::Pooled {
            cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pool()));
        }
        Engine::new(&cfg).map(|e| (e, allocation))
    };
    let (engine, got) = match want {
        Allocation::Pooled => make(Allocation::Pooled).or_else(|_| make(Allocation::OnDemand)),
        Allocation::OnDemand => make(Allocation::OnDemand),
    }
    .map_err(|e| format!("wasm engine: {e}"))?;
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("hoist-epoch".into())
        .spawn(move || {
            while let Some(e) = weak.upgrade() {
                e.increment_epoch();
                drop(e);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
        .map_err(|e| format!("epoch ticker: {e}"))?;
    Ok((engine, got))
}
