//! End-to-end through hoist-proxy on the test bed: zero failed requests
//! under load across a deploy, a never-healthy deploy and a rollback; drain;
//! proxy restart; Host routing; maintenance; TLS; the app/proxy commands.
//! Load goes to the servers' published port 80 on 127.0.0.1.

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use hoist_proxy::load::{self, LoadReport};
use support::App;
use support::testbed::{Bed, Load, bed, bed_app, shared};

/// An app whose web role runs on the given servers (0-based) behind their
/// proxies; `extra` is appended to the config.
fn proxied_app(prefix: &str, servers: &[usize], extra: &str) -> (App, PathBuf) {
    let b = bed();
    let (app, kh) = bed_app(prefix);
    let hosts: Vec<&str> = servers.iter().map(|i| b.servers[*i].as_str()).collect();
    app.config(&format!(
        "servers:\n  web:\n    hosts: [{}]\n{}readiness_delay: 1\n{extra}",
        hosts.join(", "),
        b.ssh_yaml(&kh, "")
    ));
    (app, kh)
}

fn addr(b: &Bed, i: usize) -> SocketAddr {
    b.http[i].parse().unwrap()
}

fn version_of(body: &str) -> Option<String> {
    body.split_whitespace().last().map(str::to_string)
}

/// One GET through server `i`'s proxy with `host`.
fn get(b: &Bed, i: usize, host: &str, path: &str) -> load::Record {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(load::get(addr(b, i), Some(host), path))
}

/// The distinct versions a worker saw, in order (runs collapsed).
fn runs(records: &[load::Record]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in records.iter().filter(|r| r.ok()) {
        let v = version_of(&r.body).unwrap_or_default();
        if out.last() != Some(&v) {
            out.push(v);
        }
    }
    out
}

fn failures(report: &LoadReport) -> String {
    report
        .failures()
        .iter()
        .take(5)
        .map(|r| format!("{} {:?} {}", r.status, r.error, r.body.trim()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The acceptance run: constant load through two servers' proxies while v2
/// is deployed over v1, a never-healthy v3 fails, and `hoist rollback v1`
/// goes back. Not one request fails, and every worker sees v1, v2, v1:
/// exactly one change per successful switch.
#[test]
fn zero_failed_requests_across_deploy_failed_deploy_and_rollback() {
    let _g = shared();
    let b = bed();
    let base = "deploy_timeout: 8\ndrain_timeout: 10\n";
    let (app, _) = proxied_app("zero", &[0, 1], base);
    let host = app.host_name();
    app.deploy("v1", &[]).assert_ok();
    for i in [0, 1] {
        let r = get(b, i, &host, "/");
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(version_of(&r.body).as_deref(), Some("v1"));
    }

    let load = Load::start(&[0, 1], &host, 4);
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(500));
    let v2 = app.deploy("v2", &[]);
    v2.assert_ok();
    // v3 never answers /up: the proxies keep v2.
    app.config(&format!(
        "servers:\n  web:\n    hosts: [{}, {}]\n{}readiness_delay: 1\n{base}env:\n  clear:\n    HELLO_MODE: unhealthy\n",
        b.servers[0],
        b.servers[1],
        b.ssh_yaml(&app.path().join("known_hosts"), "")
    ));
    let v3 = app.deploy("v3", &[]);
    v3.assert_failed();
    assert!(v3.text().contains("v3"), "{}", v3.text());
    app.config(&format!(
        "servers:\n  web:\n    hosts: [{}, {}]\n{}readiness_delay: 1\n{base}",
        b.servers[0],
        b.servers[1],
        b.ssh_yaml(&app.path().join("known_hosts"), "")
    ));
    let back = app.hoist(&["rollback", "v1", "--json"]);
    back.assert_ok();
    // The load stays on until it has sent 20,000 requests, however long
    // that takes here; only the proxies going silent fails it.
    let reports: Vec<LoadReport> = load.stop_after(20_000, Duration::from_secs(600));
    let total: usize = reports.iter().map(|r| r.total()).sum();
    let failed: usize = reports.iter().map(|r| r.failed()).sum();
    println!(
        "load through 2 proxies: {total} requests in {:.1}s, {failed} failed (deploy v2, failed deploy v3, rollback v1)",
        started.elapsed().as_secs_f64()
    );
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(
            r.failed(),
            0,
            "server {}: failures:\n{}",
            i + 1,
            failures(r)
        );
        for (w, records) in r.workers.iter().enumerate() {
            assert_eq!(
                runs(records),
                ["v1", "v2", "v1"],
                "server {} worker {w}: versions seen in order",
                i + 1
            );
        }
    }
    for i in [0, 1] {
        assert_eq!(
            b.running(i, &app.service),
            vec![format!("{}-web-v1", app.service)]
        );
    }
}

/// A request in flight on the old version when the switch happens finishes
/// (the proxy drains before hoist stops the old container, whose stop
/// timeout here is far shorter than the request).
#[test]
fn slow_request_in_flight_is_drained() {
    let _g = shared();
    let b = bed();
    let (app, _) = proxied_app("drain", &[2], "stop_timeout: 1\ndrain_timeout: 20\n");
    let host = app.host_name();
    app.deploy("v1", &[]).assert_ok();
    let a = addr(b, 2);
    let h = host.clone();
    let slow = std::thread::spawn(move || {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(load::get(a, Some(&h), "/slow?ms=4000"))
    });
    std::thread::sleep(Duration::from_millis(500));
    app.deploy("v2", &[]).assert_ok();
    let r = slow.join().unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body.trim(), "slow v1 4000");
    assert_eq!(
        version_of(&get(b, 2, &host, "/").body).as_deref(),
        Some("v2")
    );
}

