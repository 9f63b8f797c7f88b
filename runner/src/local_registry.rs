//! Kamal's local registry: with `registry.server: localhost:PORT`, Kamal runs
//! `registry:3` on this machine as `kamal-docker-registry`, published on
//! `127.0.0.1:PORT` only, and reuses it when it is there (`docker start ...
//! || docker run ...`). hoist does the same before it pushes, and with
//! `hoist registry setup`; `hoist registry remove` stops and removes it. A
//! registry someone else started on that port (not the named container) is
//! used as it is. Servers pull from it through hoist's SSH reverse tunnel
//! (`crate::delivery`).

use std::time::Duration;

use crate::docker::{Docker, DockerError, DockerOp, RunSpec};

/// The container's name (Kamal's).
pub const CONTAINER: &str = "kamal-docker-registry";
/// The image Kamal runs.
pub const IMAGE: &str = "registry:3";

/// What [`setup`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setup {
    /// `kamal-docker-registry` was running.
    Running,
    /// It existed, stopped, and was started.
    Started,
    /// It was created from `registry:3` and started.
    Booted,
    /// No such container, but a registry answers on the port (the user's
    /// own): used as it is.
    Foreign,
}

impl std::fmt::Display for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Setup::Running => "running",
            Setup::Started => "started",
            Setup::Booted => "booted from registry:3",
            Setup::Foreign => "another registry answers on that port: using it",
        })
    }
}

/// Why the local registry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Docker failed.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// `registry:3` is not here and cannot be pulled.
    #[error(
        "the local registry needs the image {IMAGE}, which is not on this machine and could not be pulled ({0}); load it (`docker load`), or start a registry on 127.0.0.1:{1} yourself"
    )]
    NoImage(String, u16),
    /// The container started but nothing answers on the port.
    #[error(
        "{CONTAINER} started but nothing answers on 127.0.0.1:{0}; see `docker logs {CONTAINER}` (is the port taken by something else?)"
    )]
    NotAnswering(u16),
}

/// The container as Kamal runs it.
pub fn run_spec(port: u16) -> RunSpec {
    RunSpec {
        name: CONTAINER.into(),
        image: IMAGE.into(),
        options: vec![("publish".into(), Some(format!("127.0.0.1:{port}:5000")))],
        ..RunSpec::default()
    }
}

/// Makes sure a registry answers on `127.0.0.1:port` (Kamal's `registry
/// setup` for a local registry), on this machine's engine `docker`.
pub async fn setup(docker: &Docker, port: u16) -> Result<Setup, RegistryError> {
    let setup = match docker.inspect(CONTAINER).await? {
        Some(s) if s.state == "running" => return Ok(Setup::Running),
        Some(_) => {
            docker
                .done(DockerOp::Start {
                    container: CONTAINER.into(),
                })
                .await?;
            Setup::Started
        }
        None if answers(port).await => return Ok(Setup::Foreign),
        None => {
            if !docker.image_exists(IMAGE).await? {
                docker
                    .done(DockerOp::Pull {
                        image: IMAGE.into(),
                        auth: None,
                    })
                    .await
                    .map_err(|e| RegistryError::NoImage(e.to_string(), port))?;
            }
            docker.run(run_spec(port)).await?;
            Setup::Booted
        }
    };
    for _ in 0..50 {
        if answers(port).await {
            return Ok(setup);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(RegistryError::NotAnswering(port))
}

/// Stops and removes `kamal-docker-registry`; false when there was none.
pub async fn remove(docker: &Docker) -> Result<bool, DockerError> {
    if docker.inspect(CONTAINER).await?.is_none() {
        return Ok(false);
    }
    docker.stop_and_remove(CONTAINER, 10).await?;
    Ok(true)
}

/// Whether an HTTP server answers `GET /v2/` on `127.0.0.1:port` (a
/// published port accepts connections before the registry behind it is up).
async fn answers(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ask = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        s.write_all(b"GET /v2/ HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await?;
        let mut head = [0u8; 5];
        s.read_exact(&mut head).await?;
        Ok::<_, std::io::Error>(&head == b"HTTP/")
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), ask).await,
        Ok(Ok(true))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::op::SecretArgs;

    #[test]
    fn runs_as_kamal_runs_it() {
        let args = run_spec(5555).run_args(SecretArgs::Hidden).join(" ");
        assert_eq!(
            args,
            "--name kamal-docker-registry --publish 127.0.0.1:5555:5000 registry:3"
        );
    }
}
