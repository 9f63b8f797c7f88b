//! What a plugin call is about, in hoist's own terms (not a WIT version's):
//! the run's facts, the outcome post-deploy hooks get, the plan a strategy
//! rolls out. Each WIT version's module converts these to its records.

use std::collections::BTreeMap;

use crate::stage::Stage;
use crate::steps::Target;

/// A role with its selected hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleFacts {
    /// Role name.
    pub name: String,
    /// Its selected hosts.
    pub hosts: Vec<String>,
    /// True for the primary role.
    pub primary: bool,
}

/// Run-wide facts every plugin's context carries.
#[derive(Debug, Clone)]
pub struct ContextBase {
    /// Service name.
    pub service: String,
    /// Version deployed.
    pub version: String,
    /// Destination.
    pub destination: Option<String>,
    /// Image reference.
    pub image: String,
    /// Roles with their selected hosts, primary first.
    pub roles: Vec<RoleFacts>,
    /// Selected hosts, primary first.
    pub hosts: Vec<String>,
    /// Primary host.
    pub primary_host: String,
    /// Primary role.
    pub primary_role: String,
    /// Who deploys.
    pub performer: String,
}

impl ContextBase {
    /// The facts of a run of `config` on `selection`.
    pub fn of(
        config: &crate::config::Config,
        selection: &crate::selection::Selection,
        version: &str,
        image: &str,
        performer: String,
    ) -> ContextBase {
        ContextBase {
            service: config.service.clone(),
            version: version.to_string(),
            destination: config.destination.clone(),
            image: image.to_string(),
            roles: selection
                .roles
                .iter()
                .map(|r| RoleFacts {
                    name: r.name.clone(),
                    hosts: r.hosts.clone(),
                    primary: r.primary,
                })
                .collect(),
            hosts: selection.hosts.clone(),
            primary_host: selection.primary_host.clone(),
            primary_role: selection.primary_role.clone(),
            performer,
        }
    }

    /// The same facts for a group of `hosts` (a hook point that runs per
    /// group): `hosts` and each role's hosts cut to the group.
    pub fn for_group(&self, hosts: &[String]) -> ContextBase {
        let mut context = self.clone();
        for r in &mut context.roles {
            r.hosts.retain(|h| hosts.contains(h));
        }
        context.hosts = hosts.to_vec();
        context
    }
}

/// How the rollout went, for post-deploy hooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// True when it succeeded.
    pub success: bool,
    /// What happened.
    pub message: String,
    /// Milliseconds since the deploy started.
    pub runtime_ms: u64,
    /// The stage that failed.
    pub failed_stage: Option<Stage>,
}

/// What a strategy rolls out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Every target, primary role's first.
    pub targets: Vec<Target>,
    /// Hosts per batch (`boot.limit`).
    pub batch_size: u32,
    /// Pause between batches (`boot.wait`), milliseconds.
    pub batch_wait_ms: u64,
    /// Roll updated targets back when a later one fails.
    pub roll_back_on_failure: bool,
}

/// An error a plugin returned (whatever WIT version carried it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Returned {
    /// It stopped the deploy on purpose (a veto).
    Aborted(String),
    /// A host call it needed was denied.
    Denied(String),
    /// Something it needed was unavailable.
    Unavailable(String),
    /// It made an invalid request.
    Invalid(String),
    /// It failed.
    Failed(String),
}

impl Returned {
    /// The same error with its message passed through `f`.
    pub fn map(self, f: impl FnOnce(String) -> String) -> Returned {
        match self {
            Returned::Aborted(m) => Returned::Aborted(f(m)),
            Returned::Denied(m) => Returned::Denied(f(m)),
            Returned::Unavailable(m) => Returned::Unavailable(f(m)),
            Returned::Invalid(m) => Returned::Invalid(f(m)),
            Returned::Failed(m) => Returned::Failed(f(m)),
        }
    }
}

/// Settings as plugins get them: scalars as text, the rest as JSON.
pub fn settings_text(settings: &BTreeMap<String, serde_json::Value>) -> Vec<(String, String)> {
    settings
        .iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect()
}
