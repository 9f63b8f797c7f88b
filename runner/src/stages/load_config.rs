//! load-config: read and check the config and secrets, work out the version
//! and the hosts, find and compile the plugins. Nothing is touched yet.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use crate::config;
use crate::delivery::Delivery;
use crate::docker::fake::{FakeContainer, FakeEngine, OpLog};
use crate::docker::{ContainerFilter, Engine};
use crate::events::{Event, Kind, Level, Reporter};
use crate::fleet::{Connector, Fleet, LOCAL};
use crate::kamal_hooks::{HookFacts, HookPoint, ShellHooks};
use crate::plugin::call::Services;
use crate::plugin::{ContextBase, PluginSet};
use crate::run::{DeployRequest, Failure, Run, StageResult};
use crate::secrets::Secrets;
use crate::stages::hooks::Hooks;
use crate::{selection, version};

/// For `--dry-run`: fake engines, each seeded read-only from the real one
/// (the local engine, servers over SSH) when it answers, so the plan shows
/// what would really be replaced. Nothing is changed anywhere.
async fn dry_run_connector(
    hosts: &[String],
    service: &crate::docker::naming::ServiceId,
    events: &Reporter,
    real: Connector,
) -> Connector {
    let log: OpLog = Arc::default();
    let real = Fleet::new(hosts, real, None);
    let mut all: Vec<String> = hosts.to_vec();
    if !all.iter().any(|h| h == LOCAL) {
        all.push(LOCAL.into());
    }
    let seeds = futures_util::future::join_all(all.iter().map(|h| {
        let real = &real;
        async move {
            let docker = if h == LOCAL {
                real.builder().await
            } else {
                real.docker(h).await
            }?;
            let filter = ContainerFilter {
                all: true,
                labels: service.filter(None),
                ..Default::default()
            };
            let containers = docker.containers(filter).await?;
            let images = docker
                .images(vec![("service".into(), service.service.clone())])
                .await?;
            Ok::<_, crate::docker::DockerError>((containers, images))
        }
    }))
    .await;
    let mut engines: BTreeMap<String, Arc<dyn Engine>> = BTreeMap::new();
    for (h, seed) in all.into_iter().zip(seeds) {
        let fake = FakeEngine::new(&h, log.clone());
        match seed {
            Ok((containers, images)) => {
                for c in containers {
                    fake.seed_container(FakeContainer {
                        name: c.name,
                        image: c.image,
                        state: c.state,
                        labels: c.labels,
                        created: c.created,
                    });
                }
                for t in images.into_iter().flat_map(|i| i.tags) {
                    fake.seed_image(&t);
                }
            }
            Err(e) => events.log(
                Level::Warn,
                None,
                format!("dry run: {e}; showing the plan for `{h}` as for a first deploy"),
            ),
        }
        engines.insert(h, Arc::new(fake));
    }
    Connector::Given(engines)
}

