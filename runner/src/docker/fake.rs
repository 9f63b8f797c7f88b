//! An [`Engine`] that records every operation and applies it to an in-memory
//! model of a Docker host instead of a real one. Unit tests assert the exact
//! operations a stage or plugin produced; `--dry-run` prints them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::op::{Container, ContainerState, Image};
use super::{CommandOutput, DockerError, DockerOp, Engine, OpOutput};

/// A container in the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeContainer {
    /// Name.
    pub name: String,
    /// Image reference.
    pub image: String,
    /// created / running / exited.
    pub state: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Creation order.
    pub created: i64,
}

/// The shared record of operations, in the order they ran, across hosts.
pub type OpLog = Arc<Mutex<Vec<(String, DockerOp)>>>;

#[derive(Debug, Default)]
struct Model {
    containers: Vec<FakeContainer>,
    images: BTreeSet<String>,
    clock: i64,
}

/// A recording, simulating engine for one host.
pub struct FakeEngine {
    host: String,
    model: Mutex<Model>,
    log: OpLog,
    /// Containers whose name contains one of these never become ready.
    pub never_ready: Mutex<Vec<String>>,
}

impl FakeEngine {
    /// An empty host recording into `log`.
    pub fn new(host: &str, log: OpLog) -> Self {
        FakeEngine {
            host: host.to_string(),
            model: Mutex::new(Model::default()),
            log,
            never_ready: Mutex::new(Vec::new()),
        }
    }

    /// Adds an existing container to the model.
    pub fn seed_container(&self, c: FakeContainer) {
        let mut m = self.model.lock().unwrap();
        m.clock = m.clock.max(c.created);
        m.containers.push(c);
    }

    /// Adds an existing image to the model.
    pub fn seed_image(&self, image: &str) {
        self.model.lock().unwrap().images.insert(image.to_string());
    }

    /// The modelled containers.
    pub fn containers(&self) -> Vec<FakeContainer> {
        self.model.lock().unwrap().containers.clone()
    }

    fn failed(&self, op: &DockerOp, message: &str) -> DockerError {
        DockerError::Failed {
            host: self.host.clone(),
            op: op.to_string(),
            message: message.to_string(),
        }
    }
}

fn matches(c: &FakeContainer, f: &super::ContainerFilter) -> bool {
    (f.all || c.state == "running")
        && f.labels.iter().all(|(k, v)| c.labels.get(k) == Some(v))
        && f.name.as_ref().is_none_or(|n| *n == c.name)
        && (f.status.is_empty() || f.status.contains(&c.state))
}

#[async_trait]
impl Engine for FakeEngine {
    fn host(&self) -> &str {
        &self.host
    }

    async fn save_image(&self, image: &str) -> Result<super::ImageStream, DockerError> {
        if !self.model.lock().unwrap().images.contains(image) {
            return Err(DockerError::NotFound {
                host: self.host.clone(),
                what: format!("image {image}"),
            });
        }
        Ok(Box::pin(futures_util::stream::empty()))
    }

    async fn load_image(
        &self,
        image: &str,
        from: &str,
        _data: super::ImageStream,
    ) -> Result<(), DockerError> {
        self.execute(&DockerOp::Load {
            image: image.into(),
            from: from.into(),
        })
        .await
        .map(|_| ())
    }

