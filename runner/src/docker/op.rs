//! Docker operations as plain values.
//!
//! Every Docker call hoist makes, built-in stage or plugin, is first built as a
//! [`DockerOp`] by pure functions and then handed to one [`super::Engine`] per
//! host, which executes it. The same value prints as the equivalent `docker`
//! command line (`--dry-run`, `-v`, unit tests) and never shows a secret value.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::secrets::Secret;

/// Credentials for a registry; the password never reaches a command line.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryAuth {
    /// Registry server (`registry.example.com:5000`).
    pub server: String,
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: Secret,
}

/// A container to create and start (detached).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunSpec {
    /// Container name.
    pub name: String,
    /// Image reference.
    pub image: String,
    /// Command override; empty keeps the image's.
    pub cmd: Vec<String>,
    /// Clear environment variables.
    pub env: BTreeMap<String, String>,
    /// Secret environment variables: sent to Docker in the API body (for
    /// servers too, through their forwarded socket), never on a command line.
    pub secret_env: BTreeMap<String, Secret>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// `--volume` strings.
    pub volumes: Vec<String>,
    /// Container hostname.
    pub hostname: Option<String>,
    /// Restart policy (`--restart`), Kamal's default `unless-stopped`.
    pub restart: Option<String>,
    /// `--network`.
    pub network: Option<String>,
    /// Health check command (`--health-cmd`, run by the shell in the image).
    pub health_cmd: Option<String>,
    /// Health check interval.
    pub health_interval: Option<Duration>,
    /// Logging driver and options (`--log-driver`, `--log-opt`).
    pub log_driver: Option<String>,
    /// `--log-opt key=value`.
    pub log_opts: BTreeMap<String, String>,
    /// Other `docker run` flags from the role's `options` (`--memory 2g`):
    /// (flag without dashes, value; `None` for a bare flag).
    pub options: Vec<(String, Option<String>)>,
}

/// How `docker run` arguments show secret env.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretArgs {
    /// `--env-file <secrets: A,B>`: names only (dry runs, `-v`).
    Hidden,
    /// `--env A --env B`: the docker CLI takes each value from its own
    /// environment, so values are on no command line.
    Named,
}

impl RunSpec {
    /// The `docker run` arguments after `docker run --detach` (or `--rm`):
    /// flags, image and command.
    pub fn run_args(&self, secrets: SecretArgs) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        let mut push = |s: &str| a.push(s.to_string());
        push("--name");
        push(&self.name);
        if let Some(h) = &self.hostname {
            push("--hostname");
            push(h);
        }
        if let Some(p) = &self.restart {
            push("--restart");
            push(p);
        }
        if let Some(n) = &self.network {
            push("--network");
            push(n);
        }
        for (k, v) in &self.env {
            push("--env");
            push(&format!("{k}={v}"));
        }
        match secrets {
            SecretArgs::Hidden if !self.secret_env.is_empty() => {
                let names: Vec<&str> = self.secret_env.keys().map(String::as_str).collect();
                push("--env-file");
                push(&format!("<secrets: {}>", names.join(",")));
            }
            SecretArgs::Hidden => {}
            SecretArgs::Named => {
                for k in self.secret_env.keys() {
                    push("--env");
                    push(k);
                }
            }
        }
        if let Some(c) = &self.health_cmd {
            push("--health-cmd");
            push(c);
        }
        if let Some(i) = self.health_interval {
            push("--health-interval");
            push(&format!("{}s", i.as_secs()));
        }
        for v in &self.volumes {
            push("--volume");
            push(v);
        }
        if let Some(d) = &self.log_driver {
            push("--log-driver");
            push(d);
        }
        for (k, v) in &self.log_opts {
            push("--log-opt");
            push(&format!("{k}={v}"));
        }
        for (k, v) in &self.labels {
            push("--label");
            push(&format!("{k}={v}"));
        }
        for (k, v) in &self.options {
            push(&format!("--{k}"));
            if let Some(v) = v {
                push(v);
            }
        }
        push(&self.image);
        for c in &self.cmd {
            push(c);
        }
        a
    }
}

/// What to build and how to tag it.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildSpec {
    /// Build context directory.
    pub context: PathBuf,
    /// Dockerfile path (absolute or relative to the context).
    pub dockerfile: PathBuf,
    /// Tag given to the result (`<repository>:<version>`).
    pub tag: String,
    /// `--build-arg` values.
    pub args: BTreeMap<String, String>,
    /// Image labels (`service=<service>`, as Kamal).
    pub labels: BTreeMap<String, String>,
    /// `--target` stage.
    pub target: Option<String>,
}

