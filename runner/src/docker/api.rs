//! [`Engine`] over the Docker Engine API (bollard): the one place hoist talks
//! to Docker.

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

    /// Connects to an engine through a unix socket at `path` (a server's
    /// socket forwarded over SSH), keeping `keep` alive with the engine.
    pub async fn connect_unix(
        host: &str,
        path: &std::path::Path,
        progress: Option<Progress>,
        keep: Box<dyn std::any::Any + Send + Sync>,
    ) -> Result<Self, DockerError> {
        let docker = bollard::Docker::connect_with_unix(
            &path.display().to_string(),
            600,
            bollard::API_DEFAULT_VERSION,
        )
        .map_err(|e| DockerError::Unreachable {
            host: host.to_string(),
            detail: e.to_string(),
        })?;
        let endpoint = format!("unix://{}", path.display());
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

    async fn build(&self, op: &DockerOp, b: &BuildSpec) -> Result<OpOutput, DockerError> {
        let (ctx, dockerfile) = (b.context.clone(), b.dockerfile.clone());
        let (tar, dockerfile_in_tar) =
            tokio::task::spawn_blocking(move || context::tar_context(&ctx, &dockerfile))
                .await
                .map_err(|e| DockerError::Context {
                    path: b.context.display().to_string(),
                    source: std::io::Error::other(e),
                })?
                .map_err(|source| DockerError::Context {
                    path: b.context.display().to_string(),
                    source,
                })?;
        let labels: HashMap<&str, &str> = b
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let args: HashMap<&str, &str> = b
            .args
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut opts = BuildImageOptionsBuilder::default()
            .dockerfile(&dockerfile_in_tar)
            .t(&b.tag)
            .labels(&labels)
            .buildargs(&args)
            .rm(true)
            .forcerm(true);
        if let Some(t) = &b.target {
            opts = opts.target(t);
        }
        let mut stream =
            self.docker
                .build_image(opts.build(), None, Some(bollard::body_full(tar.into())));
        let mut id = None;
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| self.error(op, e))?;
            if let Some(line) = info.stream {
                for l in line.lines().filter(|l| !l.trim().is_empty()) {
                    self.say(l);
                }
            }
            if let Some(aux) = info.aux {
                id = aux.id.or(id);
            }
        }
        Ok(OpOutput::Id(id.unwrap_or_else(|| b.tag.clone())))
    }

    async fn run(&self, op: &DockerOp, r: &RunSpec) -> Result<OpOutput, DockerError> {
        let id = self.create(op, r).await?;
        if let Err(e) = self.docker.start_container(&id, None).await {
            // Leave nothing half-made behind.
            self.force_remove(&id).await;
            return Err(self.error(op, e));
        }
        Ok(OpOutput::Id(id))
    }

    async fn force_remove(&self, id: &str) {
        let _ = self
            .docker
            .remove_container(
                id,
                Some(RemoveContainerOptionsBuilder::default().force(true).build()),
            )
            .await;
    }

    /// Ids of the networks called exactly `name`, in id order.
    async fn networks_named(&self, op: &DockerOp, name: &str) -> Result<Vec<String>, DockerError> {
        let filters = HashMap::from([("name".to_string(), vec![name.to_string()])]);
        let list = self
            .docker
            .list_networks(Some(bollard::query_parameters::ListNetworksOptions {
                filters: Some(filters),
            }))
            .await
            .map_err(|e| self.error(op, e))?;
        let mut ids: Vec<String> = list
            .into_iter()
            .filter(|n| n.name.as_deref() == Some(name))
            .filter_map(|n| n.id)
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Creates `name` unless it exists. The engine does not refuse a second
    /// network of the same name, so two deploys racing on a fresh host could
    /// make two; both then keep the lowest id and remove the others.
    async fn create_network(&self, op: &DockerOp, name: &str) -> Result<OpOutput, DockerError> {
        if !self.networks_named(op, name).await?.is_empty() {
            return Ok(OpOutput::Done);
        }
        match self
            .docker
            .create_network(bollard::models::NetworkCreateRequest {
                name: name.to_string(),
                ..Default::default()
            })
            .await
        {
            Ok(_)
            | Err(BollardError::DockerResponseServerError {
                status_code: 409, ..
            }) => {}
            Err(err) => return Err(self.error(op, err)),
        }
        let ids = self.networks_named(op, name).await?;
        for extra in ids.iter().skip(1) {
            let _ = self.docker.remove_network(extra).await;
        }
        Ok(OpOutput::Done)
    }

    /// `docker run --rm` attached: create, start, wait, read the output, remove.
    async fn run_once(&self, op: &DockerOp, r: &RunSpec) -> Result<OpOutput, DockerError> {
        let id = self.create(op, r).await?;
        let result = async {
            self.docker
                .start_container(&id, None)
                .await
                .map_err(|e| self.error(op, e))?;
            let mut waits = self
                .docker
                .wait_container(&id, None::<bollard::query_parameters::WaitContainerOptions>);
            let mut exit_code = 0i64;
            while let Some(w) = waits.next().await {
                match w {
                    Ok(w) => exit_code = w.status_code,
                    // A non-zero exit comes back as an error carrying the code.
                    Err(BollardError::DockerContainerWaitError { code, .. }) => exit_code = code,
                    Err(e) => return Err(self.error(op, e)),
                }
            }
            let mut out = CommandOutput {
                exit_code: exit_code as i32,
                ..Default::default()
            };
            let opts = LogsOptionsBuilder::default()
                .stdout(true)
                .stderr(true)
                .build();
            let mut s = self.docker.logs(&id, Some(opts));
            while let Some(Ok(chunk)) = s.next().await {
                capture(&mut out, chunk);
            }
            Ok(OpOutput::Command(out))
        }
        .await;
        self.force_remove(&id).await;
        result
    }

    async fn create(&self, op: &DockerOp, r: &RunSpec) -> Result<String, DockerError> {
        let mut env: Vec<String> = r.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        env.extend(
            r.secret_env
                .iter()
                .map(|(k, v)| format!("{k}={}", v.expose())),
        );
        let mut host = HostConfig {
            binds: (!r.volumes.is_empty()).then(|| r.volumes.clone()),
            restart_policy: r.restart.as_deref().map(restart_policy).transpose()?,
            network_mode: r.network.clone(),
            log_config: Some(HostConfigLogConfig {
                typ: Some(r.log_driver.clone().unwrap_or_else(|| "json-file".into())),
                config: Some(if r.log_opts.is_empty() && r.log_driver.is_none() {
                    HashMap::from([("max-size".to_string(), "10m".to_string())])
                } else {
                    r.log_opts.clone().into_iter().collect()
                }),
            }),
            ..Default::default()
        };
        let mut body = ContainerCreateBody {
            image: Some(r.image.clone()),
            cmd: (!r.cmd.is_empty()).then(|| r.cmd.clone()),
            env: Some(env),
            labels: Some(r.labels.clone().into_iter().collect()),
            hostname: r.hostname.clone(),
            healthcheck: r.health_cmd.as_ref().map(|cmd| HealthConfig {
                test: Some(vec!["CMD-SHELL".into(), cmd.clone()]),
                interval: r.health_interval.map(|d| d.as_nanos() as i64),
                ..Default::default()
            }),
            ..Default::default()
        };
        for (flag, value) in &r.options {
            options::apply(flag, value.as_deref(), &mut body, &mut host)?;
        }
        body.host_config = Some(host);
        let created = self
            .docker
            .create_container(
                Some(
                    CreateContainerOptionsBuilder::default()
                        .name(&r.name)
                        .build(),
                ),
                body,
            )
            .await
            .map_err(|e| self.error(op, e))?;
        Ok(created.id)
    }

    async fn inspect(
        &self,
        op: &DockerOp,
        name: &str,
    ) -> Result<Option<ContainerState>, DockerError> {
        let c = match self.docker.inspect_container(name, None).await {
            Ok(c) => c,
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => return Ok(None),
            Err(e) => return Err(self.error(op, e)),
        };
        let state = c.state.unwrap_or_default();
        let config = c.config.unwrap_or_default();
        Ok(Some(ContainerState {
            id: c.id.unwrap_or_default(),
            name: c
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            image: config.image.unwrap_or_default(),
            state: state.status.map(|s| s.to_string()).unwrap_or_default(),
            health: state.health.and_then(|h| h.status).and_then(|s| match s {
                HealthStatusEnum::EMPTY | HealthStatusEnum::NONE => None,
                other => Some(other.to_string()),
            }),
            exit_code: state.exit_code.filter(|_| state.running != Some(true)),
            restart_count: c.restart_count.unwrap_or(0),
            labels: config.labels.unwrap_or_default().into_iter().collect(),
        }))
    }

    async fn list(&self, op: &DockerOp, f: &ContainerFilter) -> Result<OpOutput, DockerError> {
        let mut filters: HashMap<&str, Vec<String>> = HashMap::new();
        if !f.labels.is_empty() {
            filters.insert(
                "label",
                f.labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            );
        }
        if let Some(n) = &f.name {
            filters.insert("name", vec![format!("^/?{n}$")]);
        }
        if !f.status.is_empty() {
            filters.insert("status", f.status.clone());
        }
        let list = self
            .docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(f.all)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(|e| self.error(op, e))?;
        let mut out: Vec<Container> = list
            .into_iter()
            .map(|c| Container {
                id: c.id.unwrap_or_default(),
                name: c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
                image: c.image.unwrap_or_default(),
                state: c.state.map(|s| s.to_string()).unwrap_or_default(),
                status: c.status.unwrap_or_default(),
                labels: c.labels.unwrap_or_default().into_iter().collect(),
                created: c.created.unwrap_or_default(),
            })
            .collect();
        out.sort_by(|a, b| b.created.cmp(&a.created).then(a.name.cmp(&b.name)));
        Ok(OpOutput::Containers(out))
    }

    async fn logs(&self, name: &str, tail: u32) -> String {
        let opts = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&tail.to_string())
            .build();
        let mut s = self.docker.logs(name, Some(opts));
        let mut text = String::new();
        while let Some(Ok(chunk)) = s.next().await {
            if text.len() < OUTPUT_CAP {
                text.push_str(&String::from_utf8_lossy(chunk.as_ref()));
            }
        }
        text
    }

    async fn exec(
        &self,
        op: &DockerOp,
        container: &str,
        cmd: &[String],
        env: &[(String, String)],
    ) -> Result<OpOutput, DockerError> {
        let exec = self
            .docker
            .create_exec(
                container,
                ExecConfig {
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(cmd.to_vec()),
                    env: (!env.is_empty())
                        .then(|| env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| self.error(op, e))?;
        let mut out = CommandOutput::default();
        if let StartExecResults::Attached { mut output, .. } = self
            .docker
            .start_exec(&exec.id, None)
            .await
            .map_err(|e| self.error(op, e))?
        {
            while let Some(msg) = output.next().await {
                capture(&mut out, msg.map_err(|e| self.error(op, e))?);
            }
        }
        let info = self
            .docker
            .inspect_exec(&exec.id)
            .await
            .map_err(|e| self.error(op, e))?;
        out.exit_code = info.exit_code.unwrap_or(-1) as i32;
        Ok(OpOutput::Command(out))
    }
}

/// Adds one chunk of a container's output to `out` (stderr or stdout),
/// each capped at `OUTPUT_CAP`.
fn capture(out: &mut CommandOutput, chunk: bollard::container::LogOutput) {
    let (text, bytes) = match &chunk {
        bollard::container::LogOutput::StdErr { message } => (&mut out.stderr, message.as_ref()),
        other => (&mut out.stdout, other.as_ref()),
    };
    if text.len() < OUTPUT_CAP {
        text.push_str(&String::from_utf8_lossy(bytes));
    }
}

/// `--since`: a duration ago (`90s`, `10m`, `2h`) or a Unix time, as the
/// Unix time the Engine API wants.
fn since_seconds(text: &str) -> Option<i32> {
    if let Ok(t) = text.parse::<i64>() {
        return i32::try_from(t).ok();
    }
    let ago = humantime::parse_duration(text).ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    i32::try_from(now.checked_sub(ago)?.as_secs()).ok()
}

/// Splits `repo[:tag]` (a registry port's colon is not a tag separator).
pub fn split_reference(image: &str) -> (&str, &str) {
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(i) => (&image[..slash + i], &image[slash + i + 1..]),
        None => (image, "latest"),
    }
}