/// Two services on one server's proxy, routed by Host; a proxy restart
/// keeps both routes; an unknown Host gets 404.
#[test]
fn host_routing_and_routes_survive_a_proxy_restart() {
    let _g = shared();
    let b = bed();
    let (one, _) = proxied_app("hosta", &[2], "env:\n  clear:\n    GREETING: from-a\n");
    let (two, _) = proxied_app("hostb", &[2], "env:\n  clear:\n    GREETING: from-b\n");
    one.deploy("v1", &[]).assert_ok();
    two.deploy("v7", &[]).assert_ok();
    let check = || {
        let a = get(b, 2, &one.host_name(), "/");
        let c = get(b, 2, &two.host_name(), "/");
        assert_eq!((a.status, c.status), (200, 200), "{a:?} {c:?}");
        assert!(
            a.body.starts_with("from-a") && a.body.contains("v1"),
            "{a:?}"
        );
        assert!(
            c.body.starts_with("from-b") && c.body.contains("v7"),
            "{c:?}"
        );
    };
    check();
    assert_eq!(get(b, 2, "nobody.test", "/").status, 404);
    b.docker(2, &["restart", "hoist-proxy"]);
    // Wait for the proxy to listen again, then the same answers.
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(b, 2, &one.host_name(), "/").status != 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    check();
}

/// `hoist app maintenance` answers 503 with the page; `live` restores.
#[test]
fn maintenance_and_live() {
    let _g = shared();
    let b = bed();
    let (app, _) = proxied_app("maint", &[1], "");
    let host = app.host_name();
    // A git-sha-like version: the container name exceeds a DNS label (63
    // characters), so the proxy must reach it by id.
    let v1 = "v1-0123456789abcdef0123456789abcdef0123456789abcdef";
    app.deploy(v1, &[]).assert_ok();
    app.hoist(&["app", "maintenance", "-m", "Upgrading the database"])
        .assert_ok();
    let r = get(b, 1, &host, "/");
    assert_eq!(r.status, 503, "{r:?}");
    assert!(r.body.contains("Upgrading the database"), "{r:?}");
    // The health path still answers, so load balancers keep the host.
    assert_eq!(get(b, 1, &host, "/up").status, 200);
    app.hoist(&["app", "live"]).assert_ok();
    let r = get(b, 1, &host, "/");
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains(v1), "{r:?}");
}

/// A rollback to a version a host lacks changes nothing and names the host.
#[test]
fn rollback_needs_the_image_on_every_host() {
    let _g = shared();
    let b = bed();
    let (app, _) = proxied_app("rbmiss", &[0, 1], "");
    app.deploy("v1", &[]).assert_ok();
    // v2 only on server 1.
    app.deploy("v2", &["-h", &b.servers[0]]).assert_ok();
    let r = app.hoist(&["rollback", "v2"]);
    r.assert_failed();
    assert!(
        r.text().contains("cannot roll back to v2") && r.text().contains(&b.servers[1]),
        "{}",
        r.text()
    );
    assert_eq!(
        b.running(1, &app.service),
        vec![format!("{}-web-v1", app.service)]
    );
    assert_eq!(
        b.running(0, &app.service),
        vec![format!("{}-web-v2", app.service)]
    );
    // The lock was released: a good rollback works.
    app.hoist(&["rollback", "v1"]).assert_ok();
    assert_eq!(
        b.running(0, &app.service),
        vec![format!("{}-web-v1", app.service)]
    );
}

