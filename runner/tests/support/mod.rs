//! Support for end-to-end tests: real `hoist` binary, real Docker engine.
//!
//! Each [`App`] is a copy of `examples/hello` in a temp dir with its own
//! service name, so tests run in parallel without touching each other's
//! containers; dropping it removes everything with its service label. Engine
//! state is read with the docker CLI, independently of hoist's own code.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

pub mod hostile;
pub mod testbed;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn tmp() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

/// Fails (never skips) when no engine answers: CI starts one (`.ci/setup`).
pub fn require_docker() {
    static OK: OnceLock<()> = OnceLock::new();
    OK.get_or_init(|| {
        let ok = Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            ok,
            "these end-to-end tests need a running Docker engine: run .ci/setup (installs docker.io, starts dockerd)"
        );
        // hoist finds hoist-proxy next to itself; this package's tests do
        // not build that other package's binary.
        let proxy = Path::new(env!("CARGO_BIN_EXE_hoist")).with_file_name("hoist-proxy");
        assert!(
            proxy.is_file(),
            "{} is missing: run the tests with `-p hoist-proxy` too (`cargo test -p hoist -p hoist-proxy`, as .ci/run does)",
            proxy.display()
        );
    });
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    for v in [
        "CARGO_TARGET_DIR",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        c.env_remove(v);
    }
    c.current_dir(workspace());
    c
}

fn run_ok(mut c: Command, what: &str) {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The hello app as a static binary, built once per test process.
pub fn hello_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = tmp().join("hello-target");
        let mut c = cargo();
        c.args([
            "build",
            "--release",
            "--target",
            "x86_64-unknown-linux-musl",
            "-p",
            "hello",
            "--target-dir",
        ])
        .arg(&dir);
        run_ok(c, "building examples/hello");
        dir.join("x86_64-unknown-linux-musl/release/hello")
    })
}

/// The bytes of guest package `package` built as a component (its artifact
/// is named after the package, as cargo names a cdylib).
pub fn guest_component(package: &str) -> Vec<u8> {
    let artifact = format!("{}.wasm", package.replace('-', "_"));
    std::fs::read(guest_wasm(package, &artifact)).unwrap()
}

/// A guest package of the workspace built as a wasm32-wasip2 component.
pub fn guest_wasm(package: &str, artifact: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let map = BUILT.get_or_init(Default::default);
    let mut map = map.lock().unwrap();
    if let Some(p) = map.get(package) {
        return p.clone();
    }
    let dir = tmp().join("guests");
    let mut c = cargo();
    c.args([
        "build",
        "--profile",
        "wasm-guest",
        "--target",
        "wasm32-wasip2",
        "-p",
        package,
        "--target-dir",
    ])
    .arg(&dir);
    run_ok(c, &format!("building {package} for wasm32-wasip2"));
    let p = dir.join("wasm32-wasip2/wasm-guest").join(artifact);
    assert!(p.is_file(), "missing {}", p.display());
    map.insert(package.to_string(), p.clone());
    p
}

/// A docker CLI call that must succeed; returns stdout.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A container as the docker CLI sees it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub name: String,
    pub id: String,
    pub state: String,
    pub labels: HashMap<String, String>,
    pub image: String,
}

