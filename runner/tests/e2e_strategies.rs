//! End-to-end: the release command (and, as they land, the strategies) on
//! the test bed.

mod support;

use std::path::PathBuf;

use support::App;
use support::testbed::{bed, shared};

/// web on servers 1 and 2 (server 1 is the primary host); `extra` appended.
fn app(prefix: &str, extra: &str) -> (App, PathBuf) {
    let b = bed();
    let app = App::new(prefix, "");
    let kh = app.path().join("known_hosts");
    std::fs::copy(&b.known_hosts, &kh).unwrap();
    write_config(&app, &kh, extra);
    (app, kh)
}

fn write_config(app: &App, kh: &std::path::Path, extra: &str) {
    let b = bed();
    app.config(&format!(
        "servers:\n  web:\n    hosts: [{}, {}]\n{}readiness_delay: 1\nenv:\n  clear:\n    GREETING: hi-release\n{extra}",
        b.servers[0],
        b.servers[1],
        b.ssh_yaml(kh, "")
    ));
}

fn running(app: &App, i: usize) -> Vec<String> {
    bed().running(i, &app.service)
}

#[test]
fn release_command_runs_once_before_rollout_and_stops_the_deploy_when_it_fails() {
    let _g = shared();
    let b = bed();
    let (app, kh) = app("release", "");
    app.deploy("v1", &[]).assert_ok();

    // It runs on the primary host, with the app's env, before any container starts.
    write_config(&app, &kh, "deploy:\n  release_command: env GREETING\n");
    let run = app.deploy("v2", &[]);
    run.assert_ok();
    let released = run
        .index(|e| e["message"].as_str() == Some("release: GREETING=hi-release"))
        .expect("the release command's output is streamed");
    assert_eq!(run.events[released]["host"], b.servers[0].as_str());
    assert_eq!(
        run.of("log", None)
            .iter()
            .filter(|e| e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("release: ")))
            .count(),
        1,
        "once"
    );
    let first_start = run
        .index(|e| {
            e["event"] == "step"
                && e["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("started"))
        })
        .expect("a start step");
    assert!(released < first_start, "release before rollout");
    let v2 = vec![format!("{}-web-v2", app.service)];
    assert_eq!(
        (running(&app, 0), running(&app, 1)),
        (v2.clone(), v2.clone())
    );

    // A failing one stops the deploy before any app container changes.
    write_config(&app, &kh, "deploy:\n  release_command: no-such-command\n");
    let run = app.deploy("v3", &[]);
    run.assert_failed();
    let msg = run.end()["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("release command `no-such-command` failed (exit status 2)"),
        "{msg}"
    );
    assert_eq!(
        (running(&app, 0), running(&app, 1)),
        (v2.clone(), v2.clone())
    );
    for i in [0, 1] {
        assert!(
            b.containers(i, &app.service)
                .iter()
                .all(|c| !c.0.ends_with("-v3")),
            "no v3 container on server {}",
            i + 1
        );
    }
    // --skip-release-command skips it (and the lock was released).
    app.deploy("v3", &["--skip-release-command"]).assert_ok();

    // One that runs too long is stopped at the timeout; nothing is left behind.
    write_config(
        &app,
        &kh,
        "deploy:\n  release_command: serve\n  release_command_timeout: 2\n",
    );
    let run = app.deploy("v4", &[]);
    run.assert_failed();
    let msg = run.end()["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("did not finish within release_command_timeout (2s)"),
        "{msg}"
    );
    let v3 = vec![format!("{}-web-v3", app.service)];
    assert_eq!((running(&app, 0), running(&app, 1)), (v3.clone(), v3));
    let left = b.docker(
        0,
        &[
            "ps",
            "-aq",
            "--filter",
            &format!("name={}-release", app.service),
        ],
    );
    assert!(left.trim().is_empty(), "release container removed: {left}");
}
