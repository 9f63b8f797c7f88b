//! End-to-end on the test bed: the release command, and every strategy
//! under load (zero failed requests, the event order each one promises, and
//! how each ends when one server's new version is unhealthy). The load is
//! kept on until it has sent its count of requests; no rate is asserted.

mod support;

use std::path::PathBuf;

use support::App;
use support::testbed::{Load, bed, bed_app, shared};

/// web on servers 1 and 2 (server 1 is the primary host); `extra` appended.
fn app(prefix: &str, extra: &str) -> (App, PathBuf) {
    let (app, kh) = bed_app(prefix);
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
    // A dry run shows it and runs nothing.
    let dry = app.hoist(&["deploy", "--dry-run", "--version", "v9"]);
    dry.assert_ok();
    assert!(
        dry.text().contains(&format!(
            "docker run --rm --name {}-release-v9",
            app.service
        )) && dry.text().contains("no-such-command"),
        "{}",
        dry.text()
    );
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

// ---------------------------------------------------------------------------
// Strategies: each on 3 web servers, under load through every proxy.

use std::time::Duration;

/// web on all three servers; server `bad` (if any) gets HELLO_MODE=unhealthy
/// through a host tag.
fn three(app: &App, kh: &std::path::Path, bad: Option<usize>, extra: &str) {
    let b = bed();
    let hosts: Vec<String> = (0..3)
        .map(|i| {
            if Some(i) == bad {
                format!("      - {}: [bad]\n", b.servers[i])
            } else {
                format!("      - {}\n", b.servers[i])
            }
        })
        .collect();
    app.config(&format!(
        "servers:\n  web:\n    hosts:\n{}{}readiness_delay: 1\ndeploy_timeout: 6\nenv:\n  clear:\n    GREETING: hi\n  tags:\n    bad:\n      HELLO_MODE: unhealthy\n{extra}",
        hosts.concat(),
        b.ssh_yaml(kh, "")
    ));
}

/// (event index, host, step kind) of every successful step event.
fn steps(run: &support::Run) -> Vec<(usize, String, &'static str)> {
    run.events
        .iter()
        .enumerate()
        .filter(|(_, e)| e["event"] == "step" && e["ok"] == true)
        .filter_map(|(i, e)| {
            let m = e["message"].as_str()?;
            let kind = if m.starts_with("started") {
                "start"
            } else if m.ends_with("is ready") {
                "ready"
            } else if m.starts_with("proxy routes") {
                "route"
            } else if m.starts_with("update finished") {
                "retire"
            } else if m.starts_with("rolled back") {
                "roll-back"
            } else {
                return None;
            };
            Some((i, e["host"].as_str()?.to_string(), kind))
        })
        .collect()
}

fn first(steps: &[(usize, String, &str)], kind: &str, host: Option<&str>) -> usize {
    steps
        .iter()
        .filter(|s| s.2 == kind && host.is_none_or(|h| s.1 == h))
        .map(|s| s.0)
        .min()
        .unwrap_or_else(|| panic!("no {kind} step for {host:?}: {steps:?}"))
}

fn last(steps: &[(usize, String, &str)], kind: &str, host: Option<&str>) -> usize {
    steps
        .iter()
        .filter(|s| s.2 == kind && host.is_none_or(|h| s.1 == h))
        .map(|s| s.0)
        .max()
        .unwrap_or_else(|| panic!("no {kind} step for {host:?}: {steps:?}"))
}

/// Deploys v1, then v2 with `strategy` under load (checking its event order
/// with `rule`), then v3 unhealthy on server `bad` under load; returns the
/// v3 run. Zero failed requests throughout.
fn strategy_run(
    strategy: &str,
    extra: &str,
    bad: usize,
    rule: impl Fn(&[(usize, String, &str)], &[String]),
) -> (App, support::Run) {
    let _g = shared();
    let b = bed();
    let (app, kh) = app(&format!("st-{strategy}"), "");
    three(&app, &kh, None, extra);
    app.deploy("v1", &[]).assert_ok();
    let load = Load::start(&[0, 1, 2], &app.host_name(), 2);
    std::thread::sleep(Duration::from_millis(300));
    let v2 = app.deploy("v2", &["--strategy", strategy]);
    v2.assert_ok();
    assert!(
        v2.text().contains(&format!("with {strategy} strategy")),
        "{}",
        v2.text()
    );
    rule(&steps(&v2), &b.servers);
    three(&app, &kh, Some(bad), extra);
    let v3 = app.deploy("v3", &["--strategy", strategy]);
    // The load stays on until it has sent 5,000 requests, however long that
    // takes here; only the proxies going silent fails it.
    let reports = load.stop_after(5_000, Duration::from_secs(600));
    let total: usize = reports.iter().map(|r| r.total()).sum();
    let failed: usize = reports.iter().map(|r| r.failed()).sum();
    println!(
        "{strategy}: {total} requests through 3 proxies during v2 and the failed v3, {failed} failed"
    );
    assert_eq!(
        failed,
        0,
        "{strategy}: {:?}",
        reports.iter().flat_map(|r| r.failures()).next()
    );
    v3.assert_failed();
    // The lock was released: the next deploy goes.
    let lock = app.hoist(&["lock", "status"]);
    assert!(lock.stdout.contains("No lock"), "{}", lock.stdout);
    (app, v3)
}

fn web(app: &App, v: &str) -> Vec<String> {
    vec![format!("{}-web-{v}", app.service)]
}

fn on_every_server(app: &App, v: &str) {
    for i in 0..3 {
        assert_eq!(running(app, i), web(app, v), "server {}", i + 1);
    }
}

fn never_had(app: &App, v: &str, servers: &[usize]) {
    for &i in servers {
        assert!(
            bed()
                .containers(i, &app.service)
                .iter()
                .all(|c| !c.0.ends_with(&format!("-{v}"))),
            "server {} never got {v}: {:?}",
            i + 1,
            bed().containers(i, &app.service)
        );
    }
}

#[test]
fn rolling_keeps_one_batch_in_flight_and_rolls_back() {
    let (app, v3) = strategy_run("rolling", "boot:\n  limit: 1\n", 2, |s, servers| {
        // Host by host: each one retires before the next starts.
        for w in servers.windows(2) {
            assert!(
                last(s, "retire", Some(&w[0])) < first(s, "start", Some(&w[1])),
                "{s:?}"
            );
        }
    });
    let msg = v3.end()["message"].as_str().unwrap();
    assert!(msg.contains("rolled back 2 target(s)"), "{msg}");
    on_every_server(&app, "v2");
}

/// (began, ended) in ms since the deploy started, of each successful step
/// event whose message is `of` that kind.
fn spans(run: &support::Run, of: impl Fn(&str) -> bool) -> Vec<(u64, u64)> {
    run.events
        .iter()
        .filter(|e| e["event"] == "step" && e["ok"] == true)
        .filter(|e| e["message"].as_str().is_some_and(&of))
        .map(|e| {
            let end = e["t"].as_u64().unwrap();
            (end.saturating_sub(e["ms"].as_u64().unwrap_or(0)), end)
        })
        .collect()
}

#[test]
fn immediate_starts_everything_at_once() {
    let (app, v3) = strategy_run("immediate", "", 2, |s, servers| {
        for h in servers {
            assert!(
                first(s, "start", Some(h)) < first(s, "retire", Some(h)),
                "{s:?}"
            );
        }
    });
    // Every host's start began before any host's new version was ready
    // (v3 fails on one host only after all of them started).
    let starts = spans(&v3, |m| m.starts_with("started"));
    assert_eq!(starts.len(), 3, "{}", v3.text());
    let began = starts.iter().map(|s| s.0).max().unwrap();
    let ready = spans(&v3, |m| m.ends_with("is ready"))
        .iter()
        .map(|s| s.1)
        .min()
        .unwrap();
    assert!(began <= ready, "a start waited: {}", v3.text());
    let msg = v3.end()["message"].as_str().unwrap();
    assert!(msg.contains("rolled back 2 target(s)"), "{msg}");
    on_every_server(&app, "v2");
}

#[test]
fn canary_goes_first_and_a_failed_canary_touches_nothing_else() {
    let extra = "deploy:\n  strategies:\n    canary:\n      settings: { soak: 1s }\n";
    let (app, v3) = strategy_run("canary", extra, 0, |s, servers| {
        let canary = &servers[0];
        let canary_done = last(s, "retire", Some(canary));
        for other in &servers[1..] {
            assert!(canary_done < first(s, "start", Some(other)), "{s:?}");
        }
    });
    let msg = v3.end()["message"].as_str().unwrap();
    assert!(
        msg.contains("canary") && msg.contains("no other host was touched"),
        "{msg}"
    );
    on_every_server(&app, "v2");
    never_had(&app, "v3", &[1, 2]);
}

#[test]
fn blue_green_switches_only_when_every_new_container_is_healthy() {
    let (app, v3) = strategy_run("blue-green", "", 2, |s, _| {
        assert!(last(s, "ready", None) < first(s, "route", None), "{s:?}");
        assert!(last(s, "route", None) < first(s, "retire", None), "{s:?}");
    });
    let msg = v3.end()["message"].as_str().unwrap();
    assert!(msg.contains("traffic never moved"), "{msg}");
    on_every_server(&app, "v2");
    never_had(&app, "v3", &[0, 1, 2]);
}

/// A strategy a user wrote (a fixture crate built here), dropped in the
/// plugins dir, is used by name from the config.
#[test]
fn a_user_strategy_from_the_plugins_dir_is_used_by_name() {
    let _g = shared();
    let b = bed();
    let wasm = support::guest_component("hoist-fixture-reverse");
    let (app, kh) = app("st-user", "");
    app.install_plugin(
        "reverse",
        &wasm,
        "name = \"reverse\"\nkind = \"strategy\"\n[capabilities]\nrollout = true\ncommands = [\"touch *\"]\nhttp = [\"127.0.0.1\"]\n",
    );
    three(&app, &kh, None, "deploy:\n  strategy: reverse\n");
    let run = app.deploy("v1", &[]);
    run.assert_ok();
    assert!(
        run.text().contains("with reverse strategy"),
        "{}",
        run.text()
    );
    assert!(run.text().contains("reverse: 3 host(s)"), "{}", run.text());
    let s = steps(&run);
    // Last host first, one at a time.
    assert!(
        last(&s, "retire", Some(&b.servers[2])) < first(&s, "start", Some(&b.servers[1])),
        "{s:?}"
    );
    assert!(
        last(&s, "retire", Some(&b.servers[1])) < first(&s, "start", Some(&b.servers[0])),
        "{s:?}"
    );
    on_every_server(&app, "v1");
}

/// The shipped strategies take each host through its steps on its own: a
/// host whose new version is slow to answer holds up only itself (the fast
/// one is routed and retired while the slow one still waits). Blue-green
/// says otherwise (nothing switches until every host is healthy), and does.
#[test]
fn a_slow_host_holds_up_only_itself_unless_the_strategy_says_so() {
    let _g = shared();
    let b = bed();
    let (app, kh) = bed_app("st-slow");
    app.config(&format!(
        "servers:\n  web:\n    hosts:\n      - {}\n      - {}: [slow]\n{}readiness_delay: 1\ndeploy_timeout: 30\nenv:\n  tags:\n    slow:\n      HELLO_UP_AFTER: \"8\"\n",
        b.servers[0],
        b.servers[1],
        b.ssh_yaml(&kh, "")
    ));
    let (fast, slow) = (Some(b.servers[0].as_str()), Some(b.servers[1].as_str()));
    for strategy in ["rolling", "immediate", "canary"] {
        let run = app.deploy(&format!("v-{strategy}"), &["--strategy", strategy]);
        run.assert_ok();
        let s = steps(&run);
        if strategy == "canary" {
            // The canary (the first host) goes alone; the rest follow it.
            assert!(last(&s, "retire", fast) < first(&s, "start", slow), "{s:?}");
            continue;
        }
        assert!(
            last(&s, "retire", fast) < first(&s, "ready", slow),
            "{strategy}: the fast host waited for the slow one: {s:?}"
        );
    }
    let run = app.deploy("v-bg", &["--strategy", "blue-green"]);
    run.assert_ok();
    let s = steps(&run);
    assert!(
        first(&s, "route", fast) > last(&s, "ready", slow),
        "blue-green routes only once every host is ready: {s:?}"
    );
    for i in [0, 1] {
        assert_eq!(
            bed().running(i, &app.service),
            vec![format!("{}-web-v-bg", app.service)]
        );
    }
}

/// `--dry-run --fail-at HOST` makes that host's wait-healthy fail against
/// the recording engine: the plan shows the strategy's failure path (rolling
/// rolls the first server back) and nothing on the servers changes.
#[test]
fn dry_run_fail_at_walks_the_strategys_failure_path() {
    let _g = shared();
    let b = bed();
    let (app, _) = app("failat", "boot:\n  limit: 1\n");
    app.deploy("v1", &[]).assert_ok();
    let (s1, s2) = (&b.servers[0], &b.servers[1]);
    let dry = app.deploy("v2", &["--dry-run", "--fail-at", s2]);
    dry.assert_failed();
    let steps: Vec<(String, bool, String)> = dry
        .of("step", None)
        .iter()
        .map(|e| {
            (
                e["host"].as_str().unwrap_or_default().to_string(),
                e["ok"].as_bool().unwrap_or(false),
                e["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let failed = steps
        .iter()
        .position(|(h, ok, m)| {
            h == s2
                && !ok
                && m.contains(&format!(
                    "dry run: --fail-at made wait-healthy fail on {s2}/web"
                ))
                && m.contains("stopped and removed; the old version keeps running")
        })
        .unwrap_or_else(|| panic!("no injected failure on {s2}: {steps:#?}"));
    assert!(
        steps[failed..]
            .iter()
            .any(|(h, ok, m)| h == s1 && *ok && m.starts_with("rolled back to ")),
        "{s1} was not rolled back after the failure: {steps:#?}"
    );
    assert_eq!(running(&app, 0), [format!("{}-web-v1", app.service)]);
    assert_eq!(running(&app, 1), [format!("{}-web-v1", app.service)]);
    // A target not in the deploy is refused up front; without --dry-run
    // the flag is refused.
    let bad = app.deploy("v2", &["--dry-run", "--fail-at", "nowhere/web"]);
    bad.assert_failed();
    assert!(
        bad.text()
            .contains("--fail-at nowhere/web: no such target in this deploy"),
        "{}",
        bad.text()
    );
    let real = app.hoist(&["deploy", "--version", "v2", "--fail-at", s2]);
    real.assert_failed();
    assert!(real.text().contains("--dry-run"), "{}", real.text());
    app.hoist(&["remove", "-y"]).assert_ok();
}
