//! `cargo bench -p hoist`: prints (never asserts) how long plugin calls and
//! `hoist --help` take.
//!
//! - compiling a component the first time vs loading it from the cache;
//! - one hook call with a cached component: a fresh store, instantiation and
//!   the call (the embedded `deploy-log` hook, writing its record), with
//!   pooled instances (the default) and with instances allocated per call,
//!   A B A B in the same run, and their ratio;
//! - `hoist --help`, end to end as a process.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hoist::delivery::Delivery;
use hoist::docker::naming::ServiceId;
use hoist::events::Reporter;
use hoist::fleet::{Connector, Fleet};
use hoist::plugin::call::{CallEnv, Services};
use hoist::plugin::catalog::Catalog;
use hoist::plugin::grants::Grants;
use hoist::plugin::host::{Allocation, PluginHost};
use hoist::plugin::limits::Limits;
use hoist::plugin::{ContextBase, Outcome};
use hoist::stage::{HookPoint, Stage};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(what: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let p50 = percentile(&samples, 0.5);
    println!(
        "{what:<48} n={:<4} p50 {:>9.3} ms  p90 {:>9.3} ms  p99 {:>9.3} ms",
        samples.len(),
        p50.as_secs_f64() * 1e3,
        percentile(&samples, 0.9).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
    );
    p50
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let catalog = Catalog::discover(&tmp.path().join("no-plugins"));
    let entry = catalog
        .plugins
        .get("deploy-log")
        .expect("embedded deploy-log")
        .clone();

    // Compile once (cold) and load from the cache (warm), each in a new host.
    let cold = {
        let host = PluginHost::new(Some(cache.clone()), None).unwrap();
        let t = Instant::now();
        host.load(&entry).unwrap();
        t.elapsed()
    };
    let warm: Vec<Duration> = (0..20)
        .map(|_| {
            let host = PluginHost::new(Some(cache.clone()), None).unwrap();
            let t = Instant::now();
            host.load(&entry).unwrap();
            t.elapsed()
        })
        .collect();
    println!(
        "{:<48} {:>9.3} ms",
        "load deploy-log: compile (no cache)",
        cold.as_secs_f64() * 1e3
    );
    report("load deploy-log: from the .cwasm cache", warm);

    // A hook call on each kind of instance allocation, A B A B, in this run.
    let mut pooled = Vec::new();
    let mut on_demand = Vec::new();
    for _ in 0..2 {
        pooled.extend(hook_calls(&entry, &cache, tmp.path(), Allocation::Pooled));
        on_demand.extend(hook_calls(&entry, &cache, tmp.path(), Allocation::OnDemand));
    }
    let p50_on_demand = report("hook call, instances allocated per call", on_demand);
    let p50 = report("hook call, pooled instances (hoist's default)", pooled);
    println!(
        "{:<48} {:.2}x the per-call allocation's p50",
        "  pooled / per call",
        p50.as_secs_f64() / p50_on_demand.as_secs_f64()
    );
    println!(
        "{:<48} {}",
        "  goal: p50 <= 0.3 ms (fresh store + instantiate + call)",
        if p50 <= Duration::from_micros(300) {
            "met"
        } else {
            "NOT met"
        }
    );

    let help: Vec<Duration> = (0..30)
        .map(|_| {
            let t = Instant::now();
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_hoist"))
                .arg("--help")
                .output()
                .unwrap();
            assert!(out.status.success());
            t.elapsed()
        })
        .collect();
    report("hoist --help (process wall time)", help);
}

/// 500 calls of the `deploy-log` hook (after 20 warm-up calls), each a
/// fresh store, an instantiation and the call writing its record.
fn hook_calls(
    entry: &hoist::plugin::catalog::Entry,
    cache: &std::path::Path,
    tmp: &std::path::Path,
    allocation: Allocation,
) -> Vec<Duration> {
    let host = PluginHost::with_allocation(Some(cache.to_path_buf()), None, allocation).unwrap();
    assert_eq!(
        host.allocation(),
        allocation,
        "the pool could not be reserved here"
    );
    let loaded = host.load(entry).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let services = Arc::new(Services {
        events: Reporter::recording(),
        fleet: Arc::new(Fleet::new(
            &["local".into()],
            Connector::Given(BTreeMap::new()),
            None,
        )),
        service: ServiceId {
            service: "bench".into(),
            destination: None,
        },
        app_root: tmp.to_path_buf(),
        delivery: Delivery::Stream,
        rollout: None,
        config: Arc::new(serde_json::Value::Null),
        dry_run: false,
    });
    let env = Arc::new(CallEnv {
        plugin: "deploy-log".into(),
        stage: Stage::PostDeploy,
        hook_point: Some(HookPoint::PostDeploy),
        grants: Grants::all("deploy-log"),
        facts: ContextBase {
            service: "bench".into(),
            version: "v1".into(),
            destination: None,
            image: "bench:v1".into(),
            roles: vec![],
            hosts: vec!["local".into()],
            primary_host: "local".into(),
            primary_role: "web".into(),
            performer: "bench".into(),
        },
        settings: vec![],
        services,
        quota: Default::default(),
        deadline: Default::default(),
    });
    let outcome = Outcome {
        success: true,
        message: "ok".into(),
        runtime_ms: 1,
        failed_stage: None,
    };
    let limits = Limits {
        timeout: Duration::from_secs(10),
        memory: 64 << 20,
    };
    let state = tmp.join(format!("state-{allocation:?}"));
    let calls: Vec<Duration> = rt.block_on(async {
        let mut v = Vec::new();
        for i in 0..520 {
            let t = Instant::now();
            host.call_hook(
                &loaded,
                env.clone(),
                limits,
                Some(&state),
                Some(outcome.clone()),
            )
            .await
            .unwrap();
            if i >= 20 {
                v.push(t.elapsed());
            }
        }
        v
    });
    calls
}
