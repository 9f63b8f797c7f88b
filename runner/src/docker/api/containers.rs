//! Containers through the Engine API: create and run (detached or to
//! completion), inspect, list, logs, exec, and the shared network.

use super::*;

impl ApiEngine {
    pub(super) async fn run(&self, op: &DockerOp, r: &RunSpec) -> Result<OpOutput, DockerError> {
        let id = self.create(op, r).await?;
        if let Err(e) = self.docker.start_container(&id, None).await {
            // Leave nothing half-made behind.
            self.force_remove(&id).await;
            return Err(self.error(op, e));
        }
        Ok(OpOutput::Id(id))
    }

    pub(super) async fn force_remove(&self, id: &str) {
        let _ = self
            .docker
            .remove_container(
                id,
                Some(RemoveContainerOptionsBuilder::default().force(true).build()),
            )
            .await;
    }

    /// Ids of the networks called exactly `name`, oldest first (then by id).
    pub(super) async fn networks_named(
        &self,
        op: &DockerOp,
        name: &str,
    ) -> Result<Vec<String>, DockerError> {
        let filters = HashMap::from([("name".to_string(), vec![name.to_string()])]);
        let list = self
            .docker
            .list_networks(Some(bollard::query_parameters::ListNetworksOptions {
                filters: Some(filters),
            }))
            .await
            .map_err(|e| self.error(op, e))?;
        let mut found: Vec<(String, String)> = list
            .into_iter()
            .filter(|n| n.name.as_deref() == Some(name))
            .filter_map(|n| Some((created_key(n.created.as_deref()), n.id?)))
            .collect();
        found.sort();
        Ok(found.into_iter().map(|(_, id)| id).collect())
    }

    /// Creates `name` unless it exists. The engine does not refuse a second
    /// network of the same name, so two deploys racing on a fresh host could
    /// make two; each then keeps the oldest and removes the others. (The
    /// oldest, not the lowest id: a deploy that listed before the second one
    /// existed already uses the first, so only the later one may go.)
    pub(super) async fn create_network(
        &self,
        op: &DockerOp,
        name: &str,
    ) -> Result<OpOutput, DockerError> {
        if !self.networks_named(op, name).await?.is_empty() {
            return Ok(OpOutput::Done);
        }
        match self
            .docker
            .create_network(bollard::models::NetworkCreateRequest {
                name: name.to_string(),
                ..Default::default()
            })
            .await
        {
            Ok(_)
            | Err(BollardError::DockerResponseServerError {
                status_code: 409, ..
            }) => {}
            Err(err) => return Err(self.error(op, err)),
        }
        let ids = self.networks_named(op, name).await?;
        for extra in ids.iter().skip(1) {
            let _ = self.docker.remove_network(extra).await;
        }
        Ok(OpOutput::Done)
    }

    /// `docker run --rm` attached: create, start, wait, read the output, remove.
    pub(super) async fn run_once(
        &self,
        op: &DockerOp,
        r: &RunSpec,
    ) -> Result<OpOutput, DockerError> {
        let id = self.create(op, r).await?;
        let result = async {
            self.docker
                .start_container(&id, None)
                .await
                .map_err(|e| self.error(op, e))?;
            let mut waits = self
                .docker
                .wait_container(&id, None::<bollard::query_parameters::WaitContainerOptions>);
            let mut exit_code = 0i64;
            while let Some(w) = waits.next().await {
                match w {
                    Ok(w) => exit_code = w.status_code,
                    // A non-zero exit comes back as an error carrying the code.
                    Err(BollardError::DockerContainerWaitError { code, .. }) => exit_code = code,
                    Err(e) => return Err(self.error(op, e)),
                }
            }
            let mut out = CommandOutput {
                exit_code: exit_code as i32,
                ..Default::default()
            };
            let opts = LogsOptionsBuilder::default()
                .stdout(true)
                .stderr(true)
                .build();
            let mut s = self.docker.logs(&id, Some(opts));
            while let Some(Ok(chunk)) = s.next().await {
                capture(&mut out, chunk);
            }
            Ok(OpOutput::Command(out))
        }
        .await;
        self.force_remove(&id).await;
        result
    }

