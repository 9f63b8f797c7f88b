//! End to end: plugins that are broken or misbehave fail clearly, naming the
//! plugin and the stage, and the running version is untouched.

mod support;

use support::{App, guest_component, guest_wasm};

const BASE: &str = "servers:
  web: [local]
readiness_delay: 1
deploy_timeout: 20
drain_timeout: 5
";

fn misbehave() -> Vec<u8> {
    guest_component("hoist-fixture-misbehave")
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
    let strategy = guest_component("hoist-strategy-rolling");
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
    let wasm = guest_component("hoist-fixture-commander");
    app.install_plugin("sneaky", &wasm, &manifest("sneaky", "hook"));
    assert_bad_plugin(
        &app,
        "sneaky",
        "    - sneaky\n",
        "load-config",
        &[
            "imports hoist:plugin/commands@0.1.",
            "plugin.toml declares no matching capability",
        ],
    );
}

#[test]
fn a_hook_importing_the_rollout_steps_is_refused_at_load() {
    let app = App::new("hookrollout", BASE);
    // The fixture calls rollout.start: the hook world has no rollout.
    let wasm = guest_component("hoist-fixture-rollout-hook");
    app.install_plugin("stepper", &wasm, &manifest("stepper", "hook"));
    assert_bad_plugin(
        &app,
        "stepper",
        "    - stepper\n",
        "load-config",
        &[
            "imports hoist:plugin/rollout@0.1.",
            "hooks do not drive the rollout",
        ],
    );
}

#[test]
fn a_plugin_built_for_an_incompatible_wit_version_is_refused_at_load() {
    let app = App::new("future", BASE);
    let wasm = guest_component("hoist-fixture-future-api");
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

/// 0.1.x is one compatible series: a strategy built against the frozen
/// 0.1.0 WIT (before `rollout.boot` existed) loads in this hoist, takes the
/// steps and deploys.
#[test]
fn a_plugin_built_against_an_older_0_1_release_loads_and_rolls_out() {
    let app = App::new("wit010", BASE);
    let wasm = guest_component("hoist-fixture-wit-0-1-0");
    app.install_plugin(
        "old",
        &wasm,
        "name = \"old\"\nkind = \"strategy\"\n[capabilities]\nrollout = true\n",
    );
    let file = app.path().join(".hoist/plugins/old/old.wasm");
    let inspect = app.hoist(&["plugin", "inspect", file.to_str().unwrap()]);
    assert!(
        inspect.stdout.contains("hoist:plugin@0.1.0"),
        "{}",
        inspect.text()
    );
    app.config(&format!("{BASE}deploy:\n  strategy: old\n"));
    for v in ["v1", "v2"] {
        let run = app.deploy(v, &[]);
        run.assert_ok();
        assert!(
            run.text().contains("wit 0.1.0 strategy: 1 target(s)"),
            "{}",
            run.text()
        );
        let c = app.container(&format!("{}-web-{v}", app.service)).unwrap();
        assert_eq!(c.state, "running");
    }
    let v1 = app.container(&format!("{}-web-v1", app.service)).unwrap();
    assert_ne!(v1.state, "running", "v1 retired by the old strategy");
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

/// A plugin that spends nearly all its time in host calls that answer at
/// once (the epoch ticker rests while calls wait in the host) is still
/// stopped at its limit.
#[test]
fn a_plugin_looping_on_quick_host_calls_is_stopped_at_its_timeout() {
    let app = App::new("calls", BASE);
    app.install_plugin(
        "caller",
        &guest_component("hoist-fixture-prober"),
        "name = \"caller\"\nkind = \"hook\"\nstages = [\"pre-deploy\"]\n[capabilities]\ndocker = \"read\"\ncommands = [\"touch **\"]\n",
    );
    assert_bad_plugin(
        &app,
        "caller",
        "    - plugin: caller\n      settings: { probe: calls }\n      limits: { timeout: 2s }\n",
        "pre-deploy",
        &["time limit (2s)"],
    );
}

/// The time limit holds while the plugin waits in a host call, not only in
/// its own code: the call is stopped at the limit, the lock is free.
fn assert_stopped_in_host_call(app: &App, plugin: &str, hook_yaml: &str) {
    let started = std::time::Instant::now();
    assert_bad_plugin(app, plugin, hook_yaml, "pre-deploy", &["time limit (2s)"]);
    // Two deploys (v1 and the failing v2); an unbounded wait would be an hour.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(300),
        "the host call was not cut at the limit"
    );
    app.assert_unlocked("after the run");
}

#[test]
fn a_plugin_sleeping_in_a_host_call_is_stopped_at_its_timeout() {
    let app = App::new("sleeper", BASE);
    app.install_plugin("sleeper", &misbehave(), &manifest("sleeper", "hook"));
    assert_stopped_in_host_call(
        &app,
        "sleeper",
        "    - plugin: sleeper\n      settings: { mode: sleep }\n      limits: { timeout: 2s }\n",
    );
}

#[test]
fn a_command_that_never_ends_is_killed_at_the_plugins_timeout() {
    let app = App::new("hang", BASE);
    let wasm = guest_component("hoist-fixture-commander");
    // A marker in the command line finds the process afterwards.
    let marker = format!("3599.{}", std::process::id());
    app.install_plugin(
        "hang",
        &wasm,
        "name = \"hang\"\nkind = \"hook\"\nstages = [\"pre-deploy\"]\n[capabilities]\ncommands = [\"sleep *\"]\n",
    );
    assert_stopped_in_host_call(
        &app,
        "hang",
        &format!(
            "    - plugin: hang\n      settings: {{ argv: sleep {marker} }}\n      limits: {{ timeout: 2s }}\n      grants: {{ commands: [\"sleep *\"] }}\n"
        ),
    );
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&ps.stdout).contains(&format!("sleep {marker}")),
        "the command outlived the call"
    );
}

