//! End-to-end on the multi-server test bed: real servers (Docker-in-Docker
//! with sshd), reached over real SSH, images delivered by a real registry, a
//! local registry through a reverse tunnel, or streamed.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use support::testbed::{Bed, DockerOnDrop, bed, bed_app, exclusive, shared};
use support::{App, guest_component};

/// web on servers 1 and 2, workers on server 3.
fn roles(b: &Bed) -> String {
    format!(
        "servers:\n  web:\n    hosts: [{}, {}]\n  workers:\n    hosts: [{}]\n    cmd: work\n",
        b.servers[0], b.servers[1], b.servers[2]
    )
}

/// An app deploying to the bed; `extra` is appended to the config.
fn app(prefix: &str, extra: &str) -> (App, PathBuf) {
    let b = bed();
    let (app, kh) = bed_app(prefix);
    app.config(&format!(
        "{}{}readiness_delay: 1\ndeploy_timeout: 30\n{extra}",
        roles(b),
        b.ssh_yaml(&kh, "")
    ));
    (app, kh)
}

fn registry_yaml(b: &Bed) -> String {
    format!(
        "registry:\n  server: {}\n  username: {}\n  password: [REGISTRY_PASSWORD]\n",
        b.registry, b.registry_user
    )
}

/// Asserts server `i` runs exactly `names` of the app.
fn assert_running(b: &Bed, app: &App, i: usize, names: &[String]) {
    assert_eq!(
        b.running(i, &app.service),
        names,
        "running on {} ({:?})",
        b.names[i],
        b.containers(i, &app.service)
    );
}

fn web(app: &App, v: &str) -> Vec<String> {
    vec![format!("{}-web-{v}", app.service)]
}

fn workers(app: &App, v: &str) -> Vec<String> {
    vec![format!("{}-workers-{v}", app.service)]
}

/// Deploy v1, v2, v3 in one delivery mode: every server runs the new version,
/// the previous one stops, prune keeps `retain_containers`, and each server's
/// audit log has one line per deploy.
fn three_deploys(prefix: &str, registry: &str, expect_image_prefix: &str) {
    let _g = shared();
    let b = bed();
    let (app, _) = app(prefix, &format!("retain_containers: 1\n{registry}"));
    app.write(
        ".hoist/secrets",
        &format!("REGISTRY_PASSWORD={}\n", b.registry_password),
    );
    for v in ["v1", "v2", "v3"] {
        let run = app.deploy(v, &[]);
        run.assert_ok();
        assert_running(b, &app, 0, &web(&app, v));
        assert_running(b, &app, 1, &web(&app, v));
        assert_running(b, &app, 2, &workers(&app, v));
        if !registry.is_empty() {
            // Pulled by the digest the push returned, then tagged.
            let image = format!("{expect_image_prefix}{}:{v}", app.service);
            let pushed = support::docker(&[
                "image",
                "inspect",
                "--format",
                "{{range .RepoDigests}}{{.}} {{end}}",
                &image,
            ]);
            let digest = pushed
                .split_whitespace()
                .find_map(|d| d.split_once('@').map(|(_, d)| d.to_string()))
                .unwrap_or_else(|| panic!("no digest for {image}: {pushed}"));
            assert!(
                run.text().contains(&format!("@{digest}")),
                "not pulled by digest {digest}: {}",
                run.text()
            );
            for i in 0..3 {
                let there = b.docker(
                    i,
                    &[
                        "image",
                        "inspect",
                        "--format",
                        "{{range .RepoDigests}}{{.}} {{end}}",
                        &image,
                    ],
                );
                assert!(there.contains(&digest), "server {}: {there}", i + 1);
            }
        }
    }
    for i in 0..3 {
        let all = b.containers(i, &app.service);
        let role = if i == 2 { "workers" } else { "web" };
        // retain_containers: 1 -> v3 running and v2 stopped; v1 pruned.
        let names: Vec<&str> = all.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(
            names,
            vec![
                format!("{}-{role}-v2", app.service),
                format!("{}-{role}-v3", app.service)
            ],
            "{all:?}"
        );
        let image = &all[1].2;
        assert!(
            image.starts_with(expect_image_prefix) && image.ends_with(":v3"),
            "{image}"
        );
        let audit = b.sh(i, &format!("cat .hoist/{}-audit.log", app.service));
        assert_eq!(audit.lines().count(), 3, "{audit}");
        assert!(
            audit.contains(&format!("Deployed {} v3 (role {role})", app.service)),
            "{audit}"
        );
    }
    let audit = app.hoist(&["audit"]);
    audit.assert_ok();
    assert_eq!(
        audit.stdout.matches("Deployed").count(),
        9,
        "{}",
        audit.stdout
    );
}

