//! The WebAssembly plugin host.
//!
//! - [`manifest`]  `plugin.toml` (name, kind, stages, capabilities, limits)
//! - [`catalog`]  which plugins exist (embedded defaults + the plugins dir)
//! - [`grants`]  declared ∩ granted capabilities, checked by every host call
//! - [`host`]  wasmtime engine, linker, component cache, per-call stores
//! - [`call`]  the capabilities plugins reach, version-neutral, grants first
//! - [`wit`]  the WIT versions that load; per version its bindings and the
//!   host API on the store data (converting to [`call`])
//! - [`scaffold`]  `hoist plugin new` and `hoist plugin build`
//!
//! The pipeline uses [`PluginSet`]: prepare the run's plugins once, then
//! "run the hooks of this stage" and "run the strategy".

pub mod cache;
pub mod call;
pub mod cap_error;
pub mod catalog;
pub mod context;
pub mod embedded;
pub mod engine;
pub mod grants;
pub mod host;
pub mod limits;
pub mod manifest;
pub mod scaffold;
pub mod settings;
pub mod state;
pub mod wit;

/// The bindings of the newest WIT version (the types hoist speaks).
pub use wit::latest as bindings;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Config, PluginUseConfig};
use crate::events::{Event, Kind, Level};
use crate::stage::{HookPoint, Stage};

use call::{CallEnv, Services};
use catalog::Catalog;
pub use context::{ContextBase, Outcome, Plan, RoleFacts};
use grants::{Grants, Trust};
use host::{CallFailure, LoadError, Loaded, PluginHost};
use limits::Limits;
use manifest::PluginKind;

/// A plugin ready to call in this run.
pub struct Prepared {
    /// Plugin name.
    pub name: String,
    /// How the config uses it.
    pub config: PluginUseConfig,
    /// The compiled plugin.
    pub loaded: Loaded,
    /// Effective grants.
    pub grants: Grants,
    /// Per-call limits.
    pub limits: Limits,
}

/// A plugin call failed.
#[derive(Debug, thiserror::Error)]
#[error("plugin `{plugin}` at {at} {failure}")]
pub struct PluginFailure {
    /// Plugin name.
    pub plugin: String,
    /// Stage of the call.
    pub stage: Stage,
    /// Where it was called: the hook point, or `rollout` for the strategy.
    pub at: &'static str,
    /// What happened.
    pub failure: CallFailure,
}

/// The plugins of one run.
pub struct PluginSet {
    host: PluginHost,
    hooks: BTreeMap<HookPoint, Vec<Prepared>>,
    strategy: Prepared,
    state_dir: PathBuf,
    /// Time each hook plugin has used in this run, all its calls together.
    used: std::sync::Mutex<BTreeMap<String, Duration>>,
}

/// The least time a hook plugin gets per deploy, all its calls (every
/// stage, every use) together; a plugin whose `limits.timeout` is longer
/// gets that.
pub const HOOK_DEPLOY_BUDGET: Duration = Duration::from_secs(300);

fn prepare(
    host: &PluginHost,
    catalog: &Catalog,
    config: &Config,
    use_cfg: &PluginUseConfig,
    kind: PluginKind,
    stage: Option<HookPoint>,
    read_only: bool,
) -> Result<Prepared, LoadError> {
    let at = format!("configured at {}", use_cfg.key_path);
    let fail = |message: String| LoadError::Plugin {
        plugin: use_cfg.plugin.clone(),
        place: at.clone(),
        message,
    };
    let entry = catalog
        .get(&use_cfg.plugin, &config.plugins_dir)
        .map_err(|e| fail(e.to_string()))?;
    let m = &entry.manifest;
    if m.kind != kind {
        return Err(fail(format!(
            "it is a {}, not a {}",
            m.kind.name(),
            kind.name()
        )));
    }
    if let Some(s) = stage
        && !m.hook_stages().contains(&s)
    {
        return Err(fail(format!(
            "it runs at {} only, not at {s}",
            m.stages.join(", ")
        )));
    }
    settings::check(m.settings.as_ref(), &use_cfg.settings).map_err(fail)?;
    let loaded = host.load(entry).map_err(|e| match e {
        LoadError::Plugin { message, place, .. } => fail(format!("{message} ({place})")),
        other => other,
    })?;
    let trust = match entry.origin {
        catalog::Origin::Embedded => Trust::Shipped,
        catalog::Origin::Dir(_) => Trust::DroppedIn,
    };
    let declared = m.declared();
    let granted = use_cfg
        .grants
        .clone()
        .unwrap_or_else(|| grants::default_grant(&declared, trust));
    let granted = if read_only {
        granted.read_only()
    } else {
        granted
    };
    let grants = Grants::effective(&m.name, &declared, Some(&granted), trust)
        .map_err(|e| fail(e.to_string()))?;
    Ok(Prepared {
        name: m.name.clone(),
        config: use_cfg.clone(),
        loaded,
        grants,
        limits: Limits {
            timeout: use_cfg.timeout.unwrap_or_else(|| m.timeout()),
            memory: use_cfg.memory.unwrap_or_else(|| m.memory()),
        },
    })
}

