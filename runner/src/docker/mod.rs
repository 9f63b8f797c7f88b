//! Docker on a host: operations as values ([`op`]), Kamal naming
//! ([`naming`]), and the executors that run them ([`Engine`]).
//!
//! [`api::ApiEngine`] talks to a Docker Engine API socket through bollard (the
//! local engine; over SSH a forwarded socket). [`fake::FakeEngine`] records
//! operations against an in-memory model for unit tests and `--dry-run`.
//! [`cli`] runs the docker CLI for the one thing only it does: attaching a
//! terminal (`hoist app exec -i`).

pub mod api;
pub mod cli;
pub mod context;
pub mod fake;
pub mod health;
pub mod naming;
pub mod op;
pub mod options;

use std::sync::Arc;

use async_trait::async_trait;

use crate::events::{Event, Kind, Level, Reporter};

pub use op::{
    BuildSpec, CommandOutput, Container, ContainerFilter, ContainerState, DockerOp, Image,
    LogQuery, OpOutput, Readiness, RegistryAuth, RunSpec, Secret,
};

/// An image as a tar stream (`docker save` output).
pub type ImageStream = futures_util::stream::BoxStream<'static, Result<bytes::Bytes, DockerError>>;

/// Why a Docker operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// The engine could not be reached at all.
    #[error("cannot reach the Docker engine on `{host}`: {detail}")]
    Unreachable { host: String, detail: String },
    /// The container or image does not exist.
    #[error("{what} not found on `{host}`")]
    NotFound { host: String, what: String },
    /// Docker refused the operation.
    #[error("`{op}` failed on `{host}`: {message}")]
    Failed {
        host: String,
        op: String,
        message: String,
    },
    /// A config option this target cannot apply.
    #[error("{0}")]
    Unsupported(String),
    /// A new container did not become ready.
    #[error("{container} on `{host}` is not ready: {reason}{}", logs_suffix(.logs))]
    NotReady {
        host: String,
        container: String,
        reason: String,
        logs: String,
    },
    /// An exec'd command ran past its limit and was given up; its process
    /// (`pid` on the engine's host, when the engine said) still runs.
    #[error("`{op}` on `{host}` ran past its time limit")]
    ExecTimedOut {
        host: String,
        op: String,
        pid: Option<i64>,
    },
    /// Reading the build context failed.
    #[error("cannot read the build context {path}: {source}")]
    Context {
        path: String,
        source: std::io::Error,
    },
}

/// "\n  last output:\n    ..." for a container's output ("" when empty):
/// how hoist shows a failed container's last lines.
pub(crate) fn logs_suffix(logs: &str) -> String {
    if logs.trim().is_empty() {
        String::new()
    } else {
        format!(
            "\n  last output:\n    {}",
            logs.trim_end().replace('\n', "\n    ")
        )
    }
}

/// Log lines as they come (`docker logs`).
pub type LogStream = futures_util::stream::BoxStream<'static, Result<String, DockerError>>;

/// Runs [`DockerOp`]s on one host.
#[async_trait]
pub trait Engine: Send + Sync {
    /// The host this engine works on.
    fn host(&self) -> &str;
    /// Executes one operation.
    async fn execute(&self, op: &DockerOp) -> Result<OpOutput, DockerError>;
    /// Streams an image out (`docker save`).
    async fn save_image(&self, image: &str) -> Result<ImageStream, DockerError>;
    /// Loads `image`, coming from host `from`, from a stream (`docker load`).
    async fn load_image(
        &self,
        image: &str,
        from: &str,
        data: ImageStream,
    ) -> Result<(), DockerError>;
    /// Where the `docker` CLI reaches this engine (a `DOCKER_HOST` value),
    /// for the one thing only the CLI does: attach a terminal. `None` for
    /// engines without one (fakes).
    fn cli_endpoint(&self) -> Option<String> {
        None
    }
    /// A container's log (`docker logs`), line by line; with `follow` it
    /// ends when the container stops.
    async fn log_stream(
        &self,
        _container: &str,
        _query: &LogQuery,
    ) -> Result<LogStream, DockerError> {
        Ok(Box::pin(futures_util::stream::empty()))
    }
}

