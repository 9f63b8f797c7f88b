//! Kamal's shell hooks: the executables in `hooks_path` (default
//! `.kamal/hooks`), run on this machine at Kamal's hook points with Kamal's
//! `KAMAL_*` environment. They are the user's own programs, not plugins: they
//! run as the user, with the user's environment, outside the plugin sandbox
//! (as under Kamal). A hook file that is missing is skipped; `-H`
//! (`--skip-hooks`) skips every one, `pre-connect` included. Secrets reach
//! only the hooks Kamal gives them to (`pre-connect`, `pre-deploy`,
//! `post-deploy`). An invocation is a value ([`HookCall`]) that prints
//! without secret values; [`ShellHooks::run`] is the one place it runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::{Config, HookLevel, HookOutput};
use crate::events::{Level, Reporter};
use crate::secrets::Secrets;
pub use crate::stage::HookPoint;

/// A hook failed (or could not be run). The first line says which and what
/// to do; the hook's output follows.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "Hook `{hook}` failed: {path} {why}; fix the hook, or pass -H (--skip-hooks) to run without hooks{output}"
)]
pub struct HookError {
    /// The hook's name.
    pub hook: &'static str,
    /// Its file.
    pub path: String,
    /// `exited with status 1`, `could not be started: ...`.
    pub why: String,
    /// Its output, indented, or empty.
    pub output: String,
}

/// Who runs hoist and on what: the facts every hook's environment carries.
#[derive(Debug, Clone, Default)]
pub struct HookFacts {
    /// `service`.
    pub service: String,
    /// The version deployed (or `--version`).
    pub version: String,
    /// `-d`.
    pub destination: Option<String>,
    /// git `user.email`, else the user name.
    pub performer: String,
    /// `-r` as given (Kamal sets `KAMAL_ROLES` only then).
    pub roles: Option<String>,
    /// The command (`deploy`, `app`, `proxy`).
    pub command: String,
    /// Its subcommand (`boot`, `reboot`), if any.
    pub subcommand: Option<String>,
}

impl HookFacts {
    /// The facts of a run of `config`: `roles` as `-r` gave them (split),
    /// `command` the command words (`app`, `boot`).
    pub fn new(
        config: &Config,
        version: String,
        performer: String,
        roles: &[String],
        command: &[String],
    ) -> HookFacts {
        HookFacts {
            service: config.service.clone(),
            version,
            destination: config.destination.clone(),
            performer,
            roles: (!roles.is_empty()).then(|| roles.join(",")),
            command: command.first().cloned().unwrap_or_default(),
            subcommand: command.get(1).cloned(),
        }
    }
}

/// One hook invocation as a value: the file and its environment.
#[derive(Debug, Clone)]
pub struct HookCall {
    /// The hook point.
    pub point: HookPoint,
    /// The executable.
    pub path: PathBuf,
    /// `KAMAL_*` variables.
    pub env: BTreeMap<String, String>,
    /// The secrets it gets, by name (values are added when it runs).
    pub secrets: Vec<String>,
}

impl std::fmt::Display for HookCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (k, v) in &self.env {
            write!(f, "{k}={} ", crate::secrets::shellwords::shellescape(v))?;
        }
        if !self.secrets.is_empty() {
            write!(f, "[secrets: {}] ", self.secrets.join(", "))?;
        }
        write!(f, "{}", self.path.display())
    }
}

/// The shell hooks of one command run.
pub struct ShellHooks {
    dir: PathBuf,
    cwd: PathBuf,
    output: HookOutput,
    skip: bool,
    dry_run: bool,
    facts: HookFacts,
    secrets: Option<Arc<Secrets>>,
    events: Reporter,
    told: AtomicBool,
}

impl ShellHooks {
    /// The hooks of `config` for one run. `secrets` are handed to the hooks
    /// that get them; without them those hooks run without secrets.
    pub fn new(
        config: &Config,
        facts: HookFacts,
        secrets: Option<Arc<Secrets>>,
        events: Reporter,
        skip: bool,
        dry_run: bool,
    ) -> ShellHooks {
        ShellHooks {
            dir: config.shell_hooks.dir.clone(),
            cwd: config.app_root.clone(),
            output: config.shell_hooks.output.clone(),
            skip,
            dry_run,
            facts,
            secrets,
            events,
            told: AtomicBool::new(false),
        }
    }

    /// Hands the secrets to the hooks that get them.
    pub fn with_secrets(mut self, secrets: Arc<Secrets>) -> ShellHooks {
        self.secrets = Some(secrets);
        self
    }

    /// Whether the hook would run (its file exists and hooks are not skipped).
    pub fn will_run(&self, point: HookPoint) -> bool {
        !self.skip && self.dir.join(point.name()).exists()
    }