    async fn execute(&self, op: &DockerOp) -> Result<OpOutput, DockerError> {
        self.log
            .lock()
            .unwrap()
            .push((self.host.clone(), op.clone()));
        let mut m = self.model.lock().unwrap();
        m.clock += 1;
        let now = m.clock;
        let find = |m: &Model, name: &str| m.containers.iter().position(|c| c.name == name);
        Ok(match op {
            DockerOp::Build(b) => {
                m.images.insert(b.tag.clone());
                OpOutput::Id(format!("sha256:{}", b.tag))
            }
            DockerOp::Run(r) => {
                if find(&m, &r.name).is_some() {
                    return Err(self.failed(op, "Conflict. The container name is already in use"));
                }
                m.containers.push(FakeContainer {
                    name: r.name.clone(),
                    image: r.image.clone(),
                    state: "running".into(),
                    labels: r.labels.clone(),
                    created: now,
                });
                OpOutput::Id(r.name.clone())
            }
            DockerOp::Start { container } => {
                let i = find(&m, container).ok_or_else(|| self.failed(op, "No such container"))?;
                m.containers[i].state = "running".into();
                OpOutput::Done
            }
            DockerOp::Stop { container, .. } => {
                let i = find(&m, container).ok_or_else(|| self.failed(op, "No such container"))?;
                m.containers[i].state = "exited".into();
                OpOutput::Done
            }
            DockerOp::Remove { container } => {
                let i = find(&m, container).ok_or_else(|| self.failed(op, "No such container"))?;
                if m.containers[i].state == "running" {
                    return Err(self.failed(op, "cannot remove a running container"));
                }
                m.containers.remove(i);
                OpOutput::Done
            }
            DockerOp::Rename { container, to } => {
                let i = find(&m, container).ok_or_else(|| self.failed(op, "No such container"))?;
                m.containers[i].name = to.clone();
                OpOutput::Done
            }
            DockerOp::ListContainers(f) => {
                let mut v: Vec<Container> = m
                    .containers
                    .iter()
                    .filter(|c| matches(c, f))
                    .map(|c| Container {
                        id: c.name.clone(),
                        name: c.name.clone(),
                        image: c.image.clone(),
                        state: c.state.clone(),
                        status: c.state.clone(),
                        labels: c.labels.clone(),
                        created: c.created,
                    })
                    .collect();
                v.sort_by_key(|c| std::cmp::Reverse(c.created));
                OpOutput::Containers(v)
            }
            DockerOp::Inspect { container } => OpOutput::State(find(&m, container).map(|i| {
                let c = &m.containers[i];
                ContainerState {
                    id: c.name.clone(),
                    name: c.name.clone(),
                    image: c.image.clone(),
                    state: c.state.clone(),
                    health: None,
                    exit_code: None,
                    restart_count: 0,
                    labels: c.labels.clone(),
                }
            })),
            DockerOp::WaitReady { container, .. } => {
                let bad = self
                    .never_ready
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|n| container.contains(n.as_str()));
                let running =
                    find(&m, container).is_some_and(|i| m.containers[i].state == "running");
                if bad || !running {
                    return Err(DockerError::NotReady {
                        host: self.host.clone(),
                        container: container.clone(),
                        reason: "its health check reports unhealthy".into(),
                        logs: String::new(),
                    });
                }
                OpOutput::Done
            }
            DockerOp::Logs { .. } => OpOutput::Text(String::new()),
            DockerOp::ImageExists { image } => OpOutput::Exists(m.images.contains(image)),
            DockerOp::ListImages { .. } => OpOutput::Images(
                m.images
                    .iter()
                    .map(|t| Image {
                        id: format!("sha256:{t}"),
                        tags: vec![t.clone()],
                        created: 0,
                    })
                    .collect(),
            ),
            DockerOp::Pull { image, .. } | DockerOp::Load { image, .. } => {
                m.images.insert(image.clone());
                OpOutput::Done
            }
            DockerOp::Push { image, .. } => {
                if !m.images.contains(image) {
                    return Err(DockerError::NotFound {
                        host: self.host.clone(),
                        what: format!("image {image}"),
                    });
                }
                OpOutput::Done
            }
            DockerOp::Tag { target, .. } => {
                m.images.insert(target.clone());
                OpOutput::Done
            }
            DockerOp::RemoveImage { image } => {
                m.images.remove(image);
                OpOutput::Done
            }
            DockerOp::Exec { cmd, .. } => {
                // hoist-proxy's `check`/`deploy` fail for never-ready targets.
                let target = cmd
                    .iter()
                    .position(|a| a == "--target")
                    .and_then(|i| cmd.get(i + 1));
                let bad = target.is_some_and(|t| {
                    self.never_ready
                        .lock()
                        .unwrap()
                        .iter()
                        .any(|n| t.contains(n.as_str()))
                });
                OpOutput::Command(if bad {
                    CommandOutput {
                        exit_code: 1,
                        stdout: String::new(),
                        stderr: format!("{} did not answer 2xx (unhealthy)", target.unwrap()),
                    }
                } else {
                    CommandOutput::default()
                })
            }
            DockerOp::CreateNetwork { .. }
            | DockerOp::RemoveNetwork { .. }
            | DockerOp::RemoveVolume { .. }
            | DockerOp::Upload { .. } => OpOutput::Done,
            DockerOp::RunOnce(_) => OpOutput::Command(CommandOutput::default()),
        })
    }
}
