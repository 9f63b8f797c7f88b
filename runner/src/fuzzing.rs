//! What the fuzz targets (`runner/fuzz/`) check, one function per target,
//! shared with the regression test that replays every input they found
//! (`runner/tests/fuzz_regressions.rs`). Each takes any bytes and panics
//! only when hoist misbehaves: a panic inside the parser, or an error that
//! does not say where.

use std::path::{Path, PathBuf};

use crate::config::{self, ConfigError, LoadOptions};
use crate::secrets::dotenv;

/// Where the config target's files "are" (they are read from memory).
const BASE: &str = "/fuzz/app/config/deploy.yml";
const DESTINATION: &str = "/fuzz/app/config/deploy.staging.yml";

/// The config loader (ERB, YAML, destination merge, every section's
/// checks). The input is the base file, then optionally `\0` and the
/// `staging` destination file. Every error must name a file, line and
/// column.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (base, destination) = match text.split_once('\0') {
        Some((b, d)) => (b.to_string(), Some(d.to_string())),
        None => (text.into_owned(), None),
    };
    let read = |path: &Path| -> std::io::Result<Option<String>> {
        Ok(if path == Path::new(BASE) {
            Some(base.clone())
        } else if path == Path::new(DESTINATION) {
            destination.clone()
        } else {
            None
        })
    };
    let opts = LoadOptions {
        config_file: PathBuf::from(BASE),
        destination: destination.as_ref().map(|_| "staging".to_string()),
        erb: config::erb::Engine::Sealed,
    };
    match config::load_with(&opts, &read) {
        Ok(_) => {}
        Err(e @ ConfigError::At { .. }) => {
            let ConfigError::At {
                ref path,
                line,
                column,
                ..
            } = e
            else {
                unreachable!()
            };
            assert!(
                (path == Path::new(BASE) || path == Path::new(DESTINATION))
                    && line >= 1
                    && column >= 1,
                "an error at {}:{line}:{column}: {e}",
                path.display()
            );
            // YAML breaks lines at `\n`, `\r\n` and a lone `\r`.
            let count = |t: &str| t.replace("\r\n", "\n").replace('\r', "\n").lines().count();
            let lines = if path == Path::new(BASE) {
                count(&base)
            } else {
                count(destination.as_deref().unwrap_or(""))
            };
            assert!(
                line as usize <= lines.max(1) + 1,
                "line {line} past the end ({lines} lines): {e}"
            );
        }
        Err(e) => panic!("an error without file:line:column: {e}"),
    }
}

/// The secrets parser (dotenv as Kamal's gem reads it). Commands are not
/// run: each is answered with its own text. Errors must point inside the
/// text.
pub fn secrets(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let env = |name: &str| (name == "FUZZ_SET").then(|| "set".to_string());
    let mut run = |command: &str| {
        if command.contains("fail") {
            Err("failed (exit status: 1)".to_string())
        } else {
            Ok(format!("{command}\n"))
        }
    };
    match dotenv::parse(&text, &env, &mut run) {
        Ok(parsed) => {
            let lines = text
                .replace("\r\n", "\n")
                .replace('\r', "\n")
                .lines()
                .count()
                .max(1);
            for e in &parsed.entries {
                assert!(
                    e.line >= 1 && e.line <= lines + 1,
                    "entry at line {}",
                    e.line
                );
                assert!(!e.key.is_empty(), "an entry without a key");
            }
        }
        Err(e) => {
            let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
            let lines = normalized.lines().count().max(1);
            assert!(
                e.line >= 1 && e.line <= lines + 1 && e.column >= 1,
                "an error at line {}, column {} of {lines} lines",
                e.line,
                e.column
            );
        }
    }
}

/// The duration and size parsers (config keys, plugin manifests).
pub fn units(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(d) = crate::units::parse_duration(&text) {
        // What parses prints back to something that parses to the same.
        let again = crate::units::parse_duration(&format!("{}ms", d.as_millis()));
        if d.as_millis() <= u64::MAX as u128 && d.subsec_nanos() % 1_000_000 == 0 {
            assert_eq!(again.ok(), Some(d), "{text:?}");
        }
    }
    let _ = crate::units::parse_size(&text);
    let _ = serde_saphyr::from_str::<config::duration::DurationText>(&text);
}
