//! hoist: a deploy runner in the spirit of Kamal and `fly deploy`, whose
//! hooks and rollout strategies are WebAssembly components.
//!
//! See `ARCHITECTURE.md` for how the pieces fit.

pub mod audit;
pub mod cli;
pub mod config;
pub mod docker;
pub mod events;
pub mod fleet;
pub mod http;
pub mod lock;
pub mod manage;
pub mod pipeline;
pub mod plugin;
pub mod proxy;
pub mod rollout;
pub mod secrets;
pub mod shell;
pub mod ssh;
pub mod stage;
pub mod stages;
pub mod version;
