//! End-to-end on the test bed: the bad day. One lock per service whatever
//! the selection; a runner killed with -9 mid-rollout (stale lock, its
//! leftover removed by the next deploy, no request failing throughout); a
//! server restarted mid-deploy; a server that stops answering given up at
//! its step's deadline.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use support::App;
use support::testbed::{Bed, DockerOnDrop, Load, bed, bed_app, exclusive, shared};

/// web (behind the proxy) on the given servers (0-based); `extra` appended.
fn web_app(prefix: &str, servers: &[usize], extra: &str) -> (App, PathBuf) {
    let b = bed();
    let (app, kh) = bed_app(prefix);
    let hosts: Vec<&str> = servers.iter().map(|i| b.servers[*i].as_str()).collect();
    app.config(&format!(
        "servers:\n  web:\n    hosts: [{}]\n{}readiness_delay: 1\ndeploy_timeout: 30\n{extra}",
        hosts.join(", "),
        b.ssh_yaml(&kh, "")
    ));
    (app, kh)
}

fn web(app: &App, v: &str) -> Vec<String> {
    vec![format!("{}-web-{v}", app.service)]
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Waits (up to `secs`) until `f` holds.
fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "{what}: not within {secs}s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The version server `i`'s proxy serves for `host` (None: no answer).
fn served(b: &Bed, i: usize, host: &str) -> Option<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt.block_on(hoist_proxy::load::get(
        b.http[i].parse().unwrap(),
        Some(host),
        "/",
    ));
    (r.status == 200).then(|| r.body.split_whitespace().last().unwrap_or("").to_string())
}

/// Waits for `child`, timestamping the first output line holding `needle`:
/// (succeeded, all output, when the line came).
fn watch(mut child: std::process::Child, needle: &str) -> (bool, String, Option<Instant>) {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, String)>();
    let readers: Vec<_> = [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ]
    .into_iter()
    .map(|r| {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(r).lines().map_while(Result::ok) {
                let _ = tx.send((Instant::now(), line));
            }
        })
    })
    .collect();
    drop(tx);
    let status = child.wait().unwrap();
    for r in readers {
        let _ = r.join();
    }
    let lines: Vec<(Instant, String)> = rx.into_iter().collect();
    let seen = lines
        .iter()
        .find(|(_, l)| l.contains(needle))
        .map(|(t, _)| *t);
    let text = lines
        .into_iter()
        .map(|(_, l)| l)
        .collect::<Vec<_>>()
        .join("\n");
    (status.success(), text, seen)
}

fn audit(b: &Bed, i: usize, app: &App) -> String {
    b.sh(i, &format!("cat .hoist/{}-audit.log", app.service))
}

#[test]
fn one_lock_per_service_whatever_the_selection() {
    let _g = shared();
    let b = bed();
    // web on servers 1 and 2; the first deploy holds the lock a while.
    let (app, _) = web_app("onelock", &[0, 1], "boot:\n  limit: 1\n  wait: 8\n");
    let first = app.spawn(&["deploy", "--version", "v1", "-q"]);
    wait_for("the first deploy takes the lock", 60, || {
        app.hoist(&["lock", "status"]).stdout.contains("Locked on")
    });
    let status = app.hoist(&["lock", "status"]);
    assert!(
        status
            .stdout
            .contains(&format!("Locked on {}", b.servers[0]))
            && status
                .stdout
                .contains("Command: hoist deploy --version v1 -q")
            && status.stdout.contains("Owner: pid ")
            && status.stdout.contains("still runs"),
        "{}",
        status.stdout
    );
    // A run selecting only server 2 is refused by the same lock.
    let second = app.hoist(&["deploy", "--version", "v2", "-h", &b.servers[1]]);
    second.assert_failed();
    assert!(
        second.text().contains(&format!(
            "the deploy lock for {} on `{}` is held",
            app.service, b.servers[0]
        )) && second.text().contains("Version: v1"),
        "{}",
        second.text()
    );
    assert_eq!(b.running(1, &app.service), Vec::<String>::new());
    // Someone else's running deploy is not released without --force.
    let release = app.hoist(&["lock", "release"]);
    release.assert_failed();
    assert!(
        release.text().contains("is still going") && release.text().contains("--force"),
        "{}",
        release.text()
    );
    // --lock-wait waits for it, then deploys.
    let waiting = app.spawn(&["deploy", "--version", "v2", "--lock-wait", "180"]);
    let out = first.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = waiting.wait_with_output().unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("waiting up to"), "{t}");
    for i in [0, 1] {
        assert_eq!(b.running(i, &app.service), web(&app, "v2"));
    }
    app.assert_unlocked("after both deploys");
}

