//! `hoist secrets fetch|extract` as `kamal secrets` has them, for the
//! command line and for `$(kamal secrets ...)` / `$(hoist secrets ...)`
//! inside a secrets file, which hoist answers itself, as Kamal does
//! in-process, so no `kamal` needs to be installed.

use clap::{Parser, Subcommand};

use super::adapters::{self, AdapterError, Vendor};
pub use super::shellwords::shellescape;

/// `hoist secrets ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum SecretsCommand {
    /// Fetch secrets from a vault (prints them as one shell-quoted JSON object).
    Fetch {
        /// Which vault adapter to use (1password, bitwarden, bitwarden-sm, lastpass, aws_secrets_manager, gcp, doppler, enpass, passbolt, test).
        #[arg(short = 'a', long)]
        adapter: String,
        /// The account identifier or username.
        #[arg(long)]
        account: Option<String>,
        /// A vault or folder to fetch the secrets from.
        #[arg(long)]
        from: Option<String>,
        /// Return the value instead of printing it (Kamal's hidden flag).
        #[arg(long, hide = true)]
        inline: bool,
        /// The secrets to fetch.
        secrets: Vec<String>,
    },
    /// Extract a single secret from the results of a fetch call.
    Extract {
        /// The secret's name (or the last part of its path).
        name: String,
        /// What `fetch` printed.
        secrets: String,
        /// Return the value instead of printing it.
        #[arg(long, hide = true)]
        inline: bool,
    },
    /// Print the secrets the config's secrets files give (for debugging:
    /// shows the values).
    Print,
}

#[derive(Debug, Parser)]
#[command(name = "secrets", disable_help_flag = true)]
struct Inline {
    #[command(subcommand)]
    command: SecretsCommand,
}

/// Whether `command` (a `$(...)` body) is `kamal secrets ...` or
/// `hoist secrets ...` (Kamal's `/\A\s*kamal\s*secrets\s+/`).
pub fn is_inline(command: &str) -> bool {
    let t = command.trim_start();
    ["kamal", "hoist"].iter().any(|p| {
        t.strip_prefix(p)
            .map(|r| r.trim_start())
            .and_then(|r| r.strip_prefix("secrets"))
            .is_some_and(|r| r.starts_with(char::is_whitespace))
    })
}

/// Answers a `kamal secrets ...` command line from a secrets file.
pub fn run_inline(command: &str, vendor: &mut dyn Vendor) -> Result<String, String> {
    let words = shell_words::split(command).map_err(|e| format!("cannot split: {e}"))?;
    let rest = words.iter().skip(2).map(String::as_str);
    let parsed = Inline::try_parse_from(std::iter::once("secrets").chain(rest))
        .map_err(|e| e.render().to_string().trim().replace('\n', " "))?;
    answer(&parsed.command, vendor).map_err(|e| e.0)
}

/// What `fetch` or `extract` prints (without the newline).
pub fn answer(command: &SecretsCommand, vendor: &mut dyn Vendor) -> Result<String, AdapterError> {
    match command {
        SecretsCommand::Fetch {
            adapter,
            account,
            from,
            secrets,
            ..
        } => {
            let got = adapters::fetch(
                vendor,
                adapter,
                secrets,
                account.as_deref(),
                from.as_deref(),
            )?;
            Ok(shellescape(&to_json(&got.0)))
        }
        SecretsCommand::Extract { name, secrets, .. } => extract(name, secrets),
        // The command line prints with the config (`cli::secrets`).
        SecretsCommand::Print => Err(AdapterError(
            "`secrets print` cannot run inside a secrets file".into(),
        )),
    }
}

/// Kamal's `extract`: the key `name`, else the first key ending `/name`.
pub fn extract(name: &str, secrets: &str) -> Result<String, AdapterError> {
    let parsed: serde_json::Map<String, serde_json::Value> = serde_json::from_str(secrets)
        .map_err(|e| {
            AdapterError(format!(
                "`extract {name}`: the secrets are not the JSON `fetch` prints ({e}); pass `$SECRETS` from a `SECRETS=$(kamal secrets fetch ...)` line"
            ))
        })?;
    let suffix = format!("/{name}");
    let value = parsed
        .get(name)
        .filter(|v| !v.is_null())
        .or_else(|| {
            parsed
                .iter()
                .find(|(k, _)| k.ends_with(&suffix))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
        .ok_or_else(|| AdapterError(format!("Could not find secret {name}")))?;
    Ok(adapters::text(value))
}

/// Ruby's `JSON.dump` of a string-to-string hash, in order.
fn to_json(entries: &[(String, String)]) -> String {
    let body: Vec<String> = entries
        .iter()
        .map(|(k, v)| {
            format!(
                "{}:{}",
                serde_json::Value::String(k.clone()),
                serde_json::Value::String(v.clone())
            )
        })
        .collect();
    format!("{{{}}}", body.join(","))
}

#[cfg(test)]
mod tests {
    use super::super::adapters::recording::Scripted;
    use super::*;

    #[test]
    fn fetch_then_extract_round_trips_through_the_shell_quoting() {
        let mut v = Scripted::new(&[]);
        let out = run_inline(
            "kamal secrets fetch --adapter test --account a --from V/I 'A B' C",
            &mut v,
        )
        .unwrap();
        assert_eq!(out, r#"\{\"V/I/A\ B\":\"B\ A/I/V\",\"V/I/C\":\"C/I/V\"\}"#);
        // The next line's `$SECRETS` is that text; the shell words undo it.
        let got = run_inline(&format!("kamal secrets extract C {out}"), &mut v).unwrap();
        assert_eq!(got, "C/I/V");
        let got = run_inline(&format!("hoist secrets extract 'V/I/A B' {out}"), &mut v).unwrap();
        assert_eq!(got, "B A/I/V");
        let e = run_inline(&format!("kamal secrets extract D {out}"), &mut v).unwrap_err();
        assert_eq!(e, "Could not find secret D");
        let e = run_inline("kamal secrets fetch --adapter nope --account a X", &mut v).unwrap_err();
        assert!(e.contains("Unknown secrets adapter: nope"), "{e}");
    }

    #[test]
    fn only_secrets_commands_are_inline() {
        assert!(is_inline("kamal secrets fetch"));
        assert!(is_inline("  hoist  secrets\textract A B"));
        assert!(!is_inline("kamal secretsfetch"));
        assert!(!is_inline("kamal deploy"));
        assert!(!is_inline("echo kamal secrets x"));
        assert_eq!(shellescape("a b\n'c'"), "a\\ b'\n'\\'c\\'");
        assert_eq!(shellescape(""), "''");
    }
}
