//! The rollout's first step: the shared network on every host, and (unless
//! this is a redeploy or rollback) hoist-proxy on every host of a proxied
//! role, its image built once here and streamed to hosts that lack it.

use futures_util::future::join_all;

use crate::docker::DockerOp;
use crate::events::{Event, Kind, Level};
use crate::proxy;
use crate::run::{Failure, Run};
use crate::stage::Stage;

/// Before the strategy: the shared network on every host, and (unless this
/// is a redeploy or rollback) hoist-proxy on every host of a proxied role.
pub async fn run(run: &Run) -> Result<(), Failure> {
    let proxied = proxy::proxied_hosts(&run.config, &run.selection);
    let boot = run.req.kind.boots_proxy();
    let builder = if boot && !proxied.is_empty() {
        let builder = run.fleet.builder().await?;
        if proxy::build_image(&builder).await? {
            run.events.log(
                Level::Info,
                Some(Stage::Rollout),
                format!("built {}", proxy::image()),
            );
        }
        Some(builder)
    } else {
        None
    };
    let results = join_all(run.selection.hosts.iter().map(|host| {
        let builder = builder.clone();
        let proxied = proxied.contains(host);
        async move {
            let docker = run.fleet.docker(host).await?;
            match builder {
                Some(b) if proxied => {
                    let summary = proxy::boot(&docker, &b, &run.config.proxy_run).await?;
                    run.events.emit(
                        Event::new(Kind::Log, Some(Stage::Rollout))
                            .host(host)
                            .level(Level::Info)
                            .message(format!("hoist-proxy {summary}")),
                    );
                }
                _ => {
                    docker
                        .done(DockerOp::CreateNetwork {
                            name: proxy::NETWORK.into(),
                        })
                        .await?
                }
            }
            Ok::<(), Failure>(())
        }
    }))
    .await;
    let failed: Vec<Failure> = results.into_iter().filter_map(Result::err).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::hosts("no container was changed", &failed))
    }
}
