//! End to end: plugins that are broken or misbehave fail clearly, naming the
//! plugin and the stage, and the running version is untouched.

mod support;

use support::{App, guest_wasm};

const BASE: &str = "servers:
  web: [local]
readiness_delay: 1
deploy_timeout: 20
drain_timeout: 5
";

fn misbehave() -> Vec<u8> {
    std::fs::read(guest_wasm(
        "hoist-fixture-misbehave",
        "hoist_fixture_misbehave.wasm",
    ))
    .unwrap()
}

fn manifest(name: &str, kind: &str) -> String {
    format!("name = \"{name}\"\nkind = \"{kind}\"\nstages = [\"pre-deploy\"]\n")
}

/// Deploys v1, then tries v2 with `plugin` as the only pre-deploy hook and
/// checks it failed at `stage` with `expect` in the message and v1 untouched.
fn assert_bad_plugin(app: &App, plugin: &str, hook_yaml: &str, stage: &str, expect: &[&str]) {
    let s = &app.service;
    app.config(BASE);
    app.deploy("v1", &[]).assert_ok();
    let before = app.container(&format!("{s}-web-v1")).unwrap();
    assert_eq!(before.state, "running");

    app.config(&format!("{BASE}hooks:\n  pre-deploy:\n{hook_yaml}"));
    let run = app.deploy("v2", &[]);
    run.assert_failed();
    let end = run.end();
    assert_eq!(end["stage"], stage, "{}", run.stdout);
    let msg = end["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("plugin `{plugin}`")),
        "names the plugin: {msg}"
    );
    assert!(msg.contains("pre-deploy"), "names the stage: {msg}");
    for e in expect {
        assert!(msg.contains(e), "expected `{e}` in: {msg}");
    }
    let after = app.container(&format!("{s}-web-v1")).unwrap();
    assert_eq!(
        (after.id, after.state.as_str()),
        (before.id, "running"),
        "v1 untouched"
    );
    assert!(
        app.container(&format!("{s}-web-v2")).is_none(),
        "v2 never started"
    );
}

#[test]
fn malformed_wasm_is_refused_at_load() {
    let app = App::new("malformed", BASE);
    app.install_plugin(
        "broken",
        b"this is not wasm at all",
        &manifest("broken", "hook"),
    );
    assert_bad_plugin(
        &app,
        "broken",
        "    - broken\n",
        "load-config",
        &["not WebAssembly", "hooks.pre-deploy[0]"],
    );
    app.install_plugin(
        "garbled",
        b"\0asm\x0d\x00\x01\x00garbage-garbage",
        &manifest("garbled", "hook"),
    );
    assert_bad_plugin(
        &app,
        "garbled",
        "    - garbled\n",
        "load-config",
        &["not a valid WebAssembly component"],
    );
}

#[test]
fn components_of_the_wrong_world_are_refused_at_load() {
    let app = App::new("world", BASE);
    let command = std::fs::read(guest_wasm(
        "hoist-fixture-not-a-plugin",
        "not-a-plugin.wasm",
    ))
    .unwrap();
    app.install_plugin("cmd", &command, &manifest("cmd", "hook"));
    assert_bad_plugin(
        &app,
        "cmd",
        "    - cmd\n",
        "load-config",
        &["not a hoist plugin", "wasi:cli/run"],
    );
    let strategy = std::fs::read(guest_wasm(
        "hoist-strategy-rolling",
        "hoist_strategy_rolling.wasm",
    ))
    .unwrap();
    app.install_plugin("strat", &strategy, &manifest("strat", "hook"));
    assert_bad_plugin(
        &app,
        "strat",
        "    - strat\n",
        "load-config",
        &["kind = \"hook\"", "is a strategy"],
    );
}

#[test]
fn an_import_the_manifest_does_not_declare_is_refused_at_load() {
    let app = App::new("undeclared", BASE);
    // The commander fixture imports hoist:plugin/commands; this manifest
    // declares no commands capability.
    let wasm = std::fs::read(guest_wasm(
        "hoist-fixture-commander",
        "hoist_fixture_commander.wasm",
    ))
    .unwrap();
    app.install_plugin("sneaky", &wasm, &manifest("sneaky", "hook"));
    assert_bad_plugin(
        &app,
        "sneaky",
        "    - sneaky\n",
        "load-config",
        &[
            "imports hoist:plugin/commands@0.1.0",
            "plugin.toml declares no matching capability",
        ],
    );
}

