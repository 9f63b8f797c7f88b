//! `hoist init`: Kamal's `kamal init` layout for hoist. Writes the config
//! (`-c`, default `config/deploy.yml`: Kamal's template, hoist's own keys
//! commented at the end), `.hoist/secrets` (Kamal's secrets template) and
//! `.hoist/plugins/` with a README. A file that exists is left alone, with
//! Kamal's words.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::common::Common;

/// The config `hoist init` writes.
pub const DEPLOY_YML: &str = include_str!("init/deploy.yml");
/// The secrets file it writes.
pub const SECRETS: &str = include_str!("init/secrets");
const PLUGINS_README: &str = include_str!("init/plugins-README.md");

/// Runs `hoist init` in the current directory.
pub fn init(common: &Common) -> anyhow::Result<()> {
    let root = std::env::current_dir().context("the current directory")?;
    for line in write_all(&root, &common.config_file)? {
        println!("{line}");
    }
    Ok(())
}

/// Writes what is missing under `root`; one line per file.
pub fn write_all(root: &Path, config: &Path) -> anyhow::Result<Vec<String>> {
    let files: [(PathBuf, &str, &str); 3] = [
        (config.to_path_buf(), DEPLOY_YML, "configuration file"),
        (".hoist/secrets".into(), SECRETS, "secrets file"),
        (
            ".hoist/plugins/README.md".into(),
            PLUGINS_README,
            "plugins dir",
        ),
    ];
    let mut lines = Vec::new();
    for (rel, text, what) in files {
        let path = root.join(&rel);
        let shown = if what == "plugins dir" {
            rel.parent().unwrap_or(&rel).display().to_string()
        } else {
            rel.display().to_string()
        };
        if path.exists() {
            lines.push(format!(
                "{} already exists in {shown} (remove first to create a new one)",
                capitalized(what)
            ));
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        lines.push(format!("Created {what} in {shown}"));
    }
    Ok(lines)
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LoadOptions, load};

    fn options(root: &Path) -> LoadOptions {
        LoadOptions {
            config_file: root.join("config/deploy.yml"),
            destination: None,
            erb: Default::default(),
        }
    }

    #[test]
    fn writes_kamals_layout_loads_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let lines = write_all(root, Path::new("config/deploy.yml")).unwrap();
        assert_eq!(
            lines,
            [
                "Created configuration file in config/deploy.yml",
                "Created secrets file in .hoist/secrets",
                "Created plugins dir in .hoist/plugins",
            ]
        );
        // As written it loads, with no warning about keys hoist ignores.
        let config = load(&options(root)).unwrap();
        assert_eq!(config.service, "my-app");
        assert!(config.notes.is_empty(), "{:#?}", config.notes);
        assert_eq!(
            config.secrets_files[1],
            root.join(".hoist/secrets"),
            "{:?}",
            config.secrets_files
        );
        // The README's two edits make it a deploy to this machine.
        let path = root.join("config/deploy.yml");
        let edited = std::fs::read_to_string(&path)
            .unwrap()
            .replacen("    - 192.168.0.1\n", "    - local\n", 1)
            .replacen("  host: app.example.com\n", "  host: localhost\n", 1);
        std::fs::write(&path, &edited).unwrap();
        let config = load(&options(root)).unwrap();
        assert_eq!(config.roles[0].hosts, ["local"]);
        // A second run changes nothing.
        std::fs::write(root.join(".hoist/secrets"), "MINE=1\n").unwrap();
        let lines = write_all(root, Path::new("config/deploy.yml")).unwrap();
        assert!(
            lines.iter().all(|l| l.contains("already exists")),
            "{lines:?}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), edited);
        assert_eq!(
            std::fs::read_to_string(root.join(".hoist/secrets")).unwrap(),
            "MINE=1\n"
        );
    }
}