/// How a new container becomes ready (Kamal's rule for roles without a
/// proxy): Docker-healthy when it has a health check, else still running after
/// `readiness_delay`; all within `timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// How long a container without a health check must stay running.
    pub readiness_delay: Duration,
    /// Give up after this long.
    pub timeout: Duration,
}

/// Which log lines to read (`docker logs`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogQuery {
    /// Last lines (`--tail`); `None` for all.
    pub tail: Option<u32>,
    /// `--since` (a duration like `10m` or a timestamp).
    pub since: Option<String>,
    /// `--timestamps`.
    pub timestamps: bool,
    /// `--follow`.
    pub follow: bool,
}

/// Which containers to list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerFilter {
    /// Include stopped containers.
    pub all: bool,
    /// Label (key, value) pairs that must all match.
    pub labels: Vec<(String, String)>,
    /// Exact container name.
    pub name: Option<String>,
    /// Only these states (created, exited, dead, ...).
    pub status: Vec<String>,
}

/// One Docker operation on one host.
#[derive(Debug, Clone, PartialEq)]
pub enum DockerOp {
    /// Build an image from a context (on the runner's engine).
    Build(BuildSpec),
    /// Create and start a detached container; yields its id.
    Run(Box<RunSpec>),
    /// Start a stopped container.
    Start { container: String },
    /// Stop a container (`-t` seconds before SIGKILL).
    Stop {
        container: String,
        timeout: Option<u32>,
    },
    /// Remove a stopped container.
    Remove { container: String },
    /// Rename a container.
    Rename { container: String, to: String },
    /// List containers; yields [`Container`]s.
    ListContainers(ContainerFilter),
    /// Inspect a container; yields `Option<ContainerState>` (none when absent).
    Inspect { container: String },
    /// Wait until a container is ready or fails ([`Readiness`]).
    WaitReady {
        container: String,
        readiness: Readiness,
    },
    /// The last lines of a container's output.
    Logs { container: String, tail: u32 },
    /// Whether an image exists; yields a bool.
    ImageExists { image: String },
    /// List images with all of these labels; yields [`Image`]s.
    ListImages { labels: Vec<(String, String)> },
    /// Pull an image (with the registry's credentials, when it has some).
    Pull {
        image: String,
        auth: Option<RegistryAuth>,
    },
    /// Push an image to its registry.
    Push {
        image: String,
        auth: Option<RegistryAuth>,
    },
    /// Load an image streamed from another host's engine (`docker save | docker load`).
    Load { image: String, from: String },
    /// Tag `source` as `target`.
    Tag { source: String, target: String },
    /// Remove an image by reference or id.
    RemoveImage { image: String },
    /// Run a command in a running container; yields its output.
    Exec {
        container: String,
        cmd: Vec<String>,
        /// Extra environment for the command (`docker exec -e`).
        env: Vec<(String, String)>,
        /// Give up on the command after this long, and report its process
        /// (the engine API cannot end it; the caller kills it on the host).
        limit: Option<std::time::Duration>,
    },
    /// Run a container to completion and remove it (`docker run --rm`,
    /// attached); yields its exit status and output.
    RunOnce(Box<RunSpec>),
    /// Create a network unless it exists (`docker network create`).
    CreateNetwork { name: String },
    /// Remove a network (`docker network rm`); the engine refuses while a
    /// container uses it.
    RemoveNetwork { name: String },
    /// Remove a volume (`docker volume rm`); the engine refuses while a
    /// container uses it.
    RemoveVolume { name: String },
    /// Write files into a container's filesystem (`docker cp`); contents are
    /// never printed.
    Upload {
        container: String,
        dir: String,
        files: Vec<(String, u32, Secret)>,
    },
}

impl DockerOp {
    /// True for operations that change something: each is reported as an
    /// `op` event (shown by `--dry-run` and `-v`). Creating the shared
    /// network converges on one that exists and is not reported.
    pub fn mutates(&self) -> bool {
        !matches!(
            self,
            DockerOp::ListContainers(_)
                | DockerOp::Inspect { .. }
                | DockerOp::Logs { .. }
                | DockerOp::ImageExists { .. }
                | DockerOp::ListImages { .. }
                | DockerOp::WaitReady { .. }
                | DockerOp::CreateNetwork { .. }
        )
    }