#[test]
fn deploys_streaming_the_image_over_ssh() {
    three_deploys("stream", "", "hoist-e2e/");
}

#[test]
fn deploys_through_a_registry_with_auth() {
    let b = bed();
    three_deploys(
        "registry",
        &registry_yaml(b),
        &format!("{}/hoist-e2e/", b.registry),
    );
}

#[test]
fn deploys_through_a_local_registry_tunnel() {
    let b = bed();
    three_deploys(
        "localreg",
        &format!("registry:\n  server: {}\n", b.local_registry),
        &format!("{}/hoist-e2e/", b.local_registry),
    );
}

/// `registry:3` cannot be pulled here: when it is missing, it is built from
/// the real registry (Debian's `docker-registry`, the same distribution
/// code) in the servers' image, serving on :5000 as Docker Hub's does.
fn registry_3_image(b: &Bed) {
    if !support::docker(&["images", "-q", "registry:3"])
        .trim()
        .is_empty()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.yml"),
        "version: 0.1\nstorage:\n  filesystem: {rootdirectory: /var/lib/registry}\nhttp:\n  addr: :5000\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!(
            "FROM {}\nCOPY config.yml /etc/docker/registry/config.yml\nEXPOSE 5000\nENTRYPOINT [\"docker-registry\", \"serve\", \"/etc/docker/registry/config.yml\"]\nCMD []\n",
            b.image
        ),
    )
    .unwrap();
    let out = std::process::Command::new("docker")
        .args(["build", "-q", "-t", "registry:3"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `registry.server: localhost:PORT` as in Kamal's template: hoist starts
/// `kamal-docker-registry` from `registry:3` on 127.0.0.1:PORT itself,
/// reuses it, and `hoist registry setup|remove` manage it.
#[test]
fn the_local_registry_is_started_and_reused_as_kamal_does() {
    // `kamal-docker-registry` is one name per machine.
    let _g = exclusive();
    let b = bed();
    registry_3_image(b);
    let _ = std::process::Command::new("docker")
        .args(["rm", "-f", "kamal-docker-registry"])
        .output();
    let (app, kh) = bed_app("kamalreg");
    app.config(&format!(
        "servers:\n  web:\n    hosts: [{}]\n{}readiness_delay: 1\ndeploy_timeout: 30\nregistry:\n  server: localhost:5557\n",
        b.servers[0],
        b.ssh_yaml(&kh, "")
    ));
    let run = app.hoist(&["deploy", "--version", "v1"]);
    run.assert_ok();
    assert!(
        run.text()
            .contains("local registry on 127.0.0.1:5557: booted from registry:3"),
        "{}",
        run.text()
    );
    // Published on 127.0.0.1 only, as Kamal runs it.
    let ports = support::docker(&[
        "inspect",
        "-f",
        "{{json .HostConfig.PortBindings}}",
        "kamal-docker-registry",
    ]);
    assert!(
        ports.contains(r#""5000/tcp":[{"HostIp":"127.0.0.1","HostPort":"5557"}]"#),
        "{ports}"
    );
    let all = b.containers(0, &app.service);
    assert!(all[0].2.starts_with("localhost:5557/"), "{all:?}");
    assert_running(b, &app, 0, &web(&app, "v1"));
    // Reused while it runs; started again when stopped.
    let run = app.hoist(&["deploy", "--version", "v2"]);
    run.assert_ok();
    assert!(
        run.text()
            .contains("local registry on 127.0.0.1:5557: running"),
        "{}",
        run.text()
    );
    support::docker(&["stop", "kamal-docker-registry"]);
    let run = app.hoist(&["registry", "setup"]);
    run.assert_ok();
    assert_eq!(
        run.stdout.trim(),
        "local registry on 127.0.0.1:5557: started"
    );
    // remove takes it away; a second remove says there is none.
    let run = app.hoist(&["registry", "remove"]);
    run.assert_ok();
    assert_eq!(
        run.stdout.trim(),
        "removed kamal-docker-registry (127.0.0.1:5557)"
    );
    assert!(
        support::docker(&["ps", "-aq", "-f", "name=^/kamal-docker-registry$"])
            .trim()
            .is_empty()
    );
    let run = app.hoist(&["registry", "remove"]);
    assert_eq!(run.stdout.trim(), "no kamal-docker-registry to remove");
    // The next deploy boots it again.
    let run = app.hoist(&["deploy", "--version", "v3"]);
    run.assert_ok();
    assert!(
        run.text().contains("booted from registry:3"),
        "{}",
        run.text()
    );
    assert_running(b, &app, 0, &web(&app, "v3"));
    app.hoist(&["remove", "-y"]).assert_ok();
    let _ = std::process::Command::new("docker")
        .args(["rm", "-f", "kamal-docker-registry"])
        .output();
}

#[test]
fn host_and_role_filters_touch_exactly_the_matching_servers() {
    let _g = shared();
    let b = bed();
    let (app, _) = app("filters", "");
    app.deploy("v1", &[]).assert_ok();
    // -h with a wildcard: only server 2.
    let pattern = format!("*:{}", port(&b.servers[1]));
    app.deploy("v2", &["-h", &pattern]).assert_ok();
    assert_running(b, &app, 0, &web(&app, "v1"));
    assert_running(b, &app, 1, &web(&app, "v2"));
    assert_running(b, &app, 2, &workers(&app, "v1"));
    // -r with a wildcard: only the workers (server 3).
    app.deploy("v3", &["-r", "work*"]).assert_ok();
    assert_running(b, &app, 0, &web(&app, "v1"));
    assert_running(b, &app, 1, &web(&app, "v2"));
    assert_running(b, &app, 2, &workers(&app, "v3"));
    // -p: the primary host (first web host) only.
    app.deploy("v4", &["-p"]).assert_ok();
    assert_running(b, &app, 0, &web(&app, "v4"));
    assert_running(b, &app, 1, &web(&app, "v2"));
    assert_running(b, &app, 2, &workers(&app, "v3"));
    // A pattern matching nothing is an error naming the hosts.
    let run = app.deploy("v5", &["-h", "10.*"]);
    run.assert_failed();
    assert!(
        run.text().contains("no hosts match -h 10.*"),
        "{}",
        run.text()
    );
}

/// Restarts sshd on a server when dropped.
struct SshdBack<'a>(&'a Bed, usize);

impl Drop for SshdBack<'_> {
    fn drop(&mut self) {
        self.0.sh(self.1, "/usr/sbin/sshd -E /var/log/sshd.log");
    }
}

#[test]
fn a_server_without_sshd_stops_the_deploy_before_any_change() {
    let _g = exclusive();
    let b = bed();
    let (app, _) = app("nossh", "");
    app.deploy("v1", &[]).assert_ok();
    b.sh(1, "pkill -x sshd; sleep 0.2");
    let _back = SshdBack(b, 1);
    let run = app.deploy("v2", &[]);
    run.assert_failed();
    let text = run.text();
    assert!(
        text.contains(&format!("cannot connect to `{}`", b.servers[1]))
            && text.contains("nothing was changed"),
        "{text}"
    );
    assert_eq!(run.end()["stage"], "load-config", "{text}");
    // As documented: every host is connected before anything changes, so
    // the other servers still run v1 and no v2 container exists anywhere.
    assert_running(b, &app, 0, &web(&app, "v1"));
    assert_running(b, &app, 2, &workers(&app, "v1"));
    for i in [0, 2] {
        assert_eq!(b.containers(i, &app.service).len(), 1);
    }
    let status = app.hoist(&["lock", "status"]);
    status.assert_ok();
    assert!(status.stdout.contains("No lock"), "{}", status.stdout);
    drop(_back);
    app.deploy("v2", &[]).assert_ok();
    assert_running(b, &app, 1, &web(&app, "v2"));
}

#[test]
fn a_server_lost_mid_rollout_is_rolled_back_around_and_the_lock_released() {
    let _g = exclusive();
    let b = bed();
    // All three as web, one at a time with a pause between batches.
    let (app, kh) = bed_app("lost");
    app.config(&format!(
        "servers:\n  web: [{}]\n{}readiness_delay: 1\nboot:\n  limit: 1\n  wait: 4\n",
        b.servers.join(", "),
        b.ssh_yaml(&kh, "")
    ));
    app.deploy("v1", &[]).assert_ok();
    let child = app.spawn(&["deploy", "--version", "v2"]);
    // Once server 1 runs v2 alone, server 2 disappears (frozen: no answer).
    let t0 = Instant::now();
    while b.running(0, &app.service) != web(&app, "v2") {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "first batch never finished"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let paused = std::process::Command::new("docker")
        .args(["pause", &b.names[1]])
        .status()
        .unwrap();
    assert!(paused.success());
    let unpause = DockerOnDrop(b, 1, "unpause");
    let out = child.wait_with_output().unwrap();
    drop(unpause);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        (text.contains(&format!(
            "cannot reach the Docker engine on `{}`",
            b.servers[1]
        )) || text.contains(&format!("`{}` stopped answering", b.servers[1])))
            && text.contains("rolled back"),
        "{text}"
    );
    // As documented: the updated host is rolled back, the rest never changed.
    for i in 0..3 {
        assert_running(b, &app, i, &web(&app, "v1"));
    }
    let status = app.hoist(&["lock", "status"]);
    assert!(status.stdout.contains("No lock"), "{}", status.text());
}

#[test]
fn host_keys_changed_refused_unknown_strict_refused_default_recorded() {
    let _g = shared();
    let b = bed();
    let (app, kh) = app("hostkeys", "");
    // Changed: server 1 recorded with another key.
    let other = b.dir.join("id_ed25519.pub");
    let fake = std::fs::read_to_string(&other).unwrap();
    let fake_key = fake
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    std::fs::write(
        &kh,
        format!("[127.0.0.1]:{} {fake_key}\n", port(&b.servers[0])),
    )
    .unwrap();
    let run = app.deploy("v1", &[]);
    run.assert_failed();
    assert!(
        run.text().contains(&format!(
            "the host key of `{}` does not match",
            b.servers[0]
        )),
        "{}",
        run.text()
    );
    assert!(b.containers(0, &app.service).is_empty());
    // Unknown, strict: refused, nothing recorded.
    std::fs::write(&kh, "").unwrap();
    let strict = format!(
        "{}{}",
        roles(b),
        b.ssh_yaml(&kh, "  strict_host_keys: true\n")
    );
    app.config(&strict);
    let run = app.deploy("v1", &[]);
    run.assert_failed();
    assert!(
        run.text().contains("is not in") && run.text().contains("strict_host_keys"),
        "{}",
        run.text()
    );
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), "");
    // Unknown, default: accepted and recorded (the real keys).
    app.config(&format!("{}{}", roles(b), b.ssh_yaml(&kh, "")));
    let run = app.deploy("v1", &[]);
    run.assert_ok();
    let recorded = std::fs::read_to_string(&kh).unwrap();
    let real = std::fs::read_to_string(&b.known_hosts).unwrap();
    for s in &b.servers {
        let name = format!("[127.0.0.1]:{}", port(s));
        let line = real.lines().find(|l| l.starts_with(&name)).unwrap();
        assert!(recorded.contains(line), "{name} not recorded:\n{recorded}");
    }
    assert!(
        run.text().contains("its host key has been recorded"),
        "{}",
        run.text()
    );
}