impl PluginSet {
    /// Finds, checks, compiles and links every plugin this run uses: the
    /// hooks configured per stage (none with `skip_hooks`) and the strategy.
    pub fn prepare(
        config: &Config,
        strategy: &str,
        skip_hooks: bool,
    ) -> Result<PluginSet, LoadError> {
        PluginSet::with_hooks(config, strategy, |host, catalog| {
            let mut hooks = BTreeMap::new();
            if skip_hooks {
                return Ok(hooks);
            }
            for (stage, uses) in &config.hooks {
                let mut list = Vec::new();
                for u in uses {
                    list.push(prepare(
                        host,
                        catalog,
                        config,
                        u,
                        PluginKind::Hook,
                        Some(*stage),
                        false,
                    )?);
                }
                hooks.insert(*stage, list);
            }
            Ok(hooks)
        })
    }

    /// The set of `hooks` (prepared with the run's host and catalog) and
    /// strategy `strategy`.
    fn with_hooks(
        config: &Config,
        strategy: &str,
        hooks: impl FnOnce(
            &PluginHost,
            &Catalog,
        ) -> Result<BTreeMap<HookPoint, Vec<Prepared>>, LoadError>,
    ) -> Result<PluginSet, LoadError> {
        let cache = config.cache_dir.clone().or_else(host::default_cache_dir);
        let host = PluginHost::new(cache, Some(&config.app_root))?;
        let catalog = Catalog::discover(&config.plugins_dir);
        let hooks = hooks(&host, &catalog)?;
        let strategy = prepare(
            &host,
            &catalog,
            config,
            &config.strategy_use(strategy),
            PluginKind::Strategy,
            None,
            false,
        )?;
        Ok(PluginSet {
            host,
            hooks,
            strategy,
            state_dir: config.state_dir.clone(),
            used: Default::default(),
        })
    }

    /// Just hook `name` at `point` (with its settings and grants from the
    /// config when it is configured there), for `hoist plugin run`; its
    /// grants read-only unless `allow_write`. The config's strategy is
    /// prepared too (a set always has one) but not run.
    pub fn one_hook(
        config: &Config,
        name: &str,
        point: HookPoint,
        allow_write: bool,
    ) -> Result<PluginSet, LoadError> {
        let use_cfg = config
            .hooks
            .get(&point)
            .and_then(|uses| uses.iter().find(|u| u.plugin == name))
            .cloned()
            .unwrap_or_else(|| {
                PluginUseConfig::unconfigured(name, format!("`hoist plugin run {name}`"))
            });
        PluginSet::with_hooks(config, &config.strategy, |host, catalog| {
            let hook = prepare(
                host,
                catalog,
                config,
                &use_cfg,
                PluginKind::Hook,
                Some(point),
                !allow_write,
            )?;
            Ok(BTreeMap::from([(point, vec![hook])]))
        })
    }

    /// Why the configured plugin cache is not used (compiled plugins are
    /// recompiled each run), for a warning.
    pub fn cache_refusal(&self) -> Option<String> {
        self.host.cache_refusal().map(|r| r.to_string())
    }

    /// What hook plugin `name` may use in this deploy, all its calls
    /// together: the least `limits.total` its uses set, else
    /// [`HOOK_DEPLOY_BUDGET`] or its longest per-call limit when longer.
    pub fn budget(&self, name: &str) -> Duration {
        let uses = || self.hooks.values().flatten().filter(|p| p.name == name);
        uses()
            .filter_map(|p| p.config.total)
            .min()
            .unwrap_or_else(|| {
                uses()
                    .map(|p| p.limits.timeout)
                    .fold(HOOK_DEPLOY_BUDGET, Duration::max)
            })
    }

