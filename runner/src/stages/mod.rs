//! One module per pipeline stage, named after it. Each `run` takes the
//! [`crate::run::Run`] and returns a value and a one-line summary, or the
//! [`crate::run::Failure`] (what failed, what to do).

pub mod build;
pub mod hooks;
pub mod load_config;
pub mod post_deploy;
pub mod pre_build;
pub mod pre_deploy;
pub mod prune;
pub mod push;
pub mod rollout;