fn port(host: &str) -> &str {
    host.rsplit(':').next().unwrap()
}

#[test]
fn jump_host_reaches_servers_by_their_private_names() {
    let _g = shared();
    let b = bed();
    let app = App::new("jump", "");
    app.config(&format!(
        "servers:\n  web: [{}, {}]\n{}readiness_delay: 1\n",
        b.names[1],
        b.names[2],
        b.ssh_yaml(
            &b.known_hosts,
            &format!("  strict_host_keys: true\n  proxy: root@{}\n", b.servers[0])
        )
    ));
    app.deploy("v1", &[]).assert_ok();
    assert_running(b, &app, 1, &web(&app, "v1"));
    assert_running(b, &app, 2, &web(&app, "v1"));
    assert!(b.containers(0, &app.service).is_empty());
}

#[test]
fn a_non_root_user_and_the_global_ssh_port() {
    let _g = shared();
    let b = bed();
    let (app, kh) = bed_app("user");
    // `deploy` is in the docker group on the servers; the host has no port,
    // so ssh.port applies.
    let ssh = b
        .ssh_yaml(&kh, &format!("  port: {}\n", port(&b.servers[1])))
        .replace("user: root", "user: deploy");
    app.config(&format!(
        "servers:\n  web: [127.0.0.1]\n{ssh}readiness_delay: 1\n"
    ));
    app.deploy("v1", &[]).assert_ok();
    assert_running(b, &app, 1, &web(&app, "v1"));
    // The lock and the audit log live in that user's home.
    let audit = b.sh(
        1,
        &format!("cat /home/deploy/.hoist/{}-audit.log", app.service),
    );
    assert!(audit.contains("Deployed"), "{audit}");
    b.sh(
        1,
        &format!("rm -rf /home/deploy/.hoist/{}-audit.log", app.service),
    );
}

