//! Reading the config files: each file (`deploy.yml`, then
//! `deploy.<destination>.yml`) is rendered (ERB), parsed and checked on its
//! own so errors point at `file:line:column`, then the layers are
//! deep-merged into one [`RawConfig`].

use std::path::{Path, PathBuf};

use super::raw::{self, RawConfig};
use super::{ConfigError, LoadOptions, erb};

/// The merged files, ready to resolve.
pub struct Merged {
    /// The merged config as written.
    pub raw: RawConfig,
    /// The files read, in merge order.
    pub files: Vec<PathBuf>,
    /// The files as errors name them (`a.yml + b.yml`).
    pub names: String,
    /// Each file as parsed (ERB rendered, with its line map), to locate errors.
    pub texts: Vec<erb::Rendered>,
}

/// How the files are read: the text of a file, `None` when there is none.
pub type ReadFile<'a> = dyn Fn(&Path) -> std::io::Result<Option<String>> + 'a;

/// Reads from disk.
pub fn from_disk(path: &Path) -> std::io::Result<Option<String>> {
    if !path.is_file() {
        return Ok(None);
    }
    std::fs::read_to_string(path).map(Some)
}

/// `config/deploy.yml` -> (`deploy`, `yml`): the parts a destination file
/// name is made of.
fn stem_and_ext(config_file: &Path) -> (String, String) {
    let stem = config_file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "deploy".into());
    let ext = config_file
        .extension()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "yml".into());
    (stem, ext)
}

/// `config/deploy.yml` -> `config/deploy.staging.yml`.
pub fn destination_file(config_file: &Path, destination: &str) -> PathBuf {
    let (stem, ext) = stem_and_ext(config_file);
    config_file.with_file_name(format!("{stem}.{destination}.{ext}"))
}

/// The destinations with a file beside `config_file` (`deploy.mars.yml` ->
/// `mars`), sorted.
pub fn destinations_beside(config_file: &Path) -> Vec<String> {
    let (stem, ext) = stem_and_ext(config_file);
    let (stem, ext) = (format!("{stem}."), format!(".{ext}"));
    let dir = match config_file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let d = name.strip_prefix(&stem)?.strip_suffix(&ext)?;
            (!d.is_empty() && !d.contains('.')).then(|| d.to_string())
        })
        .collect();
    found.sort();
    found
}

/// The app root: the directory holding `config/` when the file lives in a
/// directory named `config` (Kamal's layout), else the file's directory.
pub fn app_root(config_file: &Path) -> PathBuf {
    let abs = std::path::absolute(config_file).unwrap_or_else(|_| config_file.to_path_buf());
    let dir = abs.parent().map(Path::to_path_buf).unwrap_or_default();
    match dir.file_name() {
        Some(n) if n == "config" => dir.parent().map(Path::to_path_buf).unwrap_or(dir),
        _ => dir,
    }
}

/// Reads the config file and, with `-d`, its destination file, with `read`.
pub fn read(opts: &LoadOptions, read: &ReadFile<'_>) -> Result<Merged, ConfigError> {
    let path = &opts.config_file;
    let text = |path: &Path| {
        read(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source: std::sync::Arc::new(source),
        })
    };
    let Some(source) = text(path)? else {
        return Err(ConfigError::NotFound { path: path.clone() });
    };
    let mut layers = vec![read_layer(
        path,
        source,
        opts.destination.as_deref(),
        opts.erb,
    )?];
    if let Some(dest) = &opts.destination {
        let dpath = destination_file(path, dest);
        let Some(source) = text(&dpath)? else {
            return Err(ConfigError::DestinationNotFound {
                destination: dest.clone(),
                path: dpath,
            });
        };
        layers.push(read_layer(&dpath, source, Some(dest), opts.erb)?);
    }
    let files: Vec<PathBuf> = layers.iter().map(|l| l.path.clone()).collect();
    let names = files
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" + ");
    let texts: Vec<erb::Rendered> = layers.iter().map(|l| l.rendered.clone()).collect();
    let raw = if layers.len() == 1 {
        layers.remove(0).raw
    } else {
        merge(&layers, &names).map_err(|e| located_key(e, &files, &texts))?
    };
    Ok(Merged {
        raw,
        files,
        names,
        texts,
    })
}

/// One file, read, rendered and checked on its own.
struct Layer {
    path: PathBuf,
    rendered: erb::Rendered,
    raw: RawConfig,
}

fn read_layer(
    path: &Path,
    source: String,
    destination: Option<&str>,
    engine: erb::Engine,
) -> Result<Layer, ConfigError> {
    let cx = erb::Context {
        path,
        destination,
        engine,
    };
    let rendered = erb::render_file(&source, &cx).map_err(|e| ConfigError::At {
        path: path.to_path_buf(),
        line: e.line as u64,
        column: e.column as u64,
        message: e.message,
    })?;
    let raw = raw::parse_str(&rendered.text).map_err(|e| located(path, &rendered, &e))?;
    check_root_keys(path, &rendered)?;
    Ok(Layer {
        path: path.to_path_buf(),
        rendered,
        raw,
    })
}

