use super::*;
use crate::config::{LoadOptions, load};
use crate::docker::Engine;
use crate::docker::fake::{FakeContainer, FakeEngine, OpLog};
use crate::fleet::Connector;
use crate::selection::{Filters, select};

/// True when every target's step succeeded.
fn ok(results: Vec<Result<(), StepError>>) -> bool {
    results.iter().all(Result::is_ok)
}

struct Bed {
    _dir: tempfile::TempDir,
    rollout: Rollout,
    log: OpLog,
    engine: Arc<FakeEngine>,
}

fn bed(extra: &str, seed: &[(&str, &str)]) -> Bed {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join("config/deploy.yml"),
        format!("service: app\nimage: app\nservers:\n  web: [local]\n  workers:\n    hosts: [local]\n    cmd: work\nenv:\n  secret: [API_KEY]\ndrain_timeout: 9\n{extra}"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join(".hoist")).unwrap();
    std::fs::write(dir.path().join(".hoist/secrets"), "API_KEY=s3cr3t\n").unwrap();
    let config = load(&LoadOptions {
        config_file: dir.path().join("config/deploy.yml"),
        destination: None,
        erb: Default::default(),
    })
    .unwrap();
    let secrets = Secrets::load(&config.secrets_files, &config.app_root).unwrap();
    let selection = select(&config, &Filters::default()).unwrap();
    let log: OpLog = Arc::default();
    let engine = Arc::new(FakeEngine::new("local", log.clone()));
    for (name, role) in seed {
        engine.seed_container(FakeContainer {
            name: name.to_string(),
            image: "app:v1".into(),
            state: "running".into(),
            labels: config.service_id().labels(role, "v1"),
            created: 1,
        });
    }
    let engines: BTreeMap<String, Arc<dyn Engine>> =
        BTreeMap::from([("local".to_string(), engine.clone() as Arc<dyn Engine>)]);
    let fleet = Arc::new(Fleet::new(
        &selection.hosts,
        Connector::Given(engines),
        None,
    ));
    let rollout = Rollout::new(
        Arc::new(config),
        selection,
        fleet,
        Arc::new(secrets),
        Reporter::recording(),
        "v2".into(),
        "app:v2".into(),
    );
    Bed {
        _dir: dir,
        rollout,
        log,
        engine,
    }
}

/// (name, state) of every modelled container.
fn states(b: &Bed) -> Vec<(String, String)> {
    b.engine
        .containers()
        .into_iter()
        .map(|c| (c.name, c.state))
        .collect()
}

fn t(role: &str) -> Target {
    Target {
        host: "local".into(),
        role: role.into(),
    }
}

fn ops(log: &OpLog) -> Vec<String> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|(_, op)| op.mutates() || matches!(op, DockerOp::WaitReady { .. }))
        .map(|(h, op)| {
            // Hostnames are random; everything else is exact.
            format!("[{h}] {}", strip_hostname(&op.to_string()))
        })
        .collect()
}

fn strip_hostname(s: &str) -> String {
    match s.find("--hostname ") {
        Some(i) => {
            let rest = &s[i + "--hostname ".len()..];
            let end = rest.find(' ').unwrap_or(rest.len());
            format!("{}--hostname <h>{}", &s[..i], &rest[end..])
        }
        None => s.to_string(),
    }
}