#[test]
fn a_runner_killed_mid_rollout_leaves_a_stale_lock_and_its_leftover_goes_next_time() {
    let _g = shared();
    let b = bed();
    let servers = [0, 1, 2];
    // v2 takes 10 s to answer /up: once its container runs, it is not routed
    // for a while, and that is when the runner dies.
    let (app, kh) = web_app("killed", &servers, "boot:\n  limit: 1\n");
    let host = app.host_name();
    app.deploy("v1", &[]).assert_ok();
    let load = Load::start(&servers, &host, 2);
    let slow = |up_after: u32| {
        app.config(&format!(
            "servers:\n  web:\n    hosts: [{}]\n{}readiness_delay: 1\ndeploy_timeout: 30\nboot:\n  limit: 1\nenv:\n  clear:\n    HELLO_UP_AFTER: \"{up_after}\"\n",
            b.servers.join(", "),
            b.ssh_yaml(&kh, "")
        ))
    };
    slow(10);
    let mut child = app.spawn(&["deploy", "--version", "v2"]);
    wait_for("v2 starts on server 1", 60, || {
        b.running(0, &app.service)
            .contains(&format!("{}-web-v2", app.service))
    });
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();

    let status = app.hoist(&["lock", "status"]);
    assert!(
        status.stdout.contains("Locked on")
            && status.stdout.contains("stale")
            && status.stdout.contains("Owner: pid ")
            && status.stdout.contains("`hoist lock release`"),
        "{}",
        status.text()
    );
    let refused = app.deploy("v2", &[]);
    refused.assert_failed();
    assert!(
        refused.text().contains("stale") && refused.text().contains("`hoist lock release`"),
        "{}",
        refused.text()
    );
    let release = app.hoist(&["lock", "release"]);
    release.assert_ok();
    assert!(release.stdout.contains("stale lock"), "{}", release.text());
    assert!(
        audit(b, 0, &app).contains("Released a stale lock: the run that held it was interrupted"),
        "{}",
        audit(b, 0, &app)
    );
    // Server 1 still serves v1, with the half-started v2 beside it.
    assert_eq!(served(b, 0, &host).as_deref(), Some("v1"));
    slow(0);
    let next = app.deploy("v2", &[]);
    next.assert_ok();
    assert!(
        next.text().contains(&format!(
            "removed {}-web-v2 (version v2, role web): left by an interrupted run",
            app.service
        )),
        "{}",
        next.text()
    );
    assert!(
        audit(b, 0, &app).contains("Recovery: removed"),
        "{}",
        audit(b, 0, &app)
    );
    for i in servers {
        assert_eq!(b.running(i, &app.service), web(&app, "v2"));
    }
    let reports = load.stop();
    for (i, r) in reports.iter().enumerate() {
        assert!(r.total() > 0, "server {}: no requests", i + 1);
        assert_eq!(
            r.failed(),
            0,
            "server {}: {:?}",
            i + 1,
            r.failures().first()
        );
    }
    app.assert_unlocked("after the recovery deploy");
}

#[test]
fn a_server_restarted_mid_deploy_comes_back_on_the_old_version() {
    let _g = exclusive();
    let b = bed();
    let (app, kh) = web_app("reboot", &[0, 1], "");
    let host = app.host_name();
    app.deploy("v1", &[]).assert_ok();
    app.config(&format!(
        "servers:\n  web:\n    hosts: [{}, {}]\n{}readiness_delay: 1\ndeploy_timeout: 30\nenv:\n  clear:\n    HELLO_UP_AFTER: \"15\"\n",
        b.servers[0],
        b.servers[1],
        b.ssh_yaml(&kh, "")
    ));
    let child = app.spawn(&["deploy", "--version", "v2"]);
    wait_for("v2 starts on server 2", 60, || {
        b.running(1, &app.service)
            .contains(&format!("{}-web-v2", app.service))
    });
    let _restart = DockerOnDrop(b, 1, "start");
    let restarted = std::process::Command::new("docker")
        .args(["restart", "-t", "5", &b.names[1]])
        .output()
        .unwrap();
    assert!(restarted.status.success(), "{}", text(&restarted));
    let out = child.wait_with_output().unwrap();
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(
        t.contains(&b.servers[1]),
        "the failure names the server: {t}"
    );
    // It comes back serving v1 through its proxy (restart policies, routes
    // restored); server 1 was rolled back to v1 by the strategy.
    wait_for("server 2 serves again", 120, || {
        served(b, 1, &host).is_some()
    });
    assert_eq!(served(b, 1, &host).as_deref(), Some("v1"));
    assert_eq!(served(b, 0, &host).as_deref(), Some("v1"));
    app.config(&format!(
        "servers:\n  web:\n    hosts: [{}, {}]\n{}readiness_delay: 1\ndeploy_timeout: 30\n",
        b.servers[0],
        b.servers[1],
        b.ssh_yaml(&kh, "")
    ));
    let next = app.deploy("v2", &[]);
    next.assert_ok();
    for i in [0, 1] {
        assert_eq!(b.running(i, &app.service), web(&app, "v2"));
        assert_eq!(served(b, i, &host).as_deref(), Some("v2"));
    }
    app.assert_unlocked("after the deploy that followed the restart");
}