#[test]
fn concurrent_deploy_is_refused_naming_the_holder() {
    let _g = shared();
    let b = bed();
    // boot.limit 1 + boot.wait 6: the first deploy holds the lock for a while.
    let (app, _) = app("lock", "boot:\n  limit: 1\n  wait: 6\n");
    let first = app.spawn(&["deploy", "--version", "v1", "-q"]);
    let t0 = Instant::now();
    loop {
        let s = app.hoist(&["lock", "status"]);
        if s.stdout.contains("Locked on") {
            assert!(s.stdout.contains("Version: v1"), "{}", s.stdout);
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "first deploy never took the lock"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let second = app.deploy("v2", &[]);
    second.assert_failed();
    let text = second.text();
    assert!(
        text.contains(&format!(
            "the deploy lock for {} on `{}` is held",
            app.service, b.servers[0]
        )) && text.contains("Version: v1")
            && text.contains("Automatic deploy lock"),
        "{text}"
    );
    let out = first.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_running(b, &app, 0, &web(&app, "v1"));
    // The lock subcommands.
    let run = app.hoist(&["lock", "acquire", "-m", "database migration"]);
    run.assert_ok();
    let refused = app.deploy("v3", &[]);
    refused.assert_failed();
    assert!(
        refused.text().contains("Message: database migration"),
        "{}",
        refused.text()
    );
    assert!(
        app.hoist(&["lock", "status"])
            .stdout
            .contains("database migration")
    );
    app.hoist(&["lock", "release"]).assert_ok();
    assert!(app.hoist(&["lock", "status"]).stdout.contains("No lock"));
    app.deploy("v3", &[]).assert_ok();
}

#[test]
fn ctrl_c_mid_deploy_releases_the_lock_and_is_audited() {
    let _g = shared();
    let b = bed();
    let (app, _) = app("sigint", "boot:\n  limit: 1\n  wait: 30\n");
    let child = app.spawn(&["deploy", "--version", "v1"]);
    // Wait until the first batch is up (the deploy then sleeps 30 s).
    let t0 = Instant::now();
    while b.running(0, &app.service).is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "first batch never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(app.hoist(&["lock", "status"]).stdout.contains("Locked on"));
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("interrupted by Ctrl-C"), "{err}");
    assert!(
        t0.elapsed() < Duration::from_secs(25),
        "did not stop at once"
    );
    assert!(app.hoist(&["lock", "status"]).stdout.contains("No lock"));
    let audit = b.sh(0, &format!("cat .hoist/{}-audit.log", app.service));
    assert!(
        audit.contains("Failed to deploy") && audit.contains("interrupted"),
        "{audit}"
    );
}

#[test]
fn secrets_reach_containers_but_no_command_line_or_output() {
    let _g = shared();
    let b = bed();
    let secret = format!("s3cr3t-servers-{}", std::process::id());
    let (app, _) = app(
        "secrets",
        "env:\n  clear:\n    HELLO_ECHO: API_KEY\n  secret: [API_KEY]\n",
    );
    // $(cmd) substitution, as Kamal's secrets files.
    app.write("token", &format!("{secret}\n"));
    app.write(".hoist/secrets", "API_KEY=$(cat token)\n");
    // Watch every server's process list during the deploy.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (stop, b, secret) = (stop.clone(), b.clone(), secret.clone());
        std::thread::spawn(move || {
            let mut samples = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for i in 0..3 {
                    let ps = b.sh(i, "ps auxww");
                    assert!(
                        ps.contains("sshd"),
                        "ps does not work on {}: {ps}",
                        b.names[i]
                    );
                    assert!(
                        !ps.contains(&secret),
                        "secret in ps on {}:\n{ps}",
                        b.names[i]
                    );
                    samples += 1;
                }
            }
            samples
        })
    };
    let run = app.hoist(&["deploy", "--version", "v1", "-v"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let samples = watcher.join().expect("no secret in any ps sample");
    run.assert_ok();
    assert!(samples >= 3, "only {samples} ps samples");
    assert!(
        !run.text().contains(&secret),
        "secret in -v output:\n{}",
        run.text()
    );
    let dry = app.hoist(&["deploy", "--version", "v2", "--dry-run", "-v"]);
    dry.assert_ok();
    assert!(!dry.text().contains(&secret));
    for (i, c) in [(0, web(&app, "v1")), (2, workers(&app, "v1"))] {
        let env = b.docker(i, &["inspect", "--format", "{{json .Config.Env}}", &c[0]]);
        assert!(env.contains(&format!("API_KEY={secret}")), "{env}");
        // HELLO_ECHO made the app print it: the value really reached it.
        let logs = b.docker_raw(i, &["logs", &c[0]]);
        assert!(
            String::from_utf8_lossy(&logs.stderr).contains(&format!("API_KEY={secret}")),
            "{logs:?}"
        );
    }
}

#[test]
fn containers_started_by_hand_survive_deploy_and_prune() {
    let _g = shared();
    let b = bed();
    let (app, _) = app("handmade", "retain_containers: 1\n");
    app.deploy("v1", &[]).assert_ok();
    let image = format!("hoist-e2e/{}:v1", app.service);
    let hand = format!("{}-by-hand", app.service);
    b.docker(
        0,
        &[
            "run",
            "-d",
            "--name",
            &hand,
            "--label",
            &format!("service={}", app.service),
            &image,
        ],
    );
    for v in ["v2", "v3", "v4"] {
        app.deploy(v, &[]).assert_ok();
    }
    let all = b.containers(0, &app.service);
    let handmade = all.iter().find(|(n, _, _)| *n == hand);
    assert_eq!(
        handmade.map(|(_, s, _)| s.as_str()),
        Some("running"),
        "{all:?}"
    );
    // Its image is in use, so prune kept it too.
    assert!(
        b.docker_raw(0, &["image", "inspect", &image])
            .status
            .success()
    );
    let mut expected = vec![hand.clone(), web(&app, "v4")[0].clone()];
    expected.sort();
    assert_running(b, &app, 0, &expected);
}

#[test]
fn hooks_reach_servers_over_ssh_within_their_grants() {
    let _g = shared();
    let b = bed();
    let (app, _) = app(
        "hooks",
        "hooks:\n  pre-deploy:\n    - preflight\n    - plugin: runner\n      settings: { argv: hostname, local: true }\n      grants: { commands: [{ run: hostname, on: servers }] }\n  post-deploy:\n    - plugin: runner\n      settings: { argv: \"cat /etc/hostname\" }\n    - plugin: runner\n      settings: { argv: \"cat /etc/hostname\" }\n      grants: { commands: [\"cat /etc/hostname\"] }\n",
    );
    let wasm = guest_component("hoist-fixture-commander");
    app.install_plugin(
        "runner",
        &wasm,
        "name = \"runner\"\nkind = \"hook\"\nstages = [\"pre-deploy\", \"post-deploy\"]\n[capabilities]\ncommands = [{ run = \"hostname\", on = \"servers\" }, { run = \"hostname\", on = \"local\" }, { run = \"cat /etc/hostname\", on = \"servers\" }]\n",
    );
    let run = app.deploy("v1", &[]);
    run.assert_ok();
    let logs: Vec<String> = run
        .of("log", Some("runner"))
        .iter()
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect();
    // Granted: the command ran on each server, over SSH (its own hostname).
    for (s, name) in b.servers.iter().zip(&b.names) {
        let line = format!("ran on {s}: exit 0 stdout {name}");
        assert!(logs.contains(&line), "missing `{line}` in {logs:?}");
    }
    // Granted on servers, run on `local` (this machine): refused, naming
    // the rule, and it did not run here.
    let here = logs
        .iter()
        .find(|l| l.starts_with("refused on local:"))
        .unwrap_or_else(|| panic!("no refusal on local in {logs:?}"));
    assert!(
        here.contains(
            "granted the command `hostname` only on servers, not on `local` (this machine)"
        ),
        "{here}"
    );
    assert!(
        !logs.iter().any(|l| l.starts_with("ran on local")),
        "{logs:?}"
    );
    // Not granted (the first post-deploy use has no commands grant) and
    // granted on `local` only (the second, a plain pattern): denied on
    // every server, nothing ran.
    for s in &b.servers {
        let refusals: Vec<&String> = logs
            .iter()
            .filter(|l| l.starts_with(&format!("refused on {s}:")))
            .collect();
        assert_eq!(refusals.len(), 2, "{logs:?}");
        assert!(
            refusals
                .iter()
                .any(|l| l.contains("is not granted the command `cat /etc/hostname` on server")),
            "{refusals:?}"
        );
        assert!(
            refusals.iter().any(
                |l| l.contains("only on `local` (this machine), not on server")
                    && l.contains("on: servers")
            ),
            "{refusals:?}"
        );
        // Only the pre-deploy `hostname` ran there.
        assert_eq!(
            logs.iter()
                .filter(|l| l.starts_with(&format!("ran on {s}:")))
                .count(),
            1,
            "{logs:?}"
        );
    }
    // preflight read each server's Docker through the same connection.
    let preflight: Vec<&str> = run
        .of("log", Some("preflight"))
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    for s in &b.servers {
        assert!(
            preflight.iter().any(|l| l.contains(s.as_str())),
            "{preflight:?}"
        );
    }
}

#[test]
fn ssh_agent_keys_one_connection_per_host_volumes_and_options() {
    // Exclusive: sshd's login count must be this deploy's alone.
    let _g = exclusive();
    let b = bed();
    let (app, kh) = bed_app("agent");
    // No key files: the only identity is in an ssh-agent started here.
    let agent_dir = tempfile::tempdir().unwrap();
    let sock = agent_dir.path().join("agent.sock");
    let agent = std::process::Command::new("ssh-agent")
        .args(["-D", "-a"])
        .arg(&sock)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
        }
    }
    let _agent = Kill(agent);
    let t0 = Instant::now();
    while !sock.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "ssh-agent did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let added = std::process::Command::new("ssh-add")
        .arg(&b.key)
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .unwrap();
    assert!(added.status.success(), "{added:?}");
    app.config(&format!(
        "{}ssh:\n  keys: []\n  known_hosts: {}\nreadiness_delay: 1\nvolumes: [\"{svc}-data:/data\"]\n",
        roles(b).replace(
            "    cmd: work\n",
            "    cmd: work\n    options:\n      memory: 64m\n",
        ),
        kh.display(),
        svc = app.service
    ));
    let before: Vec<usize> = (0..3).map(|i| accepted(b, i)).collect();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_hoist"))
        .args(["deploy", "--version", "v1"])
        .current_dir(app.path())
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // One SSH connection per host for the whole deploy.
    for (i, n) in before.iter().enumerate() {
        assert_eq!(accepted(b, i) - n, 1, "connections to {}", b.names[i]);
    }
    // The volume and the role's options reached the containers.
    let mounts = b.docker(
        0,
        &["inspect", "-f", "{{json .Mounts}}", &web(&app, "v1")[0]],
    );
    assert!(
        mounts.contains(&format!("\"Name\":\"{}-data\"", app.service))
            && mounts.contains("\"Destination\":\"/data\""),
        "{mounts}"
    );
    let memory = b.docker(
        2,
        &[
            "inspect",
            "-f",
            "{{.HostConfig.Memory}}",
            &workers(&app, "v1")[0],
        ],
    );
    assert_eq!(memory.trim(), (64 * 1024 * 1024).to_string());
    for i in 0..3 {
        b.sh(
            i,
            &format!("docker volume rm -f {}-data >/dev/null 2>&1", app.service),
        );
    }
}

