//! The `canary` strategy: the first host (every role on it; the primary host
//! comes first in the plan) goes through every step, then stays up for
//! `settings.soak` (default none) while the rest wait. If the canary fails
//! it is rolled back and no other host is touched. Then the other hosts
//! follow in batches of `boot.limit`, `boot.wait` apart; a failure there
//! rolls the updated targets back, canary included (unless the plan says
//! not to).

use hoist_plugin::{
    DeployContext, Plan, PluginError, Settings, Strategy, Target, batches, boot, export_strategy,
    failure, log, roll_back_all, rollout,
};

struct Canary;

impl Strategy for Canary {
    fn roll_out(ctx: DeployContext, plan: Plan) -> Result<String, PluginError> {
        let soak_ms = ctx.duration_ms_setting("soak", 0)?;
        let groups = batches(&plan.targets, 1);
        let Some((canary, rest)) = groups.split_first() else {
            return Ok("nothing to deploy".into());
        };
        let host = canary[0].host.clone();
        log::info(&format!("canary: {host} first"));
        let (done, err) = boot(canary);
        if let Some((target, e)) = err {
            // Whatever of the canary host got updated goes back too.
            roll_back_all(&done, "on the canary host");
            return Err(PluginError::Failed(format!(
                "canary {} failed: {}; it was rolled back and no other host was touched",
                target.label(),
                e.message()
            )));
        }
        if soak_ms > 0 {
            log::info(&format!("canary {host} is healthy; soaking {soak_ms} ms"));
            rollout::sleep(soak_ms);
        }
        let rest: Vec<Target> = rest.iter().flatten().cloned().collect();
        let mut updated: Vec<Target> = done;
        let later = batches(&rest, plan.batch_size);
        for (i, group) in later.iter().enumerate() {
            if i > 0 && plan.batch_wait_ms > 0 {
                rollout::sleep(plan.batch_wait_ms);
            }
            let (done, err) = boot(group);
            updated.extend(done);
            if let Some((target, e)) = err {
                return Err(failure(&target, &e, &updated, plan.roll_back_on_failure));
            }
        }
        Ok(format!(
            "canary {host}, then {} more target(s) in {} batch(es)",
            rest.len(),
            later.len()
        ))
    }
}

export_strategy!(Canary);
