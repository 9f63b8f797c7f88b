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

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