    /// The equivalent `docker` command line, as printed by `--dry-run`.
    /// Secret values are shown as their names only.
    pub fn argv(&self) -> Vec<String> {
        let mut a: Vec<String> = vec!["docker".into()];
        let mut push = |s: &str| a.push(s.to_string());
        match self {
            DockerOp::Build(b) => {
                for s in ["build", "--tag", &b.tag, "--file"] {
                    push(s);
                }
                push(&b.dockerfile.display().to_string());
                for (k, v) in &b.labels {
                    push("--label");
                    push(&format!("{k}={v}"));
                }
                // Build args may carry tokens: printed redacted, as Kamal does.
                for k in b.args.keys() {
                    push("--build-arg");
                    push(&format!("{k}=[REDACTED]"));
                }
                if let Some(t) = &b.target {
                    push("--target");
                    push(t);
                }
                push(&b.context.display().to_string());
            }
            DockerOp::Run(r) => {
                push("run");
                push("--detach");
                a.extend(r.run_args(SecretArgs::Hidden));
            }
            DockerOp::RunOnce(r) => {
                push("run");
                push("--rm");
                a.extend(r.run_args(SecretArgs::Hidden));
            }
            DockerOp::Start { container } => {
                push("start");
                push(container);
            }
            DockerOp::Stop { container, timeout } => {
                push("stop");
                if let Some(t) = timeout {
                    push("-t");
                    push(&t.to_string());
                }
                push(container);
            }
            DockerOp::Remove { container } => {
                push("rm");
                push(container);
            }
            DockerOp::Rename { container, to } => {
                for s in ["rename", container, to] {
                    push(s);
                }
            }
            DockerOp::ListContainers(f) => {
                push("ps");
                push("--quiet");
                if f.all {
                    push("--all");
                }
                for (k, v) in &f.labels {
                    push("--filter");
                    push(&format!("label={k}={v}"));
                }
                if let Some(n) = &f.name {
                    push("--filter");
                    push(&format!("name=^{n}$"));
                }
                for s in &f.status {
                    push("--filter");
                    push(&format!("status={s}"));
                }
            }
            DockerOp::Inspect { container } => {
                push("inspect");
                push(container);
            }
            DockerOp::WaitReady {
                container,
                readiness,
            } => {
                // Not a docker command: hoist polls `docker inspect`.
                push("inspect");
                push("--format");
                push("{{.State.Status}} {{.State.Health.Status}}");
                push(container);
                push(&format!(
                    "# until healthy, or running for {}s; timeout {}s",
                    readiness.readiness_delay.as_secs(),
                    readiness.timeout.as_secs()
                ));
            }
            DockerOp::Logs { container, tail } => {
                for s in ["logs", "--tail", &tail.to_string(), container] {
                    push(s);
                }
            }
            DockerOp::ImageExists { image } => {
                for s in ["image", "inspect", "--format", "{{.Id}}", image] {
                    push(s);
                }
            }
            DockerOp::ListImages { labels } => {
                push("image");
                push("ls");
                for (k, v) in labels {
                    push("--filter");
                    push(&format!("label={k}={v}"));
                }
            }
            DockerOp::Pull { image, .. } => {
                push("pull");
                push(image);
            }
            DockerOp::Push { image, .. } => {
                push("push");
                push(image);
            }
            DockerOp::Load { image, from } => {
                // Printed as the shell pipeline it stands for.
                a = vec![
                    "docker".into(),
                    "save".into(),
                    image.clone(),
                    "|".into(),
                    format!("(on {from} -> this host)"),
                    "docker".into(),
                    "load".into(),
                ];
            }
            DockerOp::Tag { source, target } => {
                for s in ["tag", source, target] {
                    push(s);
                }
            }
            DockerOp::RemoveImage { image } => {
                push("image");
                push("rm");
                push(image);
            }
            DockerOp::Exec {
                container,
                cmd,
                env,
                ..
            } => {
                push("exec");
                for (k, v) in env {
                    push("--env");
                    push(&format!("{k}={v}"));
                }
                push(container);
                for c in cmd {
                    push(c);
                }
            }
            DockerOp::CreateNetwork { name } => {
                for s in ["network", "create", name] {
                    push(s);
                }
            }
            DockerOp::RemoveNetwork { name } => {
                for s in ["network", "rm", name] {
                    push(s);
                }
            }
            DockerOp::RemoveVolume { name } => {
                for s in ["volume", "rm", name] {
                    push(s);
                }
            }
            DockerOp::Upload {
                container,
                dir,
                files,
            } => {
                let names: Vec<&str> = files.iter().map(|(n, _, _)| n.as_str()).collect();
                push("cp");
                push(&format!("<{}>", names.join(",")));
                push(&format!("{container}:{dir}"));
            }
        }
        a
    }
}