/// Logins sshd on server `i` has accepted so far.
fn accepted(b: &Bed, i: usize) -> usize {
    b.sh(i, "grep -c 'Accepted publickey' /var/log/sshd.log || true")
        .trim()
        .parse()
        .unwrap_or(0)
}

#[test]
fn dry_run_reads_the_servers_and_changes_nothing() {
    let _g = shared();
    let b = bed();
    let (app, kh) = app("dryrun", "");
    app.deploy("v1", &[]).assert_ok();
    let audit_before: Vec<String> = (0..3)
        .map(|i| b.sh(i, &format!("cat .hoist/{}-audit.log", app.service)))
        .collect();
    let dry = app.hoist(&["deploy", "--dry-run", "--version", "v2"]);
    dry.assert_ok();
    // The plan knows what runs there: v1 would be stopped on each server.
    for (i, s) in b.servers.iter().enumerate() {
        let role = if i == 2 { "workers" } else { "web" };
        let stop = format!("[{s}] docker stop -t 30 {}-{role}-v1", app.service);
        assert!(
            dry.stdout.contains(&stop),
            "`{stop}` missing:\n{}",
            dry.stdout
        );
    }
    // Nothing changed: same containers, no v2 image, same audit logs, no lock.
    assert_running(b, &app, 0, &web(&app, "v1"));
    assert_running(b, &app, 1, &web(&app, "v1"));
    assert_running(b, &app, 2, &workers(&app, "v1"));
    for (i, before) in audit_before.iter().enumerate() {
        assert_eq!(b.containers(i, &app.service).len(), 1);
        assert_eq!(
            &b.sh(i, &format!("cat .hoist/{}-audit.log", app.service)),
            before
        );
    }
    assert!(app.hoist(&["lock", "status"]).stdout.contains("No lock"));
    // With an empty known_hosts a dry run records no host key (the plan for
    // those hosts is shown as for a first deploy).
    std::fs::write(&kh, "").unwrap();
    let dry = app.hoist(&["deploy", "--dry-run", "--version", "v2"]);
    dry.assert_ok();
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), "");
    assert!(
        dry.text().contains("as for a first deploy"),
        "{}",
        dry.text()
    );
}

