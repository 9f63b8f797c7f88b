//! The multi-server test bed (`runner/tests/testbed/testbed`): Docker-in-Docker
//! servers with sshd, a TLS registry with basic auth and a local registry.
//! `bed()` brings it up once per test process (idempotent across processes)
//! and reads what it wrote. Servers are shared: tests that break a server
//! (stop its sshd) take [`exclusive`], the others [`shared`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{App, require_docker, workspace};

/// An app with its own copy of the bed's known_hosts (config up to the caller).
pub fn bed_app(prefix: &str) -> (App, PathBuf) {
    let app = App::new(prefix, "");
    let kh = app.path().join("known_hosts");
    std::fs::copy(&bed().known_hosts, &kh).unwrap();
    (app, kh)
}

/// What `testbed up` started.
#[derive(Debug, Clone)]
pub struct Bed {
    /// State dir.
    pub dir: PathBuf,
    /// Private key authorized on every server.
    pub key: PathBuf,
    /// The servers' real host keys.
    pub known_hosts: PathBuf,
    /// Host strings for the config: `127.0.0.1:22NN`.
    pub servers: Vec<String>,
    /// Container names (also their names on the bed's network).
    pub names: Vec<String>,
    /// Each server's port 80 (its proxy): `127.0.0.1:808N`.
    pub http: Vec<String>,
    /// Each server's port 443: `127.0.0.1:844N`.
    pub https: Vec<String>,
    /// `registry.hoist.test:5443`.
    pub registry: String,
    pub registry_user: String,
    pub registry_password: String,
    /// `localhost:5555`.
    pub local_registry: String,
    /// The servers' image (Debian with sshd, dockerd and docker-registry).
    pub image: String,
}

/// The bed, started on first use.
pub fn bed() -> &'static Bed {
    static BED: OnceLock<Bed> = OnceLock::new();
    BED.get_or_init(|| {
        require_docker();
        let script = workspace().join("runner/tests/testbed/testbed");
        let out = Command::new(&script)
            .arg("up")
            .output()
            .expect("run testbed");
        assert!(
            out.status.success(),
            "testbed up failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let env = String::from_utf8_lossy(&out.stdout).into_owned();
        let get = |k: &str| -> String {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap_or_else(|| panic!("testbed env lacks {k}:\n{env}"))
                .trim_matches('"')
                .to_string()
        };
        let words = |k: &str| get(k).split_whitespace().map(String::from).collect();
        Bed {
            dir: get("HOIST_TESTBED_DIR").into(),
            key: get("HOIST_TESTBED_KEY").into(),
            known_hosts: get("HOIST_TESTBED_KNOWN_HOSTS").into(),
            servers: words("HOIST_TESTBED_SERVERS"),
            names: words("HOIST_TESTBED_NAMES"),
            http: words("HOIST_TESTBED_HTTP"),
            https: words("HOIST_TESTBED_HTTPS"),
            registry: get("HOIST_TESTBED_REGISTRY"),
            registry_user: get("HOIST_TESTBED_REGISTRY_USER"),
            registry_password: get("HOIST_TESTBED_REGISTRY_PASSWORD"),
            local_registry: get("HOIST_TESTBED_LOCAL_REGISTRY"),
            image: get("HOIST_TESTBED_IMAGE"),
        }
    })
}

/// True once a test of this process used the bed.
pub fn started() -> bool {
    BED_USED.get().is_some()
}

static BED_USED: OnceLock<()> = OnceLock::new();
static SERVERS: RwLock<()> = RwLock::new(());

/// Use the servers alongside other tests.
pub fn shared() -> RwLockReadGuard<'static, ()> {
    let _ = bed();
    let _ = BED_USED.set(());
    SERVERS.read().unwrap_or_else(|e| e.into_inner())
}

/// Use the servers alone (the test breaks one).
pub fn exclusive() -> RwLockWriteGuard<'static, ()> {
    let _ = bed();
    let _ = BED_USED.set(());
    SERVERS.write().unwrap_or_else(|e| e.into_inner())
}

