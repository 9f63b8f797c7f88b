//! End to end: config errors through the CLI name file:line:column or the key.

mod support;

use support::App;

fn error_of(app: &App, args: &[&str]) -> String {
    let run = app.hoist(args);
    run.assert_failed();
    run.text()
}

#[test]
fn config_errors_name_the_place() {
    let app = App::new("config", "servers: [local]\n");
    let cases: &[(&str, &str)] = &[
        (
            "servers:\n  web:\n    hots: [local]\n",
            "config/deploy.yml:5:5: unknown field `hots`",
        ),
        (
            "servers: [local]\nretain_containers: lots\n",
            "config/deploy.yml:4:20: invalid u32",
        ),
        (
            "servers: [local]\nbuilderr: {}\n",
            "config/deploy.yml:4:1: unknown key `builderr` (did you mean `builder`?)",
        ),
        (
            "servers: [local]\nboot:\n  limit: most\n",
            "config/deploy.yml:5:10:",
        ),
        ("retain_containers: 3\n", "`servers`: missing"),
    ];
    for (tail, want) in cases {
        app.config(tail);
        for args in [&["deploy", "--version", "v1"][..], &["config"][..]] {
            let text = error_of(&app, args);
            assert!(
                text.contains(want),
                "{args:?} with\n{tail}\nwant `{want}` in:\n{text}"
            );
        }
    }
    app.config("servers: [local]\n");
    let text = error_of(&app, &["deploy", "-d", "staging", "--version", "v1"]);
    assert!(
        text.contains("destination `staging` not found")
            && text.contains("config/deploy.staging.yml"),
        "{text}"
    );
    let text = error_of(
        &app,
        &["deploy", "-c", "nowhere/deploy.yml", "--version", "v1"],
    );
    assert!(
        text.contains("configuration file not found: nowhere/deploy.yml"),
        "{text}"
    );
    assert!(app.containers().is_empty());
}

#[test]
fn destination_file_merges_over_the_base() {
    let app = App::new(
        "dest",
        "servers: [local]\nreadiness_delay: 1\nenv:\n  clear:\n    GREETING: base\n",
    );
    app.write(
        "config/deploy.staging.yml",
        "env:\n  clear:\n    GREETING: staging\n",
    );
    let run = app.deploy("v1", &["-d", "staging"]);
    run.assert_ok();
    let name = format!("{}-web-staging-v1", app.service);
    assert_eq!(
        app.container(&name).unwrap().labels["destination"],
        "staging"
    );
    assert!(app.get(&name, "/").starts_with("staging from web"));
}

#[test]
fn an_unreachable_engine_is_named_with_the_fix() {
    let app = App::new("noengine", "servers: [local]\n");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hoist"))
        .args(["deploy", "--version", "v1"])
        .current_dir(app.path())
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Deploy failed at load-config")
            && err.contains("cannot reach the Docker engine on `local`")
            && err.contains("/nonexistent/docker.sock")
            && err.contains("Start Docker"),
        "{err}"
    );
}

#[test]
fn an_unreachable_server_stops_at_load_config_but_a_dry_run_shows_the_plan() {
    // Port 1 on this machine: nothing listens there.
    let app = App::new(
        "servers",
        "servers:\n  web: [127.0.0.1:1]\nssh:\n  keys_only: true\n  keys: []\n",
    );
    let run = app.deploy("v1", &[]);
    run.assert_failed();
    assert_eq!(run.end()["stage"], "load-config");
    let msg = run.end()["message"].as_str().unwrap();
    assert!(
        msg.contains("cannot connect to `127.0.0.1:1`")
            && msg.contains("connection refused")
            && msg.contains("nothing was changed"),
        "{msg}"
    );
    assert!(app.image_tags().is_empty(), "nothing was built");

    let dry = app.hoist(&["deploy", "--dry-run", "--version", "v1"]);
    dry.assert_ok();
    for word in ["[127.0.0.1:1] docker run", "docker load"] {
        assert!(
            dry.stdout.contains(word),
            "`{word}` missing:\n{}",
            dry.stdout
        );
    }
}

/// As Kamal (`ENV["KAMAL_DESTINATION"] = destination` before rendering): a
/// `KAMAL_DESTINATION` inherited from the shell is not what the ERB sees;
/// only `-d` sets it. The same with Ruby's ERB and with hoist's subset.
#[test]
fn an_inherited_kamal_destination_is_cleared_for_erb() {
    let app = App::new(
        "erb-dest",
        "servers: [local]\nlabels:\n  dest: \"d-<%= ENV['KAMAL_DESTINATION'] %>\"\n",
    );
    app.write("config/deploy.world.yml", "labels:\n  extra: x\n");
    for engine in ["ruby", "subset"] {
        let env = [
            ("KAMAL_DESTINATION", "inherited".to_string()),
            ("HOIST_ERB", engine.to_string()),
        ];
        let run = app.hoist_env(&["config"], &env);
        if engine == "ruby" && run.text().contains("could not run `ruby`") {
            continue;
        }
        run.assert_ok();
        assert!(
            run.stdout.contains("dest: d-\n"),
            "{engine}: {}",
            run.stdout
        );
        let run = app.hoist_env(&["config", "-d", "world"], &env);
        run.assert_ok();
        assert!(
            run.stdout.contains("dest: d-world\n"),
            "{engine}: {}",
            run.stdout
        );
    }
}
