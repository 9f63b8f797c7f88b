//! hoist: a deploy runner in the spirit of Kamal and `fly deploy`, whose
//! hooks and rollout strategies are WebAssembly components.
//!
//! See `ARCHITECTURE.md` for how the pieces fit. From the top down (a module
//! only uses modules below it):
//!
//! - [`cli`]: the command line, one file per command group
//! - [`pipeline`], [`stages`], [`run`]: the deploy and its stages;
//!   [`manage`]: the commands around a deploy
//! - [`plugin`]: the WebAssembly host and the capabilities plugins reach
//! - [`steps`]: the rollout steps and their ledger; [`app_container`]: what a
//!   container of the app is; [`delivery`], [`prune`], [`lock`], [`audit`]
//! - [`proxy`]: hoist-proxy on a host; [`fleet`], [`selection`]: the hosts
//! - [`config`], [`secrets`], [`ssh`], [`docker`], [`shell`], [`http`],
//!   [`events`], [`capabilities`], [`units`], [`stage`], [`version`]

pub mod app_container;
pub mod audit;
pub mod capabilities;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod docker;
pub mod events;
pub mod fleet;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod kamal_hooks;
pub mod local_registry;
pub mod lock;
pub mod manage;
pub mod pipeline;
pub mod plugin;
pub mod proxy;
pub mod prune;
pub mod run;
pub mod secrets;
pub mod selection;
pub mod shell;
pub mod ssh;
pub mod stage;
pub mod stages;
pub mod steps;
pub mod units;
pub mod version;
