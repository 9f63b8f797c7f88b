//! hoist-proxy: the reverse proxy hoist runs in front of proxied roles.
//!
//! It routes HTTP(S) by Host and path prefix to one active target per
//! service, switches targets atomically after a health gate, drains the old
//! target, serves maintenance pages, terminates TLS by SNI, and keeps its
//! state across restarts. hoist drives it with
//! `docker exec hoist-proxy /hoist-proxy <command>`; see the README.
//!
//! Embedding (tests): [`server::Server::start`] with [`server::Options::local`],
//! then [`control::Client`] on [`server::ServerHandle::socket`]. [`load`] is a
//! small load generator for e2e tests and benchmarks.

pub mod acme;
pub mod buffer;
pub mod cli;
pub mod config;
pub mod control;
pub mod headers;
pub mod health;
pub mod limits;
pub mod load;
pub mod log;
pub mod manager;
pub mod proxy;
pub mod router;
pub mod server;
pub mod state;
pub mod target;
pub mod tls;
pub mod upgrade;

pub use manager::{DeployRequest, ServiceStatus};
pub use server::{Options, Server, ServerHandle};
