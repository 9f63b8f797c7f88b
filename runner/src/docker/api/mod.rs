//! [`Engine`] over the Docker Engine API (bollard): the one place hoist talks
//! to Docker's API (the docker CLI only attaches terminals, [`super::cli`]).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bollard::auth::DockerCredentials;
use bollard::errors::Error as BollardError;
use bollard::exec::StartExecResults;
use bollard::models::{
    ContainerCreateBody, ExecConfig, HealthConfig, HealthStatusEnum, HostConfig,
    HostConfigLogConfig, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
    ImportImageOptionsBuilder, ListContainersOptionsBuilder, ListImagesOptionsBuilder,
    LogsOptionsBuilder, PushImageOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptionsBuilder, RenameContainerOptionsBuilder, StopContainerOptionsBuilder,
    TagImageOptionsBuilder,
};
use futures_util::StreamExt;

mod containers;
mod convert;
mod images;

pub use convert::split_reference;
use convert::{credentials, restart_policy, since_seconds};

use super::op::{Container, ContainerState, Image};
use super::{
    BuildSpec, CommandOutput, ContainerFilter, DockerError, DockerOp, Engine, OpOutput, Progress,
    RegistryAuth, RunSpec, context, health, options,
};

/// Output captured from exec and logs is capped at this many bytes per stream.
const OUTPUT_CAP: usize = 1 << 20;

/// A Docker engine reached through its API socket.
pub struct ApiEngine {
    host: String,
    docker: bollard::Docker,
    progress: Option<Progress>,
    /// The SSH socket forward a server's engine is reached through (kept
    /// alive with the engine); none for the local engine.
    tunnel: Option<Box<dyn std::any::Any + Send + Sync>>,
    /// `DOCKER_HOST` for the docker CLI: the same socket.
    endpoint: String,
}

impl ApiEngine {
    /// Connects to the engine on this machine (`DOCKER_HOST` or
    /// `/var/run/docker.sock`) and checks it answers.
    pub async fn connect_local(
        host: &str,
        progress: Option<Progress>,
    ) -> Result<Self, DockerError> {
        let advice = |e: DockerError| match e {
            DockerError::Unreachable { host, detail } => DockerError::Unreachable {
                host,
                detail: format!("{detail}. Start Docker (e.g. `dockerd &`) or set DOCKER_HOST"),
            },
            other => other,
        };
        let docker =
            bollard::Docker::connect_with_local_defaults().map_err(|e| DockerError::Unreachable {
                host: host.to_string(),
                detail: e.to_string(),
            });
        // bollard's local default, which the CLI must then use too (not a
        // docker context of its own).
        let endpoint = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".into());
        match docker {
            Ok(d) => Self::checked(host, d, progress, None, endpoint)
                .await
                .map_err(advice),
            Err(e) => Err(advice(e)),
        }
    }

    /// Connects to an engine whose connections `connector` opens (a
    /// server's socket over SSH channels), with keep-alive: requests reuse
    /// idle connections. `endpoint` is `DOCKER_HOST` for the docker CLI;
    /// `keep` lives as long as the engine.
    pub async fn connect_with<C>(
        host: &str,
        connector: C,
        endpoint: String,
        progress: Option<Progress>,
        keep: Box<dyn std::any::Any + Send + Sync>,
    ) -> Result<Self, DockerError>
    where
        C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
    {
        let client = std::sync::Arc::new(
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(8)
                .build(connector),
        );
        let docker = bollard::Docker::connect_with_custom_transport(
            move |req: bollard::BollardRequest| {
                let client = client.clone();
                async move { client.request(req).await.map_err(BollardError::from) }
            },
            Some("http://docker"),
            600,
            bollard::API_DEFAULT_VERSION,
        )
        .map_err(|e| DockerError::Unreachable {
            host: host.to_string(),
            detail: e.to_string(),
        })?;
        Self::checked(host, docker, progress, Some(keep), endpoint).await
    }

