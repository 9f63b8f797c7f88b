//! `hoist plugin new` and `hoist plugin build`: a plugin crate that builds as
//! is, and the build that checks it and installs it into a plugins dir.

use std::path::{Path, PathBuf};

use super::catalog::{Entry, Origin, Wasm};
use super::host::LoadError;
use super::host::PluginHost;
use super::manifest::{Manifest, PluginKind};
use crate::stage::HookPoint;

/// Where the SDK crate was when this hoist was built (a checkout).
pub fn default_sdk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/sdk")
}

/// Checks a plugin name: lowercase letters, digits and `-`, starting with a letter.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.len() <= 64
}

/// The files of a new plugin crate: `(relative path, contents)`.
pub fn files(name: &str, kind: PluginKind, stage: HookPoint, sdk: &Path) -> Vec<(String, String)> {
    let feature = kind.name();
    let cargo = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
hoist-plugin = {{ path = "{sdk}", features = ["{feature}"] }}

# Small components: size-optimised, one codegen unit, no symbols.
[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
strip = true

# A workspace of its own, wherever the crate is created.
[workspace]
"#,
        sdk = sdk.display()
    );
    let config = "# Plugins are WebAssembly components.\n[build]\ntarget = \"wasm32-wasip2\"\n";
    let (lib, manifest) = match kind {
        PluginKind::Hook => (
            format!(
                r#"//! {name}: a hoist hook, run at {stage}.
//!
//! Build and install it into an app's plugins dir with `hoist plugin build`,
//! then list it under `hooks: {stage}:` in config/deploy.yml.

use hoist_plugin::{{DeployContext, Hook, Outcome, PluginError, Settings, docker, export_hook, log}};

struct Plugin;

impl Hook for Plugin {{
    fn run(ctx: DeployContext, outcome: Option<Outcome>) -> Result<(), PluginError> {{
        // Settings come from the config: `settings: {{ greeting: hi }}`.
        let greeting = ctx.setting("greeting").unwrap_or("hello");
        log::info(&format!(
            "{{greeting}} from {name}: {{}} {{}} on {{}} host(s)",
            ctx.service,
            ctx.version,
            ctx.hosts.len()
        ));
        for host in &ctx.hosts {{
            // Allowed by `docker = "read"` in plugin.toml; without it this
            // returns a `denied` error instead.
            let present = docker::image_exists(host, &ctx.image)?;
            log::info(&format!("{{host}}: {{}} present: {{present}}", ctx.image));
        }}
        if let Some(o) = outcome {{
            log::info(&format!("the deploy finished: success={{}}", o.success));
        }}
        // Returning Err(PluginError::Aborted("why".into())) stops a pre-* stage.
        Ok(())
    }}
}}

export_hook!(Plugin);
"#
            ),
            format!(
                r#"name = "{name}"
kind = "hook"
description = "A hook made with hoist plugin new"
stages = ["{stage}"]

# What it may use. A manifest only declares: Docker read and the config keys
# it names come by default; Docker write, commands, HTTP and state only when
# the deploy config grants them (`grants:` under the plugin).
[capabilities]
docker = "read"
# commands = ["git status *"]   # argv patterns, on `local`; {{ run = "uptime", on = "servers" }} on servers; need a grant
# state = true                  # a private dir, /state inside the plugin; needs a grant

[limits]
timeout = "30s"
memory = "64MiB"

# The settings it reads, checked when a deploy loads (before anything is
# built): a setting not listed, or of the wrong type, is an error there.
# Types: string, number, integer, bool, duration, list, map.
[settings]
greeting = {{ type = "string", description = "how it greets (default hello)" }}
"#
            ),
        ),
        PluginKind::Strategy => (
            format!(
                r#"//! {name}: a hoist rollout strategy that updates every target at once.
//!
//! Build and install it with `hoist plugin build`, then deploy with
//! `hoist deploy --strategy {name}` (or `deploy: {{ strategy: {name} }}`).

use hoist_plugin::{{
    DeployContext, Plan, PluginError, Strategy, Target, export_strategy, log, rollout, step,
}};

struct Plugin;

impl Strategy for Plugin {{
    fn roll_out(ctx: DeployContext, plan: Plan) -> Result<String, PluginError> {{
        log::info(&format!(
            "{name}: {{}} {{}} on {{}} target(s) at once",
            ctx.service,
            ctx.version,
            plan.targets.len()
        ));
        let mut live: Vec<Target> = plan.targets.clone();
        // Each step works on all targets in parallel on the host side.
        for f in [
            rollout::start,
            rollout::wait_healthy,
            rollout::route,
            rollout::retire,
        ] {{
            let (ok, failed) = step(f, &live);
            if let Some((target, e)) = failed.into_iter().next() {{
                // Put the others back on the old version, then report.
                step(rollout::roll_back, &ok);
                return Err(PluginError::Failed(format!(
                    "{{}} failed: {{}}",
                    target.label(),
                    e.message()
                )));
            }}
            live = ok;
        }}
        Ok(format!("updated {{}} target(s)", live.len()))
    }}
}}

export_strategy!(Plugin);
"#
            ),
            format!(
                r#"name = "{name}"
kind = "strategy"
description = "A strategy made with hoist plugin new: every target at once"

[capabilities]
rollout = true

[limits]
timeout = "1h"
memory = "64MiB"
"#
            ),
        ),
    };
    let ignore = "/target\n".to_string();
    vec![
        ("Cargo.toml".into(), cargo),
        (".cargo/config.toml".into(), config.into()),
        (".gitignore".into(), ignore),
        ("src/lib.rs".into(), lib),
        ("plugin.toml".into(), manifest),
    ]
}

