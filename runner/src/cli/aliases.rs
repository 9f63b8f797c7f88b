//! `aliases:` as Kamal has them: `hoist NAME ARGS...` runs the aliased
//! command line (shell-split) with ARGS appended, and `hoist --help` lists
//! the aliases the config defines.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::common::Common;
use crate::config::{self, LoadOptions};

/// `-c`/`-d` found in `words` (clap leaves those after an alias name in
/// the alias's words), over `o`.
pub fn load_options(mut o: LoadOptions, words: &[String]) -> LoadOptions {
    let mut it = words.iter();
    while let Some(w) = it.next() {
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (w.as_str(), None),
        };
        let value =
            |it: &mut std::slice::Iter<'_, String>| inline.clone().or_else(|| it.next().cloned());
        match flag {
            "-c" | "--config-file" => {
                if let Some(v) = value(&mut it) {
                    o.config_file = PathBuf::from(v);
                }
            }
            "-d" | "--destination" => o.destination = value(&mut it),
            _ => {}
        }
    }
    o
}

/// The config's aliases, when it loads.
pub fn defined(options: &LoadOptions) -> BTreeMap<String, String> {
    config::load(options)
        .ok()
        .and_then(|c| c.raw.aliases.clone())
        .unwrap_or_default()
}

/// The argv for `hoist ... NAME rest...`: `before` (what came before the
/// name), the alias's words, then `rest`.
pub fn expand(common: &Common, before: &[String], words: &[String]) -> Result<Vec<String>, String> {
    let (name, rest) = words.split_first().ok_or("no command given")?;
    let options = load_options(common.load_options(), rest);
    let aliases = defined(&options);
    let Some(line) = aliases.get(name) else {
        let known = if aliases.is_empty() {
            String::new()
        } else {
            format!(
                "; the aliases in {} are: {}",
                options.config_file.display(),
                aliases.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        };
        return Err(format!(
            "unrecognized subcommand '{name}' (see `hoist --help`){known}"
        ));
    };
    let expansion = shell_words::split(line).map_err(|e| {
        format!(
            "{}: aliases.{name}: `{line}` cannot be split like a shell line ({e})",
            options.config_file.display()
        )
    })?;
    if expansion.first().is_some_and(|w| aliases.contains_key(w)) {
        return Err(format!(
            "{}: aliases.{name}: an alias runs a hoist command, not another alias",
            options.config_file.display()
        ));
    }
    let mut argv = before.to_vec();
    argv.extend(expansion);
    argv.extend(rest.iter().cloned());
    Ok(argv)
}

/// The `--help` footer listing the aliases.
pub fn help(aliases: &BTreeMap<String, String>) -> Option<String> {
    if aliases.is_empty() {
        return None;
    }
    let width = aliases.keys().map(String::len).max().unwrap_or(0);
    let lines: Vec<String> = aliases
        .iter()
        .map(|(k, v)| format!("  {k:width$}  hoist {v}"))
        .collect();
    Some(format!(
        "Aliases (from the config's `aliases:`):\n{}",
        lines.join("\n")
    ))
}