#[test]
fn limits_past_their_bounds_are_refused_at_load() {
    let app = App::new("bounds", BASE);
    app.install_plugin("big", &misbehave(), &manifest("big", "hook"));
    app.config(&format!(
        "{BASE}hooks:\n  pre-deploy:\n    - plugin: big\n      limits: {{ timeout: 99999999h }}\n"
    ));
    let run = app.deploy("v1", &[]);
    run.assert_failed();
    let text = run.text();
    assert!(text.contains("limits.timeout"), "{text}");
    assert!(text.contains("24h"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    app.config(BASE);
    app.assert_unlocked("after the run");
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
    let wasm = guest_component("hoist-fixture-prober");
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
        // A manifest only declares: write needs a grant.
        ("docker-write", None, false),
        ("docker-read", None, true),
        ("docker-write", Some("{ docker: read }"), false),
        ("docker-write", Some("{ docker: write }"), true),
        ("commands", None, false),
        ("commands", Some("{ commands: [\"touch **\"] }"), true),
        ("state", Some("{ docker: read }"), false),
        ("state", None, false),
        ("state", Some("{ state: true }"), true),
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

#[test]
fn webhook_posts_when_granted_and_is_denied_otherwise() {
    let app = App::new("webhook", BASE);
    let (port, rx) = support::http_receiver();
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
    // A pattern (`*`) or a name (`localhost`) matches, but loopback is
    // reached only when a grant names the address: denied, nothing sent.
    for (url_host, grant) in [("127.0.0.1", "\"*\""), ("localhost", "\"localhost\"")] {
        app.config(&format!(
            "{BASE}hooks:\n  post-deploy:\n    - plugin: webhook\n      settings: {{ url: \"http://{url_host}:{port}/hook\" }}\n      grants: {{ http: [{grant}] }}\n"
        ));
        let run = app.deploy("v3", &[]);
        run.assert_failed();
        let msg = run.end()["message"].as_str().unwrap().to_string();
        assert!(
            msg.contains("plugin `webhook`") && msg.contains("loopback address"),
            "{msg}"
        );
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(500))
                .is_err(),
            "a loopback POST under `{grant}` reached the receiver"
        );
        app.assert_unlocked(&format!("under `{grant}`"));
    }
}

/// The `.cwasm` in `dir` compiled from `wasm` (its name starts with the
/// SHA-256 of the component).
fn cwasm_of(dir: &std::path::Path, wasm: &[u8]) -> std::path::PathBuf {
    use sha2::Digest;
    let prefix = hex::encode(sha2::Sha256::digest(wasm));
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with(&prefix) && n.ends_with(".cwasm")
        })
        .unwrap_or_else(|| panic!("no cwasm for {prefix} in {}", dir.display()))
}

