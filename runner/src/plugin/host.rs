//! Loading and calling plugins with wasmtime's component model.
//!
//! One [`Engine`] (built by `plugin::engine`: epoch interruption, pooled
//! instances) and one [`Linker`] with WASI p2 and the host API. A component is compiled once and
//! cached on disk as `.cwasm`, keyed by its hash and the engine's
//! compatibility hash. Every call gets a fresh [`Store`]: its own deadline,
//! memory cap, and a WASI context with no environment, no network and no
//! files (but the plugin's granted state dir).

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

use super::cache::{CacheRefusal, CodeCache};
use super::call::QuotaExceeded;
use super::engine;
pub use super::engine::Allocation;
use super::limits::{Budget, Limits, OverBudget};
use super::state;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::call::{CallEnv, PluginState};
use super::catalog::{Entry, Wasm};
use super::context::{Outcome, Plan, Returned};
use super::manifest::PluginKind;
use super::wit::{self, v0_1};
use crate::events::{Event, Kind, Level};

/// What a component is, as `inspect` found it.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// Hook or strategy (the world it exports).
    pub kind: PluginKind,
    /// The hoist:plugin version it was built against.
    pub version: String,
    /// Every interface it imports.
    pub imports: Vec<String>,
    /// Every interface it exports.
    pub exports: Vec<String>,
    /// The capabilities its imports can reach.
    pub capabilities: Vec<String>,
}

/// Why the plugin host or a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The wasm engine or linker could not be set up.
    #[error("the plugin host cannot start: {0}")]
    Host(String),
    /// A plugin is missing, malformed, or does not match its manifest.
    #[error("plugin `{plugin}` ({place}): {message}")]
    Plugin {
        /// Plugin name.
        plugin: String,
        /// Where it came from (or where the config uses it).
        place: String,
        /// What is wrong and what to do.
        message: String,
    },
}

/// Bytes that are not a hoist plugin component (the message says why and
/// what to do).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct NotAPlugin(pub String);

/// How a plugin call failed.
#[derive(Debug, Clone)]
pub enum CallFailure {
    /// The plugin returned an error.
    Returned(Returned),
    /// It ran past its time limit and was stopped.
    Timeout(Duration),
    /// It used up its time for this deploy (all its calls together).
    Budget(Duration),
    /// It tried to grow memory past its limit.
    Memory(u64),
    /// It went over a quota (log lines, log bytes, captured output).
    Quota(QuotaExceeded),
    /// It trapped (panic, bad memory access...).
    Trap(String),
    /// The host could not set the call up.
    Setup(String),
}

impl std::fmt::Display for CallFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use Returned as E;
        match self {
            CallFailure::Returned(E::Aborted(m)) => write!(f, "aborted the deploy: {m}"),
            CallFailure::Returned(E::Denied(m)) => write!(f, "was denied: {m}"),
            CallFailure::Returned(E::Unavailable(m)) => {
                write!(f, "needed something unavailable: {m}")
            }
            CallFailure::Returned(E::Invalid(m)) => write!(f, "failed (invalid request): {m}"),
            CallFailure::Returned(E::Failed(m)) => write!(f, "failed: {m}"),
            CallFailure::Timeout(d) => write!(
                f,
                "did not finish within its time limit ({}) and was stopped; raise `limits.timeout` if it needs longer",
                humanize(*d)
            ),
            CallFailure::Budget(d) => write!(
                f,
                "used up its time for this deploy ({} across all its calls) and was stopped",
                humanize(*d)
            ),
            CallFailure::Memory(b) => write!(
                f,
                "tried to use more than its memory limit ({} MiB) and was stopped; raise `limits.memory` if it needs more",
                b >> 20
            ),
            CallFailure::Quota(q) => write!(f, "{q}"),
            CallFailure::Trap(m) => write!(f, "crashed: {m}"),
            CallFailure::Setup(m) => write!(f, "could not be started: {m}"),
        }
    }
}

fn humanize(d: Duration) -> String {
    if !d.as_millis().is_multiple_of(1000) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs())
    }
}

/// A compiled, linked plugin ready to instantiate, by kind and by the WIT
/// version it was built against.
#[derive(Clone)]
pub enum Loaded {
    /// A `hoist:plugin@0.1` hook.
    HookV0_1(v0_1::hook::HookPluginPre<PluginState>),
    /// A `hoist:plugin@0.1` strategy.
    StrategyV0_1(v0_1::strategy::StrategyPluginPre<PluginState>),
}

