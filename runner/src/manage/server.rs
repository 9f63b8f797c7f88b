//! `hoist server bootstrap` (as `kamal server bootstrap`, which `setup`
//! runs first): every selected host must have a Docker engine hoist can
//! reach, then Kamal's `docker-setup` hook runs (as Kamal runs it: after
//! the check, whether or not anything was installed). hoist does not
//! install Docker on a server yet; a host without it is named, with what to
//! do.

use super::{ManageError, Result, Scope};
use crate::docker::ContainerFilter;
use crate::stage::HookPoint;

/// Checks every selected host's Docker engine, then runs `docker-setup`.
pub async fn bootstrap(s: &Scope<'_>) -> Result<()> {
    s.each(&s.selection.hosts, |_, docker| async move {
        docker
            .containers(ContainerFilter {
                all: false,
                ..Default::default()
            })
            .await?;
        Ok("Docker answers".to_string())
    })
    .await
    .map_err(|e| {
        ManageError::Other(format!(
            "{e}; hoist does not install Docker on servers yet: install it there (https://docs.docker.com/engine/install/, as root or with sudo) and run this again"
        ))
    })?;
    s.hooks
        .run(HookPoint::DockerSetup, &s.selection.hosts)
        .await
}
