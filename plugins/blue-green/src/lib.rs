//! The `blue-green` strategy: start the new ("green") containers beside the
//! old on every target, wait until every one is healthy, then route every
//! target, then retire the old. Any failure before the switch removes every
//! new container, so traffic never moves. A failure during the switch routes
//! the switched targets back (the old containers still run).

use hoist_plugin::{
    DeployContext, Plan, PluginError, Strategy, export_strategy, log, roll_back_all, rollout, step,
};

struct BlueGreen;

impl Strategy for BlueGreen {
    fn roll_out(_ctx: DeployContext, plan: Plan) -> Result<String, PluginError> {
        let all = plan.targets.clone();
        let (started, failed) = step(rollout::start, &all);
        let (healthy, unhealthy) = if failed.is_empty() {
            step(rollout::wait_healthy, &started)
        } else {
            (started, failed)
        };
        if let Some((target, e)) = unhealthy.first() {
            roll_back_all(&healthy, "before the switch");
            return Err(PluginError::Failed(format!(
                "{} failed: {}; the new containers were removed and traffic never moved",
                target.label(),
                e.message()
            )));
        }
        log::info(&format!(
            "all {} new container(s) are healthy; switching traffic",
            healthy.len()
        ));
        let (routed, failed) = step(rollout::route, &healthy);
        if let Some((target, e)) = failed.first() {
            roll_back_all(&routed, "during the switch");
            return Err(PluginError::Failed(format!(
                "switching {} failed: {}; every target was switched back",
                target.label(),
                e.message()
            )));
        }
        let (retired, failed) = step(rollout::retire, &routed);
        if let Some((target, e)) = failed.first() {
            return Err(PluginError::Failed(format!(
                "retiring the old version on {} failed: {}; the new version serves everywhere",
                target.label(),
                e.message()
            )));
        }
        Ok(format!("switched {} target(s) together", retired.len()))
    }
}

export_strategy!(BlueGreen);
