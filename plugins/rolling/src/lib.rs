//! The `rolling` strategy: hosts in batches of `boot.limit` (all at once when
//! unset), `boot.wait` between batches. In every batch the primary role's
//! containers go first and the other roles wait on them; when the first
//! primary batch fails no other role is booted (Kamal's barrier). If a target
//! fails, the targets already updated are rolled back (unless the plan says
//! not to) so the fleet ends on one version.

use hoist_plugin::{
    DeployContext, Plan, PluginError, Strategy, Target, batches, export_strategy, log, rollout,
    step,
};

struct Rolling;

/// Boots `targets` through every step; returns the ones fully updated and the
/// first error, if any target failed.
fn boot(targets: &[Target]) -> (Vec<Target>, Option<(Target, PluginError)>) {
    let mut updated = Vec::new();
    let mut first_error = None;
    let mut live = targets.to_vec();
    for f in [
        rollout::start,
        rollout::wait_healthy,
        rollout::route,
        rollout::retire,
    ] {
        if live.is_empty() {
            break;
        }
        let (ok, failed) = step(f, &live);
        if first_error.is_none() {
            first_error = failed.into_iter().next();
        }
        live = ok;
    }
    updated.extend(live);
    (updated, first_error)
}

impl Strategy for Rolling {
    fn roll_out(ctx: DeployContext, plan: Plan) -> Result<String, PluginError> {
        let groups = batches(&plan.targets, plan.batch_size);
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
                .partition(|t| t.role == ctx.primary_role);
            let mut failure = None;
            for (wave, targets) in [primary, others].into_iter().enumerate() {
                if targets.is_empty() {
                    continue;
                }
                let (done, err) = boot(&targets);
                updated.extend(done);
                if let Some((target, e)) = err {
                    if i == 0 && wave == 0 {
                        log::error(&format!(
                            "first {} container is unhealthy on {}, not booting any other roles",
                            ctx.primary_role, target.host
                        ));
                    }
                    failure = Some((target, e));
                    break;
                }
            }
            if let Some((target, e)) = failure {
                let mut message = format!("{} failed: {}", target.label(), e.message());
                if plan.roll_back_on_failure && !updated.is_empty() {
                    let names: Vec<String> = updated.iter().map(Target::label).collect();
                    log::warn(&format!(
                        "rolling back {} updated target(s) so the fleet stays on one version: {}",
                        updated.len(),
                        names.join(", ")
                    ));
                    let (_, failed) = step(rollout::roll_back, &updated);
                    for (t, e) in &failed {
                        log::error(&format!(
                            "roll back of {} failed: {}",
                            t.label(),
                            e.message()
                        ));
                    }
                    message.push_str(&format!(
                        "; rolled back {} target(s)",
                        updated.len() - failed.len()
                    ));
                } else if !updated.is_empty() {
                    message.push_str(&format!(
                        "; {} target(s) stay on the new version",
                        updated.len()
                    ));
                }
                return Err(PluginError::Failed(message));
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