/// Deep-merges the layers (maps merge, anything else is replaced) and reads
/// the result again, so the merged config passes the same checks.
fn merge(layers: &[Layer], names: &str) -> Result<RawConfig, ConfigError> {
    let mut merged = serde_json::Value::Object(Default::default());
    for layer in layers {
        let v: serde_json::Value = serde_saphyr::from_str(&layer.rendered.text)
            .map_err(|e| located(&layer.path, &layer.rendered, &e))?;
        deep_merge(&mut merged, v);
    }
    if let Some(map) = merged.as_object_mut() {
        map.retain(|k, _| !k.starts_with("x-"));
    }
    let text = serde_saphyr::to_string(&merged).map_err(|e| ConfigError::Key {
        files: names.to_string(),
        key: "(merge)".into(),
        message: e.to_string(),
    })?;
    raw::parse_str(&text).map_err(|e| ConfigError::Key {
        files: names.to_string(),
        key: "(merged config)".into(),
        message: e.without_snippet().to_string(),
    })
}

/// A [`ConfigError::Key`] turned into [`ConfigError::At`]: the place in
/// the file that sets `key` (the later file when both do), or the nearest
/// enclosing key there, else the top of the first file. Other errors pass.
pub fn located_key(e: ConfigError, files: &[PathBuf], texts: &[erb::Rendered]) -> ConfigError {
    let ConfigError::Key { key, message, .. } = e else {
        return e;
    };
    let mut best: Option<(usize, usize, u64, u64)> = None;
    for (i, text) in texts.iter().enumerate() {
        if let Some((depth, line, column)) = super::locate::locate(&text.text, &key)
            && best.is_none_or(|(d, ..)| depth >= d)
        {
            best = Some((depth, i, text.source_line(line), column));
        }
    }
    let (file, line, column) = best.map_or((0, 1, 1), |(_, i, l, c)| (i, l, c));
    let message = if key.starts_with('(') {
        message
    } else {
        format!("`{key}`: {message}")
    };
    ConfigError::At {
        path: files.get(file).cloned().unwrap_or_default(),
        line,
        column,
        message,
    }
}

fn located(path: &Path, rendered: &erb::Rendered, e: &serde_saphyr::Error) -> ConfigError {
    let inner = e.without_snippet();
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    let mut message = inner.to_string();
    // serde-saphyr appends " at line L, column C"; we print it up front.
    if let Some(i) = message.rfind(" at line ") {
        message.truncate(i);
    }
    // serde's words for an empty value, in the user's.
    if message.contains("null into string") {
        message =
            "expected a string, found an empty value; quote the value (`\"\"` for an empty string)"
                .into();
    } else if let Some(rest) = message.strip_prefix("invalid type: null, expected ") {
        message = format!("found an empty value, expected {rest}");
    }
    let empty = rendered.empty_tags_on(line.max(1));
    if !empty.is_empty() {
        message.push_str(&format!(
            " (on this line `{}` rendered empty: is the variable set?)",
            empty.join("`, `")
        ));
    }
    ConfigError::At {
        path: path.to_path_buf(),
        line: rendered.source_line(line.max(1)),
        column: column.max(1),
        message,
    }
}

/// Unknown root keys (other than Kamal's `x-*` anchor holders) are errors.
fn check_root_keys(path: &Path, rendered: &erb::Rendered) -> Result<(), ConfigError> {
    let value: serde_json::Value =
        serde_saphyr::from_str(&rendered.text).map_err(|e| located(path, rendered, &e))?;
    let Some(map) = value.as_object() else {
        if value.is_null() {
            return Ok(());
        }
        return Err(ConfigError::At {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            message: "the config must be a map of keys (service, image, servers, ...)".into(),
        });
    };
    for key in map.keys() {
        if key.starts_with("x-") || raw::ROOT_KEYS.contains(&key.as_str()) {
            continue;
        }
        let (line, column) = super::locate::locate(&rendered.text, key)
            .map_or((1, 1), |(_, line, column)| {
                (rendered.source_line(line), column)
            });
        let hint = closest(key, raw::ROOT_KEYS)
            .map(|k| format!(" (did you mean `{k}`?)"))
            .unwrap_or_default();
        return Err(ConfigError::At {
            path: path.to_path_buf(),
            line,
            column,
            message: format!("unknown key `{key}`{hint}"),
        });
    }
    Ok(())
}

/// The known word closest to `word`, if it is a likely typo.
fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                cur.push(
                    (prev[j] + usize::from(ca != *cb))
                        .min(prev[j + 1] + 1)
                        .min(cur[j] + 1),
                );
            }
            prev = cur;
        }
        prev[b.len()]
    }
    known
        .iter()
        .map(|k| (distance(word, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k)
}

/// Deep merge: maps merge key by key, anything else is replaced.
fn deep_merge(base: &mut serde_json::Value, over: serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => deep_merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}