    /// The hooks of hook point `point`, in run order.
    pub fn hooks(&self, point: HookPoint) -> &[Prepared] {
        self.hooks
            .get(&point)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The strategy.
    pub fn strategy(&self) -> &Prepared {
        &self.strategy
    }

    fn env(
        &self,
        p: &Prepared,
        point: Option<HookPoint>,
        base: &ContextBase,
        services: Arc<Services>,
    ) -> Arc<CallEnv> {
        Arc::new(CallEnv {
            plugin: p.name.clone(),
            stage: point.map_or(Stage::Rollout, HookPoint::stage),
            hook_point: point,
            grants: p.grants.clone(),
            facts: base.clone(),
            settings: context::settings_text(&p.config.settings),
            services,
            quota: Default::default(),
            deadline: Default::default(),
        })
    }

    fn used_by(&self, name: &str) -> Duration {
        self.used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .copied()
            .unwrap_or_default()
    }

    /// Runs the hooks of `point` one after the other; stops at the first
    /// failure.
    pub async fn run_hooks(
        &self,
        point: HookPoint,
        base: &ContextBase,
        services: Arc<Services>,
        outcome: Option<Outcome>,
    ) -> Result<usize, PluginFailure> {
        let events = services.events.clone();
        let stage = point.stage();
        for p in self.hooks(point) {
            events.emit(Event::new(Kind::PluginStart, Some(stage)).plugin(&p.name));
            let started = Instant::now();
            let state_dir = p.grants.state().then(|| self.state_dir.join(&p.name));
            // The call gets its limit, or what is left of the plugin's time
            // for this deploy when that is less.
            let budget = self.budget(&p.name);
            let used = self.used_by(&p.name);
            let left = budget.saturating_sub(used);
            let limits = Limits {
                timeout: p.limits.timeout.min(left),
                ..p.limits
            };
            let result = if left.is_zero() {
                Err(CallFailure::Budget(budget))
            } else {
                self.host
                    .call_hook(
                        &p.loaded,
                        self.env(p, Some(point), base, services.clone()),
                        limits,
                        state_dir.as_deref(),
                        outcome.clone(),
                    )
                    .await
                    .map_err(|f| match f {
                        CallFailure::Timeout(_) if limits.timeout < p.limits.timeout => {
                            CallFailure::Budget(budget)
                        }
                        other => other,
                    })
            };
            self.used
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(p.name.clone(), used + started.elapsed());
            let ms = started.elapsed().as_millis() as u64;
            match result {
                Ok(()) => events.emit(
                    Event::new(Kind::PluginEnd, Some(stage))
                        .plugin(&p.name)
                        .done(true, ms),
                ),
                Err(failure) => {
                    let f = PluginFailure {
                        plugin: p.name.clone(),
                        stage,
                        at: point.name(),
                        failure,
                    };
                    events.emit(
                        Event::new(Kind::PluginEnd, Some(stage))
                            .plugin(&p.name)
                            .done(false, ms)
                            .level(Level::Error)
                            .message(f.failure.to_string()),
                    );
                    return Err(f);
                }
            }
        }
        Ok(self.hooks(point).len())
    }

    /// Runs the strategy's rollout.
    pub async fn run_strategy(
        &self,
        base: &ContextBase,
        services: Arc<Services>,
        plan: Plan,
    ) -> Result<String, PluginFailure> {
        let p = &self.strategy;
        let events = services.events.clone();
        events.emit(Event::new(Kind::PluginStart, Some(Stage::Rollout)).plugin(&p.name));
        let started = Instant::now();
        let result = self
            .host
            .call_strategy(&p.loaded, self.env(p, None, base, services), p.limits, plan)
            .await;
        let ms = started.elapsed().as_millis() as u64;
        let ev = Event::new(Kind::PluginEnd, Some(Stage::Rollout)).plugin(&p.name);
        match result {
            Ok(summary) => {
                events.emit(ev.done(true, ms).message(summary.clone()));
                Ok(summary)
            }
            Err(failure) => {
                let f = PluginFailure {
                    plugin: p.name.clone(),
                    stage: Stage::Rollout,
                    at: "rollout",
                    failure,
                };
                events.emit(
                    ev.done(false, ms)
                        .level(Level::Error)
                        .message(f.failure.to_string()),
                );
                Err(f)
            }
        }
    }
}