/// Why a plugin crate could not be created, built or installed (the message
/// says what to do).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ScaffoldError(pub String);

impl From<String> for ScaffoldError {
    fn from(s: String) -> Self {
        ScaffoldError(s)
    }
}

impl From<super::manifest::ManifestError> for ScaffoldError {
    fn from(e: super::manifest::ManifestError) -> Self {
        ScaffoldError(e.to_string())
    }
}

/// Writes a new plugin crate into `dir` (which must not exist or be empty).
pub fn create(
    dir: &Path,
    name: &str,
    kind: PluginKind,
    stage: HookPoint,
    sdk: &Path,
) -> Result<(), ScaffoldError> {
    if !valid_name(name) {
        return Err(ScaffoldError(format!(
            "`{name}` is not a plugin name: use lowercase letters, digits and `-`, starting with a letter"
        )));
    }
    if !sdk.join("Cargo.toml").is_file() {
        return Err(ScaffoldError(format!(
            "the hoist-plugin SDK is not at {}; pass --sdk PATH (the plugins/sdk dir of a hoist checkout)",
            sdk.display()
        )));
    }
    if dir.exists()
        && dir
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(ScaffoldError(format!(
            "{} exists and is not empty",
            dir.display()
        )));
    }
    let sdk = sdk
        .canonicalize()
        .map_err(|e| ScaffoldError::from(format!("{}: {e}", sdk.display())))?;
    for (rel, text) in files(name, kind, stage, &sdk) {
        let p = dir.join(&rel);
        std::fs::create_dir_all(p.parent().expect("files have a parent"))
            .and_then(|()| std::fs::write(&p, text))
            .map_err(|e| ScaffoldError::from(format!("cannot write {}: {e}", p.display())))?;
    }
    Ok(())
}

