//! The build context as a tar archive, honouring `.dockerignore`.

use std::path::{Path, PathBuf};

use ignore::WalkBuilder;

/// Name the Dockerfile gets inside the archive when it lives outside the
/// context directory.
pub const OUTSIDE_DOCKERFILE: &str = ".hoist.Dockerfile";

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
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let mut dockerfile_added = false;
    let walk = WalkBuilder::new(&context)
        .standard_filters(false)
        .hidden(false)
        .add_custom_ignore_filename(".dockerignore")
        .sort_by_file_name(|a, b| a.cmp(b))
        .build();
    for entry in walk {
        let entry = entry.map_err(std::io::Error::other)?;
        let path = entry.path();
        let rel: PathBuf = path.strip_prefix(&context).unwrap_or(path).to_path_buf();
        if rel.as_os_str().is_empty() {
            continue;
        }
        let ft = entry.file_type();
        if ft.is_some_and(|t| t.is_dir()) {
            builder.append_dir(&rel, path)?;
        } else {
            dockerfile_added |= path == dockerfile;
            builder.append_path_with_name(path, &rel)?;
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
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn honours_dockerignore_and_adds_outside_dockerfile() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = dir.path().join("app");
        std::fs::create_dir_all(ctx.join("target")).unwrap();
        std::fs::write(ctx.join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(ctx.join("main.rs"), "fn main(){}").unwrap();
        std::fs::write(ctx.join("target/big"), "x").unwrap();
        std::fs::write(ctx.join(".dockerignore"), "target\n").unwrap();
        let (tar, name) = tar_context(&ctx, Path::new("Dockerfile")).unwrap();
        assert_eq!(name, "Dockerfile");
        let n = names(&tar);
        assert!(n.contains(&"main.rs".to_string()), "{n:?}");
        assert!(!n.iter().any(|p| p.starts_with("target")), "{n:?}");
        assert_eq!(n.iter().filter(|p| *p == "Dockerfile").count(), 1, "{n:?}");

        // Ignored Dockerfile: still sent, once.
        std::fs::write(ctx.join(".dockerignore"), "*\n!main.rs\n").unwrap();
        let (tar, _) = tar_context(&ctx, Path::new("Dockerfile")).unwrap();
        let n = names(&tar);
        assert_eq!(n.iter().filter(|p| *p == "Dockerfile").count(), 1, "{n:?}");
        assert!(n.contains(&"main.rs".to_string()) && !n.contains(&"target/big".to_string()), "{n:?}");

        std::fs::write(dir.path().join("Other.Dockerfile"), "FROM scratch\n").unwrap();
        let (tar, name) = tar_context(&ctx, &dir.path().join("Other.Dockerfile")).unwrap();
        assert_eq!(name, OUTSIDE_DOCKERFILE);
        assert!(names(&tar).contains(&OUTSIDE_DOCKERFILE.to_string()));
    }
}
