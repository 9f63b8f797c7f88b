//! Vault adapters for `hoist secrets fetch`, each calling its vendor's CLI
//! as Kamal's adapter of the same name does (`lib/kamal/secrets/adapters`).
//! The calls are values ([`VendorCall`]) run in one place ([`SystemVendor`]),
//! so tests can record them or put stand-in CLIs on `PATH`.

mod aws;
mod bitwarden;
mod bitwarden_sm;
mod doppler;
mod enpass;
mod gcp;
mod last_pass;
mod one_password;
mod passbolt;
mod test_adapter;

use std::process::{Command, Stdio};

/// A vendor CLI call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorCall {
    /// The program (`op`, `bw`, ...), found on `PATH`.
    pub program: &'static str,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment (a session token).
    pub env: Vec<(String, String)>,
    /// Whether the CLI's stderr is hidden (dependency checks) instead of
    /// shown to the user (password prompts, the CLI's own errors).
    pub quiet: bool,
    /// Whether its stderr is read (Enpass prints results there).
    pub capture_stderr: bool,
}

impl VendorCall {
    /// `program args...`, stderr shown.
    pub fn new<S: Into<String>>(program: &'static str, args: impl IntoIterator<Item = S>) -> Self {
        VendorCall {
            program,
            args: args.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            quiet: false,
            capture_stderr: false,
        }
    }
    /// The same call with stderr hidden.
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }
}

/// What a call printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VendorOutput {
    /// Whether it exited 0.
    pub success: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error, when captured.
    pub stderr: String,
}

