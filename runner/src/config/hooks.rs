//! Kamal's shell hooks: `hooks_path` (default `.kamal/hooks`) and
//! `hooks_output` (`:quiet`/`:verbose`, for all hooks or per hook). The hook
//! points and how a hook runs are in `crate::kamal_hooks`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::ConfigError;
use super::context::Cx;
use super::values::HooksOutput;
use crate::stage::HookPoint;

/// `hooks_output` for one hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookLevel {
    /// Output hidden (still shown with `-v`, and in the error when it fails).
    Quiet,
    /// Output shown.
    Verbose,
}

/// `hooks_output`, resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookOutput {
    /// `hooks_output: :verbose`.
    pub all: Option<HookLevel>,
    /// `hooks_output: {pre-deploy: :verbose}`.
    pub per_hook: BTreeMap<String, HookLevel>,
}

impl HookOutput {
    /// The setting for hook `name`, if any.
    pub fn for_hook(&self, name: &str) -> Option<HookLevel> {
        self.per_hook.get(name).copied().or(self.all)
    }
}

/// Where the shell hooks are and how loud they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellHooksConfig {
    /// `hooks_path`, relative to the app root.
    pub dir: PathBuf,
    /// `hooks_output`.
    pub output: HookOutput,
}

/// Resolves `hooks_path` and `hooks_output`; `notes` gets what a Kamal user
/// should know about their hooks directory.
pub(super) fn resolve(
    hooks_path: Option<&str>,
    hooks_output: Option<&HooksOutput>,
    cx: &Cx,
    notes: &mut Vec<String>,
) -> Result<ShellHooksConfig, ConfigError> {
    let dir = cx.rel(hooks_path.unwrap_or(".kamal/hooks"));
    let level = |key: String, text: &str| match text.trim_start_matches(':') {
        "quiet" => Ok(HookLevel::Quiet),
        "verbose" => Ok(HookLevel::Verbose),
        _ => Err(cx.err(key, format!("`{text}` is not one of :quiet, :verbose"))),
    };
    let mut output = HookOutput::default();
    match hooks_output {
        None => {}
        Some(HooksOutput::Global(t)) => output.all = Some(level("hooks_output".into(), t)?),
        Some(HooksOutput::PerHook(map)) => {
            for (name, t) in map {
                if HookPoint::named(name).is_none() {
                    notes.push(format!(
                        "`hooks_output.{name}` names no hook: the hooks are {}",
                        HookPoint::ALL.map(HookPoint::name).join(", ")
                    ));
                }
                output
                    .per_hook
                    .insert(name.clone(), level(format!("hooks_output.{name}"), t)?);
            }
        }
    }
    for point in HookPoint::ALL {
        let path = dir.join(point.name());
        if is_file_not_executable(&path) {
            notes.push(format!(
                "{} is not executable, so running it will fail (as under Kamal): `chmod +x {}`, or remove it",
                path.display(),
                path.display()
            ));
        }
    }
    Ok(ShellHooksConfig { dir, output })
}

#[cfg(unix)]
fn is_file_not_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 == 0)
}

#[cfg(not(unix))]
fn is_file_not_executable(_: &std::path::Path) -> bool {
    false
}