#[tokio::test]
async fn full_boot_makes_exact_operations() {
    let b = bed("", &[("app-web-v1", "web")]);
    let web = [t("web")];
    for step in [Step::Start, Step::WaitHealthy, Step::Route, Step::Retire] {
        assert!(ok(b.rollout.run(step, &web).await), "{step:?}");
    }
    assert_eq!(
        ops(&b.log),
        vec![
            "[local] docker run --detach --name app-web-v2 --hostname <h> --restart unless-stopped \
             --network hoist --env KAMAL_CONTAINER_NAME=app-web-v2 --env KAMAL_HOST=local --env KAMAL_VERSION=v2 \
             --env-file '<secrets: API_KEY>' --label destination= --label hoist.managed=true \
             --label hoist.version=v2 --label role=web --label service=app app:v2"
                .replace("'<secrets: API_KEY>'", "<secrets: API_KEY>"),
            "[local] docker exec hoist-proxy /hoist-proxy check --target app-web-v2:80 \
             --health-check-path /up --health-check-interval 1s --health-check-timeout 5s \
             --deploy-timeout 30s".to_string(),
            "[local] docker exec hoist-proxy /hoist-proxy deploy app-web --target app-web-v2:80 \
             --health-check-path /up --health-check-interval 1s --health-check-timeout 5s \
             --deploy-timeout 30s --drain-timeout 9s --response-timeout 30s \
             --buffer-requests true --buffer-responses true --buffer-memory 1000000 \
             --max-request-body 1000000000 --max-response-body 0 --log-request-header Cache-Control \
             --log-request-header Last-Modified --log-request-header User-Agent".to_string(),
            "[local] docker stop -t 9 app-web-v1".to_string(),
        ]
    );
    let rec = &b.rollout.records()[&t("web")];
    assert_eq!(rec.state, TargetState::Updated);
    assert_eq!(rec.old_containers, vec!["app-web-v1"]);
    // The secret went to Docker, but only in the value, never in the text.
    assert!(!ops(&b.log).join("\n").contains("s3cr3t"));
}

#[tokio::test]
async fn steps_out_of_order_and_unknown_targets_are_invalid() {
    let b = bed("", &[]);
    let r = b.rollout.run(Step::Route, &[t("web")]).await;
    assert!(
        matches!(&r[0], Err(StepError::Invalid(m)) if m.contains("needs wait-healthy first")),
        "{r:?}"
    );
    let r = b
        .rollout
        .run(
            Step::Start,
            &[Target {
                host: "elsewhere".into(),
                role: "web".into(),
            }],
        )
        .await;
    assert!(
        matches!(&r[0], Err(StepError::Invalid(m)) if m.contains("not a target")),
        "{r:?}"
    );
    assert!(b.log.lock().unwrap().is_empty(), "nothing touched");
}

#[tokio::test]
async fn unhealthy_new_container_is_removed_and_old_keeps_running() {
    let b = bed("", &[("app-web-v1", "web")]);
    b.engine
        .never_ready
        .lock()
        .unwrap()
        .push("app-web-v2".into());
    assert!(ok(b.rollout.run(Step::Start, &[t("web")]).await));
    let r = b.rollout.run(Step::WaitHealthy, &[t("web")]).await;
    assert!(
        matches!(&r[0], Err(e @ StepError::Discarded { .. }) if e.to_string().contains("unhealthy") && e.to_string().contains("old version keeps running")),
        "{r:?}"
    );
    assert_eq!(
        states(&b),
        [("app-web-v1".to_string(), "running".to_string())]
    );
    assert_eq!(b.rollout.records()[&t("web")].state, TargetState::Failed);
}

#[tokio::test]
async fn roll_back_restarts_the_old_and_removes_the_new() {
    let b = bed("", &[("app-web-v1", "web")]);
    for step in [Step::Start, Step::WaitHealthy, Step::Route, Step::Retire] {
        b.rollout.run(step, &[t("web")]).await;
    }
    assert!(ok(b.rollout.run(Step::RollBack, &[t("web")]).await));
    assert_eq!(
        states(&b),
        [("app-web-v1".to_string(), "running".to_string())]
    );
    assert_eq!(
        b.rollout.records()[&t("web")].state,
        TargetState::RolledBack
    );
}

#[tokio::test]
async fn clashing_name_is_renamed_and_half_way_targets_are_abandoned() {
    let b = bed("", &[("app-web-v2", "web")]);
    let started = b.rollout.run(Step::Start, &[t("web"), t("workers")]).await;
    assert!(started.len() == 2 && ok(started));
    let o = ops(&b.log);
    assert!(
        o[0].starts_with("[local] docker rename app-web-v2 app-web-v2_replaced_"),
        "{o:?}"
    );
    // The strategy stops here: the runner removes what it left behind.
    let abandoned = b.rollout.abandon_unfinished().await;
    assert_eq!(abandoned, vec![t("web"), t("workers")]);
    let names: Vec<String> = b.engine.containers().into_iter().map(|c| c.name).collect();
    assert_eq!(
        names.len(),
        1,
        "only the renamed old container is left: {names:?}"
    );
    assert!(names[0].starts_with("app-web-v2_replaced_"));
}