impl Bed {
    /// `docker <args>` on server `i` (0-based); must succeed.
    pub fn docker(&self, i: usize, args: &[&str]) -> String {
        let out = self.docker_raw(i, args);
        assert!(
            out.status.success(),
            "docker {args:?} on {}: {}",
            self.names[i],
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `docker <args>` on server `i`, whatever the outcome.
    pub fn docker_raw(&self, i: usize, args: &[&str]) -> std::process::Output {
        Command::new("docker")
            .arg("exec")
            .arg(&self.names[i])
            .arg("docker")
            .args(args)
            .output()
            .expect("docker exec")
    }

    /// A shell command on server `i` (as root, in /root); stdout.
    pub fn sh(&self, i: usize, script: &str) -> String {
        let out = Command::new("docker")
            .args(["exec", "-w", "/root", &self.names[i], "sh", "-c", script])
            .output()
            .expect("docker exec");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The `ssh:` section for an app: the bed's key only, and `known_hosts`.
    pub fn ssh_yaml(&self, known_hosts: &Path, extra: &str) -> String {
        format!(
            "ssh:\n  user: root\n  keys: [{}]\n  keys_only: true\n  known_hosts: {}\n{extra}",
            self.key.display(),
            known_hosts.display()
        )
    }

    /// Names, states and images of `service`'s containers on server `i`:
    /// `(name, state, image)`, sorted by name.
    pub fn containers(&self, i: usize, service: &str) -> Vec<(String, String, String)> {
        let out = self.docker(
            i,
            &[
                "ps",
                "-a",
                "--filter",
                &format!("label=service={service}"),
                "--format",
                "{{.Names}}\t{{.State}}\t{{.Image}}",
            ],
        );
        let mut v: Vec<(String, String, String)> = out
            .lines()
            .map(|l| {
                let mut p = l.split('\t').map(String::from);
                (
                    p.next().unwrap_or_default(),
                    p.next().unwrap_or_default(),
                    p.next().unwrap_or_default(),
                )
            })
            .collect();
        v.sort();
        v
    }

    /// Names of `service`'s running containers on server `i`, sorted.
    pub fn running(&self, i: usize, service: &str) -> Vec<String> {
        self.containers(i, service)
            .into_iter()
            .filter(|(_, state, _)| state == "running")
            .map(|(n, _, _)| n)
            .collect()
    }

    /// Removes everything of `service` from every server.
    pub fn clean(&self, service: &str) {
        for i in 0..self.names.len() {
            let _ = self.sh(
                i,
                &format!(
                    "{}; \
                     ids=$(docker ps -aq --filter label=service={service}); [ -z \"$ids\" ] || docker rm -f $ids >/dev/null; \
                     imgs=$(docker images --format '{{{{.Repository}}}}:{{{{.Tag}}}}' | grep '/{service}:'); [ -z \"$imgs\" ] || docker rmi -f $imgs >/dev/null; \
                     rm -rf /var/tmp/hoist-locks/lock-{service} .hoist/{service}-audit.log",
                    super::remove_routes_script(service)
                ),
            );
        }
    }
}

/// Runs `docker <verb> <server's container>` when dropped (`unpause` after
/// a pause, `start` after a restart), so a failing test leaves the server up.
pub struct DockerOnDrop<'a>(pub &'a Bed, pub usize, pub &'static str);

impl Drop for DockerOnDrop<'_> {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args([self.2, &self.0.names[self.1]])
            .output();
    }
}

/// Bounded load through the proxies of servers `servers` (0-based) with the
/// Host `host`, `workers` sequential workers each, in the background until
/// [`Load::stop`].
pub struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
    started: std::time::Instant,
    thread: std::thread::JoinHandle<Vec<hoist_proxy::load::LoadReport>>,
}

impl Load {
    pub fn start(servers: &[usize], host: &str, workers: usize) -> Load {
        use hoist_proxy::load::{self, LoadSpec};
        let b = bed();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let specs: Vec<LoadSpec> = servers
            .iter()
            .map(|i| {
                let mut s = LoadSpec::new(b.http[*i].parse().unwrap());
                s.host_header = Some(host.to_string());
                s.workers = workers;
                s.stop = stop.clone();
                s.sent = sent.clone();
                s.duration = Some(std::time::Duration::from_secs(600));
                s.max_requests_per_worker = Some(200_000);
                s
            })
            .collect();
        let thread = std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(futures_util::future::join_all(
                    specs.into_iter().map(load::run),
                ))
        });
        Load {
            stop,
            sent,
            started: std::time::Instant::now(),
            thread,
        }
    }

    /// Keeps the load on until `count` requests have been sent in all (a
    /// slow machine takes longer; nothing here is a rate), then stops it.
    /// Fails only when `cap` passes first: the proxies stopped answering.
    pub fn stop_after(
        self,
        count: u64,
        cap: std::time::Duration,
    ) -> Vec<hoist_proxy::load::LoadReport> {
        use std::sync::atomic::Ordering;
        while self.sent.load(Ordering::Relaxed) < count {
            if self.started.elapsed() > cap {
                let sent = self.sent.load(Ordering::Relaxed);
                self.stop.store(true, Ordering::SeqCst);
                let _ = self.thread.join();
                panic!(
                    "only {sent} of {count} requests were sent in {}s: the proxies stopped answering",
                    cap.as_secs()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        self.stop()
    }

    /// Stops the load; one report per server, in the order given.
    pub fn stop(self) -> Vec<hoist_proxy::load::LoadReport> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}