/// Builds the plugin crate in `dir` for wasm32-wasip2 (cargo's output goes
/// to the terminal), checks the component against its manifest, and installs
/// both into `plugins_dir/<name>/`. Returns the installed component's path.
pub fn build(dir: &Path, plugins_dir: &Path, host: &PluginHost) -> Result<PathBuf, ScaffoldError> {
    let manifest_path = dir.join("plugin.toml");
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| {
        ScaffoldError(format!(
            "{}: {e} (is {} a plugin crate? `hoist plugin new` makes one)",
            manifest_path.display(),
            dir.display()
        ))
    })?;
    let manifest = Manifest::parse(&text, &manifest_path.display().to_string())?;
    let cargo_toml = dir.join("Cargo.toml");
    let package: toml::Table = std::fs::read_to_string(&cargo_toml)
        .map_err(|e| ScaffoldError::from(format!("{}: {e}", cargo_toml.display())))?
        .parse()
        .map_err(|e| ScaffoldError::from(format!("{}: {e}", cargo_toml.display())))?;
    let crate_name = package
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .ok_or_else(|| format!("{}: no [package] name", cargo_toml.display()))?
        .to_string();
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "--target", "wasm32-wasip2"])
            .current_dir(dir)
            .status()
            .map_err(|e| ScaffoldError::from(format!("cannot run cargo: {e}")))?;
    if !status.success() {
        return Err(ScaffoldError(format!(
            "cargo build failed in {} (is the target installed? `rustup target add wasm32-wasip2`)",
            dir.display()
        )));
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { dir.join(t) })
        .unwrap_or_else(|| dir.join("target"));
    let wasm = target_dir
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", crate_name.replace('-', "_")));
    if !wasm.is_file() {
        return Err(ScaffoldError(format!(
            "cargo did not produce {} (is `crate-type = [\"cdylib\"]` set?)",
            wasm.display()
        )));
    }
    let entry = Entry {
        manifest: manifest.clone(),
        origin: Origin::Dir(dir.to_path_buf()),
        wasm: Wasm::File(wasm.clone()),
        overrides_embedded: false,
    };
    host.load(&entry).map_err(|e| match e {
        LoadError::Plugin { message, .. } => ScaffoldError(message),
        other => ScaffoldError(other.to_string()),
    })?;
    let dest = plugins_dir.join(&manifest.name);
    std::fs::create_dir_all(&dest)
        .map_err(|e| ScaffoldError::from(format!("{}: {e}", dest.display())))?;
    let installed = dest.join(format!("{}.wasm", manifest.name));
    std::fs::copy(&wasm, &installed)
        .and_then(|_| std::fs::write(dest.join("plugin.toml"), &text))
        .map_err(|e| ScaffoldError::from(format!("cannot install into {}: {e}", dest.display())))?;
    Ok(installed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_refusals() {
        assert!(valid_name("greet") && valid_name("slack-notify2"));
        assert!(!valid_name("Greet") && !valid_name("2x") && !valid_name("a_b") && !valid_name(""));
        let d = tempfile::tempdir().unwrap();
        let e = create(
            &d.path().join("x"),
            "x",
            PluginKind::Hook,
            HookPoint::PreDeploy,
            Path::new("/nonexistent"),
        )
        .unwrap_err();
        assert!(e.0.contains("--sdk"), "{e}");
        std::fs::write(d.path().join("busy"), "").unwrap();
        let e = create(
            d.path(),
            "x",
            PluginKind::Hook,
            HookPoint::PreDeploy,
            &default_sdk(),
        )
        .unwrap_err();
        assert!(e.0.contains("not empty"), "{e}");
    }

    #[test]
    fn manifests_parse_and_name_the_plugin() {
        for kind in [PluginKind::Hook, PluginKind::Strategy] {
            let files = files("greet", kind, HookPoint::PostDeploy, Path::new("/sdk"));
            let manifest = &files.iter().find(|(p, _)| p == "plugin.toml").unwrap().1;
            let m = Manifest::parse(manifest, "plugin.toml").unwrap();
            assert_eq!((m.name.as_str(), m.kind), ("greet", kind));
            let cargo = &files[0].1;
            assert!(
                cargo.contains(&format!("features = [\"{}\"]", kind.name())),
                "{cargo}"
            );
        }
    }
}