#[test]
fn a_remote_command_that_never_ends_is_killed_at_the_plugins_timeout() {
    let _g = shared();
    let b = bed();
    // A marker in the command line finds the process on the server.
    let marker = format!("3598.{}", std::process::id());
    let (app, _) = app(
        "remote-hang",
        &format!(
            "hooks:\n  pre-deploy:\n    - plugin: hang\n      settings: {{ argv: sleep {marker} }}\n      limits: {{ timeout: 3s }}\n      grants: {{ commands: [{{ run: \"sleep *\", on: servers }}] }}\n"
        ),
    );
    let wasm = guest_component("hoist-fixture-commander");
    app.install_plugin(
        "hang",
        &wasm,
        "name = \"hang\"\nkind = \"hook\"\nstages = [\"pre-deploy\"]\n[capabilities]\ncommands = [{ run = \"sleep *\", on = \"servers\" }]\n",
    );
    let run = app.deploy("v1", &[]);
    run.assert_failed();
    let msg = run.end()["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        msg.contains("plugin `hang`") && msg.contains("time limit (3s)"),
        "{msg}"
    );
    app.assert_unlocked("after the timeout");
    // The sleep started on the first server; it is gone there (killed with
    // its process group), and never ran anywhere else.
    let alive = |i: usize| b.sh(i, "ps -eo args").contains(&format!("sleep {marker}"));
    let gone_by = Instant::now() + Duration::from_secs(10);
    while (0..b.servers.len()).any(alive) && Instant::now() < gone_by {
        std::thread::sleep(Duration::from_millis(200));
    }
    for i in 0..b.servers.len() {
        assert!(!alive(i), "the command outlived the call on {}", b.names[i]);
    }
}

