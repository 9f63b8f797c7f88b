//! The `rolling` strategy: hosts in batches of `boot.limit` (all at once when
//! unset), `boot.wait` between batches. In every batch the primary role's
//! containers go first and the other roles wait on them; when the first
//! primary batch fails no other role is booted (Kamal's barrier). If a target
//! fails, the targets already updated are rolled back (unless the plan says
//! not to) so the fleet ends on one version. With `boot.parallel_roles:
//! true` (Kamal's key) every role of a batch boots at once, without the
//! barrier.

use hoist_plugin::{
    DeployContext, Plan, PluginError, Strategy, Target, batches, boot, context, export_strategy,
    failure, log, rollout,
};

struct Rolling;

impl Strategy for Rolling {
    fn roll_out(ctx: DeployContext, plan: Plan) -> Result<String, PluginError> {
        let groups = batches(&plan.targets, plan.batch_size);
        let parallel_roles = context::config("boot.parallel_roles")
            .ok()
            .flatten()
            .is_some_and(|v| v == "true");
        let mut updated: Vec<Target> = Vec::new();
        for (i, group) in groups.iter().enumerate() {
            if i > 0 && plan.batch_wait_ms > 0 {
                log::info(&format!(
                    "waiting {} ms before the next batch",
                    plan.batch_wait_ms
                ));
                rollout::sleep(plan.batch_wait_ms);
            }
            let (primary, others): (Vec<Target>, Vec<Target>) = group
                .iter()
                .cloned()
                .partition(|t| parallel_roles || t.role == ctx.primary_role);
            let mut failed = None;
            for (wave, targets) in [primary, others].into_iter().enumerate() {
                if targets.is_empty() {
                    continue;
                }
                let (done, err) = boot(&targets);
                updated.extend(done);
                if let Some((target, e)) = err {
                    if i == 0 && wave == 0 && !parallel_roles {
                        log::error(&format!(
                            "the first {} target failed on {} ({}), not booting any other roles",
                            ctx.primary_role,
                            target.host,
                            e.message()
                        ));
                    }
                    failed = Some((target, e));
                    break;
                }
            }
            if let Some((target, e)) = failed {
                return Err(failure(&target, &e, &updated, plan.roll_back_on_failure));
            }
        }
        Ok(format!(
            "updated {} target(s) in {} batch(es)",
            updated.len(),
            groups.len()
        ))
    }
}

export_strategy!(Rolling);