#[test]
fn native_code_is_loaded_only_from_a_cache_nobody_else_can_write() {
    use std::os::unix::fs::PermissionsExt;
    let app = App::new("cwasm", BASE);
    let prober = guest_component("hoist-fixture-prober");
    app.install_plugin(
        "recorder",
        &misbehave(),
        &format!(
            "{}[capabilities]\nstate = true\n",
            manifest("recorder", "hook")
        ),
    );
    app.install_plugin(
        "prober",
        &prober,
        "name = \"prober\"\nkind = \"hook\"\nstages = [\"pre-deploy\"]\n[capabilities]\ndocker = \"read\"\ncommands = [\"touch **\"]\n",
    );
    let hooks = "hooks:\n  pre-deploy:\n    - plugin: recorder\n      grants: { state: true }\n    - plugin: prober\n      settings: { probe: docker-read }\n";
    // A private cache outside the app, filled by a first deploy.
    let private = std::env::temp_dir().join(format!("hoist-cwasm-{}", app.service));
    let _ = std::fs::remove_dir_all(&private);
    let with_cache = |dir: &str| {
        app.config(&format!("{BASE}plugins:\n  cache_dir: {dir}\n{hooks}"));
    };
    with_cache(&private.display().to_string());
    app.deploy("v1", &[]).assert_ok();
    let mode = std::fs::metadata(&private).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "cache dir created private: {mode:o}");
    let recorder_code = cwasm_of(&private, &misbehave());
    let prober_code = cwasm_of(&private, &prober);

    // Swapped: the prober's native code under the recorder's name, in a
    // file others can write. It must not run as the recorder.
    std::fs::copy(&prober_code, &recorder_code).unwrap();
    std::fs::set_permissions(&recorder_code, std::fs::Permissions::from_mode(0o666)).unwrap();
    let run = app.deploy("v2", &[]);
    run.assert_ok();
    let recorded = |run: &support::Run| {
        run.of("log", Some("recorder")).iter().any(|e| {
            e["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("recorded pre-deploy")
        })
    };
    assert!(
        recorded(&run),
        "the recorder ran its own code:\n{}",
        run.stdout
    );
    let mode = std::fs::metadata(&recorder_code)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o022,
        0,
        "recompiled and rewritten privately: {mode:o}"
    );

    // A cache inside the app (where anyone who can commit could plant
    // code): never loaded from, and the deploy says so.
    let inside = app.path().join(".hoist/cache");
    std::fs::create_dir_all(&inside).unwrap();
    std::fs::set_permissions(&inside, std::fs::Permissions::from_mode(0o700)).unwrap();
    let planted = inside.join(recorder_code.file_name().unwrap());
    std::fs::copy(&prober_code, &planted).unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o600)).unwrap();
    with_cache(".hoist/cache");
    let run = app.deploy("v3", &[]);
    run.assert_ok();
    assert!(
        recorded(&run),
        "the recorder ran its own code:\n{}",
        run.stdout
    );
    assert!(
        run.text().contains("is inside the app"),
        "warns about the cache:\n{}",
        run.text()
    );
    let _ = std::fs::remove_dir_all(&private);
}

#[test]
fn a_plugin_flooding_the_log_is_stopped_at_its_quota() {
    let app = App::new("spam", BASE);
    app.install_plugin("spam", &misbehave(), &manifest("spam", "hook"));
    assert_bad_plugin(
        &app,
        "spam",
        "    - plugin: spam\n      settings: { mode: spam }\n",
        "pre-deploy",
        &["log lines per call quota (10000 lines)"],
    );
    let run = app.deploy("v3", &[]);
    let lines = run.of("log", Some("spam")).len();
    assert!(lines <= 10_000, "{lines} log lines got through");
    app.assert_unlocked("after the run");
}