/// The plugin host.
pub struct PluginHost {
    engine: Engine,
    linker: Linker<PluginState>,
    cache: Option<CodeCache>,
    cache_refusal: Option<CacheRefusal>,
    allocation: Allocation,
    ticker: Arc<engine::Ticker>,
}

/// Bytes of stdout (and of stderr) kept per call.
pub const OUTPUT_QUOTA: usize = 1 << 20;

/// The default component cache: `$HOIST_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/hoist`, else `~/.cache/hoist`; then `/components`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("HOIST_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|p| PathBuf::from(p).join("hoist")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/hoist")))?;
    Some(base.join("components"))
}

impl PluginHost {
    /// Builds the engine and linker. `cache_dir: None` disables the cache;
    /// a cache dir that fails [`CodeCache::open`]'s checks (inside
    /// `app_root`, writable by others) is not used ([`Self::cache_refusal`]
    /// says why).
    pub fn new(
        cache_dir: Option<PathBuf>,
        app_root: Option<&Path>,
    ) -> Result<PluginHost, LoadError> {
        Self::with_allocation(cache_dir, app_root, Allocation::Pooled)
    }

    /// [`Self::new`] with instances allocated as `allocation` says (when the
    /// pool can't be reserved, per call).
    pub fn with_allocation(
        cache_dir: Option<PathBuf>,
        app_root: Option<&Path>,
        allocation: Allocation,
    ) -> Result<PluginHost, LoadError> {
        let (cache, cache_refusal) = match cache_dir.map(|d| CodeCache::open(&d, app_root)) {
            None => (None, None),
            Some(Ok(c)) => (Some(c), None),
            Some(Err(r)) => (None, Some(r)),
        };
        let (engine, allocation, ticker) = engine::build(allocation).map_err(LoadError::Host)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| LoadError::Host(format!("linking WASI: {e}")))?;
        // Every supported WIT version's host API, side by side.
        v0_1::host_api::HostApi::add_to_linker::<PluginState, HasSelf<PluginState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| LoadError::Host(format!("linking the host API: {e}")))?;
        Ok(PluginHost {
            engine,
            linker,
            cache,
            cache_refusal,
            allocation,
            ticker,
        })
    }

    /// Where instances get their memory in this host.
    pub fn allocation(&self) -> Allocation {
        self.allocation
    }

    /// Why the configured cache is not used, when it is not.
    pub fn cache_refusal(&self) -> Option<&CacheRefusal> {
        self.cache_refusal.as_ref()
    }

    fn compile(&self, bytes: &[u8]) -> Result<Component, String> {
        let Some(cache) = &self.cache else {
            return Component::from_binary(&self.engine, bytes).map_err(|e| format!("{e:#}"));
        };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        let key = format!(
            "{}-{:016x}.cwasm",
            hex::encode(Sha256::digest(bytes)),
            h.finish()
        );
        if let Some(path) = cache.trusted_file(&key) {
            // SAFETY: `trusted_file` only returns a regular file this user
            // owns, that nobody else can write, in a directory that passed
            // `CodeCache::open` (outside the app, writable only by this
            // user): it was written by this host from `precompile_component`
            // with the same engine configuration (its compatibility hash is
            // part of the name). wasmtime checks its header and version too.
            if let Ok(c) = unsafe { Component::deserialize_file(&self.engine, &path) } {
                return Ok(c);
            }
        }
        let compiled = self
            .engine
            .precompile_component(bytes)
            .map_err(|e| format!("{e:#}"))?;
        cache.store(&key, &compiled);
        // SAFETY: bytes just produced by `precompile_component` on this engine.
        unsafe { Component::deserialize(&self.engine, &compiled) }.map_err(|e| format!("{e:#}"))
    }

    /// Checks that `bytes` are a hoist plugin component of a supported WIT
    /// version and says what it is: its kind, WIT version, imports and the
    /// capabilities those imports can reach (`hoist plugin inspect`).
    pub fn inspect(&self, bytes: &[u8]) -> Result<(Component, Inspection), NotAPlugin> {
        let no = |m: String| NotAPlugin(m);
        if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
            return Err(no(
                "the component file is not WebAssembly (no `\\0asm` header); rebuild it with `cargo build --target wasm32-wasip2`".into(),
            ));
        }
        if bytes[4..8] == [1, 0, 0, 0] {
            return Err(no(
                "this is a core WebAssembly module, not a component; build it for the wasm32-wasip2 target".into(),
            ));
        }
        let component = self
            .compile(bytes)
            .map_err(|e| no(format!("not a valid WebAssembly component: {e}")))?;
        let ty = component.component_type();
        let exports: Vec<String> = ty
            .exports(&self.engine)
            .map(|(n, _)| n.to_string())
            .collect();
        let imports: Vec<String> = ty
            .imports(&self.engine)
            .map(|(n, _)| n.to_string())
            .collect();

        let found_kind = exports.iter().find_map(|e| {
            let (iface, version) = e.split_once('@').unwrap_or((e, ""));
            match iface {
                "hoist:plugin/hook" => Some((PluginKind::Hook, version.to_string())),
                "hoist:plugin/strategy" => Some((PluginKind::Strategy, version.to_string())),
                _ => None,
            }
        });
        let (kind, version) = found_kind.ok_or_else(|| {
            no(format!(
                "the component is not a hoist plugin: it exports neither hoist:plugin/hook nor hoist:plugin/strategy (exports: {})",
                if exports.is_empty() { "nothing".to_string() } else { exports.join(", ") }
            ))
        })?;
        if wit::matching(&version).is_none() {
            return Err(no(format!(
                "built against hoist:plugin@{version}; this hoist supports {}. Rebuild it with a matching hoist-plugin SDK",
                wit::describe()
            )));
        }
        let capabilities = imports
            .iter()
            .filter_map(|i| match i.split('@').next().unwrap_or(i) {
                "hoist:plugin/docker" => Some("docker (read or write, per the manifest)"),
                "hoist:plugin/commands" => Some("commands (argv patterns, per the manifest)"),
                "hoist:plugin/rollout" => {
                    Some("rollout (start, wait-healthy, route, retire, roll back)")
                }
                "hoist:plugin/http" => Some("http (outbound POST to granted hosts)"),
                _ => None,
            })
            .map(String::from)
            .collect();
        Ok((
            component,
            Inspection {
                kind,
                version,
                imports,
                exports,
                capabilities,
            },
        ))
    }

    /// Reads, checks, compiles and links a plugin.
    pub fn load(&self, entry: &Entry) -> Result<Loaded, LoadError> {
        let m = &entry.manifest;
        let fail = |message: String| LoadError::Plugin {
            plugin: m.name.clone(),
            place: entry.place(),
            message,
        };
        let owned;
        let bytes: &[u8] = match &entry.wasm {
            Wasm::Static(b) => b,
            Wasm::File(p) => {
                owned = std::fs::read(p)
                    .map_err(|e| fail(format!("cannot read {}: {e}", p.display())))?;
                &owned
            }
        };
        let (component, info) = self.inspect(bytes).map_err(|e| fail(e.0))?;
        let kind = info.kind;
        let imports = info.imports;
        if kind != m.kind {
            return Err(fail(format!(
                "plugin.toml says kind = \"{}\", but the component is a {} (it exports hoist:plugin/{}); fix `kind` or the component",
                m.kind.name(),
                kind.name(),
                kind.name()
            )));
        }
        let declared = m.declared();
        for import in &imports {
            let iface = import.split('@').next().unwrap_or(import);
            let undeclared = match iface {
                "hoist:plugin/docker" => declared.docker == super::grants::DockerAccess::None,
                "hoist:plugin/commands" => declared.commands.is_empty(),
                "hoist:plugin/rollout" if kind == PluginKind::Hook => {
                    return Err(fail(format!(
                        "the component imports {import}, but hooks do not drive the rollout (the hook-plugin world has no rollout); make it a strategy, or drop the rollout calls"
                    )));
                }
                "hoist:plugin/rollout" => !declared.rollout,
                "hoist:plugin/http" => declared.http.is_empty(),
                _ => false,
            };
            if undeclared {
                return Err(fail(format!(
                    "the component imports {import}, but plugin.toml declares no matching capability; add it under [capabilities]"
                )));
            }
            if !iface.starts_with("hoist:plugin/") && !iface.starts_with("wasi:") {
                return Err(fail(format!(
                    "the component imports {import}, which hoist does not provide"
                )));
            }
        }
        let version = wit::matching(&info.version).expect("checked by inspect");
        let pre = self.linker.instantiate_pre(&component).map_err(|e| {
            fail(format!(
                "cannot link it against {}@{version}: {e:#}",
                wit::PACKAGE
            ))
        })?;
        // One arm per supported version (only 0.1 today).
        match kind {
            PluginKind::Hook => v0_1::hook::HookPluginPre::new(pre)
                .map(Loaded::HookV0_1)
                .map_err(|e| fail(format!("{e:#}"))),
            PluginKind::Strategy => v0_1::strategy::StrategyPluginPre::new(pre)
                .map(Loaded::StrategyV0_1)
                .map_err(|e| fail(format!("{e:#}"))),
        }
    }

    fn store(
        &self,
        env: Arc<CallEnv>,
        limits: Limits,
        state_dir: Option<&Path>,
        out: &MemoryOutputPipe,
        err: &MemoryOutputPipe,
        deadline: Instant,
    ) -> Result<Store<PluginState>, String> {
        let mut wasi = WasiCtxBuilder::new();
        // Its file operations (only ever on its own /state dir) run on this
        // thread rather than a blocking pool: each is a few microseconds.
        wasi.stdout(out.clone())
            .stderr(err.clone())
            .allow_blocking_current_thread(true);
        if let Some(dir) = state_dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("state dir {}: {e}", dir.display()))?;
            wasi.preopened_dir(dir, "/state", FsPerms::ReadWrite)
                .map_err(|e| format!("state dir {}: {e}", dir.display()))?;
        }
        let state = PluginState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limits: Budget::new(limits.memory),
            call: env,
            running: self.ticker.running(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |store| {
            if let Some(q) = store.data().call.quota.exceeded() {
                return Err(wasmtime::Error::new(q.clone()));
            }
            Ok(if Instant::now() >= deadline {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Yield(1)
            })
        });
        Ok(store)
    }

    /// When a call with `limits` must end (the limit was checked at load;
    /// a value past the clock's range is refused here, never a panic).
    fn deadline(limits: Limits) -> Result<Instant, CallFailure> {
        Instant::now().checked_add(limits.timeout).ok_or_else(|| {
            CallFailure::Setup(format!(
                "limits.timeout {}s is out of range",
                limits.timeout.as_secs()
            ))
        })
    }

    /// Runs a call's future until `deadline`. The epoch interrupt stops
    /// wasm code; this stops the call while it waits in a host function
    /// (a WASI sleep or poll, a Docker or shell call, a rollout step): the
    /// host future is dropped, which kills a local command (`kill_on_drop`)
    /// and closes an SSH channel or engine request.
    async fn within<T>(
        deadline: Instant,
        call: impl std::future::Future<Output = wasmtime::Result<T>>,
    ) -> wasmtime::Result<T> {
        match tokio::time::timeout_at(deadline.into(), call).await {
            Ok(r) => r,
            Err(_) => Err(wasmtime::Error::from(Trap::Interrupt)),
        }
    }

    fn classify(e: wasmtime::Error, limits: Limits) -> CallFailure {
        if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            return CallFailure::Timeout(limits.timeout);
        }
        if e.downcast_ref::<OverBudget>().is_some()
            || format!("{e:?}").contains("plugin memory limit of")
        {
            return CallFailure::Memory(limits.memory);
        }
        let text = format!("{e:?}");
        let first = format!("{e}");
        let detail = text
            .lines()
            .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
            .take(6)
            .collect::<Vec<_>>()
            .join("\n");
        if detail.is_empty() {
            CallFailure::Trap(first)
        } else {
            CallFailure::Trap(format!("{first}\n{detail}"))
        }
    }

    /// Why a call trapped: a full stdout or stderr (so it failed to print)
    /// or a log quota is that quota, whatever the trap says; else what
    /// [`Self::classify`] makes of the trap.
    fn trapped(
        e: wasmtime::Error,
        limits: Limits,
        env: &CallEnv,
        out: &MemoryOutputPipe,
        err: &MemoryOutputPipe,
    ) -> CallFailure {
        let full = [(out, "captured stdout"), (err, "captured stderr")]
            .into_iter()
            .find(|(p, _)| p.contents().len() >= OUTPUT_QUOTA)
            .map(|(_, what)| QuotaExceeded {
                what,
                limit: format!("{} MiB", OUTPUT_QUOTA >> 20),
            });
        match full.or_else(|| env.quota.exceeded().cloned()) {
            Some(q) => CallFailure::Quota(q),
            None => Self::classify(e, limits),
        }
    }

    fn report_output(env: &CallEnv, out: &MemoryOutputPipe, err: &MemoryOutputPipe) {
        for (pipe, level) in [(out, Level::Debug), (err, Level::Warn)] {
            // Scrubbed whole first, so a secret split across lines is caught.
            let text = env
                .services
                .events
                .scrub(&String::from_utf8_lossy(&pipe.contents()));
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                env.services.events.emit(
                    Event::new(Kind::Log, Some(env.stage))
                        .plugin(&env.plugin)
                        .level(level)
                        .message(line.to_string()),
                );
            }
        }
    }

    /// Runs a hook once.
    pub async fn call_hook(
        &self,
        loaded: &Loaded,
        env: Arc<CallEnv>,
        limits: Limits,
        state_dir: Option<&Path>,
        outcome: Option<Outcome>,
    ) -> Result<(), CallFailure> {
        let (out, err) = (
            MemoryOutputPipe::new(OUTPUT_QUOTA),
            MemoryOutputPipe::new(OUTPUT_QUOTA),
        );
        if let Some(why) = state_dir.and_then(state::refuse_start) {
            return Err(CallFailure::Setup(why));
        }
        let deadline = Self::deadline(limits)?;
        let _ = env.deadline.set(deadline);
        let mut store = self
            .store(env.clone(), limits, state_dir, &out, &err, deadline)
            .map_err(CallFailure::Setup)?;
        let call = Self::within(deadline, async {
            match loaded {
                Loaded::HookV0_1(pre) => {
                    let ctx = v0_1::host::deploy_context(&env);
                    let outcome = outcome.as_ref().map(v0_1::host::outcome);
                    let plugin = pre.instantiate_async(&mut store).await?;
                    plugin
                        .hoist_plugin_hook()
                        .call_run(&mut store, &ctx, outcome.as_ref())
                        .await
                }
                Loaded::StrategyV0_1(_) => {
                    Err(wasmtime::format_err!("a strategy was called as a hook"))
                }
            }
        });
        // The state dir is measured while the call runs (WASI writes go
        // straight to it) and once more after.
        let result = match state_dir {
            Some(dir) => tokio::select! {
                r = call => r,
                q = state::watch(dir, &env.quota) => Err(wasmtime::Error::new(q)),
            },
            None => call.await,
        };
        Self::report_output(&env, &out, &err);
        if let Some(q) = state_dir.and_then(|d| state::over(state::usage(d))) {
            env.quota.mark(q);
        }
        match result {
            _ if env.quota.exceeded().is_some() => Err(CallFailure::Quota(
                env.quota.exceeded().cloned().expect("checked"),
            )),
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(CallFailure::Returned(
                v0_1::host::returned(e).map(|m| env.text(m)),
            )),
            Err(e) => Err(Self::trapped(e, limits, &env, &out, &err)),
        }
    }

    /// Runs a strategy's rollout.
    pub async fn call_strategy(
        &self,
        loaded: &Loaded,
        env: Arc<CallEnv>,
        limits: Limits,
        plan: Plan,
    ) -> Result<String, CallFailure> {
        let (out, err) = (
            MemoryOutputPipe::new(OUTPUT_QUOTA),
            MemoryOutputPipe::new(OUTPUT_QUOTA),
        );
        let deadline = Self::deadline(limits)?;
        let _ = env.deadline.set(deadline);
        let mut store = self
            .store(env.clone(), limits, None, &out, &err, deadline)
            .map_err(CallFailure::Setup)?;
        let result = Self::within(deadline, async {
            match loaded {
                Loaded::StrategyV0_1(pre) => {
                    let ctx = v0_1::host::deploy_context(&env);
                    let plan = v0_1::host::plan(&plan);
                    let plugin = pre.instantiate_async(&mut store).await?;
                    plugin
                        .hoist_plugin_strategy()
                        .call_roll_out(&mut store, &ctx, &plan)
                        .await
                }
                Loaded::HookV0_1(_) => {
                    Err(wasmtime::format_err!("a hook was called as a strategy"))
                }
            }
        })
        .await;
        Self::report_output(&env, &out, &err);
        match result {
            Ok(Ok(summary)) => Ok(summary),
            Ok(Err(e)) => Err(CallFailure::Returned(
                v0_1::host::returned(e).map(|m| env.text(m)),
            )),
            Err(e) => Err(Self::trapped(e, limits, &env, &out, &err)),
        }
    }
}
