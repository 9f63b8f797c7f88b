//! Which plugins exist: the embedded defaults, and every
//! `<plugins dir>/<name>/plugin.toml` with its component. A plugin in the
//! plugins dir replaces an embedded one of the same name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::embedded::EMBEDDED;
use super::manifest::Manifest;

/// Where a plugin comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Built into hoist.
    Embedded,
    /// A directory in the plugins dir.
    Dir(PathBuf),
}

/// The component's bytes, or where to read them.
#[derive(Debug, Clone)]
pub enum Wasm {
    /// Embedded bytes.
    Static(&'static [u8]),
    /// A file on disk.
    File(PathBuf),
}

/// A plugin that can be loaded.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its manifest.
    pub manifest: Manifest,
    /// Where it was found.
    pub origin: Origin,
    /// Its component.
    pub wasm: Wasm,
    /// True when it replaces an embedded plugin of the same name.
    pub overrides_embedded: bool,
}

impl Entry {
    /// `embedded` or the directory, for messages.
    pub fn place(&self) -> String {
        match &self.origin {
            Origin::Embedded => "embedded".into(),
            Origin::Dir(d) => d.display().to_string(),
        }
    }
}

/// No plugin of that name (the message lists what exists and what could not
/// be used).
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "no plugin named `{name}` (embedded or in {}); known: {}{}",
    .plugins_dir.display(),
    .known.join(", "),
    .problems.iter().map(|p| format!("\n  {p}")).collect::<String>()
)]
pub struct UnknownPlugin {
    /// The name asked for.
    pub name: String,
    /// Where plugins were looked for.
    pub plugins_dir: PathBuf,
    /// Every plugin found.
    pub known: Vec<String>,
    /// Plugin dirs that could not be used, and why.
    pub problems: Vec<String>,
}

/// Every plugin found, plus what could not be read.
#[derive(Debug, Default)]
pub struct Catalog {
    /// By name.
    pub plugins: BTreeMap<String, Entry>,
    /// (path, problem) for plugin dirs that could not be used.
    pub problems: Vec<(PathBuf, String)>,
}

fn component_file(dir: &Path, m: &Manifest) -> Result<PathBuf, String> {
    if let Some(c) = &m.component {
        return Ok(dir.join(c));
    }
    for candidate in [format!("{}.wasm", m.name), "plugin.wasm".to_string()] {
        let p = dir.join(candidate);
        if p.is_file() {
            return Ok(p);
        }
    }
    let wasm: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    match wasm.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!(
            "no component: put {}.wasm next to plugin.toml, or set `component`",
            m.name
        )),
        _ => Err("several .wasm files: set `component` in plugin.toml".into()),
    }
}

impl Catalog {
    /// The embedded plugins and those in `plugins_dir` (which may not exist).
    pub fn discover(plugins_dir: &Path) -> Catalog {
        let mut cat = Catalog::default();
        for (text, bytes) in EMBEDDED {
            let m = Manifest::parse(text, "embedded plugin.toml")
                .expect("embedded manifests are valid");
            cat.plugins.insert(
                m.name.clone(),
                Entry {
                    manifest: m,
                    origin: Origin::Embedded,
                    wasm: Wasm::Static(bytes),
                    overrides_embedded: false,
                },
            );
        }
        let Ok(dir) = std::fs::read_dir(plugins_dir) else {
            return cat;
        };
        let mut dirs: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for d in dirs {
            let toml = d.join("plugin.toml");
            if !toml.is_file() {
                continue;
            }
            let text = match std::fs::read_to_string(&toml) {
                Ok(t) => t,
                Err(e) => {
                    cat.problems.push((toml, e.to_string()));
                    continue;
                }
            };
            let m = match Manifest::parse(&text, &toml.display().to_string()) {
                Ok(m) => m,
                Err(e) => {
                    cat.problems.push((toml, e.to_string()));
                    continue;
                }
            };
            match component_file(&d, &m) {
                Ok(file) => {
                    let overrides = cat
                        .plugins
                        .get(&m.name)
                        .is_some_and(|e| e.origin == Origin::Embedded);
                    cat.plugins.insert(
                        m.name.clone(),
                        Entry {
                            manifest: m,
                            origin: Origin::Dir(d.clone()),
                            wasm: Wasm::File(file),
                            overrides_embedded: overrides,
                        },
                    );
                }
                Err(e) => cat.problems.push((d.clone(), e)),
            }
        }
        cat
    }

    /// A plugin by name, or an error listing what exists.
    pub fn get(&self, name: &str, plugins_dir: &Path) -> Result<&Entry, UnknownPlugin> {
        self.plugins.get(name).ok_or_else(|| UnknownPlugin {
            name: name.to_string(),
            plugins_dir: plugins_dir.to_path_buf(),
            known: self.plugins.keys().cloned().collect(),
            problems: self
                .problems
                .iter()
                .map(|(p, why)| format!("unusable plugin at {}: {why}", p.display()))
                .collect(),
        })
    }
}