#[test]
fn a_hook_importing_the_rollout_steps_is_refused_at_load() {
    let app = App::new("hookrollout", BASE);
    // The fixture calls rollout.start: the hook world has no rollout.
    let wasm = std::fs::read(guest_wasm(
        "hoist-fixture-rollout-hook",
        "hoist_fixture_rollout_hook.wasm",
    ))
    .unwrap();
    app.install_plugin("stepper", &wasm, &manifest("stepper", "hook"));
    assert_bad_plugin(
        &app,
        "stepper",
        "    - stepper\n",
        "load-config",
        &[
            "imports hoist:plugin/rollout@0.1.0",
            "hooks do not drive the rollout",
        ],
    );
}

#[test]
fn a_plugin_built_for_an_incompatible_wit_version_is_refused_at_load() {
    let app = App::new("future", BASE);
    let wasm = std::fs::read(guest_wasm(
        "hoist-fixture-future-api",
        "hoist_fixture_future_api.wasm",
    ))
    .unwrap();
    app.install_plugin("future", &wasm, &manifest("future", "hook"));
    assert_bad_plugin(
        &app,
        "future",
        "    - future\n",
        "load-config",
        &[
            "built against hoist:plugin@0.2.0",
            "this hoist supports hoist:plugin@0.1.x",
        ],
    );
}

#[test]
fn a_plugin_looping_forever_is_stopped_at_its_timeout() {
    let app = App::new("loop", BASE);
    app.install_plugin("spin", &misbehave(), &manifest("spin", "hook"));
    assert_bad_plugin(
        &app,
        "spin",
        "    - plugin: spin\n      settings: { mode: loop }\n      limits: { timeout: 2s }\n",
        "pre-deploy",
        &["time limit (2s)"],
    );
}

#[test]
fn a_plugin_allocating_past_its_memory_limit_is_stopped() {
    let app = App::new("alloc", BASE);
    app.install_plugin("hog", &misbehave(), &manifest("hog", "hook"));
    assert_bad_plugin(
        &app,
        "hog",
        "    - plugin: hog\n      settings: { mode: alloc }\n      limits: { memory: 32MiB }\n",
        "pre-deploy",
        &["memory limit (32 MiB)"],
    );
}

#[test]
fn a_plugin_error_or_panic_stops_the_deploy_at_its_stage() {
    let app = App::new("fails", BASE);
    app.install_plugin("nope", &misbehave(), &manifest("nope", "hook"));
    assert_bad_plugin(
        &app,
        "nope",
        "    - plugin: nope\n      settings: { mode: fail }\n",
        "pre-deploy",
        &["aborted the deploy: the fixture says no"],
    );
    app.install_plugin("boom", &misbehave(), &manifest("boom", "hook"));
    assert_bad_plugin(
        &app,
        "boom",
        "    - plugin: boom\n      settings: { mode: panic }\n",
        "pre-deploy",
        &["crashed"],
    );
}

#[test]
fn plugin_list_shows_embedded_and_dropped_in_plugins() {
    let app = App::new("list", BASE);
    app.install_plugin("recorder", &misbehave(), &manifest("recorder", "hook"));
    let run = app.hoist(&["plugin", "list"]);
    run.assert_ok();
    for name in [
        "rolling",
        "git-clean",
        "preflight",
        "deploy-log",
        "recorder",
    ] {
        let line = run
            .stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing:\n{}", run.stdout));
        assert!(line.ends_with("ok"), "{line}");
    }
    assert!(run.stdout.contains(".hoist/plugins/recorder"));
    app.install_plugin("broken", b"junk", &manifest("broken", "hook"));
    let run = app.hoist(&["plugin", "list"]);
    run.assert_failed();
    assert!(
        run.stdout.contains("broken") && run.stdout.contains("BROKEN"),
        "{}",
        run.stdout
    );
}

/// The prober fixture's log line for one deploy.
fn probe_line(run: &support::Run) -> String {
    run.of("log", Some("prober"))
        .iter()
        .filter_map(|e| e["message"].as_str())
        .find(|l| l.starts_with("probe "))
        .unwrap_or_else(|| panic!("no probe line:\n{}", run.stdout))
        .to_string()
}