#[test]
fn plugin_text_is_one_clean_line_and_secrets_never_reach_the_audit_log() {
    let app = App::new("text", BASE);
    app.install_plugin("loud", &misbehave(), &manifest("loud", "hook"));
    let secret = "pem-line-7d1f0c9e44b2";
    app.write(
        ".hoist/secrets",
        &format!("API_KEY=\"-----BEGIN KEY-----\n{secret}\n-----END KEY-----\"\n"),
    );
    let env = "env:\n  secret: [API_KEY]\n";
    // An ESC sequence and a forged line, in the human output.
    app.config(&format!(
        "{BASE}{env}hooks:\n  pre-deploy:\n    - plugin: loud\n      settings: {{ mode: esc }}\n"
    ));
    let run = app.hoist(&["deploy", "--version", "v1"]);
    run.assert_ok();
    assert!(!run.stdout.contains('\x1b'), "raw ESC reached the terminal");
    assert!(
        run.stdout.contains("[loud] colour \\x1b[31mred"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout
            .lines()
            .any(|l| l.starts_with("Finished deploying forged")),
        "a plugin forged a line:\n{}",
        run.stdout
    );
    // One line of a multi-line secret in an abort message: redacted on the
    // terminal and in the audit log written on the host.
    app.config(&format!(
        "{BASE}{env}hooks:\n  pre-deploy:\n    - plugin: loud\n      settings: {{ mode: fail, message: \"key is {secret}\" }}\n"
    ));
    let run = app.deploy("v2", &[]);
    run.assert_failed();
    assert!(!run.text().contains(secret), "{}", run.text());
    assert!(run.text().contains("key is [REDACTED]"), "{}", run.text());
    // `hoist audit` reads the log on each host.
    let audit = app.hoist(&["audit"]).stdout;
    assert!(audit.contains("key is [REDACTED]"), "{audit}");
    assert!(!audit.contains(secret), "{audit}");
}

#[test]
fn docker_write_stays_inside_the_service() {
    let app = App::new("scoped", BASE);
    let s = app.service.clone();
    let wasm = guest_component("hoist-fixture-prober");
    app.install_plugin(
        "prober",
        &wasm,
        "name = \"prober\"\nkind = \"hook\"\nstages = [\"pre-deploy\"]\n[capabilities]\ndocker = \"write\"\nexec = true\ncommands = [\"touch **\"]\n",
    );
    let secret = "app-secret-0c5e9b17";
    app.write(".hoist/secrets", &format!("API_KEY={secret}\n"));
    let env = "env:\n  secret: [API_KEY]\n";
    app.config(&format!("{BASE}{env}"));
    app.deploy("v1", &[]).assert_ok();
    let probe_container = format!("{s}-probe");
    // (probe, settings, grants, expected start of the probe line)
    let cases: &[(&str, &str, &str, &str)] = &[
        // The manifest alone grants no write.
        ("bind-root", "", "", "probe bind-root: denied"),
        // Granted write: still no host path, and no foreign image.
        (
            "bind-root",
            "",
            "{ docker: write }",
            "probe bind-root: denied",
        ),
        (
            "bind-root",
            ", image: \"hoist-proxy:latest\"",
            "{ docker: write }",
            "probe bind-root: denied",
        ),
        // A mounts grant the manifest does not declare: still denied.
        (
            "bind-root",
            "",
            "{ docker: write, mounts: [\"/\"] }",
            "probe bind-root: denied",
        ),
        // Exec into the app's container needs its own grant.
        (
            "exec-env",
            ", container: CONTAINER, argv: \"/hello env API_KEY\"",
            "{ docker: write }",
            "probe exec-env: denied",
        ),
        // Retagging a foreign image as the app's version.
        (
            "retag",
            ", source: \"hoist-proxy:latest\"",
            "{ docker: write }",
            "probe retag: denied",
        ),
        // Granted exec: it runs, and the secret is redacted from its output.
        (
            "exec-env",
            ", container: CONTAINER, argv: \"/hello env API_KEY\"",
            "{ docker: write, exec: true }",
            "probe exec-env: ok",
        ),
    ];
    for (n, (probe, settings, grants, expect)) in cases.iter().enumerate() {
        // The container serving before this deploy.
        let serving = format!("{s}-web-v{}", n + 1);
        let settings = settings.replace("CONTAINER", &serving);
        let grants = if grants.is_empty() {
            String::new()
        } else {
            format!("      grants: {grants}\n")
        };
        app.config(&format!(
            "{BASE}{env}hooks:\n  pre-deploy:\n    - plugin: prober\n      settings: {{ probe: {probe}{settings} }}\n{grants}"
        ));
        let run = app.deploy(&format!("v{}", n + 2), &[]);
        run.assert_ok();
        let line = probe_line(&run);
        assert!(line.starts_with(expect), "case {n}: {line}");
        assert!(!run.text().contains(secret), "case {n}: the secret leaked");
        assert!(
            app.container(&probe_container).is_none(),
            "case {n}: a container was started"
        );
        if *probe == "retag" {
            // The version's tag still names the image the build made, which
            // is what the new container runs.
            let tag = format!("hoist-e2e/{s}:v{}", n + 2);
            let tagged = support::docker(&["image", "inspect", "-f", "{{.Id}}", &tag]);
            let running = support::docker(&[
                "inspect",
                "-f",
                "{{.Image}}",
                &format!("{s}-web-v{}", n + 2),
            ]);
            assert_eq!(tagged.trim(), running.trim(), "case {n}: the tag moved");
        }
        if expect.ends_with("ok") {
            let env_line = run
                .of("log", Some("prober"))
                .iter()
                .filter_map(|e| e["message"].as_str())
                .find(|l| l.starts_with("exec env:"))
                .unwrap_or_default()
                .to_string();
            assert!(
                env_line.contains("API_KEY=[REDACTED]"),
                "case {n}: {env_line}"
            );
        }
        app.assert_unlocked(&format!("case {n}"));
    }
}

#[test]
fn a_plugin_reads_no_other_plugins_settings_even_with_config_everything() {
    let app = App::new("peek", BASE);
    let wasm = guest_component("hoist-fixture-prober");
    app.install_plugin(
        "prober",
        &wasm,
        "name = \"prober\"\nkind = \"hook\"\nstages = [\"pre-deploy\"]\n[capabilities]\ndocker = \"read\"\ncommands = [\"touch **\"]\nconfig = [\"**\"]\n",
    );
    // Another plugin's settings hold a token; the strategy's too.
    let token = "tok-7f3a91c2e6";
    let peek = |key: &str| {
        format!(
            "    - plugin: prober\n      settings: {{ probe: config, key: \"{key}\", expect: none }}\n      grants: {{ config: [\"**\"] }}\n"
        )
    };
    app.config(&format!(
        "{BASE}deploy:\n  strategies:\n    rolling: {{ settings: {{ token: {token} }} }}\nhooks:\n  pre-deploy:\n{}{}{}{}{}  post-deploy:\n    - plugin: deploy-log\n      settings: {{ url: \"http://127.0.0.1:9/hook?token={token}\" }}\n",
        peek("hooks.post-deploy.0.settings.url"),
        peek("hooks.post-deploy.0.settings"),
        peek("hooks"),
        peek("deploy.strategies.rolling"),
        peek("readiness_delay"),
    ));
    let run = app.deploy("v1", &[]);
    run.assert_ok();
    let lines: Vec<String> = run
        .of("log", Some("prober"))
        .iter()
        .filter_map(|e| e["message"].as_str().map(String::from))
        .collect();
    let probe = |key: &str| {
        lines
            .iter()
            .find(|l| l.starts_with("probe config:") && l.contains(&format!("{key} =")))
            .unwrap_or_else(|| panic!("no probe of {key} in {lines:?}"))
            .clone()
    };
    // The other plugin's settings are not there at all.
    assert!(
        probe("hooks.post-deploy.0.settings.url").contains("= None"),
        "{lines:?}"
    );
    assert!(
        probe("hooks.post-deploy.0.settings").contains("settings = None"),
        "{lines:?}"
    );
    // The sections themselves are readable, without settings and grants.
    let hooks = lines
        .iter()
        .find(|l| l.starts_with("config hooks:"))
        .unwrap_or_else(|| panic!("hooks not readable: {lines:?}"));
    assert!(
        hooks.contains("deploy-log") && !hooks.contains("settings"),
        "{hooks}"
    );
    let rolling = lines
        .iter()
        .find(|l| l.starts_with("config deploy.strategies.rolling:"))
        .unwrap_or_else(|| panic!("strategy not readable: {lines:?}"));
    assert!(!rolling.contains("settings"), "{rolling}");
    // An ordinary key reads as before (the check works at all).
    assert!(
        lines.iter().any(|l| l == "config readiness_delay: 1"),
        "{lines:?}"
    );
    // The token reached nothing hoist printed.
    assert!(!run.text().contains(token), "the token leaked");
    app.assert_unlocked("after the probes");
}

#[test]
fn mounts_and_images_grants_widen_a_container_only_as_far_as_named() {
    let app = App::new("widen", BASE);
    let s = app.service.clone();
    let data = app.path().join("data");
    std::fs::create_dir_all(data.join("daily")).unwrap();
    let other = format!("hoist-e2e-other/{s}");
    let wasm = guest_component("hoist-fixture-prober");
    app.install_plugin(
        "prober",
        &wasm,
        &format!(
            "name = \"prober\"\nkind = \"hook\"\nstages = [\"pre-deploy\"]\n[capabilities]\ndocker = \"write\"\ncommands = [\"touch **\"]\nmounts = [\"{}\"]\nimages = [\"{other}\"]\n",
            app.path().display()
        ),
    );
    app.deploy("v1", &[]).assert_ok();
    let d = data.display().to_string();
    let probe_container = format!("{s}-probe");
    // (settings, grants, expected start of the probe line)
    let cases: Vec<(String, String, &str)> = vec![
        // Granted path: mounted.
        (
            format!(", volume: \"{d}:/data\""),
            format!("{{ docker: write, mounts: [\"{d}\"] }}"),
            "probe bind-root: ok",
        ),
        // Below it: covered.
        (
            format!(", volume: \"{d}/daily:/data\""),
            format!("{{ docker: write, mounts: [\"{d}\"] }}"),
            "probe bind-root: ok",
        ),
        // Out of it with `..`, or its parent: denied.
        (
            format!(", volume: \"{d}/../..:/data\""),
            format!("{{ docker: write, mounts: [\"{d}\"] }}"),
            "probe bind-root: denied",
        ),
        (
            format!(", volume: \"{}:/data\"", app.path().display()),
            format!("{{ docker: write, mounts: [\"{d}\"] }}"),
            "probe bind-root: denied",
        ),
        // Another image: only when granted.
        (
            format!(", volume: \"{s}-cache:/c\", image: \"{other}:v1\""),
            "{ docker: write }".to_string(),
            "probe bind-root: denied",
        ),
        (
            format!(", volume: \"{s}-cache:/c\", image: \"{other}:v1\""),
            format!("{{ docker: write, images: [\"{other}\"] }}"),
            "probe bind-root: ok",
        ),
    ];
    for (n, (settings, grants, expect)) in cases.iter().enumerate() {
        // Another repository's image (prune keeps only the service's).
        support::docker(&[
            "tag",
            &format!("hoist-e2e/{s}:v{}", n + 1),
            &format!("{other}:v1"),
        ]);
        app.config(&format!(
            "{BASE}hooks:\n  pre-deploy:\n    - plugin: prober\n      settings: {{ probe: bind-root{settings} }}\n      grants: {grants}\n"
        ));
        let run = app.deploy(&format!("v{}", n + 2), &[]);
        run.assert_ok();
        let line = probe_line(&run);
        assert!(line.starts_with(expect), "case {n}: {line}");
        let started = app.container(&probe_container).is_some();
        assert_eq!(started, expect.ends_with("ok"), "case {n}: {line}");
        if started {
            let mounts = support::docker(&[
                "inspect",
                "-f",
                "{{range .Mounts}}{{.Source}} {{end}}|{{.Config.Image}}",
                &probe_container,
            ]);
            if settings.contains(&d) {
                assert!(mounts.contains(&d), "case {n}: {mounts}");
            } else {
                assert!(
                    mounts.trim().ends_with(&format!("|{other}:v1")),
                    "case {n}: {mounts}"
                );
            }
            support::docker(&["rm", "-f", &probe_container]);
        }
        app.assert_unlocked(&format!("case {n}"));
    }
    support::docker(&["rmi", &format!("{other}:v1")]);
}

#[test]
fn a_plugin_filling_its_state_dir_is_stopped_at_its_quota() {
    for (mode, quota) in [
        ("fill", "/state size quota (16 MiB)"),
        ("files", "/state entries quota (4096 files and directories)"),
    ] {
        let app = App::new(&format!("filler-{mode}"), BASE);
        app.install_plugin(
            "filler",
            &misbehave(),
            &format!(
                "{}[capabilities]\nstate = true\n",
                manifest("filler", "hook")
            ),
        );
        let hook = format!(
            "    - plugin: filler\n      settings: {{ mode: {mode} }}\n      grants: {{ state: true }}\n      limits: {{ timeout: 120s }}\n"
        );
        // The plugin returns Ok once a write fails: only the quota fails it.
        assert_bad_plugin(&app, "filler", &hook, "pre-deploy", &[quota]);
        app.assert_unlocked(mode);
        let dir = app.path().join(".hoist/state/filler");
        let (mut bytes, mut entries) = (0u64, 0u64);
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            entries += 1;
            bytes += e.metadata().unwrap().len();
        }
        println!(
            "{mode}: the state dir held {bytes} bytes in {entries} entries when the call was stopped"
        );
        // The next call is refused before it starts, saying what to do.
        let run = app.deploy("v3", &[]);
        run.assert_failed();
        let msg = run.end()["message"].as_str().unwrap().to_string();
        assert!(
            msg.contains("plugin `filler`") && msg.contains("remove what the plugin does not need"),
            "{msg}"
        );
        app.assert_unlocked(mode);
    }
}

