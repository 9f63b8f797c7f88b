//! End to end: each capability goes through the one path the built-in
//! stages use, so it gets what that path gives.
//!
//! - `app exec -i` runs the one-off app container (env, secrets, `-e`) and
//!   reaches servers over hoist's own SSH connection (jump host included);
//! - a plugin's `docker.pull-image` pulls with the run's registry
//!   credentials;
//! - commands that change something hold the lock through `with_lock`: a
//!   SIGTERM leaves no lock and one audit line;
//! - a strategy's command on `local` goes through the fleet's shell, which
//!   runs nothing in a dry run.

mod support;

use std::time::{Duration, Instant};

use support::testbed::{bed, bed_app, shared};
use support::{App, docker, guest_component};

const LOCAL: &str = "servers:\n  web: [local]\nreadiness_delay: 1\ndeploy_timeout: 20\n";

/// The lines a terminal showed, without the echo of control characters
/// (`script` ends its input with one, echoed as `^@` or `^D`).
fn lines_of(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            l.replace("^@", "")
                .replace("^D", "")
                .trim_matches(|c: char| c.is_whitespace() || c.is_control())
                .to_string()
        })
        .collect()
}

/// `hoist app exec -i` on `local`: the one-off container has the app's env,
/// its secret and `-e`; `--reuse` gets `-e` too; nothing is left behind.
#[test]
fn exec_interactive_on_local_sees_extra_env_app_env_and_a_secret() {
    let app = App::new(
        "execi",
        &format!("{LOCAL}env:\n  clear:\n    GREETING: hi-from-config\n  secret: [EXEC_TOKEN]\n"),
    );
    app.write(".hoist/secrets", "EXEC_TOKEN=tok-3f9a1c77e2\n");
    app.deploy("v1", &[]).assert_ok();

    let (out, ok) = app.hoist_tty(&[
        "app",
        "exec",
        "-i",
        "-e",
        "EXTRA=from-e",
        "env",
        "EXTRA",
        "GREETING",
        "EXEC_TOKEN",
        "KAMAL_VERSION",
    ]);
    assert!(ok, "{out}");
    let got = lines_of(&out);
    for want in [
        "EXTRA=from-e",
        "GREETING=hi-from-config",
        "EXEC_TOKEN=tok-3f9a1c77e2",
        "KAMAL_VERSION=v1",
    ] {
        assert!(got.iter().any(|l| l == want), "missing {want} in:\n{out}");
    }

    let (out, ok) = app.hoist_tty(&[
        "app",
        "exec",
        "-i",
        "--reuse",
        "-e",
        "EXTRA=again",
        "/hello",
        "env",
        "EXTRA",
        "GREETING",
        "EXEC_TOKEN",
    ]);
    assert!(ok, "{out}");
    let got = lines_of(&out);
    for want in [
        "EXTRA=again",
        "GREETING=hi-from-config",
        "EXEC_TOKEN=tok-3f9a1c77e2",
    ] {
        assert!(got.iter().any(|l| l == want), "missing {want} in:\n{out}");
    }
    // A failing command's status comes back.
    let (out, ok) = app.hoist_tty(&["app", "exec", "-i", "no-such-subcommand"]);
    assert!(!ok, "{out}");
    assert!(out.contains("exited with"), "{out}");
    let left = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("name={}-web-exec", app.service),
    ]);
    assert!(left.trim().is_empty(), "one-off containers left: {left}");
}