/// The result of one `hoist` run.
pub struct Run {
    pub output: Output,
    pub stdout: String,
    pub stderr: String,
    /// `--json` events (empty without `--json`).
    pub events: Vec<Value>,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.output.status.success()
    }

    /// Panics with the whole output unless the run succeeded.
    pub fn assert_ok(&self) -> &Self {
        assert!(self.ok(), "hoist failed:\n{}\n{}", self.stdout, self.stderr);
        self
    }

    /// Panics with the whole output unless the run failed.
    pub fn assert_failed(&self) -> &Self {
        assert!(
            !self.ok(),
            "hoist should have failed:\n{}\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// stdout and stderr together.
    pub fn text(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Index of the first event matching.
    pub fn index(&self, f: impl Fn(&Value) -> bool) -> Option<usize> {
        self.events.iter().position(f)
    }

    /// Events of a kind, optionally for a plugin.
    pub fn of(&self, kind: &str, plugin: Option<&str>) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["event"] == kind && plugin.is_none_or(|p| e["plugin"] == p))
            .collect()
    }

    /// Index of `stage_end` for a stage.
    pub fn stage_end(&self, stage: &str) -> Option<usize> {
        self.index(|e| e["event"] == "stage_end" && e["stage"] == stage)
    }

    /// The deploy_end event.
    pub fn end(&self) -> &Value {
        self.events
            .iter()
            .rev()
            .find(|e| e["event"] == "deploy_end")
            .expect("deploy_end event")
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A copy of examples/hello with a unique service.
pub struct App {
    pub dir: tempfile::TempDir,
    pub service: String,
}

impl App {
    /// A new app; `config_tail` is appended to `service`/`image` in
    /// `config/deploy.yml`.
    pub fn new(prefix: &str, config_tail: &str) -> App {
        require_docker();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let service = format!("e2e-{prefix}-{}-{n}", std::process::id());
        let dir = tempfile::tempdir().unwrap();
        let hello = workspace().join("examples/hello");
        for f in ["Dockerfile", ".dockerignore"] {
            std::fs::copy(hello.join(f), dir.path().join(f)).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("dist")).unwrap();
        std::fs::copy(hello_binary(), dir.path().join("dist/hello")).unwrap();
        let app = App { dir, service };
        app.config(config_tail);
        app
    }

    /// Rewrites config/deploy.yml. Unless the tail configures `proxy:`, the
    /// app's proxied role answers only for Host `<service>.test`, so tests
    /// sharing a host's proxy never claim the same route.
    pub fn config(&self, tail: &str) {
        let proxy = if tail.starts_with("proxy:") || tail.contains("\nproxy:") {
            String::new()
        } else {
            format!("proxy:\n  host: {}\n", self.host_name())
        };
        self.write(
            "config/deploy.yml",
            &format!(
                "service: {}\nimage: hoist-e2e/{}\n{tail}{proxy}",
                self.service, self.service
            ),
        );
    }

    /// The Host this app's proxied role answers for by default.
    pub fn host_name(&self) -> String {
        format!("{}.test", self.service)
    }

    /// Writes a file under the app.
    pub fn write(&self, rel: &str, text: &str) {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Writes an executable file (mode 755) under the app: a hook, a
    /// stand-in CLI.
    pub fn write_executable(&self, rel: &str, text: &str) {
        use std::os::unix::fs::PermissionsExt;
        self.write(rel, text);
        let p = self.dir.path().join(rel);
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Reads a file under the app ("" when missing).
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(rel)).unwrap_or_default()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Makes the app a git repo with everything committed.
    pub fn git_init(&self) {
        let git = |args: &[&str]| {
            let mut c = Command::new("git");
            c.arg("-C").arg(self.path()).args(args);
            run_ok(c, &format!("git {args:?}"));
        };
        git(&["init", "-q"]);
        self.write(".gitignore", ".hoist/state/\n");
        git(&["add", "-A"]);
        git(&[
            "-c",
            "user.email=e2e@hoist",
            "-c",
            "user.name=e2e",
            "commit",
            "-qm",
            "app",
        ]);
    }

    /// Installs a plugin dir `<plugins dir>/<name>` with a component and manifest.
    pub fn install_plugin(&self, name: &str, wasm: &[u8], manifest: &str) {
        let dir = self.path().join(".hoist/plugins").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.wasm")), wasm).unwrap();
        std::fs::write(dir.join("plugin.toml"), manifest).unwrap();
    }

    /// Asserts that no deploy lock is held (`hoist lock status`).
    pub fn assert_unlocked(&self, context: &str) {
        let status = self.hoist(&["lock", "status"]);
        assert!(
            status.stdout.contains("No lock"),
            "{context}: the lock was left held:\n{}",
            status.text()
        );
    }

    /// Runs `hoist <args>` in the app dir.
    pub fn hoist(&self, args: &[&str]) -> Run {
        self.hoist_env(args, &[])
    }

    /// Runs `hoist <args>` in the app dir with extra environment.
    pub fn hoist_env(&self, args: &[&str], env: &[(&str, String)]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_hoist"))
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .current_dir(self.path())
            .env("HOIST_CACHE_DIR", tmp().join("component-cache"))
            .env_remove("VERSION")
            .output()
            .expect("run hoist");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let events = if args.contains(&"--json") {
            stdout
                .lines()
                .map(|l| {
                    serde_json::from_str(l)
                        .unwrap_or_else(|e| panic!("not a JSON event ({e}): {l}\n{stderr}"))
                })
                .collect()
        } else {
            Vec::new()
        };
        Run {
            output: out,
            stdout,
            stderr,
            events,
        }
    }

    /// Runs `hoist <args>` on a pseudo-terminal (through `script`), as at a
    /// person's terminal: its output (stdout and stderr, as the terminal
    /// showed them) and whether it succeeded.
    pub fn hoist_tty(&self, args: &[&str]) -> (String, bool) {
        let mut words = vec![env!("CARGO_BIN_EXE_hoist").to_string()];
        words.extend(args.iter().map(|a| a.to_string()));
        let out = Command::new("script")
            .args(["-qec", &shell_words::join(&words), "/dev/null"])
            .current_dir(self.path())
            .env("HOIST_CACHE_DIR", tmp().join("component-cache"))
            .env_remove("VERSION")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run hoist under script");
        let text = String::from_utf8_lossy(&out.stdout).replace('\r', "")
            + &String::from_utf8_lossy(&out.stderr);
        (text, out.status.success())
    }

    /// Starts `hoist <args>` in the app dir without waiting (output piped).
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_hoist"))
            .args(args)
            .current_dir(self.path())
            .env("HOIST_CACHE_DIR", tmp().join("component-cache"))
            .env_remove("VERSION")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start hoist")
    }

    /// `hoist deploy --json --version <v> <extra>`.
    pub fn deploy(&self, version: &str, extra: &[&str]) -> Run {
        let mut args = vec!["deploy", "--json", "--version", version];
        args.extend_from_slice(extra);
        self.hoist(&args)
    }

    /// This service's containers, newest first.
    pub fn containers(&self) -> Vec<Seen> {
        let ids = docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=service={}", self.service),
        ]);
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if ids.is_empty() {
            return Vec::new();
        }
        let mut args = vec!["inspect"];
        args.extend(ids);
        let v: Vec<Value> = serde_json::from_str(&docker(&args)).unwrap();
        v.into_iter()
            .map(|c| Seen {
                name: c["Name"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches('/')
                    .to_string(),
                id: c["Id"].as_str().unwrap().to_string(),
                state: c["State"]["Status"].as_str().unwrap().to_string(),
                labels: serde_json::from_value(c["Config"]["Labels"].clone()).unwrap_or_default(),
                image: c["Config"]["Image"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            })
            .collect()
    }

    /// The container with this name.
    pub fn container(&self, name: &str) -> Option<Seen> {
        self.containers().into_iter().find(|c| c.name == name)
    }

    /// Names of running containers, sorted.
    pub fn running(&self) -> Vec<String> {
        self.running_by(|c| c.name)
    }

    /// Ids of running containers, sorted.
    pub fn running_ids(&self) -> Vec<String> {
        self.running_by(|c| c.id)
    }

    fn running_by(&self, key: impl Fn(Seen) -> String) -> Vec<String> {
        let mut v: Vec<String> = self
            .containers()
            .into_iter()
            .filter(|c| c.state == "running")
            .map(key)
            .collect();
        v.sort();
        v
    }

    /// Tags of this service's images.
    pub fn image_tags(&self) -> Vec<String> {
        let out = docker(&[
            "image",
            "ls",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            &format!("hoist-e2e/{}", self.service),
        ]);
        let mut v: Vec<String> = out.lines().map(String::from).collect();
        v.sort();
        v
    }

    /// `GET path` answered by a container (through its own client).
    pub fn get(&self, container: &str, path: &str) -> String {
        docker(&["exec", container, "/hello", "get", path])
    }
}

/// Words a docker CLI call printed ("" when it failed): for cleanup.
fn docker_words(args: &[&str]) -> Vec<String> {
    Command::new("docker")
        .args(args)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Shell that removes `service`'s routes from the hoist-proxy of the engine
/// it runs against.
pub fn remove_routes_script(service: &str) -> String {
    format!(
        "for s in $(docker exec hoist-proxy /hoist-proxy list --json 2>/dev/null | grep -o '\"service\":\"{service}-[^\"]*\"' | cut -d'\"' -f4); do docker exec hoist-proxy /hoist-proxy remove $s >/dev/null 2>&1; done"
    )
}

impl Drop for App {
    fn drop(&mut self) {
        if testbed::started() {
            testbed::bed().clean(&self.service);
        }
        let _ = Command::new("sh")
            .args(["-c", &remove_routes_script(&self.service)])
            .output();
        let label = format!("label=service={}", self.service);
        for (list, remove) in [
            (vec!["ps", "-aq", "--filter", label.as_str()], ["rm", "-f"]),
            // Every tag of the service's images (registry-prefixed ones too).
            (
                vec!["image", "ls", "-q", "--filter", label.as_str()],
                ["rmi", "-f"],
            ),
        ] {
            let found = docker_words(&list);
            if !found.is_empty() {
                let _ = Command::new("docker").args(remove).args(&found).output();
            }
        }
    }
}

/// A one-request HTTP receiver on 127.0.0.1: the request line and body of
/// each POST arrive on the channel.
pub fn http_receiver() -> (u16, std::sync::mpsc::Receiver<(String, String)>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .unwrap();
            let _ = tx.send((
                request_line.trim().to_string(),
                String::from_utf8_lossy(&body).into_owned(),
            ));
        }
    });
    (port, rx)
}