/// Runs vendor calls.
pub trait Vendor {
    /// Runs `call`; a program that cannot start is a failed call.
    fn run(&mut self, call: &VendorCall) -> VendorOutput;
    /// The runner's environment variable `key`.
    fn env(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

/// Runs calls on this machine, stdin and (unless quiet) stderr shared
/// with hoist, so a CLI can prompt for a password as it does under Kamal.
#[derive(Debug, Default)]
pub struct SystemVendor;

impl Vendor for SystemVendor {
    fn run(&mut self, call: &VendorCall) -> VendorOutput {
        let out = Command::new(call.program)
            .args(&call.args)
            .envs(call.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::inherit())
            .stderr(if call.capture_stderr {
                Stdio::piped()
            } else if call.quiet {
                Stdio::null()
            } else {
                Stdio::inherit()
            })
            .output();
        match out {
            Ok(o) => VendorOutput {
                success: o.status.success(),
                stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            },
            Err(_) => VendorOutput::default(),
        }
    }
}

/// A fetch that failed: Kamal's message, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AdapterError(pub String);

impl AdapterError {
    fn new(message: impl Into<String>) -> Self {
        AdapterError(message.into())
    }
}

/// Secrets in the order the vault gave them (a later duplicate replaces the
/// value in place, as a Ruby hash does).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched(pub Vec<(String, String)>);

impl Fetched {
    /// Sets `key`.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let (key, value) = (key.into(), value.into());
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }
}

/// One vault.
trait Adapter {
    /// Whether `--account` is required.
    fn requires_account(&self) -> bool {
        true
    }
    /// The call that answers when the CLI is installed, and the CLI's name.
    fn installed(&self) -> Option<(VendorCall, &'static str)>;
    /// Logs in when needed; the session to use, if any.
    fn login(
        &self,
        vendor: &mut dyn Vendor,
        account: Option<&str>,
    ) -> Result<Option<String>, AdapterError>;
    /// Fetches `secrets` (already prefixed with `--from`).
    fn fetch(
        &self,
        vendor: &mut dyn Vendor,
        secrets: &[String],
        from: Option<&str>,
        account: Option<&str>,
        session: Option<&str>,
    ) -> Result<Fetched, AdapterError>;
}

/// Every adapter name `--adapter` takes (Kamal's, with its aliases).
pub const ADAPTERS: &[&str] = &[
    "1password",
    "bitwarden",
    "bitwarden-sm",
    "lastpass",
    "aws_secrets_manager",
    "gcp",
    "doppler",
    "enpass",
    "passbolt",
    "test",
];

fn lookup(name: &str) -> Result<Box<dyn Adapter>, AdapterError> {
    match name.to_ascii_lowercase().as_str() {
        "1password" | "one_password" => Ok(Box::new(one_password::OnePassword)),
        "bitwarden" => Ok(Box::new(bitwarden::Bitwarden)),
        "bitwarden-sm" | "bitwarden_secrets_manager" => Ok(Box::new(bitwarden_sm::BitwardenSm)),
        "lastpass" | "last_pass" => Ok(Box::new(last_pass::LastPass)),
        "aws_secrets_manager" => Ok(Box::new(aws::Aws)),
        "gcp" | "gcp_secret_manager" => Ok(Box::new(gcp::Gcp)),
        "doppler" => Ok(Box::new(doppler::Doppler)),
        "enpass" => Ok(Box::new(enpass::Enpass)),
        "passbolt" => Ok(Box::new(passbolt::Passbolt)),
        "test" => Ok(Box::new(test_adapter::Test)),
        _ => Err(AdapterError(format!(
            "Unknown secrets adapter: {name} (hoist has: {})",
            ADAPTERS.join(", ")
        ))),
    }
}

/// `kamal secrets fetch`: the named secrets (all of `from` when none are
/// named, for adapters that can list) from the vault `adapter`.
pub fn fetch(
    vendor: &mut dyn Vendor,
    adapter: &str,
    secrets: &[String],
    account: Option<&str>,
    from: Option<&str>,
) -> Result<Fetched, AdapterError> {
    let a = lookup(adapter)?;
    let account = account.filter(|a| !a.is_empty());
    if a.requires_account() && account.is_none() {
        return Err(AdapterError::new(
            "No value provided for required options '--account' (the adapter needs the account to log in with)",
        ));
    }
    if let Some((call, name)) = a.installed()
        && !vendor.run(&call).success
    {
        return Err(AdapterError(format!(
            "{name} is not installed (`{}` is not on PATH or fails); install it, or fetch the secrets another way",
            call.program
        )));
    }
    let session = a.login(vendor, account)?;
    a.fetch(
        vendor,
        &prefixed(secrets, from),
        from,
        account,
        session.as_deref(),
    )
}

/// Kamal's `prefixed_secrets`: `from/secret` when `--from` is given.
fn prefixed(secrets: &[String], from: Option<&str>) -> Vec<String> {
    secrets
        .iter()
        .map(|s| match from {
            Some(f) => format!("{f}/{s}"),
            None => s.clone(),
        })
        .collect()
}

/// Runs `call`: its stdout as JSON, or `failed` when it exits non-zero.
fn read_json<S: Into<String>>(
    vendor: &mut dyn Vendor,
    call: &VendorCall,
    failed: impl FnOnce() -> S,
) -> Result<serde_json::Value, AdapterError> {
    let out = vendor.run(call);
    if !out.success {
        return Err(AdapterError(failed().into()));
    }
    json(call, &out.stdout)
}

/// `stdout` as JSON, or an error naming the call.
fn json(call: &VendorCall, stdout: &str) -> Result<serde_json::Value, AdapterError> {
    serde_json::from_str(stdout.trim()).map_err(|e| {
        AdapterError(format!(
            "`{} {}` did not print JSON ({e}); run it yourself to see what it says",
            call.program,
            call.args.first().map(String::as_str).unwrap_or("")
        ))
    })
}

/// The names `got` has no key for.
fn missing<'a>(names: impl IntoIterator<Item = &'a str>, got: &Fetched) -> Vec<&'a str> {
    names
        .into_iter()
        .filter(|n| !got.0.iter().any(|(k, _)| k == n))
        .collect()
}

/// A JSON value as the string Ruby would interpolate.
pub(crate) fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod recording {
    //! A vendor that answers from a script of (call, output) pairs.
    use super::*;

    pub struct Scripted {
        pub answers: Vec<(Vec<String>, VendorOutput)>,
        pub calls: Vec<VendorCall>,
    }

    impl Scripted {
        pub fn new(answers: &[(&str, bool, &str)]) -> Self {
            Scripted {
                answers: answers
                    .iter()
                    .map(|(argv, ok, out)| {
                        (
                            shell_words::split(argv).unwrap(),
                            VendorOutput {
                                success: *ok,
                                stdout: out.to_string(),
                                stderr: out.to_string(),
                            },
                        )
                    })
                    .collect(),
                calls: Vec::new(),
            }
        }
    }

    impl Vendor for Scripted {
        fn run(&mut self, call: &VendorCall) -> VendorOutput {
            self.calls.push(call.clone());
            let mut argv = vec![call.program.to_string()];
            argv.extend(call.args.iter().cloned());
            self.answers
                .iter()
                .find(|(a, _)| *a == argv)
                .map(|(_, o)| o.clone())
                .unwrap_or_default()
        }
        fn env(&self, _key: &str) -> Option<String> {
            None
        }
    }
}