#[test]
fn grant_matrix_each_capability_granted_and_denied() {
    let app = App::new("grants", BASE);
    let wasm = std::fs::read(guest_wasm(
        "hoist-fixture-prober",
        "hoist_fixture_prober.wasm",
    ))
    .unwrap();
    app.install_plugin(
        "prober",
        &wasm,
        "name = \"prober\"\nkind = \"hook\"\nstages = [\"pre-deploy\"]\n[capabilities]\ndocker = \"write\"\ncommands = [\"touch **\"]\nstate = true\nconfig = [\"readiness_delay\", \"servers.**\"]\n",
    );
    let touched = app.path().join("touched-by-prober");
    let state_file = app.path().join(".hoist/state/prober/probe.txt");
    let probe_name = format!("{}-probe", app.service);
    // (probe, grants yaml or none, granted?)
    let cases: &[(&str, Option<&str>, bool)] = &[
        ("docker-read", Some("{ docker: read }"), true),
        ("docker-read", Some("{ docker: none }"), false),
        (
            "docker-read",
            Some("{ docker: read, hosts: [\"web-*\"] }"),
            false,
        ),
        (
            "docker-read",
            Some("{ docker: read, roles: [\"web\"] }"),
            true,
        ),
        (
            "docker-read",
            Some("{ docker: read, roles: [\"workers\"] }"),
            false,
        ),
        ("docker-write", Some("{ docker: read }"), false),
        ("docker-write", Some("{ docker: write }"), true),
        ("commands", None, false),
        ("commands", Some("{ commands: [\"touch **\"] }"), true),
        ("state", Some("{ docker: read }"), false),
        ("state", None, true),
        ("config", None, true),
        ("config", Some("{ config: [\"servers.*\"] }"), false),
    ];
    for (n, (probe, grants, granted)) in cases.iter().enumerate() {
        let grants = grants
            .map(|g| format!("      grants: {g}\n"))
            .unwrap_or_default();
        app.config(&format!(
            "{BASE}hooks:\n  pre-deploy:\n    - plugin: prober\n      settings: {{ probe: {probe}, file: {}, key: readiness_delay, expect: \"1\" }}\n{grants}",
            touched.display()
        ));
        let before = (
            touched.exists(),
            state_file.exists(),
            app.container(&probe_name).is_some(),
        );
        let run = app.deploy(&format!("v{n}"), &[]);
        run.assert_ok();
        let line = probe_line(&run);
        let after = (
            touched.exists(),
            state_file.exists(),
            app.container(&probe_name).is_some(),
        );
        let effect = match *probe {
            "commands" => after.0,
            "state" => after.1,
            "docker-write" => after.2,
            _ => true,
        };
        if *granted {
            assert_eq!(line, format!("probe {probe}: ok"), "case {n} {grants}");
            assert!(effect, "case {n}: granted {probe} left no trace");
        } else {
            // The plugin saw the refusal; the engine and the disk did not change.
            assert!(
                line.starts_with(&format!("probe {probe}: denied"))
                    || (*probe == "state" && line.starts_with("probe state: failed")),
                "case {n} {grants}: {line}"
            );
            assert_eq!(
                before, after,
                "case {n}: a denied {probe} changed something"
            );
        }
    }
}

/// A one-request HTTP receiver on 127.0.0.1: the request line and body of
/// each POST arrive on the channel.
fn receiver() -> (u16, std::sync::mpsc::Receiver<(String, String)>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .unwrap();
            let _ = tx.send((
                request_line.trim().to_string(),
                String::from_utf8_lossy(&body).into_owned(),
            ));
        }
    });
    (port, rx)
}

#[test]
fn webhook_posts_when_granted_and_is_denied_otherwise() {
    let app = App::new("webhook", BASE);
    let (port, rx) = receiver();
    let hook = |grants: &str| {
        format!(
            "{BASE}hooks:\n  post-deploy:\n    - plugin: webhook\n      settings: {{ url: \"http://127.0.0.1:{port}/hook\" }}\n{grants}"
        )
    };
    // Granted: one POST with the outcome.
    app.config(&hook("      grants: { http: [\"127.0.0.1\"] }\n"));
    app.deploy("v1", &[]).assert_ok();
    let (line, body) = rx
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("the webhook posted");
    assert_eq!(line, "POST /hook HTTP/1.1");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["service"], app.service.as_str());
    assert_eq!(v["version"], "v1");
    assert_eq!(v["success"], true);
    assert!(
        v["text"].as_str().unwrap().contains("deployed v1"),
        "{body}"
    );
    // Not granted (no grants block), or granted another host: the plugin
    // gets `denied`, the deploy says so at post-deploy, nothing is sent.
    for grants in ["", "      grants: { http: [\"hooks.example.com\"] }\n"] {
        app.config(&hook(grants));
        let run = app.deploy("v2", &[]);
        run.assert_failed();
        let end = run.end();
        assert_eq!(end["stage"], "post-deploy");
        let msg = end["message"].as_str().unwrap();
        assert!(
            msg.contains("plugin `webhook`")
                && msg.contains(&format!("not granted HTTP to `127.0.0.1:{port}`")),
            "{msg}"
        );
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(500))
                .is_err(),
            "a denied webhook reached the receiver"
        );
    }
}