#[test]
fn a_hook_used_many_times_stops_at_its_total_for_the_deploy() {
    let app = App::new("napper", BASE);
    app.install_plugin("napper", &misbehave(), &manifest("napper", "hook"));
    // Three uses of 2 s each, 10 s per call, 5 s for the deploy: the third
    // gets what is left and is stopped there.
    let nap = "    - plugin: napper\n      settings: { mode: nap, ms: 2000 }\n      limits: { timeout: 10s, total: 5s }\n";
    assert_bad_plugin(
        &app,
        "napper",
        &nap.repeat(3),
        "pre-deploy",
        &["used up its time for this deploy (5s across all its calls)"],
    );
    app.assert_unlocked("after the budget");
    // A strategy is called once: `total` there is refused at load, named.
    app.config(&format!(
        "{BASE}deploy:\n  strategies:\n    rolling: {{ limits: {{ total: 1m }} }}\n"
    ));
    let run = app.deploy("v3", &[]);
    run.assert_failed();
    let msg = run.end()["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("deploy.strategies.rolling.limits.total"),
        "{msg}"
    );
}

#[test]
fn a_table_growing_past_the_memory_limit_is_stopped() {
    let app = App::new("grower", BASE);
    // Built from a hand-written core module: `table.grow` in a loop.
    app.install_plugin(
        "grower",
        &support::hostile::table_growing_hook(),
        &manifest("grower", "hook"),
    );
    assert_bad_plugin(
        &app,
        "grower",
        "    - plugin: grower\n      limits: { memory: 2MiB, timeout: 30s }\n",
        "pre-deploy",
        &["memory limit (2 MiB)"],
    );
    app.assert_unlocked("after the table grew");
}