#[test]
fn a_remote_exec_that_never_ends_is_killed_at_the_plugins_timeout() {
    let _g = shared();
    let b = bed();
    let (app, kh) = app("remote-exec", "");
    let wasm = guest_component("hoist-fixture-prober");
    app.install_plugin(
        "prober",
        &wasm,
        "name = \"prober\"\nkind = \"hook\"\nstages = [\"pre-deploy\"]\n[capabilities]\ndocker = \"write\"\nexec = true\ncommands = [\"touch **\"]\n",
    );
    let stopper = guest_component("hoist-fixture-misbehave");
    app.install_plugin(
        "stopper",
        &stopper,
        "name = \"stopper\"\nkind = \"hook\"\nstages = [\"pre-deploy\"]\n",
    );
    app.deploy("v1", &[]).assert_ok();
    let serving = format!("{}-web-v1", app.service);
    let secs = 3000 + std::process::id() % 500;
    // A second hook stops the deploy, so v1 keeps running on the server.
    app.config(&format!(
        "{}{}readiness_delay: 1\ndeploy_timeout: 30\nhooks:\n  pre-deploy:\n    - plugin: prober\n      settings: {{ probe: exec-env, host: \"{}\", container: {serving}, argv: \"/hello sleep {secs}\" }}\n      grants: {{ docker: write, exec: true }}\n      limits: {{ timeout: 3s }}\n    - plugin: stopper\n      settings: {{ mode: fail }}\n",
        roles(b),
        b.ssh_yaml(&kh, ""),
        b.servers[0],
    ));
    let run = app.deploy("v2", &[]);
    run.assert_failed();
    let line = run
        .of("log", Some("prober"))
        .iter()
        .filter_map(|e| e["message"].as_str())
        .find(|l| l.starts_with("probe "))
        .unwrap_or_default()
        .to_string();
    assert!(
        line.starts_with("probe exec-env: failed:")
            && line.contains("ran to the call's time limit"),
        "{line}\n{}",
        run.stdout
    );
    let top = b.docker(0, &["top", &serving, "-eo", "pid,args"]);
    assert!(
        top.contains("/hello"),
        "top lists the container's processes:\n{top}"
    );
    assert!(
        !top.contains(&format!("sleep {secs}")),
        "the exec outlived the call on {}:\n{top}",
        b.names[0]
    );
    app.assert_unlocked("after the exec");
}
