//! `hoist proxy boot`, `reboot`, `details` and `remove`.

use crate::kamal_hooks::HookPoint;
use crate::proxy;

use super::{ManageError, Result, Scope};

/// `hoist proxy boot` (and `reboot`: remove the container first; its
/// routes survive in its state volume).
pub async fn proxy_boot(s: &Scope<'_>, reboot: bool) -> Result<()> {
    let hosts = s.proxied_hosts();
    if hosts.is_empty() {
        return Err(ManageError::Other("no selected role is proxied".into()));
    }
    let builder = s.fleet.builder().await?;
    if proxy::build_image(&builder).await? {
        println!("built {}", proxy::image());
    }
    // One host at a time on reboot, so the others keep serving; Kamal's
    // proxy-reboot hooks run around each host (as `kamal proxy reboot
    // --rolling`).
    if reboot {
        for host in &hosts {
            let one = std::slice::from_ref(host);
            s.hooks.run(HookPoint::PreProxyReboot, one).await?;
            let docker = s.fleet.docker(host).await?;
            proxy::remove(&docker).await?;
            let summary = proxy::boot(&docker, &builder, &s.config.proxy_run).await?;
            println!("== {host}\nhoist-proxy rebooted: {summary}");
            s.hooks.run(HookPoint::PostProxyReboot, one).await?;
        }
        return Ok(());
    }
    let builder = &builder;
    s.each(&hosts, |_, docker| async move {
        Ok(format!(
            "hoist-proxy {}",
            proxy::boot(&docker, builder, &s.config.proxy_run).await?
        ))
    })
    .await
}

/// `hoist proxy details`: the container and every route.
pub async fn proxy_details(s: &Scope<'_>) -> Result<()> {
    s.each(&s.proxied_hosts(), |_, docker| async move {
        let Some(state) = docker.inspect(proxy::CONTAINER).await? else {
            return Ok("hoist-proxy: not booted".into());
        };
        let mut out = vec![format!(
            "{} {} {}",
            proxy::CONTAINER,
            state.state,
            state.image
        )];
        if state.state == "running" {
            for r in proxy::routes(&docker).await? {
                out.push(format!(
                    "  {:<30} {:<30} {:<8} {:<10} hosts={} paths={}{}",
                    r.service,
                    r.target,
                    r.state,
                    r.health,
                    if r.hosts.is_empty() {
                        "*".into()
                    } else {
                        r.hosts.join(",")
                    },
                    r.path_prefixes.join(","),
                    if r.tls { " tls" } else { "" }
                ));
                for c in &r.certificates {
                    let mut line = format!("    certificate {} {}", c.host, c.state);
                    if let Some(t) = &c.not_after {
                        line.push_str(&format!(" until {t}"));
                    }
                    if let Some(t) = &c.next {
                        line.push_str(&format!(", next attempt {t}"));
                    }
                    if let Some(e) = &c.error {
                        line.push_str(&format!(", last error: {e}"));
                    }
                    out.push(line);
                }
            }
        }
        Ok(out.join("\n"))
    })
    .await
}

/// `hoist proxy remove`: stops and removes the proxy container.
pub async fn proxy_remove(s: &Scope<'_>) -> Result<()> {
    s.each(&s.proxied_hosts(), |_, docker| async move {
        Ok(if proxy::remove(&docker).await? {
            "hoist-proxy removed".into()
        } else {
            "hoist-proxy was not there".into()
        })
    })
    .await
}