/// Loads everything the run needs.
pub async fn run(req: DeployRequest, events: Reporter, started: Instant) -> StageResult<Run> {
    let config = config::load(&req.config)?;
    if !config.refusals.is_empty() {
        return Err(Failure::Refused(
            config
                .refusals
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        ));
    }
    for note in &config.notes {
        events.log(Level::Warn, None, note.clone());
    }
    let secrets = Secrets::load(&config.secrets_files, &config.app_root)?;
    events.add_secrets(secrets.values());
    for note in secrets.notes() {
        events.log(Level::Warn, None, note.clone());
    }
    let selection = selection::select(&config, &req.filters)?;
    let mut ssh_options = config.ssh.clone();
    // A dry run reads servers but records nothing, not even a host key.
    ssh_options.strict_host_keys |= req.dry_run;
    let delivery = Delivery::from_config(&config, &secrets)?;
    for host in selection.remote_hosts() {
        ssh_options
            .endpoint(host)
            .map_err(|e| Failure::Refused(format!("servers: bad host {e}")))?;
    }
    // Every secret the selected roles need must exist before anything runs.
    for role in &selection.roles {
        let rc = config.role(&role.name).expect("selected roles exist");
        for host in &role.hosts {
            for (_, secret) in &config.env_for(rc, host).secret {
                secrets.require(secret, &format!("env.secret of role `{}`", role.name))?;
            }
        }
    }
    for f in &req.fail_at {
        let roles = selection.roles_on(&f.host);
        if roles.is_empty()
            || f.role
                .as_ref()
                .is_some_and(|r| !roles.contains(&r.as_str()))
        {
            return Err(Failure::Refused(format!(
                "--fail-at {}{}: no such target in this deploy (targets: {})",
                f.host,
                f.role.as_ref().map(|r| format!("/{r}")).unwrap_or_default(),
                selection
                    .targets()
                    .iter()
                    .map(|(h, r)| format!("{h}/{r}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let version = version::resolve(req.version.as_deref(), &config.app_root)?;
    if !version::valid_tag(&version) {
        return Err(Failure::Refused(format!(
            "version `{version}` is not a valid image tag (letters, digits, `_`, `.`, `-`; at most 128)"
        )));
    }
    let image = config.repository.tagged(&version);
    let strategy = req
        .strategy
        .clone()
        .unwrap_or_else(|| config.strategy.clone());
    if req.skip_hooks {
        events.log(
            Level::Warn,
            None,
            "--skip-hooks: no hooks will run in this deploy",
        );
    }
    let plugins = Arc::new(PluginSet::prepare(&config, &strategy, req.skip_hooks)?);
    if let Some(why) = plugins.cache_refusal() {
        events.log(Level::Warn, None, why);
    }
    let service = config.service_id();
    let progress_events = events.clone();
    let real = Connector::real(
        ssh_options,
        Some(Arc::new(move |host: &str, line: &str| {
            progress_events.emit(
                Event::new(Kind::Log, None)
                    .host(host)
                    .level(Level::Debug)
                    .message(line.to_string()),
            )
        })),
        &config.app_root,
    );
    let connector = if req.dry_run {
        dry_run_connector(&selection.hosts, &service, &events, real).await
    } else {
        real
    };
    let op_level = if req.dry_run {
        Level::Info
    } else {
        Level::Debug
    };
    let fleet = Arc::new(Fleet::new(
        &selection.hosts,
        connector,
        Some((events.clone(), op_level)),
    ));
    let performer = version::performer(&config.app_root);
    let secrets = Arc::new(secrets);
    // A library caller that names no command runs a deploy.
    let command = match req.command.is_empty() {
        true => vec!["deploy".to_string()],
        false => req.command.clone(),
    };
    let shell_hooks = Arc::new(ShellHooks::new(
        &config,
        HookFacts::new(
            &config,
            version.clone(),
            performer.clone(),
            &req.filters.roles,
            &command,
        ),
        Some(secrets.clone()),
        events.clone(),
        req.skip_hooks,
        req.dry_run,
    ));
    let context = ContextBase::of(&config, &selection, &version, &image, performer);
    let services = Arc::new(Services::of(
        &config,
        fleet.clone(),
        delivery.clone(),
        events.clone(),
        req.dry_run,
    ));
    let hooks = Hooks {
        shell: shell_hooks.clone(),
        plugins: plugins.clone(),
        services: services.clone(),
        skip: req.skip_hooks,
        dry_run: req.dry_run,
    };
    hooks
        .at(
            HookPoint::PreConnect,
            true,
            &selection.hosts,
            &context,
            None,
        )
        .await?;
    if !req.dry_run {
        // Every host must answer before anything changes anywhere, and so
        // must this machine's engine when it has to build or stream.
        let mut failed = fleet.connect_all().await;
        let needs_builder = !req.skip_push || matches!(delivery, Delivery::Stream);
        if needs_builder
            && !selection.hosts.iter().any(|h| h == LOCAL)
            && let Err(e) = fleet.builder().await
        {
            failed.push(e);
        }
        if !failed.is_empty() {
            return Err(Failure::hosts(
                format!(
                    "{} Docker engine(s) cannot be reached; nothing was changed",
                    failed.len()
                ),
                &failed,
            ));
        }
        // `hoist setup` is Kamal's: server bootstrap (every engine answers,
        // checked just above), its docker-setup hook, then the deploy.
        if req.command.first().map(String::as_str) == Some("setup") {
            hooks
                .at(
                    HookPoint::DockerSetup,
                    true,
                    &selection.hosts,
                    &context,
                    None,
                )
                .await?;
        }
        if let Some(pool) = fleet.ssh() {
            for host in selection.remote_hosts() {
                if let Ok(s) = pool.session(host).await
                    && s.learned_host_key
                {
                    events.log(
                        Level::Warn,
                        None,
                        format!(
                            "`{host}` was not in {}: its host key has been recorded there",
                            pool.options().known_hosts.display()
                        ),
                    );
                }
            }
        }
    }
    let hook_count: usize = crate::stage::HookPoint::ALL
        .iter()
        .map(|s| plugins.hooks(*s).len())
        .sum();
    let summary = format!(
        "{} {} -> {} host(s): {}; roles: {}; strategy {}; {} hook(s){}",
        config.service,
        version,
        selection.hosts.len(),
        selection.hosts.join(", "),
        selection
            .roles
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        strategy,
        hook_count,
        if req.dry_run {
            " (dry run: nothing will be changed)"
        } else {
            ""
        }
    );
    let run = Run {
        req,
        events,
        started,
        config: Arc::new(config),
        secrets,
        selection,
        version,
        image,
        delivery,
        fleet,
        plugins,
        strategy,
        context,
        services,
        shell_hooks,
    };
    Ok((run, summary))
}
