//! The build context as a tar archive, honouring `.dockerignore` with
//! Docker's own rules (moby's patternmatcher), which differ from gitignore:
//! patterns are relative to the context root, `*` stays within one path
//! segment and `**` spans any number, a pattern excludes a path when it
//! matches the path or one of its parent directories, the last matching
//! pattern wins, and `!pattern` re-includes (even below an excluded
//! directory).

use std::path::{Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobMatcher};
use walkdir::WalkDir;

/// Name the Dockerfile gets inside the archive when it lives outside the
/// context directory.
pub const OUTSIDE_DOCKERFILE: &str = ".hoist.Dockerfile";

struct Pattern {
    matcher: GlobMatcher,
    negated: bool,
    /// The literal part before the first wildcard (to know whether a
    /// re-include can reach inside an excluded directory).
    prefix: String,
}

/// Parsed `.dockerignore` rules.
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
}

fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

impl DockerIgnore {
    /// Parses the text of a `.dockerignore`.
    pub fn parse(text: &str) -> Result<DockerIgnore, String> {
        let mut patterns = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negated, raw) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let pat = clean(raw);
            if pat.is_empty() {
                continue;
            }
            let glob: Glob = GlobBuilder::new(&pat)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| format!(".dockerignore pattern `{line}`: {e}"))?;
            let prefix = pat
                .split(['*', '?', '['])
                .next()
                .unwrap_or_default()
                .to_string();
            patterns.push(Pattern {
                matcher: glob.compile_matcher(),
                negated,
                prefix,
            });
        }
        Ok(DockerIgnore { patterns })
    }

    /// True when `rel` (a `/`-separated path relative to the context) is
    /// excluded.
    pub fn excluded(&self, rel: &str) -> bool {
        let mut excluded = false;
        for p in &self.patterns {
            let hit = ancestors_and_self(rel).any(|a| p.matcher.is_match(a));
            if hit {
                excluded = !p.negated;
            }
        }
        excluded
    }

    /// True when a `!pattern` could re-include something below `dir`.
    fn may_reinclude_below(&self, dir: &str) -> bool {
        self.patterns.iter().any(|p| {
            p.negated
                && (p.prefix.is_empty()
                    || p.prefix.starts_with(&format!("{dir}/"))
                    || dir.starts_with(p.prefix.trim_end_matches('/')))
        })
    }
}

/// `a/b/c`, `a/b`, `a`.
fn ancestors_and_self(rel: &str) -> impl Iterator<Item = &str> {
    let mut end = Some(rel.len());
    std::iter::from_fn(move || {
        let e = end?;
        let current = &rel[..e];
        end = current.rfind('/');
        Some(current)
    })
}

