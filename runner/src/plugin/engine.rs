//! The wasm engine every plugin call runs on: epoch interruption (ticking
//! every 10 ms while plugin code may run, which is how time limits reach
//! wasm code; [`Ticker`]) and where instances get their memory, tables and
//! stacks.
//!
//! By default from a pool of slots reserved once and reused across calls
//! (a slot is reset, not unmapped and mapped again), which is what makes a
//! fresh instance per call cheap. Reserving the pool needs virtual address
//! space (about 300 GiB, never committed); where that is refused (a low
//! `ulimit -v`) the engine allocates per call instead.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
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

/// How often the epoch advances while plugin code may run.
pub const TICK: Duration = Duration::from_millis(10);

/// The epoch ticker: advances the engine's epoch every [`TICK`] while some
/// call may be running wasm code (a call is in progress and not waiting in
/// a host function), and sleeps otherwise. A strategy that waits for its
/// rollout steps for a minute costs no wakeups; the moment any call runs
/// wasm again, the ticks resume. A call waiting in a host function is held
/// to its limit by the host's own deadline (`PluginHost::within`), not by
/// the epoch.
pub struct Ticker {
    running: AtomicUsize,
    /// Times a call (re)entered wasm code: the ticker ticks after any entry
    /// since its last tick, so a plugin that is in quick host calls nearly
    /// all the time still meets its epoch deadline.
    entries: AtomicUsize,
    thread: OnceLock<std::thread::Thread>,
}

impl Ticker {
    /// Marks a call in progress: its wasm code may run while the guard lives.
    pub fn running(self: &Arc<Self>) -> Running {
        self.more();
        Running(self.clone())
    }

    fn more(&self) {
        self.entries.fetch_add(1, Ordering::SeqCst);
        if self.running.fetch_add(1, Ordering::SeqCst) == 0
            && let Some(t) = self.thread.get()
        {
            t.unpark();
        }
    }

    fn less(&self) {
        self.running.fetch_sub(1, Ordering::SeqCst);
    }

    /// Calls that may be running wasm code now.
    pub fn active(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }
}

/// A call in progress (see [`Ticker::running`]).
pub struct Running(Arc<Ticker>);

impl Running {
    /// The call waits in a host function (a Docker or shell call, a rollout
    /// step, a sleep) while the guard lives: none of its wasm code runs.
    pub fn waiting(&self) -> Waiting {
        self.0.less();
        Waiting(self.0.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.less();
    }
}

/// A call waiting in a host function (see [`Running::waiting`]).
pub struct Waiting(Arc<Ticker>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.more();
    }
}

/// Builds the engine (and its epoch ticker thread), pooled when it can be;
/// the allocation it got.
pub fn build(want: Allocation) -> Result<(Engine, Allocation, Arc<Ticker>), String> {
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
    let ticker = Arc::new(Ticker {
        running: AtomicUsize::new(0),
        entries: AtomicUsize::new(0),
        thread: OnceLock::new(),
    });
    let watched = ticker.clone();
    let thread = std::thread::Builder::new()
        .name("hoist-epoch".into())
        .spawn(move || {
            let mut seen = 0;
            while let Some(e) = weak.upgrade() {
                let entries = watched.entries.load(Ordering::SeqCst);
                if watched.active() == 0 && entries == seen {
                    drop(e);
                    // Woken by the next call; the timeout only notices an
                    // engine that is gone.
                    std::thread::park_timeout(Duration::from_secs(1));
                    continue;
                }
                seen = entries;
                e.increment_epoch();
                drop(e);
                std::thread::sleep(TICK);
            }
        })
        .map_err(|e| format!("epoch ticker: {e}"))?;
    let _ = ticker.thread.set(thread.thread().clone());
    Ok((engine, got, ticker))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ticker_counts_calls_running_wasm_and_not_those_waiting_in_the_host() {
        let (_engine, _, ticker) = build(Allocation::OnDemand).unwrap();
        assert_eq!(ticker.active(), 0);
        let a = ticker.running();
        let b = ticker.running();
        assert_eq!(ticker.active(), 2);
        let waiting = a.waiting();
        assert_eq!(ticker.active(), 1);
        drop(b);
        assert_eq!(
            ticker.active(),
            0,
            "only a call waiting in the host is left"
        );
        drop(waiting);
        assert_eq!(ticker.active(), 1, "back in wasm");
        drop(a);
        assert_eq!(ticker.active(), 0);
    }
}
