//! The stages of the fixed deploy pipeline.

use std::fmt;

use serde::Serialize;

/// A pipeline stage, in execution order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Read and check the config, secrets and plugins.
    LoadConfig,
    /// Hooks before the image is built.
    PreBuild,
    /// Build the image.
    Build,
    /// Push the image to the registry and pull it on the hosts.
    Push,
    /// Hooks before the rollout.
    PreDeploy,
    /// Roll the new version out with the strategy plugin.
    Rollout,
    /// Hooks after the deploy, given its outcome.
    PostDeploy,
    /// Remove old containers and images.
    Prune,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 8] = [
        Stage::LoadConfig,
        Stage::PreBuild,
        Stage::Build,
        Stage::Push,
        Stage::PreDeploy,
        Stage::Rollout,
        Stage::PostDeploy,
        Stage::Prune,
    ];

    /// The stages hooks can run at.
    pub const HOOKS: [Stage; 3] = [Stage::PreBuild, Stage::PreDeploy, Stage::PostDeploy];

    /// The kebab-case name (`pre-build`).
    pub fn name(self) -> &'static str {
        match self {
            Stage::LoadConfig => "load-config",
            Stage::PreBuild => "pre-build",
            Stage::Build => "build",
            Stage::Push => "push",
            Stage::PreDeploy => "pre-deploy",
            Stage::Rollout => "rollout",
            Stage::PostDeploy => "post-deploy",
            Stage::Prune => "prune",
        }
    }

    /// Parses a kebab-case name.
    pub fn parse(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Kamal's hook points, in the order a deploy reaches them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HookPoint {
    /// Before the first connection to a host.
    PreConnect,
    /// Before the image is built.
    PreBuild,
    /// Before the rollout (inside the lock).
    PreDeploy,
    /// Before each group of hosts boots the new version.
    PreAppBoot,
    /// After each group of hosts has booted the new version.
    PostAppBoot,
    /// After a successful deploy, once the lock is released.
    PostDeploy,
    /// Before hoist-proxy is rebooted on a group of hosts.
    PreProxyReboot,
    /// After hoist-proxy was rebooted on a group of hosts.
    PostProxyReboot,
    /// After `server bootstrap` found Docker on every host (and at the start
    /// of `setup`).
    DockerSetup,
}

impl HookPoint {
    /// Every hook point.
    pub const ALL: [HookPoint; 9] = [
        HookPoint::PreConnect,
        HookPoint::PreBuild,
        HookPoint::PreDeploy,
        HookPoint::PreAppBoot,
        HookPoint::PostAppBoot,
        HookPoint::PostDeploy,
        HookPoint::PreProxyReboot,
        HookPoint::PostProxyReboot,
        HookPoint::DockerSetup,
    ];

    /// The hook's file name.
    pub fn name(self) -> &'static str {
        match self {
            HookPoint::PreConnect => "pre-connect",
            HookPoint::PreBuild => "pre-build",
            HookPoint::PreDeploy => "pre-deploy",
            HookPoint::PreAppBoot => "pre-app-boot",
            HookPoint::PostAppBoot => "post-app-boot",
            HookPoint::PostDeploy => "post-deploy",
            HookPoint::PreProxyReboot => "pre-proxy-reboot",
            HookPoint::PostProxyReboot => "post-proxy-reboot",
            HookPoint::DockerSetup => "docker-setup",
        }
    }

    /// The pipeline stage the point falls in (a hook's `ctx.stage`).
    pub fn stage(self) -> Stage {
        match self {
            HookPoint::PreConnect | HookPoint::DockerSetup => Stage::LoadConfig,
            HookPoint::PreBuild => Stage::PreBuild,
            HookPoint::PreDeploy => Stage::PreDeploy,
            HookPoint::PreAppBoot | HookPoint::PostAppBoot => Stage::Rollout,
            HookPoint::PostDeploy => Stage::PostDeploy,
            HookPoint::PreProxyReboot | HookPoint::PostProxyReboot => Stage::Rollout,
        }
    }

    /// The point called `name` where plugins may run, else an error listing
    /// those points.
    pub fn for_plugins(name: &str) -> Result<HookPoint, String> {
        HookPoint::named(name).ok_or_else(|| {
            format!(
                "`{name}` is not a hook point ({})",
                HookPoint::plugin_names()
            )
        })
    }

    /// The names of [`HookPoint::ALL`], for messages.
    pub fn plugin_names() -> String {
        HookPoint::ALL.map(HookPoint::name).join(", ")
    }

    /// The point called `name`.
    pub fn named(name: &str) -> Option<HookPoint> {
        HookPoint::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether Kamal hands the secrets to this hook.
    pub fn gets_secrets(self) -> bool {
        matches!(
            self,
            HookPoint::PreConnect | HookPoint::PreDeploy | HookPoint::PostDeploy
        )
    }

    /// Whether hoist holds the deploy lock when this hook runs (`KAMAL_LOCK`).
    pub fn under_lock(self) -> bool {
        !matches!(
            self,
            HookPoint::PreConnect | HookPoint::PostDeploy | HookPoint::DockerSetup
        )
    }
}

impl fmt::Display for HookPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
