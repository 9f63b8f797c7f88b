//! A quick throughput/latency comparison, direct vs through the proxy.
//! Ignored by default; run with
//! `cargo test -p hoist-proxy --release --test bench -- --ignored --nocapture`.

mod common;

use std::time::Duration;

use common::{Upstream, deploy, free_port, proxy, req};
use hoist_proxy::load::{self, LoadSpec};

async fn measure(addr: std::net::SocketAddr, keep_alive: bool) -> load::LoadReport {
    let mut spec = LoadSpec::new(addr);
    spec.workers = 32;
    spec.keep_alive = keep_alive;
    spec.duration = Some(Duration::from_secs(3));
    load::run(spec).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench() {
    let up = Upstream::start("v1", true).await;
    let p = proxy().await;
    deploy(&p.client, req("app", &up.target())).await.unwrap();
    for keep_alive in [true, false] {
        for (name, addr) in [("direct", up.addr), ("proxy", p.server.http_addr)] {
            let r = measure(addr, keep_alive).await;
            println!(
                "{name:6} keep-alive={keep_alive:5}: {:8.0} req/s  p50 {:?}  p99 {:?}  failed {}",
                r.requests_per_sec(),
                r.p50(),
                r.p99(),
                r.failed()
            );
            assert_eq!(r.failed(), 0);
        }
    }
}

fn wait_listening(port: u16) {
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on 127.0.0.1:{port}");
}

/// Stops the child when dropped: SIGTERM first, so nginx's master takes its
/// workers down with it (a SIGKILL would orphan them).
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg(self.0.id().to_string())
            .status();
        for _ in 0..50 {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// hoist-proxy (its release binary, its own process) against Debian's nginx
/// as a reverse proxy to the same keep-alive upstream, same load, same run.
/// `runner/benches/proxy.sh` installs nginx and runs this.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn vs_nginx() {
    let nginx_bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect(
            "nginx is not installed: apt-get install -y nginx-light (runner/benches/proxy.sh does)",
        );
    let up = Upstream::start("v1", true).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let hp_port = free_port();
    let sock = d.join("control.sock");
    let bin = env!("CARGO_BIN_EXE_hoist-proxy");
    let _hp = Child(
        std::process::Command::new(bin)
            .args([
                "run",
                "--http-port",
                &hp_port.to_string(),
                "--https-port",
                "0",
                "--no-request-log",
            ])
            .arg("--state-dir")
            .arg(d.join("state"))
            .arg("--socket")
            .arg(&sock)
            .spawn()
            .unwrap(),
    );
    wait_listening(hp_port);
    let out = std::process::Command::new(bin)
        .args(["deploy", "app", "--target", &up.target()])
        .arg("--socket")
        .arg(&sock)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let ng_port = free_port();
    std::fs::create_dir_all(d.join("nginx")).unwrap();
    std::fs::write(
        d.join("nginx/nginx.conf"),
        format!(
            "worker_processes 2;\ndaemon off;\npid {p}/nginx.pid;\nerror_log {p}/error.log;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n\
               fastcgi_temp_path {p}/fcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n\
               upstream app {{ server {up}; keepalive 128; }}\n\
               server {{\n    listen 127.0.0.1:{ng_port};\n    location / {{\n      proxy_pass http://app;\n\
                 proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n      proxy_set_header Host $host;\n\
                 proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n    }}\n  }}\n}}\n",
            p = d.join("nginx").display(),
            up = up.target(),
        ),
    )
    .unwrap();
    let _ng = Child(
        std::process::Command::new(nginx_bin)
            .arg("-c")
            .arg(d.join("nginx/nginx.conf"))
            .arg("-p")
            .arg(d.join("nginx"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_listening(ng_port);

    let mut rows = Vec::new();
    // Alternate, twice each, so neither gets the warmer machine.
    for round in 0..2 {
        for (name, port) in [("hoist-proxy", hp_port), ("nginx", ng_port)] {
            let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
            let mut spec = LoadSpec::new(addr);
            spec.workers = 32;
            spec.duration = Some(Duration::from_secs(5));
            let r = load::run(spec).await;
            println!(
                "round {round} {name:<11}: {:8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  failed {} of {}",
                r.requests_per_sec(),
                r.p50().as_secs_f64() * 1000.0,
                r.p99().as_secs_f64() * 1000.0,
                r.failed(),
                r.total()
            );
            assert_eq!(r.failed(), 0, "{name}: {:?}", r.failures().first());
            rows.push((name, r.requests_per_sec(), r.p50(), r.p99()));
        }
    }
    let avg = |n: &str| {
        let v: Vec<_> = rows.iter().filter(|r| r.0 == n).collect();
        (
            v.iter().map(|r| r.1).sum::<f64>() / v.len() as f64,
            v.iter().map(|r| r.2.as_secs_f64()).sum::<f64>() / v.len() as f64 * 1000.0,
            v.iter().map(|r| r.3.as_secs_f64()).sum::<f64>() / v.len() as f64 * 1000.0,
        )
    };
    let (h, n) = (avg("hoist-proxy"), avg("nginx"));
    println!(
        "hoist-proxy / nginx: throughput x{:.2}, p50 {:.2} vs {:.2} ms, p99 {:.2} vs {:.2} ms (32 keep-alive clients, same upstream, 2 cores shared)",
        h.0 / n.0,
        h.1,
        n.1,
        h.2,
        n.2
    );
}
