//! Builds the default plugins (the strategies in `plugins/` and the hooks in
//! `hooks/`) as WebAssembly components with a nested cargo, so `cargo build`
//! of a fresh clone embeds them in `hoist` with no manual wasm step.
//!
//! The nested build uses its own target dir (the outer build's would
//! deadlock on its lock) next to the outer one, so every profile of the outer
//! build reuses it. hoist-proxy is not built here: it is a workspace member
//! built beside hoist by the same `cargo build`, sharing its dependencies
//! (see `proxy::image`).
//!
//! It also reads the WIT package versions (`wit/<series>/`), so the version
//! literal is written once, in the WIT.

use std::path::{Path, PathBuf};
use std::process::Command;

/// (plugin name, package, source dir relative to the workspace).
const PLUGINS: &[(&str, &str, &str)] = &[
    ("rolling", "hoist-strategy-rolling", "plugins/rolling"),
    ("immediate", "hoist-strategy-immediate", "plugins/immediate"),
    ("canary", "hoist-strategy-canary", "plugins/canary"),
    (
        "blue-green",
        "hoist-strategy-blue-green",
        "plugins/blue-green",
    ),
    ("git-clean", "hoist-hook-git-clean", "hooks/git-clean"),
    ("preflight", "hoist-hook-preflight", "hooks/preflight"),
    ("deploy-log", "hoist-hook-deploy-log", "hooks/deploy-log"),
    ("webhook", "hoist-hook-webhook", "hooks/webhook"),
];

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let guest_dir = std::env::var_os("HOIST_GUEST_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            out_dir
                .ancestors()
                .nth(4)
                .unwrap_or(&out_dir)
                .join("hoist-guests")
        });

    for dir in ["wit", "plugins", "hooks"] {
        println!("cargo:rerun-if-changed={}", workspace.join(dir).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("Cargo.lock").display()
    );
    println!("cargo:rerun-if-env-changed=HOIST_GUEST_TARGET_DIR");

    wit_versions(&workspace.join("wit"));
    println!("cargo:rerun-if-env-changed=HOIST_PREBUILT_PLUGINS");
    // The fuzz build (nightly, which lacks the wasm target here) embeds the
    // plugins a normal build made: `runner/fuzz/run` points at them.
    if let Some(dir) = std::env::var_os("HOIST_PREBUILT_PLUGINS") {
        embed(&PathBuf::from(dir));
        return;
    }
    check_installed(TARGET, "its default plugins");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(&workspace)
        .args([
            "build",
            "--profile",
            "wasm-guest",
            "--target",
            TARGET,
            "--target-dir",
        ])
        .arg(guest_dir.join("wasm"))
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"));
    for (_, package, _) in PLUGINS {
        cmd.args(["-p", package]);
    }
    clean_env(&mut cmd);
    let status = cmd.status().expect("run cargo for the plugins");
    if !status.success() {
        panic!(
            "building the default plugins for {TARGET} failed (see above). \
             Is the target installed? `rustup target add {TARGET}`"
        );
    }
    embed(&guest_dir.join("wasm").join(TARGET).join("wasm-guest"));
}

/// Points hoist at each plugin's component in `dir`.
fn embed(dir: &Path) {
    for (name, package, _) in PLUGINS {
        let wasm = dir.join(format!("{}.wasm", package.replace('-', "_")));
        assert!(wasm.is_file(), "missing {}", wasm.display());
        let var = format!("HOIST_WASM_{}", name.to_uppercase().replace('-', "_"));
        println!("cargo:rustc-env={var}={}", wasm.display());
    }
}

/// `HOIST_WIT_0_1=0.1.0` for `wit/0.1/` (its `package hoist:plugin@...;`
/// line), so the version is written once, in the WIT.
fn wit_versions(wit: &Path) {
    let dirs = std::fs::read_dir(wit).expect("read wit/");
    for dir in dirs.filter_map(|e| e.ok()).map(|e| e.path()) {
        let Some(series) = dir.file_name().and_then(|n| n.to_str()).map(String::from) else {
            continue;
        };
        if !dir.is_dir() {
            continue;
        }
        let version = std::fs::read_dir(&dir)
            .expect("read a wit version dir")
            .filter_map(|e| e.ok())
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .find_map(|text| {
                text.lines().find_map(|l| {
                    l.trim()
                        .strip_prefix("package hoist:plugin@")
                        .map(|v| v.trim_end_matches(';').trim().to_string())
                })
            })
            .unwrap_or_else(|| panic!("{} has no `package hoist:plugin@...;`", dir.display()));
        assert!(
            version.starts_with(&format!("{series}.")),
            "wit/{series} declares hoist:plugin@{version}"
        );
        println!(
            "cargo:rustc-env=HOIST_WIT_{}={version}",
            series.replace('.', "_")
        );
    }
}

fn clean_env(cmd: &mut Command) {
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
}

/// Fails early, with the fix, when a Rust target is missing.
fn check_installed(target: &str, what: &str) {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if let Some(root) = sysroot {
        let lib = Path::new(&root).join("lib/rustlib").join(target);
        if !lib.is_dir() {
            panic!(
                "the Rust target {target} is not installed; hoist builds {what} for it. \
                 Run: rustup target add {target}"
            );
        }
    }
}
