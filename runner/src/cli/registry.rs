//! `hoist registry setup|remove|login|logout` (as `kamal registry`). With a
//! local registry (`registry.server: localhost:PORT`) setup starts Kamal's
//! `kamal-docker-registry` on this machine and remove takes it away. hoist
//! sends registry credentials with each push and pull and stores none, so
//! for any other registry there is no session to open or close.

use clap::Subcommand;

use super::common::Common;
use super::scope::connect;
use crate::local_registry;

/// `hoist registry ...`.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Start the local registry (`localhost:PORT`) on this machine, or reuse it.
    Setup(Skips),
    /// Stop and remove the local registry container.
    Remove(Skips),
    /// Kamal's `docker login`: hoist needs none (credentials go with each push and pull).
    Login(Skips),
    /// Kamal's `docker logout`: hoist stores no session to end.
    Logout(Skips),
}

/// Kamal's flags (`-L`, `-R`), taken as Kamal takes them.
#[derive(Debug, clap::Args)]
pub struct Skips {
    /// Leave this machine alone.
    #[arg(short = 'L', long)]
    skip_local: bool,
    /// Leave the servers alone (hoist never logs them in).
    #[arg(short = 'R', long)]
    skip_remote: bool,
}

/// Runs `hoist registry ...`.
pub async fn registry(common: Common, cmd: RegistryCommand) -> anyhow::Result<()> {
    let hosts = connect(&common).await?;
    let c = &hosts.config;
    let server = c
        .registry
        .as_ref()
        .map(|r| r.server.clone().unwrap_or_else(|| "docker.io".into()));
    let local = match server.as_deref() {
        Some(s) => crate::delivery::local_registry_port(s)?,
        None => None,
    };
    let no_session = |what: &str| {
        let server = server
            .as_deref()
            .unwrap_or("no registry (images are streamed)");
        println!(
            "{server}: nothing to {what}; hoist sends the registry credentials with each push and pull and keeps no login on this machine or the servers"
        );
    };
    match (cmd, local) {
        (RegistryCommand::Setup(s), Some(port)) => {
            if !s.skip_local {
                let builder = hosts.fleet.builder().await?;
                let setup = local_registry::setup(&builder, port).await?;
                println!("local registry on 127.0.0.1:{port}: {setup}");
            }
        }
        (RegistryCommand::Remove(s), Some(port)) => {
            if !s.skip_local {
                let builder = hosts.fleet.builder().await?;
                if local_registry::remove(&builder).await? {
                    println!("removed {} (127.0.0.1:{port})", local_registry::CONTAINER);
                } else {
                    println!("no {} to remove", local_registry::CONTAINER);
                }
            }
        }
        (RegistryCommand::Setup(_) | RegistryCommand::Login(_), _) => no_session("log in to"),
        (RegistryCommand::Remove(_) | RegistryCommand::Logout(_), _) => no_session("log out of"),
    }
    Ok(())
}