#[test]
fn an_exec_that_never_ends_is_killed_at_the_plugins_timeout() {
    let app = App::new("exechang", BASE);
    let s = app.service.clone();
    let wasm = guest_component("hoist-fixture-prober");
    app.install_plugin(
        "prober",
        &wasm,
        "name = \"prober\"\nkind = \"hook\"\nstages = [\"pre-deploy\"]\n[capabilities]\ndocker = \"write\"\nexec = true\ncommands = [\"touch **\"]\n",
    );
    app.install_plugin("stopper", &misbehave(), &manifest("stopper", "hook"));
    app.deploy("v1", &[]).assert_ok();
    let serving = format!("{s}-web-v1");
    // A marker in the command line finds the process afterwards.
    let secs = 3000 + std::process::id() % 500;
    // A second hook stops the deploy, so v1 keeps running and its processes
    // can be read afterwards.
    app.config(&format!(
        "{BASE}hooks:\n  pre-deploy:\n    - plugin: prober\n      settings: {{ probe: exec-env, container: {serving}, argv: \"/hello sleep {secs}\" }}\n      grants: {{ docker: write, exec: true }}\n      limits: {{ timeout: 3s }}\n    - plugin: stopper\n      settings: {{ mode: fail }}\n"
    ));
    let started = std::time::Instant::now();
    let run = app.deploy("v2", &[]);
    // The plugin saw the failure (and carried on, as the prober does).
    run.assert_failed();
    let line = probe_line(&run);
    assert!(
        line.starts_with("probe exec-env: failed:")
            && line.contains("ran to the call's time limit"),
        "{line}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(120));
    // The command is gone from the container it ran in.
    let top = support::docker(&["top", &serving, "-eo", "pid,args"]);
    assert!(
        top.contains("/hello"),
        "top lists the container's processes:\n{top}"
    );
    assert!(
        !top.contains(&format!("sleep {secs}")),
        "the exec outlived the call:\n{top}"
    );
    app.assert_unlocked("after the exec");
}

/// A manifest's `[settings]` are checked when the deploy loads: a missing
/// required setting, one the plugin does not have, or a value of the wrong
/// type fails at load-config, naming the plugin, where it is configured and
/// the setting, before anything is built.
#[test]
fn settings_are_checked_against_the_manifest_at_load_config() {
    let cases = [
        (
            "hooks:\n  post-deploy:\n    - webhook\n",
            "plugin `webhook` (configured at hooks.post-deploy[0]): needs setting `url` (a string)",
        ),
        (
            "hooks:\n  pre-build:\n    - plugin: git-clean\n      settings: { allow_dirt: true }\n      grants: { commands: [\"git status --porcelain\"] }\n",
            "plugin `git-clean` (configured at hooks.pre-build[0]): has no setting `allow_dirt` (its settings are allow_dirty)",
        ),
        (
            "deploy:\n  strategy: canary\n  strategies:\n    canary:\n      settings: { soak: soon }\n",
            "plugin `canary` (configured at deploy.strategies.canary): setting `soak` must be a duration like 30s or 5m, not `soon`",
        ),
    ];
    let app = App::new("settings", BASE);
    for (extra, want) in cases {
        app.config(&format!("{BASE}{extra}"));
        let run = app.deploy("v1", &[]);
        run.assert_failed();
        let end = run.end();
        assert_eq!(end["stage"], "load-config", "{}", run.text());
        assert!(
            end["message"].as_str().unwrap_or_default().contains(want),
            "wanted {want}:\n{}",
            run.text()
        );
        assert!(app.image_tags().is_empty(), "{:?}", app.image_tags());
    }
    // Right values load and deploy.
    app.config(&format!(
        "{BASE}deploy:\n  strategy: canary\n  strategies:\n    canary:\n      settings: {{ soak: 1s }}\n"
    ));
    app.deploy("v1", &[]).assert_ok();
    app.hoist(&["remove", "-y"]).assert_ok();
}

/// `hoist plugin run` runs one hook against the real config and engine
/// without a deploy: read-only grants unless `--allow-write`.
#[test]
fn plugin_run_runs_one_hook_read_only_unless_allowed() {
    let app = App::new(
        "plugin-run",
        &format!(
            "{BASE}hooks:\n  pre-deploy:\n    - plugin: prober\n      settings: {{ probe: docker-write }}\n      grants: {{ docker: write }}\n"
        ),
    );
    app.install_plugin(
        "prober",
        &guest_component("hoist-fixture-prober"),
        "name = \"prober\"\nkind = \"hook\"\nstages = [\"pre-deploy\"]\n[capabilities]\ndocker = \"write\"\ncommands = [\"touch **\"]\n",
    );
    app.deploy("v1", &["-H"]).assert_ok();
    let probe = format!("{}-probe", app.service);
    let run = app.hoist(&["plugin", "run", "prober", "--version", "v1"]);
    run.assert_ok();
    assert!(
        run.stdout
            .contains("running prober at pre-deploy on local (read-only grants")
            && run.stdout.contains("[prober] warning: probe docker-write: denied: plugin `prober` has docker access `read`"),
        "{}",
        run.text()
    );
    assert!(app.container(&probe).is_none());
    let run = app.hoist(&[
        "plugin",
        "run",
        "prober",
        "--version",
        "v1",
        "--allow-write",
    ]);
    run.assert_ok();
    assert!(
        run.stdout.contains("[prober] probe docker-write: ok"),
        "{}",
        run.text()
    );
    assert!(app.container(&probe).is_some());
    app.assert_unlocked("after plugin run");
    // Where it is not configured, --stage says where.
    let run = app.hoist(&["plugin", "run", "preflight", "--version", "v1"]);
    run.assert_failed();
    assert!(
        run.text().contains(
            "`preflight` is not configured under `hooks:`; say where to run it with --stage"
        ),
        "{}",
        run.text()
    );
    app.hoist(&[
        "plugin",
        "run",
        "preflight",
        "--stage",
        "pre-deploy",
        "--version",
        "v1",
    ])
    .assert_ok();
    let _ = std::process::Command::new("docker")
        .args(["rm", "-f", &probe])
        .output();
    app.hoist(&["remove", "-y"]).assert_ok();
}