/// Sink for progress lines (build output, pulls): `(host, line)`.
pub type Progress = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// A host's Docker with typed helpers over [`Engine::execute`]. Every
/// operation goes through `execute` (streams of images and logs through the
/// engine's stream methods), so recording and dry runs see all of them.
#[derive(Clone)]
pub struct Docker {
    engine: Arc<dyn Engine>,
    events: Option<(Reporter, Level)>,
}

impl Docker {
    /// Wraps an engine.
    pub fn new(engine: Arc<dyn Engine>) -> Self {
        Docker {
            engine,
            events: None,
        }
    }

    /// Reports every operation that changes something (and waits) as an
    /// `op` event at `level`.
    pub fn with_events(mut self, events: Reporter, level: Level) -> Self {
        self.events = Some((events, level));
        self
    }

    /// The host name.
    pub fn host(&self) -> &str {
        self.engine.host()
    }

    /// Where the `docker` CLI reaches this engine ([`Engine::cli_endpoint`]).
    pub fn cli_endpoint(&self) -> Option<String> {
        self.engine.cli_endpoint()
    }

    /// Executes a raw operation.
    pub async fn execute(&self, op: &DockerOp) -> Result<OpOutput, DockerError> {
        self.report(op);
        self.engine.execute(op).await
    }

    /// Reports `op` as an `op` event when it changes something (or waits).
    fn report(&self, op: &DockerOp) {
        if let Some((events, level)) = &self.events
            && (op.mutates() || matches!(op, DockerOp::WaitReady { .. }))
        {
            events.emit(
                Event::new(Kind::Op, None)
                    .host(self.host())
                    .level(*level)
                    .message(op.to_string()),
            );
        }
    }

    fn unexpected(&self, op: &DockerOp, out: OpOutput) -> DockerError {
        DockerError::Failed {
            host: self.host().to_string(),
            op: op.to_string(),
            message: format!("unexpected engine answer {out:?}"),
        }
    }

    /// Runs `op`, expecting nothing back.
    pub async fn done(&self, op: DockerOp) -> Result<(), DockerError> {
        self.execute(&op).await.map(|_| ())
    }

    /// Lists containers.
    pub async fn containers(&self, filter: ContainerFilter) -> Result<Vec<Container>, DockerError> {
        let op = DockerOp::ListContainers(filter);
        match self.execute(&op).await? {
            OpOutput::Containers(c) => Ok(c),
            other => Err(self.unexpected(&op, other)),
        }
    }

    /// Inspects a container; `None` when it does not exist.
    pub async fn inspect(&self, container: &str) -> Result<Option<ContainerState>, DockerError> {
        let op = DockerOp::Inspect {
            container: container.into(),
        };
        match self.execute(&op).await? {
            OpOutput::State(s) => Ok(s),
            other => Err(self.unexpected(&op, other)),
        }
    }

    /// Creates and starts a container; returns its id.
    pub async fn run(&self, spec: RunSpec) -> Result<String, DockerError> {
        let op = DockerOp::Run(Box::new(spec));
        match self.execute(&op).await? {
            OpOutput::Id(id) => Ok(id),
            other => Err(self.unexpected(&op, other)),
        }
    }

    /// Pushes `image`; its digest in the registry, when the engine says.
    pub async fn push(
        &self,
        image: &str,
        auth: Option<RegistryAuth>,
    ) -> Result<Option<String>, DockerError> {
        let op = DockerOp::Push {
            image: image.into(),
            auth,
        };
        match self.execute(&op).await? {
            OpOutput::Id(digest) => Ok(Some(digest)),
            OpOutput::Done => Ok(None),
            other => Err(self.unexpected(&op, other)),
        }
    }