    pub(super) async fn create(&self, op: &DockerOp, r: &RunSpec) -> Result<String, DockerError> {
        let mut env: Vec<String> = r.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        env.extend(
            r.secret_env
                .iter()
                .map(|(k, v)| format!("{k}={}", v.expose())),
        );
        let mut host = HostConfig {
            binds: (!r.volumes.is_empty()).then(|| r.volumes.clone()),
            restart_policy: r.restart.as_deref().map(restart_policy).transpose()?,
            network_mode: r.network.clone(),
            log_config: Some(HostConfigLogConfig {
                typ: Some(r.log_driver.clone().unwrap_or_else(|| "json-file".into())),
                config: Some(if r.log_opts.is_empty() && r.log_driver.is_none() {
                    HashMap::from([("max-size".to_string(), "10m".to_string())])
                } else {
                    r.log_opts.clone().into_iter().collect()
                }),
            }),
            ..Default::default()
        };
        let mut body = ContainerCreateBody {
            image: Some(r.image.clone()),
            cmd: (!r.cmd.is_empty()).then(|| r.cmd.clone()),
            env: Some(env),
            labels: Some(r.labels.clone().into_iter().collect()),
            hostname: r.hostname.clone(),
            healthcheck: r.health_cmd.as_ref().map(|cmd| HealthConfig {
                test: Some(vec!["CMD-SHELL".into(), cmd.clone()]),
                interval: r.health_interval.map(|d| d.as_nanos() as i64),
                ..Default::default()
            }),
            ..Default::default()
        };
        for (flag, value) in &r.options {
            options::apply(flag, value.as_deref(), &mut body, &mut host)?;
        }
        body.host_config = Some(host);
        let created = self
            .docker
            .create_container(
                Some(
                    CreateContainerOptionsBuilder::default()
                        .name(&r.name)
                        .build(),
                ),
                body,
            )
            .await
            .map_err(|e| self.error(op, e))?;
        Ok(created.id)
    }

    pub(super) async fn inspect(
        &self,
        op: &DockerOp,
        name: &str,
    ) -> Result<Option<ContainerState>, DockerError> {
        let c = match self.docker.inspect_container(name, None).await {
            Ok(c) => c,
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => return Ok(None),
            Err(e) => return Err(self.error(op, e)),
        };
        let state = c.state.unwrap_or_default();
        let config = c.config.unwrap_or_default();
        Ok(Some(ContainerState {
            id: c.id.unwrap_or_default(),
            name: c
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            image: config.image.unwrap_or_default(),
            state: state.status.map(|s| s.to_string()).unwrap_or_default(),
            health: state.health.and_then(|h| h.status).and_then(|s| match s {
                HealthStatusEnum::EMPTY | HealthStatusEnum::NONE => None,
                other => Some(other.to_string()),
            }),
            exit_code: state.exit_code.filter(|_| state.running != Some(true)),
            restart_count: c.restart_count.unwrap_or(0),
            labels: config.labels.unwrap_or_default().into_iter().collect(),
        }))
    }

    pub(super) async fn list(
        &self,
        op: &DockerOp,
        f: &ContainerFilter,
    ) -> Result<OpOutput, DockerError> {
        let mut filters: HashMap<&str, Vec<String>> = HashMap::new();
        if !f.labels.is_empty() {
            filters.insert(
                "label",
                f.labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            );
        }
        if let Some(n) = &f.name {
            filters.insert("name", vec![format!("^/?{n}$")]);
        }
        if !f.status.is_empty() {
            filters.insert("status", f.status.clone());
        }
        let list = self
            .docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(f.all)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(|e| self.error(op, e))?;
        let mut out: Vec<Container> = list
            .into_iter()
            .map(|c| Container {
                id: c.id.unwrap_or_default(),
                name: c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
                image: c.image.unwrap_or_default(),
                state: c.state.map(|s| s.to_string()).unwrap_or_default(),
                status: c.status.unwrap_or_default(),
                labels: c.labels.unwrap_or_default().into_iter().collect(),
                created: c.created.unwrap_or_default(),
            })
            .collect();
        out.sort_by(|a, b| b.created.cmp(&a.created).then(a.name.cmp(&b.name)));
        Ok(OpOutput::Containers(out))
    }

