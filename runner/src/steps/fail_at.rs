//! `hoist deploy --dry-run --fail-at HOST[/ROLE][@STEP]`: make chosen steps
//! fail in a dry run, to watch what a strategy does on its failure path.
//! The step fails as a real one would (a failing wait-healthy or route
//! removes the new container), against the recording engine.

use super::{Rollout, Step, StepError, Target, TargetRecord};

/// One `--fail-at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailAt {
    /// The host, as in the config.
    pub host: String,
    /// The role; every role of the host when unset.
    pub role: Option<String>,
    /// The step (default wait-healthy).
    pub step: Step,
}

impl FailAt {
    /// Parses `HOST[/ROLE][@STEP]`.
    pub fn parse(text: &str) -> Result<FailAt, String> {
        let (target, step) = match text.rsplit_once('@') {
            Some((t, s)) => (
                t,
                Step::BOOT
                    .into_iter()
                    .find(|st| st.name() == s)
                    .ok_or_else(|| {
                        format!(
                            "--fail-at {text}: `{s}` is not a step (start, wait-healthy, route, retire)"
                        )
                    })?,
            ),
            None => (text, Step::WaitHealthy),
        };
        let (host, role) = match target.split_once('/') {
            Some((h, r)) => (h, Some(r.to_string())),
            None => (target, None),
        };
        if host.is_empty() {
            return Err(format!("--fail-at {text}: name a host: HOST[/ROLE][@STEP]"));
        }
        Ok(FailAt {
            host: host.to_string(),
            role,
            step,
        })
    }

    fn matches(&self, step: Step, t: &Target) -> bool {
        self.step == step && self.host == t.host && self.role.as_ref().is_none_or(|r| *r == t.role)
    }
}

impl Rollout {
    /// Steps that fail on purpose (dry runs only).
    pub fn with_fail_at(mut self, fail_at: Vec<FailAt>) -> Rollout {
        self.fail_at = fail_at;
        self
    }

    /// The failure `--fail-at` asks of `step` on `t`, done as the real step
    /// would fail; `None` when it asks none.
    pub(super) async fn injected(
        &self,
        step: Step,
        t: &Target,
        record: &TargetRecord,
    ) -> Option<StepError> {
        if !self.fail_at.iter().any(|f| f.matches(step, t)) {
            return None;
        }
        let error = StepError::NotReady(format!(
            "dry run: --fail-at made {} fail on {t}",
            step.name()
        ));
        match (step, &record.new_container) {
            (Step::WaitHealthy | Step::Route, Some(name)) => match self.fleet.docker(&t.host).await
            {
                Ok(docker) => Some(self.discard(t, &docker, name, error).await),
                Err(e) => Some(e.into()),
            },
            _ => Some(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_role_and_step() {
        let f = FailAt::parse("127.0.0.1:2222/web@route").unwrap();
        assert_eq!(
            (f.host.as_str(), f.role.as_deref(), f.step),
            ("127.0.0.1:2222", Some("web"), Step::Route)
        );
        let f = FailAt::parse("web-2").unwrap();
        assert_eq!((f.role, f.step), (None, Step::WaitHealthy));
        assert!(
            FailAt::parse("h@boot")
                .unwrap_err()
                .contains("`boot` is not a step")
        );
        assert!(FailAt::parse("/web").is_err());
    }
}