    async fn checked(
        host: &str,
        docker: bollard::Docker,
        progress: Option<Progress>,
        keep: Option<Box<dyn std::any::Any + Send + Sync>>,
        endpoint: String,
    ) -> Result<Self, DockerError> {
        let unreachable = |detail: String| DockerError::Unreachable {
            host: host.to_string(),
            detail,
        };
        let docker = docker.with_timeout(Duration::from_secs(600));
        docker
            .ping()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(ApiEngine {
            host: host.to_string(),
            docker,
            progress,
            tunnel: keep,
            endpoint,
        })
    }

    fn error(&self, op: &DockerOp, e: BollardError) -> DockerError {
        let host = self.host.clone();
        match e {
            BollardError::DockerResponseServerError {
                status_code: 404,
                message,
            } => DockerError::NotFound {
                host,
                what: message,
            },
            BollardError::SocketNotFoundError(p) => DockerError::Unreachable {
                host,
                detail: format!("no socket at {p}"),
            },
            BollardError::HyperLegacyError { .. } if self.tunnel.is_some() => {
                DockerError::Unreachable {
                    host,
                    detail: "the SSH connection to the server broke or it stopped answering".into(),
                }
            }
            e @ BollardError::HyperLegacyError { .. } => DockerError::Unreachable {
                host,
                detail: e.to_string(),
            },
            BollardError::DockerResponseServerError { message, .. }
            | BollardError::DockerStreamError { error: message } => DockerError::Failed {
                host,
                op: op.to_string(),
                message,
            },
            other => DockerError::Failed {
                host,
                op: op.to_string(),
                message: other.to_string(),
            },
        }
    }

    fn say(&self, line: &str) {
        if let Some(p) = &self.progress {
            p(&self.host, line);
        }
    }
}

#[async_trait]
impl Engine for ApiEngine {
    fn host(&self) -> &str {
        &self.host
    }

    fn cli_endpoint(&self) -> Option<String> {
        Some(self.endpoint.clone())
    }

    async fn log_stream(
        &self,
        container: &str,
        query: &super::LogQuery,
    ) -> Result<super::LogStream, DockerError> {
        let mut o = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .follow(query.follow)
            .timestamps(query.timestamps);
        if let Some(t) = query.tail {
            o = o.tail(&t.to_string());
        }
        if let Some(since) = &query.since {
            o = o.since(since_seconds(since).ok_or_else(|| {
                DockerError::Unsupported(format!(
                    "--since `{since}`: give a duration (`10m`, `2h`) or a Unix time"
                ))
            })?);
        }
        let host = self.host.clone();
        let name = container.to_string();
        // Chunks are split into lines; a partial line waits for its end.
        let mut pending = String::new();
        let lines = self
            .docker
            .logs(container, Some(o.build()))
            .map(move |chunk| match chunk {
                Ok(c) => {
                    pending.push_str(&String::from_utf8_lossy(c.as_ref()));
                    let mut out = Vec::new();
                    while let Some(i) = pending.find('\n') {
                        out.push(Ok(pending[..i].to_string()));
                        pending.drain(..=i);
                    }
                    futures_util::stream::iter(out)
                }
                Err(e) => futures_util::stream::iter(vec![Err(DockerError::Failed {
                    host: host.clone(),
                    op: format!("docker logs {name}"),
                    message: e.to_string(),
                })]),
            })
            .flatten();
        Ok(Box::pin(lines))
    }

    async fn save_image(&self, image: &str) -> Result<super::ImageStream, DockerError> {
        let host = self.host.clone();
        let op = format!("docker save {image}");
        Ok(self
            .docker
            .export_image(image)
            .map(move |r| {
                r.map_err(|e| DockerError::Failed {
                    host: host.clone(),
                    op: op.clone(),
                    message: e.to_string(),
                })
            })
            .boxed())
    }

    async fn load_image(
        &self,
        image: &str,
        from: &str,
        data: super::ImageStream,
    ) -> Result<(), DockerError> {
        let op = DockerOp::Load {
            image: image.into(),
            from: from.into(),
        };
        let mut s = self.docker.import_image_stream(
            ImportImageOptionsBuilder::default().quiet(true).build(),
            data,
            None,
        );
        while let Some(item) = s.next().await {
            let info = item.map_err(|e| self.error(&op, e))?;
            if let Some(err) = info.error_detail.and_then(|d| d.message) {
                return Err(DockerError::Failed {
                    host: self.host.clone(),
                    op: op.to_string(),
                    message: err,
                });
            }
        }
        Ok(())
    }