    /// True when the image exists on the host.
    pub async fn image_exists(&self, image: &str) -> Result<bool, DockerError> {
        let op = DockerOp::ImageExists {
            image: image.into(),
        };
        match self.execute(&op).await? {
            OpOutput::Exists(b) => Ok(b),
            other => Err(self.unexpected(&op, other)),
        }
    }

    /// Lists images carrying all of `labels`.
    pub async fn images(&self, labels: Vec<(String, String)>) -> Result<Vec<Image>, DockerError> {
        let op = DockerOp::ListImages { labels };
        match self.execute(&op).await? {
            OpOutput::Images(i) => Ok(i),
            other => Err(self.unexpected(&op, other)),
        }
    }

    /// The last `tail` lines of a container's output ("" when unavailable).
    pub async fn logs(&self, container: &str, tail: u32) -> String {
        let op = DockerOp::Logs {
            container: container.into(),
            tail,
        };
        match self.execute(&op).await {
            Ok(OpOutput::Text(t)) => t,
            _ => String::new(),
        }
    }

    /// Runs a command in a container.
    pub async fn exec(
        &self,
        container: &str,
        cmd: Vec<String>,
        env: Vec<(String, String)>,
    ) -> Result<CommandOutput, DockerError> {
        let op = DockerOp::Exec {
            container: container.into(),
            cmd,
            env,
            limit: None,
        };
        match self.execute(&op).await? {
            OpOutput::Command(c) => Ok(c),
            other => Err(self.unexpected(&op, other)),
        }
    }

    /// Copies `image` from `source`'s engine into this one, streaming it
    /// (nothing is written to disk on either side); `progress` gets the
    /// bytes sent so far. Returns the total bytes.
    pub async fn load_from(
        &self,
        source: &Docker,
        image: &str,
        mut progress: impl FnMut(u64) + Send + 'static,
    ) -> Result<u64, DockerError> {
        use futures_util::StreamExt;
        self.report(&DockerOp::Load {
            image: image.into(),
            from: source.host().into(),
        });
        let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = sent.clone();
        let data = source
            .engine
            .save_image(image)
            .await?
            .inspect(move |chunk| {
                if let Ok(c) = chunk {
                    let n = counter.fetch_add(c.len() as u64, std::sync::atomic::Ordering::Relaxed)
                        + c.len() as u64;
                    progress(n);
                }
            })
            .boxed();
        self.engine.load_image(image, source.host(), data).await?;
        Ok(sent.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Stops `container` (a stop failure, e.g. not running, is ignored) and
    /// removes it; the removal's outcome.
    pub async fn stop_and_remove(&self, container: &str, timeout: u32) -> Result<(), DockerError> {
        let _ = self
            .done(DockerOp::Stop {
                container: container.into(),
                timeout: Some(timeout),
            })
            .await;
        self.done(DockerOp::Remove {
            container: container.into(),
        })
        .await
    }

    /// A container's log lines.
    pub async fn log_stream(
        &self,
        container: &str,
        query: &LogQuery,
    ) -> Result<LogStream, DockerError> {
        self.engine.log_stream(container, query).await
    }

    /// Runs a container to completion and removes it; its output.
    pub async fn run_once(&self, spec: RunSpec) -> Result<CommandOutput, DockerError> {
        let op = DockerOp::RunOnce(Box::new(spec));
        match self.execute(&op).await? {
            OpOutput::Command(c) => Ok(c),
            other => Err(self.unexpected(&op, other)),
        }
    }

    /// Builds an image; returns its id.
    pub async fn build(&self, spec: BuildSpec) -> Result<String, DockerError> {
        let op = DockerOp::Build(spec);
        match self.execute(&op).await? {
            OpOutput::Id(id) => Ok(id),
            other => Err(self.unexpected(&op, other)),
        }
    }
}
