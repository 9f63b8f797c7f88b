//! `preflight` (pre-deploy): checks the new image is present on every selected
//! host and logs what each host and role runs before the rollout.

use hoist_plugin::{DeployContext, Hook, Outcome, PluginError, docker, export_hook, log};

struct Preflight;

impl Hook for Preflight {
    fn run(ctx: DeployContext, _outcome: Option<Outcome>) -> Result<(), PluginError> {
        let mut missing = Vec::new();
        for host in &ctx.hosts {
            if !docker::image_exists(host, &ctx.image)? {
                missing.push(host.clone());
            }
        }
        if !missing.is_empty() {
            return Err(PluginError::Aborted(format!(
                "image {} is missing on {}; run without --skip-push, or push it first",
                ctx.image,
                missing.join(", ")
            )));
        }
        for role in &ctx.roles {
            for host in &role.hosts {
                let filter = docker::ContainerFilter {
                    all: false,
                    labels: vec![
                        ("service".into(), ctx.service.clone()),
                        ("role".into(), role.name.clone()),
                    ],
                    name: None,
                };
                let running = docker::list_containers(host, &filter)?;
                let versions: Vec<String> = running
                    .iter()
                    .filter_map(|c| {
                        c.labels
                            .iter()
                            .find(|(k, _)| k == "hoist.version")
                            .map(|(_, v)| v.clone())
                    })
                    .collect();
                if versions.is_empty() {
                    log::info(&format!(
                        "{host}/{}: nothing running yet, first deploy of {}",
                        role.name, ctx.version
                    ));
                } else {
                    log::info(&format!(
                        "{host}/{}: {} -> {}",
                        role.name,
                        versions.join(", "),
                        ctx.version
                    ));
                }
            }
        }
        Ok(())
    }
}

export_hook!(Preflight);
