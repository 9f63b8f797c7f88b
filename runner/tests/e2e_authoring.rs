//! End to end: a plugin author starts from an empty directory, scaffolds a
//! hook and a strategy with `hoist plugin new`, builds and installs them with
//! `hoist plugin build`, and deploys with them.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::App;

/// `hoist <args>` in `dir` with its own cargo target dir; panics on failure.
fn hoist_in(dir: &Path, args: &[&str]) -> String {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
    c.args(args).current_dir(dir);
    for v in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        c.env_remove(v);
    }
    c.env(
        "CARGO_TARGET_DIR",
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scaffold-target"),
    )
    .env(
        "HOIST_CACHE_DIR",
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("component-cache"),
    );
    let out = c.output().expect("run hoist");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "hoist {args:?} failed:\n{text}");
    text
}

#[test]
fn scaffold_build_and_deploy_a_hook_and_a_strategy_from_an_empty_dir() {
    let app = App::new(
        "authoring",
        "servers:\n  web: [local]\nreadiness_delay: 1\nhooks:\n  pre-deploy:\n    - plugin: greet\n      settings: { greeting: ahoy }\n",
    );
    let plugins = app.path().join(".hoist/plugins");
    let work = tempfile::tempdir().unwrap();
    assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 0);

    let out = hoist_in(work.path(), &["plugin", "new", "greet", "--kind", "hook"]);
    assert!(out.contains("hoist plugin build greet"), "{out}");
    hoist_in(
        work.path(),
        &["plugin", "new", "allatonce", "--kind", "strategy"],
    );
    for name in ["greet", "allatonce"] {
        let out = hoist_in(
            work.path(),
            &[
                "plugin",
                "build",
                name,
                "--plugins-dir",
                plugins.to_str().unwrap(),
            ],
        );
        assert!(out.contains("Installed"), "{out}");
        assert!(plugins.join(name).join(format!("{name}.wasm")).is_file());
    }
    let inspect = hoist_in(
        work.path(),
        &[
            "plugin",
            "inspect",
            plugins.join("allatonce/allatonce.wasm").to_str().unwrap(),
        ],
    );
    assert!(
        inspect.contains("kind:         strategy")
            && inspect.contains("hoist:plugin@0.1.")
            && inspect.contains("rollout"),
        "{inspect}"
    );

    let run = app.deploy("v1", &["--strategy", "allatonce"]);
    run.assert_ok();
    let greet: Vec<&str> = run
        .of("log", Some("greet"))
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        greet
            .iter()
            .any(|l| l.starts_with(&format!("ahoy from greet: {} v1", app.service))),
        "{greet:?}"
    );
    assert!(
        greet
            .iter()
            .any(|l| l.starts_with("local: ") && l.ends_with("present: true"))
    );
    let strategy: Vec<&str> = run
        .of("log", Some("allatonce"))
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        strategy
            .iter()
            .any(|l| l.contains("on 1 target(s) at once")),
        "{strategy:?}"
    );
    assert_eq!(app.running(), vec![format!("{}-web-v1", app.service)]);
    // A second deploy with the scaffolded strategy replaces v1.
    app.deploy("v2", &["--strategy", "allatonce"]).assert_ok();
    assert_eq!(app.running(), vec![format!("{}-web-v2", app.service)]);
}