#[test]
fn a_paused_server_is_given_up_at_its_steps_deadline() {
    let _g = exclusive();
    let b = bed();
    let (app, _) = web_app("paused", &[0, 1], "boot:\n  limit: 1\n  wait: 3\n");
    app.deploy("v1", &[]).assert_ok();
    let child = app.spawn(&["deploy", "--version", "v2"]);
    wait_for("server 1 runs v2 alone", 60, || {
        b.running(0, &app.service) == web(&app, "v2")
    });
    let paused = std::process::Command::new("docker")
        .args(["pause", &b.names[1]])
        .output()
        .unwrap();
    assert!(paused.status.success(), "{}", text(&paused));
    let unpause = DockerOnDrop(b, 1, "unpause");
    let t0 = Instant::now();
    let needle = format!(
        "`{}` stopped answering: start did not finish within its deadline (30s)",
        b.servers[1]
    );
    let (ok, t, seen) = watch(child, &needle);
    let took = t0.elapsed();
    drop(unpause);
    assert!(!ok, "{t}");
    // Its next step there is `start` (deadline 30 s), after what is left of
    // the 3 s boot.wait: reported within that deadline + 10 s.
    let seen = seen.unwrap_or_else(|| panic!("never reported: {t}"));
    println!(
        "paused server reported after {:.1}s, deploy ended after {:.1}s",
        (seen - t0).as_secs_f64(),
        took.as_secs_f64()
    );
    assert!(
        seen - t0 < Duration::from_secs(3 + 30 + 10),
        "reported after {:?}: {t}",
        seen - t0
    );
    // Then the rolling strategy rolls server 1 back, and the audit line to
    // the paused host is given up after 15 s.
    assert_eq!(b.running(0, &app.service), web(&app, "v1"));
    assert!(
        took < Duration::from_secs(3 + 30 + 10 + 15 + 10),
        "took {took:?}: {t}"
    );
    app.assert_unlocked("after the paused server");
}

#[test]
fn parallel_roles_boot_every_role_at_once() {
    let _g = shared();
    let b = bed();
    let (app, kh) = bed_app("parroles");
    let cfg = |parallel: bool| {
        format!(
            "servers:\n  web:\n    hosts: [{}]\n  workers:\n    hosts: [{}]\n    cmd: work\n{}readiness_delay: 3\nboot:\n  parallel_roles: {parallel}\n",
            b.servers[0],
            b.servers[1],
            b.ssh_yaml(&kh, "")
        )
    };
    // Index of the event that starts `role`'s container, and of the one
    // that ends web's rollout.
    let order = |run: &support::Run| {
        let started = |role: &str| {
            run.index(|e| {
                e["event"] == "step"
                    && e["role"] == role
                    && e["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("started"))
            })
            .unwrap_or_else(|| panic!("no start of {role}: {}", run.text()))
        };
        let web_done = run
            .index(|e| {
                e["event"] == "step"
                    && e["role"] == "web"
                    && e["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("update finished"))
            })
            .unwrap_or_else(|| panic!("web never finished: {}", run.text()));
        (started("workers"), web_done)
    };
    app.config(&cfg(false));
    let run = app.deploy("v1", &[]);
    run.assert_ok();
    let (workers, web_done) = order(&run);
    assert!(
        workers > web_done,
        "without parallel_roles, workers wait for web"
    );
    app.config(&cfg(true));
    let run = app.deploy("v2", &[]);
    run.assert_ok();
    let (workers, web_done) = order(&run);
    assert!(
        workers < web_done,
        "with parallel_roles, workers start beside web"
    );
    assert_eq!(
        b.running(1, &app.service),
        vec![format!("{}-workers-v2", app.service)]
    );
}