/// TLS with a certificate from secrets: HTTPS answers with it, HTTP redirects.
#[test]
fn tls_with_a_provided_certificate() {
    let _g = shared();
    let b = bed();
    let (app, kh) = bed_app("tls");
    let name = app.host_name();
    let cert = rcgen::generate_simple_self_signed(vec![name.clone()]).unwrap();
    app.write("cert.pem", &cert.cert.pem());
    app.write("key.pem", &cert.key_pair.serialize_pem());
    app.write(
        ".hoist/secrets",
        "CERT_PEM=$(cat cert.pem)\nKEY_PEM=$(cat key.pem)\n",
    );
    app.config(&format!(
        "servers:\n  web:\n    hosts: [{}]\n{}readiness_delay: 1\nproxy:\n  host: {name}\n  ssl:\n    certificate_pem: CERT_PEM\n    private_key_pem: KEY_PEM\n",
        b.servers[0],
        b.ssh_yaml(&kh, "")
    ));
    app.deploy("v1", &[]).assert_ok();
    let port = b.https[0].rsplit(':').next().unwrap();
    let out = std::process::Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(app.path().join("cert.pem"))
        .args(["--resolve", &format!("{name}:{port}:127.0.0.1")])
        .arg(format!("https://{name}:{port}/"))
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && body.contains("version v1"),
        "{body} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = get(b, 0, &name, "/");
    assert_eq!(r.status, 301, "{r:?}");
}