    pub(super) async fn logs(&self, name: &str, tail: u32) -> String {
        let opts = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&tail.to_string())
            .build();
        let mut s = self.docker.logs(name, Some(opts));
        let mut text = String::new();
        while let Some(Ok(chunk)) = s.next().await {
            if text.len() < OUTPUT_CAP {
                text.push_str(&String::from_utf8_lossy(chunk.as_ref()));
            }
        }
        text
    }

    pub(super) async fn exec(
        &self,
        op: &DockerOp,
        container: &str,
        cmd: &[String],
        env: &[(String, String)],
        limit: Option<std::time::Duration>,
    ) -> Result<OpOutput, DockerError> {
        let exec = self
            .docker
            .create_exec(
                container,
                ExecConfig {
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(cmd.to_vec()),
                    env: (!env.is_empty())
                        .then(|| env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| self.error(op, e))?;
        let mut out = CommandOutput::default();
        let run = async {
            if let StartExecResults::Attached { mut output, .. } = self
                .docker
                .start_exec(&exec.id, None)
                .await
                .map_err(|e| self.error(op, e))?
            {
                while let Some(msg) = output.next().await {
                    capture(&mut out, msg.map_err(|e| self.error(op, e))?);
                }
            }
            Ok::<(), DockerError>(())
        };
        match limit {
            None => run.await?,
            Some(limit) => {
                if tokio::time::timeout(limit, run).await.is_err() {
                    let info = self.docker.inspect_exec(&exec.id).await.ok();
                    // Ended right at the limit: its exit code, below.
                    let ended = info.as_ref().is_some_and(|i| i.running == Some(false));
                    if !ended {
                        return Err(DockerError::ExecTimedOut {
                            host: self.host.clone(),
                            op: op.to_string(),
                            pid: info.filter(|i| i.running == Some(true)).and_then(|i| i.pid),
                        });
                    }
                }
            }
        }
        let info = self
            .docker
            .inspect_exec(&exec.id)
            .await
            .map_err(|e| self.error(op, e))?;
        out.exit_code = info.exit_code.unwrap_or(-1) as i32;
        Ok(OpOutput::Command(out))
    }
}

/// Adds one chunk of a container's output to `out` (stderr or stdout),
/// each capped at `OUTPUT_CAP`.
pub(super) fn capture(out: &mut CommandOutput, chunk: bollard::container::LogOutput) {
    let (text, bytes) = match &chunk {
        bollard::container::LogOutput::StdErr { message } => (&mut out.stderr, message.as_ref()),
        other => (&mut out.stdout, other.as_ref()),
    };
    if text.len() < OUTPUT_CAP {
        text.push_str(&String::from_utf8_lossy(bytes));
    }
}

/// A network's `Created` time (RFC 3339, fraction of varying length) as a
/// key that sorts in time order: the fraction padded to nanoseconds.
fn created_key(created: Option<&str>) -> String {
    let Some(c) = created else {
        return String::new();
    };
    let t = c.find('T').map_or(0, |i| i + 1);
    let tz = c[t..].find(['Z', '+', '-']).map_or(c.len(), |i| t + i);
    let (secs, frac) = match c[..tz].rfind('.') {
        Some(d) if d >= t => (&c[..d], &c[d + 1..tz]),
        _ => (&c[..tz], ""),
    };
    format!("{secs}.{frac:0<9}{}", &c[tz..])
}

#[cfg(test)]
mod tests {
    use super::created_key;

    #[test]
    fn created_times_sort_in_time_order() {
        let mut times = [
            "2026-12-02T18:40:12.12Z",
            "2026-12-02T18:40:12.1Z",
            "2026-12-02T18:40:12Z",
            "2026-12-02T18:40:11.999999999Z",
        ];
        times.sort_by_key(|t| created_key(Some(t)));
        assert_eq!(
            times,
            [
                "2026-12-02T18:40:11.999999999Z",
                "2026-12-02T18:40:12Z",
                "2026-12-02T18:40:12.1Z",
                "2026-12-02T18:40:12.12Z",
            ]
        );
    }
}