    /// The invocation of `point` for `hosts`, or `None` when it does not run.
    /// `runtime` (whole seconds) is `post-deploy`'s `KAMAL_RUNTIME`;
    /// `locked` says whether the deploy lock is held (`KAMAL_LOCK`).
    pub fn call(
        &self,
        point: HookPoint,
        hosts: &[String],
        runtime: Option<u64>,
        locked: bool,
    ) -> Option<HookCall> {
        if !self.will_run(point) {
            return None;
        }
        let f = &self.facts;
        let mut env = BTreeMap::new();
        let mut set = |k: &str, v: &str| {
            env.insert(format!("KAMAL_{k}"), v.to_string());
        };
        set("RECORDED_AT", &recorded_at());
        set("PERFORMER", &f.performer);
        if let Some(d) = &f.destination {
            set("DESTINATION", d);
        }
        set("VERSION", &f.version);
        set("SERVICE_VERSION", &service_version(&f.service, &f.version));
        set("SERVICE", &f.service);
        set("HOSTS", &hosts.join(","));
        if let Some(r) = &f.roles {
            set("ROLES", r);
        }
        set("LOCK", if locked { "true" } else { "false" });
        set("COMMAND", &f.command);
        if let Some(s) = &f.subcommand {
            set("SUBCOMMAND", s);
        }
        if let Some(r) = runtime {
            set("RUNTIME", &r.to_string());
        }
        let secrets = match (&self.secrets, point.gets_secrets()) {
            (Some(s), true) => s.entries().map(|(k, _)| k.to_string()).collect(),
            _ => Vec::new(),
        };
        Some(HookCall {
            point,
            path: self.dir.join(point.name()),
            env,
            secrets,
        })
    }

    /// Runs `point` for `hosts` (nothing when its file is missing or hooks
    /// are skipped; reported, not run, in a dry run).
    pub async fn run(
        &self,
        point: HookPoint,
        hosts: &[String],
        runtime: Option<u64>,
    ) -> Result<(), HookError> {
        self.run_as(point, hosts, runtime, point.under_lock()).await
    }

    /// [`ShellHooks::run`] where the caller knows whether the deploy lock is
    /// held (`docker-setup`: held by `server bootstrap`, not yet in `setup`).
    pub async fn run_as(
        &self,
        point: HookPoint,
        hosts: &[String],
        runtime: Option<u64>,
        locked: bool,
    ) -> Result<(), HookError> {
        let Some(call) = self.call(point, hosts, runtime, locked) else {
            return Ok(());
        };
        if self.dry_run {
            self.events.log(
                Level::Info,
                None,
                format!("would run the {} hook: {call}", point.name()),
            );
            return Ok(());
        }
        let first = !self.told.swap(true, Ordering::Relaxed);
        self.events.log(
            Level::Info,
            None,
            if first {
                format!(
                    "Running the {} hook ({}: a Kamal shell hook; it runs as you, outside the plugin sandbox)...",
                    point.name(),
                    self.rel(&call.path)
                )
            } else {
                format!("Running the {} hook...", point.name())
            },
        );
        self.execute(&call).await
    }

    /// Runs one invocation: its output is logged line by line (shown with
    /// `-v` or `hooks_output: verbose`) and kept for the error.
    async fn execute(&self, call: &HookCall) -> Result<(), HookError> {
        let name = call.point.name();
        let path = self.rel(&call.path);
        let mut cmd = tokio::process::Command::new(&call.path);
        cmd.current_dir(&self.cwd)
            .envs(&call.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let (Some(s), true) = (&self.secrets, call.point.gets_secrets()) {
            cmd.envs(s.entries().map(|(k, v)| (k, v.expose())));
        }
        let failed = |why: String, output: String| HookError {
            hook: name,
            path: path.clone(),
            why,
            output,
        };
        let out = cmd.output().await.map_err(|e| {
            let hint = match e.kind() {
                std::io::ErrorKind::PermissionDenied => {
                    format!(" (make it executable: chmod +x {path})")
                }
                _ => String::new(),
            };
            failed(format!("could not be started: {e}{hint}"), String::new())
        })?;
        let level = match self.output.for_hook(name) {
            Some(HookLevel::Verbose) => Level::Info,
            _ => Level::Debug,
        };
        let mut kept = String::new();
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            for line in String::from_utf8_lossy(bytes).lines() {
                self.events.log(level, None, format!("{name}: {line}"));
                kept.push_str(&format!("\n  {stream}: {line}"));
            }
        }
        if out.status.success() {
            return Ok(());
        }
        let why = match out.status.code() {
            Some(c) => format!("exited with status {c}"),
            None => "was killed by a signal".to_string(),
        };
        Err(failed(why, self.events.scrub(&kept)))
    }

    fn rel(&self, p: &Path) -> String {
        p.strip_prefix(&self.cwd).unwrap_or(p).display().to_string()
    }
}

/// Kamal's `KAMAL_SERVICE_VERSION`: `service@version`, the version cut to 7
/// characters unless it holds `_` (`<sha>_uncommitted_<random>`).
fn service_version(service: &str, version: &str) -> String {
    let short: String = if version.contains('_') {
        version.to_string()
    } else {
        version.chars().take(7).collect()
    };
    format!("{service}@{short}")
}

/// Now, as Ruby's `Time.now.utc.iso8601` (`2026-12-03T13:30:00Z`).
fn recorded_at() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_version_is_cut_as_kamal_cuts_it() {
        assert_eq!(service_version("app", "0123456789abcdef"), "app@0123456");
        assert_eq!(
            service_version("app", "0123456789_uncommitted_abcd"),
            "app@0123456789_uncommitted_abcd"
        );
        assert_eq!(service_version("app", "v1"), "app@v1");
    }

    #[test]
    fn only_three_hooks_get_secrets_and_names_round_trip() {
        let with: Vec<_> = HookPoint::ALL
            .into_iter()
            .filter(|p| p.gets_secrets())
            .map(HookPoint::name)
            .collect();
        assert_eq!(with, ["pre-connect", "pre-deploy", "post-deploy"]);
        for p in HookPoint::ALL {
            assert_eq!(HookPoint::named(p.name()), Some(p));
        }
        assert_eq!(HookPoint::named("pre-build.sample"), None);
    }
}