impl fmt::Display for DockerOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<String> = self.argv().iter().map(|w| shell_quote(w)).collect();
        f.write_str(&words.join(" "))
    }
}

/// Quotes a word for display when it holds shell-special characters.
pub fn shell_quote(w: &str) -> String {
    let plain = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+^$".contains(c));
    // Placeholders and comments hoist adds are shown as they are.
    if plain || w.starts_with("<secrets: ") || w.starts_with("# ") {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

/// A container as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// Container id.
    pub id: String,
    /// Name without the leading slash.
    pub name: String,
    /// Image reference it was created from.
    pub image: String,
    /// Docker state: created, running, exited...
    pub state: String,
    /// Human status ("Up 3 minutes").
    pub status: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Creation time, seconds since the epoch.
    pub created: i64,
}

/// A container's current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    /// Container id.
    pub id: String,
    /// Name without the leading slash.
    pub name: String,
    /// Image reference it was created from.
    pub image: String,
    /// Docker state: created, running, exited...
    pub state: String,
    /// Health status when the container has a health check.
    pub health: Option<String>,
    /// Exit code when it has exited.
    pub exit_code: Option<i64>,
    /// How many times Docker restarted it (a restart policy hides crashes).
    pub restart_count: i64,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// An image as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Image id.
    pub id: String,
    /// Its `repo:tag` references.
    pub tags: Vec<String>,
    /// Creation time, seconds since the epoch.
    pub created: i64,
}

/// Output of a command.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandOutput {
    /// Exit status.
    pub exit_code: i32,
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard error (lossy UTF-8).
    pub stderr: String,
}

/// What an operation produced.
#[derive(Debug, Clone, PartialEq)]
pub enum OpOutput {
    /// Nothing to report.
    Done,
    /// An id (of the built image or the started container).
    Id(String),
    /// Listed containers.
    Containers(Vec<Container>),
    /// An inspected container, or none when it does not exist.
    State(Option<ContainerState>),
    /// A yes/no answer.
    Exists(bool),
    /// Listed images.
    Images(Vec<Image>),
    /// Text output (logs).
    Text(String),
    /// A command's output.
    Command(CommandOutput),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_prints_like_docker_and_hides_secrets() {
        let op = DockerOp::Run(Box::new(RunSpec {
            name: "hello-web-v1".into(),
            image: "hello:v1".into(),
            env: BTreeMap::from([("MODE".into(), "ok".into())]),
            secret_env: BTreeMap::from([("API_KEY".into(), Secret::new("s3cr3t"))]),
            labels: BTreeMap::from([("service".into(), "hello".into())]),
            restart: Some("unless-stopped".into()),
            options: vec![("memory".into(), Some("64m".into())), ("init".into(), None)],
            cmd: vec!["/hello".into(), "serve".into()],
            ..Default::default()
        }));
        let line = op.to_string();
        assert_eq!(
            line,
            "docker run --detach --name hello-web-v1 --restart unless-stopped --env MODE=ok \
             --env-file <secrets: API_KEY> --label service=hello --memory 64m --init hello:v1 /hello serve"
        );
        assert!(!line.contains("s3cr3t"));
        assert!(!format!("{op:?}").contains("s3cr3t"));
        assert!(op.mutates());
    }

    #[test]
    fn stop_and_list() {
        let stop = DockerOp::Stop {
            container: "a".into(),
            timeout: Some(30),
        };
        assert_eq!(stop.to_string(), "docker stop -t 30 a");
        let ls = DockerOp::ListContainers(ContainerFilter {
            all: true,
            labels: vec![("service".into(), "hello".into())],
            status: vec!["exited".into()],
            ..Default::default()
        });
        assert_eq!(
            ls.to_string(),
            "docker ps --quiet --all --filter label=service=hello --filter status=exited"
        );
        assert!(!ls.mutates());
    }
}
