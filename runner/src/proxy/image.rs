//! hoist-proxy's image, built on this machine from the proxy binary that
//! `cargo build` put next to hoist (or `$HOIST_PROXY_BINARY`), with the
//! shared libraries it links (found with `ldd`: libc, libm, libgcc_s, the
//! loader) at their paths, on an empty base. The binary shares its whole
//! dependency tree with hoist's own build, so nothing is compiled twice; the
//! image runs on any Linux host of this machine's architecture. Nothing is
//! pulled; [`ship_image`] streams it to hosts that lack it.
//!
//! The tag is `hoist-proxy:<hash of every file in it>`, so a host has it
//! exactly when it has this build.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use super::{LABEL, ProxyError};
use crate::docker::{BuildSpec, Docker};

/// `$HOIST_PROXY_BINARY` names the proxy binary to use instead of the one
/// next to hoist.
pub const BINARY_ENV: &str = "HOIST_PROXY_BINARY";

const DOCKERFILE: &str = "FROM scratch\nCOPY rootfs/ /\nEXPOSE 80 443\nVOLUME /var/lib/hoist-proxy\nENTRYPOINT [\"/hoist-proxy\"]\nCMD [\"run\"]\n";

/// What goes into the image: (file on this machine, path in the image).
#[derive(Debug, Clone)]
struct Payload {
    files: Vec<(PathBuf, String)>,
    tag: String,
}

/// Where the proxy binary is: `$HOIST_PROXY_BINARY`, else `hoist-proxy` in
/// the directory of the running hoist.
fn binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(BINARY_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find hoist itself: {e}"))?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    Ok(dir.join("hoist-proxy"))
}

/// The shared libraries `bin` loads, by `ldd`: (path on this machine).
/// None for a static binary.
fn libraries(bin: &Path) -> Result<Vec<PathBuf>, String> {
    let out = std::process::Command::new("ldd")
        .arg(bin)
        .output()
        .map_err(|e| format!("cannot run ldd on {}: {e}", bin.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if text.contains("not a dynamic executable")
            || err.contains("not a dynamic executable")
            || text.contains("statically linked")
        {
            return Ok(Vec::new());
        }
        return Err(format!("ldd {}: {}", bin.display(), err.trim()));
    }
    Ok(parse_ldd(&text))
}

/// The library paths in `ldd` output (`libc.so.6 => /lib/.../libc.so.6
/// (0x...)`, `/lib64/ld-linux-x86-64.so.2 (0x...)`); the vDSO has none.
fn parse_ldd(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let path = match l.split_once("=>") {
                Some((_, rest)) => rest.trim(),
                None => l,
            };
            let path = path.split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

fn payload() -> &'static Result<Payload, String> {
    static PAYLOAD: OnceLock<Result<Payload, String>> = OnceLock::new();
    PAYLOAD.get_or_init(|| {
        let bin = binary()?;
        if !bin.is_file() {
            return Err(format!(
                "no proxy binary at {} (it is built beside hoist by `cargo build`, or set {BINARY_ENV})",
                bin.display()
            ));
        }
        let mut files = vec![(bin.clone(), "hoist-proxy".to_string())];
        for lib in libraries(&bin)? {
            let inside = lib.to_string_lossy().trim_start_matches('/').to_string();
            files.push((lib, inside));
        }
        let mut hash = Sha256::new();
        for (src, dest) in &files {
            let bytes = std::fs::read(src).map_err(|e| format!("{}: {e}", src.display()))?;
            hash.update(dest.as_bytes());
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(&bytes);
        }
        let digest = hex::encode(hash.finalize());
        Ok(Payload {
            files,
            tag: format!("hoist-proxy:{}", &digest[..12]),
        })
    })
}

/// The proxy image of this hoist: `hoist-proxy:<hash>`
/// (`hoist-proxy:unavailable` when the binary cannot be found; building
/// the image then says why).
pub fn image() -> String {
    match payload() {
        Ok(p) => p.tag.clone(),
        Err(_) => "hoist-proxy:unavailable".into(),
    }
}

/// The image's build: the proxy and its libraries on an empty base.
pub fn build_spec(context: &Path) -> BuildSpec {
    BuildSpec {
        context: context.to_path_buf(),
        dockerfile: context.join("Dockerfile"),
        tag: image(),
        args: Default::default(),
        labels: [(LABEL.to_string(), "true".to_string())].into(),
        target: None,
    }
}

/// Builds the proxy image on this machine's engine (`builder`) unless it
/// is there already; true when it built. Call it once before booting the
/// proxy on any number of hosts.
pub async fn build_image(builder: &Docker) -> Result<bool, ProxyError> {
    let payload = payload()
        .as_ref()
        .map_err(|e| ProxyError::Binary(e.clone()))?;
    if builder.image_exists(&payload.tag).await? {
        return Ok(false);
    }
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("Dockerfile"), DOCKERFILE)?;
    let root = dir.path().join("rootfs");
    for (src, dest) in &payload.files {
        let to = root.join(dest);
        std::fs::create_dir_all(to.parent().expect("a file has a parent"))?;
        std::fs::copy(src, &to)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755))?;
    }
    builder.build(build_spec(dir.path())).await?;
    Ok(true)
}

/// Streams the proxy image from `builder` (see [`build_image`]) to
/// `docker`'s host when that lacks it; what it sent, if anything.
pub(super) async fn ship_image(
    docker: &Docker,
    builder: &Docker,
) -> Result<Option<String>, ProxyError> {
    let image = image();
    if docker.host() == builder.host() || docker.image_exists(&image).await? {
        return Ok(None);
    }
    let bytes = docker.load_from(builder, &image, |_| {}).await?;
    Ok(Some(format!(
        "sent {image} ({:.1} MiB)",
        bytes as f64 / (1024.0 * 1024.0)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_names_the_files() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f82)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f82)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f82)\n";
        assert_eq!(
            parse_ldd(text),
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libgcc_s.so.1"),
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
    }
}