/// `hoist app exec -i` on a server reached only through `ssh.proxy`, with a
/// strict known_hosts: the docker CLI goes through hoist's SSH connection.
#[test]
fn exec_interactive_reaches_a_server_through_the_jump_host() {
    let _g = shared();
    let b = bed();
    let app = App::new("execjump", "");
    app.config(&format!(
        "servers:\n  web: [{}]\n{}readiness_delay: 1\nenv:\n  clear:\n    GREETING: hi-over-ssh\n  secret: [EXEC_TOKEN]\n",
        b.names[1],
        b.ssh_yaml(
            &b.known_hosts,
            &format!("  strict_host_keys: true\n  proxy: root@{}\n", b.servers[0])
        )
    ));
    app.write(".hoist/secrets", "EXEC_TOKEN=tok-over-jump-51e0\n");
    app.deploy("v1", &[]).assert_ok();
    let (out, ok) = app.hoist_tty(&[
        "app",
        "exec",
        "-i",
        "-e",
        "EXTRA=jumped",
        "env",
        "EXTRA",
        "GREETING",
        "EXEC_TOKEN",
        "KAMAL_HOST",
    ]);
    assert!(ok, "{out}");
    let got = lines_of(&out);
    for want in [
        "EXTRA=jumped".to_string(),
        "GREETING=hi-over-ssh".to_string(),
        "EXEC_TOKEN=tok-over-jump-51e0".to_string(),
        format!("KAMAL_HOST={}", b.names[1]),
    ] {
        assert!(got.contains(&want), "missing {want} in:\n{out}");
    }
    // It ran on that server, and left nothing there.
    let left = b.docker(
        1,
        &[
            "ps",
            "-aq",
            "--filter",
            &format!("name={}-web-exec", app.service),
        ],
    );
    assert!(left.trim().is_empty(), "{left}");
    b.clean(&app.service);
}

/// A plugin's `docker.pull-image` of an image in the run's (authenticated)
/// registry pulls it, with the run's credentials, on a server that lacks it.
#[test]
fn a_plugin_pulls_from_the_authenticated_registry() {
    let _g = shared();
    let b = bed();
    let registry = format!(
        "registry:\n  server: {}\n  username: {}\n  password: [REGISTRY_PASSWORD]\n",
        b.registry, b.registry_user
    );
    let secrets = format!("REGISTRY_PASSWORD={}\n", b.registry_password);
    // Another service puts its image in the registry (and on server 1 only).
    let (source, kh) = bed_app("pullsrc");
    source.config(&format!(
        "servers:\n  web: [{}]\n{}readiness_delay: 1\n{registry}",
        b.servers[0],
        b.ssh_yaml(&kh, "")
    ));
    source.write(".hoist/secrets", &secrets);
    source.deploy("v1", &[]).assert_ok();
    let image = format!("{}/hoist-e2e/{}:v1", b.registry, source.service);
    assert!(
        !b.docker_raw(2, &["image", "inspect", &image])
            .status
            .success(),
        "server 3 must not have {image} yet"
    );

    let (app, kh) = bed_app("pull");
    let wasm = guest_component("hoist-fixture-prober");
    app.install_plugin(
        "prober",
        &wasm,
        &format!("name = \"prober\"\nkind = \"hook\"\nstages = [\"pre-deploy\"]\n[capabilities]\ndocker = \"write\"\ncommands = [\"touch **\"]\nconfig = [\"service\"]\nimages = [\"{image}\"]\n"),
    );
    // Another service's image: pulled only as `images:` grants it.
    app.config(&format!(
        "servers:\n  web: [{s}]\n{}readiness_delay: 1\n{registry}hooks:\n  pre-deploy:\n    - plugin: prober\n      settings: {{ probe: pull, image: \"{image}\", host: \"{s}\" }}\n      grants: {{ docker: write, images: [\"{image}\"] }}\n",
        b.ssh_yaml(&kh, ""),
        s = b.servers[2],
    ));
    app.write(".hoist/secrets", &secrets);
    let run = app.deploy("v1", &[]);
    run.assert_ok();
    let probe: Vec<&str> = run
        .of("log", Some("prober"))
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(probe.contains(&"probe pull: ok"), "{probe:?}");
    assert!(
        b.docker_raw(2, &["image", "inspect", &image])
            .status
            .success(),
        "{image} was not pulled on server 3"
    );
    b.clean(&app.service);
    b.clean(&source.service);
    let _ = b.docker_raw(2, &["image", "rm", &image]);
}

/// The audit lines of `app` (on `local`).
fn audit_lines(app: &App) -> Vec<String> {
    let run = app.hoist(&["audit"]);
    run.assert_ok();
    run.stdout
        .lines()
        .filter(|l| l.starts_with('['))
        .map(String::from)
        .collect()
}

