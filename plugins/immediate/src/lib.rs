//! The `immediate` strategy (fly's): every target at once. Each step (start,
//! wait-healthy, route, retire) runs on all targets together, so every new
//! container is started before any is checked. If a target fails, the ones
//! already updated are rolled back (unless the plan says not to), so the
//! fleet ends on one version.

use hoist_plugin::{
    DeployContext, Plan, PluginError, Strategy, boot, export_strategy, failure, log,
};

struct Immediate;

impl Strategy for Immediate {
    fn roll_out(_ctx: DeployContext, plan: Plan) -> Result<String, PluginError> {
        log::info(&format!(
            "updating all {} target(s) at once",
            plan.targets.len()
        ));
        let (updated, err) = boot(&plan.targets);
        if let Some((target, e)) = err {
            return Err(failure(&target, &e, &updated, plan.roll_back_on_failure));
        }
        Ok(format!("updated {} target(s) at once", updated.len()))
    }
}

export_strategy!(Immediate);
