//! A quick throughput/latency comparison, direct vs through the proxy.
//! Ignored by default; run with
//! `cargo test -p hoist-proxy --release --test bench -- --ignored --nocapture`.

mod common;

use std::time::Duration;

use common::{Upstream, deploy, proxy, req};
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