/// Tars `context` (skipping what `.dockerignore` excludes) and makes sure the
/// Dockerfile is in it. Returns the archive and the Dockerfile's path inside it.
pub fn tar_context(context: &Path, dockerfile: &Path) -> std::io::Result<(Vec<u8>, String)> {
    let context = context.canonicalize()?;
    let dockerfile = if dockerfile.is_absolute() {
        dockerfile.to_path_buf()
    } else {
        context.join(dockerfile)
    };
    let dockerfile = dockerfile.canonicalize().map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("Dockerfile {}: {e}", dockerfile.display()),
        )
    })?;
    let ignore = match std::fs::read_to_string(context.join(".dockerignore")) {
        Ok(text) => DockerIgnore::parse(&text).map_err(std::io::Error::other)?,
        Err(_) => DockerIgnore {
            patterns: Vec::new(),
        },
    };
    let rel_of = |p: &Path| -> String {
        p.strip_prefix(&context)
            .unwrap_or(p)
            .to_string_lossy()
            .replace('\\', "/")
    };
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let mut dockerfile_added = false;
    let walk = WalkDir::new(&context)
        .min_depth(1)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let rel = rel_of(e.path());
            !(e.file_type().is_dir() && ignore.excluded(&rel) && !ignore.may_reinclude_below(&rel))
        });
    for entry in walk {
        let entry = entry.map_err(std::io::Error::other)?;
        let rel = rel_of(entry.path());
        if ignore.excluded(&rel) {
            continue;
        }
        let rel_path = PathBuf::from(&rel);
        if entry.file_type().is_dir() {
            builder.append_dir(&rel_path, entry.path())?;
        } else {
            dockerfile_added |= entry.path() == dockerfile;
            builder.append_path_with_name(entry.path(), &rel_path)?;
        }
    }
    // Like the docker CLI: the Dockerfile is sent even when .dockerignore
    // excludes it.
    let name = match dockerfile.strip_prefix(&context) {
        Ok(rel) => {
            if !dockerfile_added {
                builder.append_path_with_name(&dockerfile, rel)?;
            }
            rel.to_string_lossy().into_owned()
        }
        Err(_) => {
            let mut file = std::fs::File::open(&dockerfile)?;
            builder.append_file(OUTSIDE_DOCKERFILE, &mut file)?;
            OUTSIDE_DOCKERFILE.to_string()
        }
    };
    Ok((builder.into_inner()?, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(archive: &[u8]) -> Vec<String> {
        let mut a = tar::Archive::new(archive);
        a.entries()
            .unwrap()
            .map(|e| {
                e.unwrap()
                    .path()
                    .unwrap()
                    .to_string_lossy()
                    .trim_end_matches('/')
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn docker_rules() {
        let i = DockerIgnore::parse("# comment\n*\n!dist/hello\n").unwrap();
        assert!(i.excluded("Dockerfile"));
        assert!(i.excluded("dist"));
        assert!(!i.excluded("dist/hello"));
        assert!(i.excluded("dist/other"));
        let i = DockerIgnore::parse("target\n**/*.log\n/docs/*.md\n!docs/KEEP.md\n").unwrap();
        assert!(i.excluded("target/debug/x"), "parent dir match");
        assert!(!i.excluded("src/target"), "anchored at the root");
        assert!(i.excluded("a/b/c.log") && i.excluded("c.log"));
        assert!(i.excluded("docs/a.md") && !i.excluded("docs/KEEP.md"));
        assert!(!i.excluded("docs/sub/a.md"), "* stays in one segment");
    }

    #[test]
    fn archive_honours_dockerignore_and_always_has_the_dockerfile() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = dir.path().join("app");
        std::fs::create_dir_all(ctx.join("target")).unwrap();
        std::fs::create_dir_all(ctx.join("dist")).unwrap();
        std::fs::write(ctx.join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(ctx.join("main.rs"), "fn main(){}").unwrap();
        std::fs::write(ctx.join("target/big"), "x").unwrap();
        std::fs::write(ctx.join("dist/hello"), "bin").unwrap();
        std::fs::write(ctx.join("dist/junk"), "j").unwrap();
        std::fs::write(ctx.join(".dockerignore"), "target\n").unwrap();
        let (tar, name) = tar_context(&ctx, Path::new("Dockerfile")).unwrap();
        assert_eq!(name, "Dockerfile");
        let n = names(&tar);
        assert!(n.contains(&"main.rs".to_string()), "{n:?}");
        assert!(!n.iter().any(|p| p.starts_with("target")), "{n:?}");
        assert_eq!(n.iter().filter(|p| *p == "Dockerfile").count(), 1, "{n:?}");

        std::fs::write(ctx.join(".dockerignore"), "*\n!dist/hello\n").unwrap();
        let (tar, _) = tar_context(&ctx, Path::new("Dockerfile")).unwrap();
        let n = names(&tar);
        assert_eq!(
            n,
            vec!["dist/hello".to_string(), "Dockerfile".to_string()],
            "{n:?}"
        );

        std::fs::write(dir.path().join("Other.Dockerfile"), "FROM scratch\n").unwrap();
        let (tar, name) = tar_context(&ctx, &dir.path().join("Other.Dockerfile")).unwrap();
        assert_eq!(name, OUTSIDE_DOCKERFILE);
        assert!(names(&tar).contains(&OUTSIDE_DOCKERFILE.to_string()));
    }
}