fn restart_policy(text: &str) -> Result<RestartPolicy, DockerError> {
    let (name, count) = text.split_once(':').unwrap_or((text, ""));
    let name = match name {
        "no" => RestartPolicyNameEnum::NO,
        "always" => RestartPolicyNameEnum::ALWAYS,
        "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        other => {
            return Err(DockerError::Unsupported(format!(
                "restart policy `{other}`: use no, always, unless-stopped or on-failure[:N]"
            )));
        }
    };
    Ok(RestartPolicy {
        name: Some(name),
        maximum_retry_count: count.parse().ok(),
    })
}

fn credentials(a: &RegistryAuth) -> DockerCredentials {
    DockerCredentials {
        username: Some(a.username.clone()),
        password: Some(a.password.expose().to_string()),
        serveraddress: Some(a.server.clone()),
        ..Default::default()
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
                let (repo, tag) = split_reference(image);
                let mut s = d.create_image(
                    Some(
                        CreateImageOptionsBuilder::default()
                            .from_image(repo)
                            .tag(tag)
                            .build(),
                    ),
                    None,
                    auth.as_ref().map(credentials),
                );
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
                        self.say(&status);
                    }
                }
                Ok(OpOutput::Done)
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
            } => self.exec(op, container, cmd, env).await,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(split_reference("hello:v1"), ("hello", "v1"));
        assert_eq!(split_reference("hello"), ("hello", "latest"));
        assert_eq!(
            split_reference("localhost:5555/app:abc"),
            ("localhost:5555/app", "abc")
        );
        assert_eq!(
            split_reference("localhost:5555/app"),
            ("localhost:5555/app", "latest")
        );
    }

    #[test]
    fn restart_policies() {
        assert_eq!(
            restart_policy("on-failure:3").unwrap().maximum_retry_count,
            Some(3)
        );
        assert!(restart_policy("sometimes").is_err());
    }
}
