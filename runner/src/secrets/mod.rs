//! Secrets: dotenv files (`.hoist/secrets`, or `.kamal/secrets` when that is
//! what exists; `-common` first, then the destination's file), each read as
//! Kamal reads it with the dotenv gem ([`dotenv`]): line by line, later lines
//! seeing earlier ones, `$(command)` replaced by the command's output (run
//! with `sh -c` in the app's directory), so secrets can come from a password
//! manager: `DB_PASSWORD=$(op read op://vault/db/password)`. A
//! `$(kamal secrets fetch|extract ...)` (or `hoist secrets`) is answered by
//! hoist itself ([`commands`]), through its vault [`adapters`]. Values are only
//! ever handed to Docker in an API body; they never appear on a command line
//! or in hoist's output.

pub mod adapters;
pub mod commands;
pub mod dotenv;
pub mod shellwords;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use std::fmt;

/// A value that must never be printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The value, for the one place that hands it to Docker.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// A secrets file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// Parse or read error.
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    /// A secret the config needs is missing.
    #[error(
        "secret `{name}` (needed by {needed_by}) is not in {files}; add `{name}=...` to one of them"
    )]
    Missing {
        name: String,
        needed_by: String,
        files: String,
    },
}

/// Loaded secrets.
#[derive(Debug, Default, Clone)]
pub struct Secrets {
    values: BTreeMap<String, Secret>,
    files: Vec<PathBuf>,
    notes: Vec<String>,
}

impl Secrets {
    /// Reads the files that exist, later files overriding earlier ones
    /// (each file parsed on its own, as Kamal does); `$(command)`s run in
    /// `workdir`.
    pub fn load(files: &[PathBuf], workdir: &Path) -> Result<Secrets, SecretsError> {
        let mut values = BTreeMap::new();
        let mut notes = Vec::new();
        for path in files.iter().filter(|p| p.is_file()) {
            let file_error = |message: String| SecretsError::File {
                path: path.clone(),
                message,
            };
            let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
            let env = |k: &str| std::env::var(k).ok();
            let mut run = |command: &str| {
                if commands::is_inline(command) {
                    commands::run_inline(command, &mut adapters::SystemVendor)
                } else {
                    run_command(command, workdir)
                }
            };
            let parsed =
                dotenv::parse(&text, &env, &mut run).map_err(|e| file_error(e.to_string()))?;
            for line in parsed.ignored {
                notes.push(format!(
                    "{}:{line}: not a `KEY=value` line; ignored (as Kamal's dotenv does)",
                    path.display()
                ));
            }
            notes.extend(unsupported_expansions(path, &text));
            for e in parsed.entries {
                values.insert(e.key, Secret::new(e.value));
            }
        }
        Ok(Secrets {
            values,
            files: files.to_vec(),
            notes,
        })
    }

    /// What the files held that was ignored, one note per line.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// A secret by name.
    pub fn get(&self, name: &str) -> Option<&Secret> {
        self.values.get(name)
    }

    /// A secret that must exist.
    pub fn require(&self, name: &str, needed_by: &str) -> Result<&Secret, SecretsError> {
        self.get(name).ok_or_else(|| SecretsError::Missing {
            name: name.to_string(),
            needed_by: needed_by.to_string(),
            files: self
                .files
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" or "),
        })
    }

    /// Every secret, by name.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Secret)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Every secret value (to scrub output).
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.values.values().map(Secret::expose)
    }
}

/// Kamal's warning for `${VAR:-default}`-style expansions, which dotenv
/// does not do (it substitutes the name and keeps the rest verbatim).
fn unsupported_expansions(path: &Path, text: &str) -> Option<String> {
    static PATTERN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = PATTERN.get_or_init(|| {
        regex::Regex::new(r"(^|[^\\])\$\{[A-Za-z_][A-Za-z0-9_]*:?[-+?=]").expect("compiles")
    });
    let line = text
        .lines()
        .position(|l| !l.trim_start().starts_with('#') && re.is_match(l))?;
    Some(format!(
        "{}:{}: `${{VAR:-default}}`-style expansion is not supported by the secrets format (as in Kamal): only the name is substituted and the rest stays in the value; use `${{VAR}}` or compute the value with `$(command)`",
        path.display(),
        line + 1
    ))
}

fn run_command(command: &str, workdir: &Path) -> Result<String, String> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(workdir)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("could not start: {e}"))?;
    if !out.status.success() {
        // stderr may name the missing thing; stdout may hold a secret.
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "failed ({}){}",
            out.status,
            stderr
                .lines()
                .last()
                .map(|l| format!(": {l}"))
                .unwrap_or_default()
        ));
    }
    let mut s =
        String::from_utf8(out.stdout).map_err(|_| "printed non-UTF-8 output".to_string())?;
    while s.ends_with('\n') || s.ends_with('\r') {
        s.pop();
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_files_win_and_missing_names_the_files() {
        let d = tempfile::tempdir().unwrap();
        let common = d.path().join("secrets-common");
        let main = d.path().join("secrets");
        std::fs::write(&common, "A=1\nB=common\n").unwrap();
        std::fs::write(&main, "B=main\nC=\"quoted value\"\n").unwrap();
        let s = Secrets::load(&[common, main, d.path().join("absent")], d.path()).unwrap();
        assert_eq!(s.get("A").unwrap().expose(), "1");
        assert_eq!(s.get("B").unwrap().expose(), "main");
        assert_eq!(s.get("C").unwrap().expose(), "quoted value");
        let e = s.require("D", "env.secret").unwrap_err().to_string();
        assert!(
            e.contains("secret `D` (needed by env.secret)") && e.contains("absent"),
            "{e}"
        );
    }

    #[test]
    fn command_substitution_runs_in_the_app_dir_and_respects_quotes() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("token"), "s3cret with \"quotes\"\n").unwrap();
        let f = d.path().join("secrets");
        std::fs::write(
            &f,
            "A=$(cat token)\nB=\"x-$(printf '%s' \"$(echo nested)\")-y\"\nC='$(not run)'\nD=$HOME_NOT_SET\n# E=$(touch ran)\nF=$(echo \"$A\" | cut -c1-6)\n",
        )
        .unwrap();
        let s = Secrets::load(std::slice::from_ref(&f), d.path()).unwrap();
        assert_eq!(s.get("A").unwrap().expose(), "s3cret with \"quotes\"");
        assert_eq!(s.get("B").unwrap().expose(), "x-nested-y");
        assert_eq!(s.get("C").unwrap().expose(), "$(not run)");
        assert!(!d.path().join("ran").exists(), "a command in a comment ran");
        // A later line's command sees an earlier line's value.
        assert_eq!(s.get("F").unwrap().expose(), "s3cret");
        std::fs::write(&f, "OK=1\nBAD=$(cat token; echo oops >&2; exit 3)\n").unwrap();
        let e = Secrets::load(std::slice::from_ref(&f), d.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2, column 5") && e.contains("exit status: 3") && e.contains("oops"),
            "{e}"
        );
        assert!(!e.contains("s3cret"), "{e}");
    }
}