    async fn execute(&self, op: &DockerOp) -> Result<OpOutput, DockerError> {
        let d = &self.docker;
        let e = |err| self.error(op, err);
        match op {
            DockerOp::Build(b) => self.build(op, b).await,
            DockerOp::Run(r) => self.run(op, r).await,
            DockerOp::RunOnce(r) => self.run_once(op, r).await,
            DockerOp::Start { container } => {
                d.start_container(container, None).await.map_err(e)?;
                Ok(OpOutput::Done)
            }
            DockerOp::Stop { container, timeout } => {
                let mut o = StopContainerOptionsBuilder::default();
                if let Some(t) = timeout {
                    o = o.t(*t as i32);
                }
                d.stop_container(container, Some(o.build()))
                    .await
                    .map_err(e)?;
                Ok(OpOutput::Done)
            }
            DockerOp::Remove { container } => {
                d.remove_container(container, None).await.map_err(e)?;
                Ok(OpOutput::Done)
            }
            DockerOp::Rename { container, to } => {
                d.rename_container(
                    container,
                    RenameContainerOptionsBuilder::default().name(to).build(),
                )
                .await
                .map_err(e)?;
                Ok(OpOutput::Done)
            }
            DockerOp::ListContainers(f) => self.list(op, f).await,
            DockerOp::Inspect { container } => {
                Ok(OpOutput::State(self.inspect(op, container).await?))
            }
            DockerOp::WaitReady {
                container,
                readiness,
            } => {
                let verdict = health::wait_ready(
                    || self.inspect(op, container),
                    readiness.readiness_delay,
                    readiness.timeout,
                )
                .await?;
                match verdict {
                    Ok(()) => Ok(OpOutput::Done),
                    Err(reason) => Err(DockerError::NotReady {
                        host: self.host.clone(),
                        container: container.clone(),
                        reason,
                        logs: self.logs(container, 20).await,
                    }),
                }
            }
            DockerOp::Logs { container, tail } => {
                Ok(OpOutput::Text(self.logs(container, *tail).await))
            }
            DockerOp::ImageExists { image } => match d.inspect_image(image).await {
                Ok(_) => Ok(OpOutput::Exists(true)),
                Err(BollardError::DockerResponseServerError {
                    status_code: 404, ..
                }) => Ok(OpOutput::Exists(false)),
                Err(err) => Err(e(err)),
            },
            DockerOp::ListImages { labels } => {
                let filters: HashMap<&str, Vec<String>> = HashMap::from([(
                    "label",
                    labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                )]);
                let list = d
                    .list_images(Some(
                        ListImagesOptionsBuilder::default()
                            .filters(&filters)
                            .build(),
                    ))
                    .await
                    .map_err(e)?;
                Ok(OpOutput::Images(
                    list.into_iter()
                        .map(|i| Image {
                            id: i.id,
                            tags: i
                                .repo_tags
                                .into_iter()
                                .filter(|t| t != "<none>:<none>")
                                .collect(),
                            created: i.created,
                        })
                        .collect(),
                ))
            }
            DockerOp::Pull { image, auth } => {
                // `repo@sha256:...` is pulled by its digest, as written.
                let options = match image.split_once('@') {
                    Some(_) => CreateImageOptionsBuilder::default()
                        .from_image(image)
                        .build(),
                    None => {
                        let (repo, tag) = split_reference(image);
                        CreateImageOptionsBuilder::default()
                            .from_image(repo)
                            .tag(tag)
                            .build()
                    }
                };
                let mut s = d.create_image(Some(options), None, auth.as_ref().map(credentials));
                while let Some(item) = s.next().await {
                    let info = item.map_err(e)?;
                    if let Some(status) = info.status {
                        self.say(&status);
                    }
                }
                Ok(OpOutput::Done)
            }
            DockerOp::Push { image, auth } => {
                let (repo, tag) = split_reference(image);
                let mut digest = None;
                let mut s = d.push_image(
                    repo,
                    Some(PushImageOptionsBuilder::default().tag(tag).build()),
                    auth.as_ref().map(credentials),
                );
                while let Some(item) = s.next().await {
                    let info = item.map_err(e)?;
                    if let Some(err) = info.error_detail.and_then(|d| d.message) {
                        return Err(DockerError::Failed {
                            host: self.host.clone(),
                            op: op.to_string(),
                            message: err,
                        });
                    }
                    if let Some(status) = info.status {
                        // `v1: digest: sha256:... size: 528`, as `docker push` prints.
                        if let Some(d) = pushed_digest(&status) {
                            digest = Some(d);
                        }
                        self.say(&status);
                    }
                }
                Ok(digest.map_or(OpOutput::Done, OpOutput::Id))
            }
            DockerOp::Load { .. } => Err(DockerError::Unsupported(
                "an image load needs its source stream: use Docker::load_from".into(),
            )),
            DockerOp::Tag { source, target } => {
                let (repo, tag) = split_reference(target);
                d.tag_image(
                    source,
                    Some(
                        TagImageOptionsBuilder::default()
                            .repo(repo)
                            .tag(tag)
                            .build(),
                    ),
                )
                .await
                .map_err(e)?;
                Ok(OpOutput::Done)
            }
            DockerOp::RemoveNetwork { name } => {
                d.remove_network(name).await.map_err(e)?;
                Ok(OpOutput::Done)
            }
            DockerOp::RemoveVolume { name } => {
                d.remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
                    .await
                    .map_err(e)?;
                Ok(OpOutput::Done)
            }
            DockerOp::RemoveImage { image } => {
                d.remove_image(
                    image,
                    Some(RemoveImageOptionsBuilder::default().build()),
                    None,
                )
                .await
                .map_err(e)?;
                Ok(OpOutput::Done)
            }
            DockerOp::Exec {
                container,
                cmd,
                env,
                limit,
            } => self.exec(op, container, cmd, env, *limit).await,
            DockerOp::CreateNetwork { name } => self.create_network(op, name).await,
            DockerOp::Upload {
                container,
                dir,
                files,
            } => {
                let mut tar = tar::Builder::new(Vec::new());
                // Parent directories first: the engine does not make them.
                let mut dirs = std::collections::BTreeSet::new();
                for (name, _, _) in files {
                    let mut p = std::path::Path::new(name).parent();
                    while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
                        dirs.insert(d.to_path_buf());
                        p = d.parent();
                    }
                }
                for d in &dirs {
                    let mut header = tar::Header::new_gnu();
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_size(0);
                    header.set_mode(0o700);
                    header.set_mtime(0);
                    header.set_cksum();
                    tar.append_data(&mut header, d, std::io::empty())
                        .map_err(|io| DockerError::Failed {
                            host: self.host.clone(),
                            op: op.to_string(),
                            message: io.to_string(),
                        })?;
                }
                for (name, mode, contents) in files {
                    let mut header = tar::Header::new_gnu();
                    header.set_size(contents.expose().len() as u64);
                    header.set_mode(*mode);
                    header.set_mtime(0);
                    header.set_cksum();
                    tar.append_data(&mut header, name, contents.expose().as_bytes())
                        .map_err(|io| DockerError::Failed {
                            host: self.host.clone(),
                            op: op.to_string(),
                            message: io.to_string(),
                        })?;
                }
                let bytes = tar.into_inner().map_err(|io| DockerError::Failed {
                    host: self.host.clone(),
                    op: op.to_string(),
                    message: io.to_string(),
                })?;
                d.upload_to_container(
                    container,
                    Some(
                        bollard::query_parameters::UploadToContainerOptionsBuilder::default()
                            .path(dir)
                            .build(),
                    ),
                    bollard::body_full(bytes.into()),
                )
                .await
                .map_err(e)?;
                Ok(OpOutput::Done)
            }
        }
    }
}

/// The digest in a push's final status line (`v1: digest: sha256:<64 hex> size: N`).
fn pushed_digest(status: &str) -> Option<String> {
    let at = status.find("digest: sha256:")? + "digest: ".len();
    let digest = &status[at..];
    let hex = &digest["sha256:".len()..];
    let len = hex.bytes().take_while(u8::is_ascii_hexdigit).count();
    (len == 64).then(|| digest[..7 + 64].to_string())
}
