//! End to end on the local Docker engine: deploys, hooks, health, prune,
//! filters. Every test runs the real `hoist` binary and checks the engine
//! with the docker CLI.

mod support;

use support::{App, guest_component};

const BASE: &str = "servers:
  web:
    hosts: [local]
  workers:
    hosts: [local]
    cmd: work
readiness_delay: 1
deploy_timeout: 20
drain_timeout: 5
retain_containers: 2
";

const HOOKS: &str = "hooks:
  pre-build:
    - plugin: git-clean
      grants: { commands: [\"git status --porcelain\"] }
    - plugin: recorder
      grants: { state: true }
  pre-deploy:
    - preflight
    - plugin: recorder
      grants: { state: true }
  post-deploy:
    - deploy-log
    - plugin: recorder
      grants: { state: true }
";

const RECORDER: &str = "name = \"recorder\"
kind = \"hook\"
stages = [\"pre-build\", \"pre-deploy\", \"post-deploy\"]
[capabilities]
state = true
";

fn recorder() -> Vec<u8> {
    guest_component("hoist-fixture-misbehave")
}

/// Hooks ran once each, in pipeline order, in this deploy's events.
fn assert_hook_order(run: &support::Run) {
    for (plugin, n) in [
        ("git-clean", 1),
        ("preflight", 1),
        ("deploy-log", 1),
        ("recorder", 3),
    ] {
        let ends = run.of("plugin_end", Some(plugin));
        assert_eq!(ends.len(), n, "{plugin} ran {} times, want {n}", ends.len());
        assert!(ends.iter().all(|e| e["ok"] == true), "{plugin}: {ends:?}");
    }
    let at = |stage: &str, plugin: &str| {
        run.index(|e| e["event"] == "plugin_end" && e["stage"] == stage && e["plugin"] == plugin)
            .unwrap_or_else(|| panic!("no {plugin} at {stage}"))
    };
    let build = run.stage_end("build").unwrap();
    let rollout = run.stage_end("rollout").unwrap();
    let prune = run.stage_end("prune").unwrap();
    assert!(at("pre-build", "git-clean") < build && at("pre-build", "recorder") < build);
    assert!(build < at("pre-deploy", "preflight") && at("pre-deploy", "recorder") < rollout);
    assert!(rollout < at("post-deploy", "deploy-log") && at("post-deploy", "recorder") < prune);
}

#[test]
fn deploys_versions_with_hooks_in_order_and_prunes() {
    let app = App::new("deploy", &format!("{BASE}{HOOKS}"));
    app.install_plugin("recorder", &recorder(), RECORDER);
    app.git_init();
    let s = app.service.clone();

    let v1 = app.deploy("v1", &[]);
    v1.assert_ok();
    assert_hook_order(&v1);
    assert_eq!(
        app.running(),
        vec![format!("{s}-web-v1"), format!("{s}-workers-v1")]
    );

    let v2 = app.deploy("v2", &[]);
    v2.assert_ok();
    assert_hook_order(&v2);
    assert_eq!(
        app.running(),
        vec![format!("{s}-web-v2"), format!("{s}-workers-v2")]
    );
    for role in ["web", "workers"] {
        let old = app
            .container(&format!("{s}-{role}-v1"))
            .expect("old container kept");
        assert_eq!(old.state, "exited", "{role} v1 is stopped");
        let new = app.container(&format!("{s}-{role}-v2")).unwrap();
        for (k, v) in [
            ("service", s.as_str()),
            ("role", role),
            ("destination", ""),
            ("hoist.managed", "true"),
            ("hoist.version", "v2"),
        ] {
            assert_eq!(
                new.labels.get(k).map(String::as_str),
                Some(v),
                "label {k} on {role}"
            );
        }
        assert_eq!(new.image, format!("hoist-e2e/{s}:v2"));
    }
    assert!(app.get(&format!("{s}-web-v2"), "/").contains("version v2"));

    // The hooks' own effects: the recorder's log and deploy-log's records.
    assert_eq!(
        app.read(".hoist/state/recorder/calls.log"),
        "pre-build v1 -\npre-deploy v1 -\npost-deploy v1 true\npre-build v2 -\npre-deploy v2 -\npost-deploy v2 true\n"
    );
    let records: Vec<serde_json::Value> = app
        .read(".hoist/state/deploy-log/deploys.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!(
        (
            records[1]["version"].as_str(),
            records[1]["success"].as_bool()
        ),
        (Some("v2"), Some(true))
    );
    let at = records[1]["recorded_at"].as_str().unwrap();
    assert!(
        at.len() == 20 && at.ends_with('Z') && at.as_bytes()[10] == b'T',
        "RFC 3339: {at}"
    );

    // A dirty tree stops the deploy at pre-build: nothing is built or changed.
    app.write("uncommitted.txt", "x");
    let dirty = app.deploy("v3", &[]);
    dirty.assert_failed();
    assert_eq!(dirty.end()["stage"], "pre-build");
    let msg = dirty.end()["message"].as_str().unwrap();
    assert!(
        msg.contains("git-clean") && msg.contains("uncommitted"),
        "{msg}"
    );
    assert!(
        dirty
            .index(|e| e["event"] == "stage_start" && e["stage"] == "build")
            .is_none()
    );
    assert!(!app.image_tags().contains(&format!("hoist-e2e/{s}:v3")));
    assert_eq!(
        app.running(),
        vec![format!("{s}-web-v2"), format!("{s}-workers-v2")]
    );
    std::fs::remove_file(app.path().join("uncommitted.txt")).unwrap();

    // Prune keeps `retain_containers` (2) stopped containers, and the images
    // they and the running version use.
    app.deploy("v3", &[]).assert_ok();
    app.deploy("v4", &[]).assert_ok();
    let mut stopped: Vec<String> = app
        .containers()
        .into_iter()
        .filter(|c| c.state != "running")
        .map(|c| c.name)
        .collect();
    stopped.sort();
    assert_eq!(
        stopped,
        vec![format!("{s}-web-v3"), format!("{s}-workers-v3")]
    );
    assert_eq!(
        app.image_tags(),
        vec![
            format!("hoist-e2e/{s}:latest"),
            format!("hoist-e2e/{s}:v3"),
            format!("hoist-e2e/{s}:v4")
        ]
    );
}

#[test]
fn skip_hooks_runs_no_hook_and_still_deploys() {
    let app = App::new("skiphooks", &format!("{BASE}{HOOKS}"));
    app.install_plugin("recorder", &recorder(), RECORDER);
    app.git_init();
    let run = app.deploy("v1", &["--skip-hooks"]);
    run.assert_ok();
    assert!(
        run.of("plugin_start", None).len() == 1,
        "only the strategy plugin runs"
    );
    assert_eq!(run.of("plugin_start", None)[0]["plugin"], "rolling");
    for stage in ["pre-build", "pre-deploy", "post-deploy"] {
        let end = &run.events[run.stage_end(stage).unwrap()];
        assert_eq!(end["message"], "skipped (--skip-hooks)", "{stage}");
    }
    assert!(
        run.of("log", None)
            .iter()
            .any(|e| e["message"].as_str().unwrap().contains("--skip-hooks"))
    );
    assert_eq!(app.read(".hoist/state/recorder/calls.log"), "");
    assert_eq!(app.read(".hoist/state/deploy-log/deploys.jsonl"), "");
    let s = &app.service;
    assert_eq!(
        app.running(),
        vec![format!("{s}-web-v1"), format!("{s}-workers-v1")]
    );
}

#[test]
fn never_healthy_or_crashing_version_leaves_the_old_one_running() {
    let app = App::new(
        "health",
        &format!("{BASE}hooks:\n  post-deploy: [deploy-log]\n"),
    );
    let s = app.service.clone();
    app.deploy("v1", &[]).assert_ok();
    let before = app.running_ids();

    for (version, mode, why, output) in [
        // web is proxied: the proxy's check of /up decides.
        (
            "v2",
            "unhealthy",
            "did not answer 2xx on /up",
            "mode unhealthy",
        ),
        (
            "v3",
            "crash",
            "crashed and Docker restarted it",
            "HELLO_MODE=crash",
        ),
    ] {
        app.config(&format!(
            "{BASE}hooks:\n  post-deploy: [deploy-log]\nenv:\n  clear:\n    HELLO_MODE: {mode}\n"
        ));
        let run = app.deploy(version, &[]);
        run.assert_failed();
        assert_eq!(run.end()["stage"], "rollout");
        let msg = run.end()["message"].as_str().unwrap();
        assert!(msg.contains(why), "{mode}: {msg}");
        assert!(
            msg.contains("last output") && msg.contains(output),
            "the container's output is shown: {msg}"
        );
        assert!(msg.contains(&format!("{s}-web-{version}")), "{msg}");
        assert_eq!(
            app.running_ids(),
            before,
            "the v1 containers keep running, untouched"
        );
        assert!(
            app.containers()
                .iter()
                .all(|c| !c.name.ends_with(&format!("-{version}"))),
            "the failed {version} container is removed"
        );
        // Workers never booted: the first web container failed (Kamal's barrier).
        assert!(
            run.index(|e| e["event"] == "step" && e["role"] == "workers")
                .is_none()
        );
    }
    // post-deploy hooks saw the failures.
    let records = app.read(".hoist/state/deploy-log/deploys.jsonl");
    let success: Vec<bool> = records
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["success"]
                .as_bool()
                .unwrap()
        })
        .collect();
    assert_eq!(success, vec![true, false, false]);
}

#[test]
fn role_and_host_filters_touch_only_what_matches() {
    let app = App::new("filters", BASE);
    let s = app.service.clone();
    app.deploy("v1", &[]).assert_ok();
    // Only the workers role.
    app.deploy("v2", &["-r", "work*"]).assert_ok();
    assert_eq!(
        app.running(),
        vec![format!("{s}-web-v1"), format!("{s}-workers-v2")]
    );
    // -p: the primary host, every role on it.
    app.deploy("v3", &["-p"]).assert_ok();
    assert_eq!(
        app.running(),
        vec![format!("{s}-web-v3"), format!("{s}-workers-v3")]
    );
    // A host pattern that matches nothing is an error naming the hosts.
    let run = app.deploy("v4", &["-h", "web-*"]);
    run.assert_failed();
    let msg = run.end()["message"].as_str().unwrap();
    assert!(
        msg.contains("no hosts match -h web-*") && msg.contains("local"),
        "{msg}"
    );
}

#[test]
fn secrets_reach_the_container_and_never_the_output() {
    let secret = format!("s3cr3t-{}", std::process::id());
    let app = App::new(
        "secrets",
        &format!(
            "{BASE}env:\n  clear:\n    GREETING: hi\n  secret:\n    - API_KEY\nregistry:\n  username: me\n  password: hunter2-literal\n"
        ),
    );
    app.write(".hoist/secrets", &format!("API_KEY={secret}\n"));
    let s = app.service.clone();

    // Dry run: every stage, the hosts, roles and operations; no secret; no change.
    let dry = app.hoist(&["deploy", "--dry-run", "--version", "v1"]);
    dry.assert_ok();
    let text = dry.text();
    for word in [
        "load-config",
        "pre-build",
        "build",
        "push",
        "pre-deploy",
        "rollout",
        "post-deploy",
        "prune",
        "local",
        "web",
        "workers",
        "rolling",
        "docker build",
        "docker run",
        "API_KEY",
    ] {
        assert!(
            text.contains(word),
            "dry run output lacks `{word}`:\n{text}"
        );
    }
    assert!(
        !text.contains(&secret),
        "the secret leaked into the dry run:\n{text}"
    );
    assert!(app.containers().is_empty(), "a dry run changes nothing");
    assert!(app.image_tags().is_empty(), "a dry run builds nothing");

    // A real deploy at -v: the container sees the secret, the output does not.
    let run = app.hoist(&["deploy", "-v", "--version", "v1"]);
    run.assert_ok();
    assert!(
        !run.text().contains(&secret),
        "secret in -v output:\n{}",
        run.text()
    );
    assert!(
        app.get(&format!("{s}-web-v1"), "/")
            .contains("hi from web version v1 (API_KEY set)")
    );
    let env = support::docker(&[
        "inspect",
        "--format",
        "{{json .Config.Env}}",
        &format!("{s}-web-v1"),
    ]);
    assert!(env.contains(&format!("API_KEY={secret}")), "{env}");

    // A container that prints the secret and fails: its output is shown,
    // the secret is not.
    app.config(&format!(
        "{BASE}env:\n  clear:\n    HELLO_MODE: unhealthy\n    HELLO_ECHO: API_KEY\n  secret:\n    - API_KEY\nregistry:\n  username: me\n  password: hunter2-literal\n"
    ));
    let run = app.hoist(&["deploy", "-v", "--version", "v2"]);
    run.assert_failed();
    assert!(run.text().contains("API_KEY=[REDACTED]"), "{}", run.text());
    assert!(
        !run.text().contains(&secret),
        "secret in a failed container's output:\n{}",
        run.text()
    );

    // `hoist config` redacts the literal password.
    let cfg = app.hoist(&["config"]);
    cfg.assert_ok();
    assert!(
        cfg.stdout.contains("[REDACTED]")
            && !cfg.stdout.contains("hunter2-literal")
            && cfg.stdout.contains("username: me"),
        "{}",
        cfg.stdout
    );

    // A missing secret is an error before anything runs.
    app.write(".hoist/secrets", "OTHER=1\n");
    let run = app.deploy("v2", &[]);
    run.assert_failed();
    assert_eq!(run.end()["stage"], "load-config");
    assert!(
        run.end()["message"]
            .as_str()
            .unwrap()
            .contains("secret `API_KEY`")
    );
}

#[test]
fn skip_push_deploys_an_existing_image_and_refuses_a_missing_one() {
    let app = App::new("skippush", BASE);
    let s = app.service.clone();
    app.deploy("v1", &[]).assert_ok();
    app.deploy("v2", &[]).assert_ok();
    // -P: no build; v1's image is still there, so v1 comes back.
    let run = app.deploy("v1", &["-P"]);
    run.assert_ok();
    let build = &run.events[run.stage_end("build").unwrap()];
    assert!(
        build["message"]
            .as_str()
            .unwrap()
            .contains("--skip-push: using the existing image")
    );
    assert_eq!(
        app.running(),
        vec![format!("{s}-web-v1"), format!("{s}-workers-v1")]
    );
    // The stopped v1 container was renamed out of the way (Kamal's rule).
    let renamed = run.of("op", None).into_iter().any(|e| {
        e["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("docker rename {s}-web-v1 {s}-web-v1_replaced_"))
    });
    assert!(renamed, "{}", run.stdout);
    let run = app.deploy("v9", &["-P"]);
    run.assert_failed();
    assert_eq!(run.end()["stage"], "build");
    assert!(
        run.end()["message"]
            .as_str()
            .unwrap()
            .contains(&format!("hoist-e2e/{s}:v9 is not on `local`"))
    );
}

#[test]
fn containers_without_hoists_labels_are_never_touched() {
    let app = App::new("foreign", BASE);
    let s = app.service.clone();
    app.deploy("v1", &[]).assert_ok();
    // Started by hand from the same image, with Kamal's labels but not hoist's marker.
    let manual = format!("{s}-web-manual");
    support::docker(&[
        "run",
        "-d",
        "--name",
        &manual,
        "--label",
        &format!("service={s}"),
        "--label",
        "role=web",
        "--label",
        "destination=",
        &format!("hoist-e2e/{s}:v1"),
    ]);
    support::docker(&[
        "run",
        "-d",
        "--name",
        &format!("{s}-stopped-manual"),
        "--label",
        &format!("service={s}"),
        &format!("hoist-e2e/{s}:v1"),
    ]);
    support::docker(&["stop", "-t", "1", &format!("{s}-stopped-manual")]);
    for v in ["v2", "v3", "v4"] {
        app.deploy(v, &[]).assert_ok();
    }
    assert_eq!(
        app.container(&manual).unwrap().state,
        "running",
        "never retired"
    );
    assert!(
        app.container(&format!("{s}-stopped-manual")).is_some(),
        "never pruned"
    );
    assert!(
        app.image_tags().contains(&format!("hoist-e2e/{s}:v1")),
        "its image is kept"
    );
}