/// Starts `hoist <args>`, waits until it holds the lock, sends SIGTERM:
/// it stops at once, the lock is free and one audit line says so.
fn sigterm_while_locked(app: &App, args: &[&str], what: &str) {
    let before = audit_lines(app);
    let child = app.spawn(args);
    let t0 = Instant::now();
    while !app.hoist(&["lock", "status"]).stdout.contains("Locked on") {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "`hoist {what}` never took the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // It is now waiting on a container that ignores SIGTERM.
    std::thread::sleep(Duration::from_millis(500));
    let signalled = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "`hoist {what}` succeeded: {err}");
    assert!(err.contains("interrupted by SIGTERM"), "{err}");
    assert!(
        signalled.elapsed() < Duration::from_secs(20),
        "`hoist {what}` did not stop at once"
    );
    assert!(
        app.hoist(&["lock", "status"]).stdout.contains("No lock"),
        "`hoist {what}` left the lock"
    );
    let after = audit_lines(app);
    let new: Vec<&String> = after.iter().skip(before.len()).collect();
    assert_eq!(new.len(), 1, "one audit line for `hoist {what}`: {new:?}");
    assert!(
        new[0].contains(&format!("`hoist {what}`")) && new[0].contains("interrupted by SIGTERM"),
        "{}",
        new[0]
    );
}

/// `hoist app stop` and `hoist remove` hold the lock through `with_lock`; a
/// SIGTERM while they wait on a stubborn container releases it and audits.
#[test]
fn sigterm_during_mutating_commands_leaves_no_lock_and_one_audit_line() {
    let app = App::new(
        "sigterm",
        &format!("{LOCAL}stop_timeout: 60\nenv:\n  clear:\n    HELLO_MODE: stubborn\n"),
    );
    app.deploy("v1", &[]).assert_ok();
    sigterm_while_locked(&app, &["app", "stop"], "app stop");
    sigterm_while_locked(&app, &["remove", "-y"], "remove");
    // Once the commands are let finish, the app is gone.
    app.hoist(&["remove", "-y"]).assert_ok();
    assert!(app.containers().is_empty());
}

/// A strategy's `commands.run` on `local` goes through the fleet's shell and
/// its `http.post` through hoist's client: in a dry run both are reported,
/// neither is performed; in a real deploy both are.
#[test]
fn a_strategy_local_command_and_http_post_do_not_run_in_a_dry_run() {
    let app = App::new("drycmd", LOCAL);
    let wasm = guest_component("hoist-fixture-reverse");
    app.install_plugin(
        "reverse",
        &wasm,
        "name = \"reverse\"\nkind = \"strategy\"\n[capabilities]\nrollout = true\ncommands = [\"touch *\"]\nhttp = [\"127.0.0.1\"]\n",
    );
    let marker = app.path().join("touched-by-the-strategy");
    let (port, rx) = support::http_receiver();
    app.config(&format!(
        "{LOCAL}deploy:\n  strategy: reverse\n  strategies:\n    reverse:\n      settings: {{ before: \"touch {}\", post: \"http://127.0.0.1:{port}/dry\" }}\n      grants: {{ commands: [\"touch *\"], http: [\"127.0.0.1:{port}\"] }}\n",
        marker.display()
    ));
    let dry = app.deploy("v1", &["--dry-run"]);
    dry.assert_ok();
    assert!(!marker.exists(), "the command ran in a dry run");
    let posted = dry.of("op", None).iter().any(|e| {
        e["message"].as_str().is_some_and(|m| {
            m.contains(&format!("POST http://127.0.0.1:{port}/dry"))
                && m.contains("dry run: not sent")
        })
    });
    assert!(
        posted,
        "the dry run does not show the POST:\n{}",
        dry.stdout
    );
    assert!(
        dry.of("log", Some("reverse"))
            .iter()
            .any(|e| e["message"] == "post: 204"),
        "{}",
        dry.stdout
    );
    let shown = dry.of("op", None).iter().any(|e| {
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("touch") && m.contains("dry run: not run"))
    });
    assert!(
        shown,
        "the dry run does not show the command:\n{}",
        dry.stdout
    );
    app.deploy("v1", &[]).assert_ok();
    assert!(
        marker.exists(),
        "the command did not run in the real deploy"
    );
    // The receiver is live: the real deploy's POST is the only one it got.
    let (line, body) = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the real deploy posts");
    assert_eq!(
        (line.as_str(), body.as_str()),
        ("POST /dry HTTP/1.1", "from reverse")
    );
    assert!(rx.try_recv().is_err(), "the dry run sent a request too");
}