/// The commands around a deploy, on a real server.
#[test]
fn app_proxy_prune_and_remove_commands() {
    // Alone: `remove` may take the proxy away when no other app uses it.
    let _g = support::testbed::exclusive();
    let b = bed();
    let (app, _) = proxied_app("cmds", &[1], "retain_containers: 1\n");
    let host = app.host_name();
    for v in ["v1", "v2", "v3"] {
        app.deploy(v, &[]).assert_ok();
    }
    let version = app.hoist(&["app", "version"]);
    version.assert_ok();
    assert!(version.stdout.contains("web: v3"), "{}", version.stdout);
    let details = app.hoist(&["app", "details"]);
    assert!(
        details.stdout.contains(&format!("{}-web-v3", app.service))
            && details.stdout.contains(&format!(
                "proxy: {}-web -> {}-web-v3 (",
                app.service, app.service
            )),
        "{}",
        details.stdout
    );
    let containers = app.hoist(&["app", "containers"]);
    assert!(
        containers
            .stdout
            .contains(&format!("{}-web-v2", app.service))
    );
    let images = app.hoist(&["app", "images"]);
    assert!(
        images.stdout.contains(":v3") && images.stdout.contains(":v2"),
        "{}",
        images.stdout
    );
    // exec: a new container of the running version, and the running one.
    // The image's entrypoint is /hello: a new container gets its arguments.
    let new = app.hoist(&["app", "exec", "version"]);
    new.assert_ok();
    assert!(new.stdout.contains("v3"), "{}", new.stdout);
    let reuse = app.hoist(&["app", "exec", "--reuse", "/hello", "get", "/version"]);
    reuse.assert_ok();
    assert!(reuse.stdout.contains("v3"), "{}", reuse.stdout);
    // logs: the running container's, filtered.
    get(b, 1, &host, "/");
    let logs = app.hoist(&["app", "logs", "-n", "50", "--grep", "listening"]);
    logs.assert_ok();
    assert!(
        logs.stdout.contains("hello v3") && !logs.stdout.contains("stopped"),
        "{}",
        logs.stdout
    );
    // stop takes it out of the proxy; start brings it back.
    app.hoist(&["app", "stop"]).assert_ok();
    assert!(b.running(1, &app.service).is_empty());
    assert_ne!(get(b, 1, &host, "/").status, 200);
    app.hoist(&["app", "start"]).assert_ok();
    assert_eq!(get(b, 1, &host, "/").status, 200);
    // proxy details/logs.
    let pd = app.hoist(&["proxy", "details"]);
    assert!(
        pd.stdout.contains("hoist-proxy running")
            && pd.stdout.contains(&format!("{}-web", app.service)),
        "{}",
        pd.stdout
    );
    app.hoist(&["proxy", "logs", "-n", "20"]).assert_ok();
    // reboot replaces the container; the routes live in its volume. Kamal's
    // proxy-reboot hooks run around it, for that host, as the proxy's
    // container id shows: the old one before, the new one after.
    let log = app.path().join("hooks.log");
    for hook in ["pre-proxy-reboot", "post-proxy-reboot"] {
        let script = format!(
            "#!/bin/sh\necho \"$(basename \"$0\") $KAMAL_HOSTS $KAMAL_COMMAND $KAMAL_SUBCOMMAND lock=$KAMAL_LOCK\" >> {}\n",
            log.display()
        );
        app.write_executable(&format!(".kamal/hooks/{hook}"), &script);
    }
    let before = b.docker(1, &["inspect", "-f", "{{.Id}}", "hoist-proxy"]);
    app.hoist(&["proxy", "reboot"]).assert_ok();
    assert_ne!(
        b.docker(1, &["inspect", "-f", "{{.Id}}", "hoist-proxy"]),
        before
    );
    let server = &b.servers[1];
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!(
            "pre-proxy-reboot {server} proxy reboot lock=true\npost-proxy-reboot {server} proxy reboot lock=true\n"
        )
    );
    // -H runs none of them.
    app.hoist(&["proxy", "reboot", "-H"]).assert_ok();
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 2);
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(b, 1, &host, "/").status != 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get(b, 1, &host, "/").status, 200, "routes survive a reboot");
    // exec -i: stdin attached, through ssh to the server (no TTY here).
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hoist"))
        .args(["app", "exec", "-i", "--reuse", "/hello", "get", "/version"])
        .current_dir(app.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("v3"),
        "{} {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // logs --since, and -f follows until stopped.
    let since = app.hoist(&["app", "logs", "--since", "1h", "-T"]);
    assert!(since.stdout.contains("listening"), "{}", since.stdout);
    let mut follow = app.spawn(&["app", "logs", "-f", "-n", "1"]);
    let mut reader = std::io::BufReader::new(follow.stdout.take().unwrap());
    let mut first = String::new();
    for _ in 0..3 {
        first.clear();
        std::io::BufRead::read_line(&mut reader, &mut first).unwrap();
        if !first.starts_with("==") {
            break;
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(!first.trim().is_empty(), "logs -f printed a line");
    // redeploy: no prune, so v2 stays beside v3 and v4.
    app.hoist(&["redeploy", "--version", "v4"]).assert_ok();
    assert_eq!(
        get(b, 1, &host, "/").body.trim().rsplit(' ').next(),
        Some("v4")
    );
    let names: Vec<String> = b
        .containers(1, &app.service)
        .into_iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    app.hoist(&["prune", "containers"]).assert_ok();
    let names: Vec<String> = b
        .containers(1, &app.service)
        .into_iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // remove: everything of the app; other apps keep the proxy.
    app.hoist(&["remove"]).assert_failed();
    let removed = app.hoist(&["remove", "-y"]);
    removed.assert_ok();
    assert!(b.containers(1, &app.service).is_empty());
    // A server no hoist service uses any more loses the proxy's image, its
    // state volume and the network too; while some hoist container remains
    // (another app's), they stay, and the output says why.
    if removed.stdout.contains("removed hoist-proxy") {
        let managed = b.docker(1, &["ps", "-aq", "--filter", "label=hoist.managed=true"]);
        let networks = b.docker(1, &["network", "ls", "--format", "{{.Name}}"]);
        let volumes = b.docker(1, &["volume", "ls", "--format", "{{.Name}}"]);
        if managed.trim().is_empty() {
            assert!(
                removed.stdout.contains("removed network hoist")
                    && removed.stdout.contains("removed volume hoist-proxy-state"),
                "{}",
                removed.stdout
            );
            assert!(!networks.lines().any(|n| n == "hoist"), "{networks}");
            assert!(
                !volumes.lines().any(|v| v == "hoist-proxy-state"),
                "{volumes}"
            );
        } else {
            assert!(
                removed.stdout.contains("kept the hoist network"),
                "{}",
                removed.stdout
            );
            assert!(networks.lines().any(|n| n == "hoist"), "{networks}");
        }
    }
    assert_ne!(get(b, 1, &host, "/").status, 200);
    // setup on the emptied server: proxy (if removed) and app come back.
    app.hoist(&["setup", "--version", "v5"]).assert_ok();
    assert_eq!(
        get(b, 1, &host, "/").body.trim().rsplit(' ').next(),
        Some("v5")
    );
    // proxy remove / boot: the routes come back from the state volume.
    app.hoist(&["proxy", "remove"]).assert_ok();
    assert_eq!(get(b, 1, &host, "/").status, 0, "nothing listens");
    app.hoist(&["proxy", "boot"]).assert_ok();
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(b, 1, &host, "/").status != 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        get(b, 1, &host, "/").body.trim().rsplit(' ').next(),
        Some("v5")
    );
    // prune images keeps what any container uses.
    app.hoist(&["app", "stop"]).assert_ok();
    app.hoist(&["prune", "images"]).assert_ok();
    let images = app.hoist(&["app", "images"]);
    assert!(images.stdout.contains(":v5"), "{}", images.stdout);
    app.hoist(&["prune", "all"]).assert_ok();
}

/// The commands around a deploy reach Kamal's other hook points, and
/// WebAssembly hooks run there too: pre/post-proxy-reboot around each host
/// of `proxy reboot` (told that host), docker-setup in `server bootstrap`
/// and `setup`; a failing one stops the command before it changes the
/// host; `-H` runs none.
#[test]
fn wasm_hooks_at_proxy_reboot_and_docker_setup() {
    // Alone: a proxy reboot interrupts the server's other apps.
    let _g = support::testbed::exclusive();
    let b = bed();
    let hooks = "hooks:\n  pre-connect: [points]\n  pre-proxy-reboot: [points]\n  post-proxy-reboot: [points]\n  docker-setup: [points]\n";
    let (app, _) = proxied_app("cmdpoints", &[2], hooks);
    app.install_plugin(
        "points",
        &support::guest_component("hoist-fixture-points"),
        "name = \"points\"\nkind = \"hook\"\nstages = [\"pre-connect\", \"pre-proxy-reboot\", \"post-proxy-reboot\", \"docker-setup\"]\n",
    );
    let server = b.servers[2].clone();
    let setup = app.hoist(&["-v", "setup", "--version", "v1"]);
    setup.assert_ok();
    assert!(
        setup.text().contains(&format!(
            "point=docker-setup stage=Stage::LoadConfig hosts={server}"
        )),
        "{}",
        setup.text()
    );
    let before = b.docker(2, &["inspect", "-f", "{{.Id}}", "hoist-proxy"]);
    let run = app.hoist(&["-v", "proxy", "reboot"]);
    run.assert_ok();
    let text = run.text();
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("no `{needle}` in:\n{text}"))
    };
    let connect = at(&format!(
        "point=pre-connect stage=Stage::LoadConfig hosts={server}"
    ));
    let pre = at(&format!(
        "point=pre-proxy-reboot stage=Stage::Rollout hosts={server}"
    ));
    let rebooted = at("hoist-proxy rebooted");
    let post = at(&format!(
        "point=post-proxy-reboot stage=Stage::Rollout hosts={server}"
    ));
    assert!(connect < pre && pre < rebooted && rebooted < post, "{text}");
    let after = b.docker(2, &["inspect", "-f", "{{.Id}}", "hoist-proxy"]);
    assert_ne!(after, before);
    let run = app.hoist(&["-v", "server", "bootstrap"]);
    run.assert_ok();
    assert!(
        run.text().contains(&format!(
            "point=docker-setup stage=Stage::LoadConfig hosts={server}"
        )),
        "{}",
        run.text()
    );
    // -H: no hook runs, the reboot does.
    let run = app.hoist(&["-v", "proxy", "reboot", "-H"]);
    run.assert_ok();
    assert!(!run.text().contains("point="), "{}", run.text());
    let after = b.docker(2, &["inspect", "-f", "{{.Id}}", "hoist-proxy"]);
    // A failing pre-proxy-reboot hook stops the command before that host's
    // proxy is touched; the lock is released.
    app.config(&format!(
        "servers:\n  web:\n    hosts: [{server}]\n{}readiness_delay: 1\nhooks:\n  pre-proxy-reboot:\n    - plugin: points\n      settings: {{ fail_at: pre-proxy-reboot }}\n",
        b.ssh_yaml(&app.path().join("known_hosts"), "")
    ));
    let run = app.hoist(&["proxy", "reboot"]);
    run.assert_failed();
    assert!(
        run.text().contains(&format!("plugin `points` at pre-proxy-reboot aborted the deploy: told to fail at pre-proxy-reboot; stopped on {server}")),
        "{}",
        run.text()
    );
    assert_eq!(
        b.docker(2, &["inspect", "-f", "{{.Id}}", "hoist-proxy"]),
        after
    );
    app.assert_unlocked("after a failed pre-proxy-reboot hook");
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(b, 2, &app.host_name(), "/").status != 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get(b, 2, &app.host_name(), "/").status, 200);
    app.hoist(&["remove", "-y"]).assert_ok();
}
