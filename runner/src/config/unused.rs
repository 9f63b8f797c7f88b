//! Kamal keys hoist reads but does not act on: each gives a note (printed as
//! a warning by `hoist config` and every deploy) naming the key, what hoist
//! does instead and what to do, so no key is silently ignored. The proxy's
//! and the accessories' own notes live with their sections.

use super::raw::RawConfig;
use super::servers::{RoleEntry, RoleProxy, Servers};

/// The note for Kamal's `rollout` sections (root and per role).
const ROLLOUT: &str = "hoist has no `rollout` command (a second live version chosen by the \
    `kamal-rollout` cookie), so no rollout containers are booted; to send a share of traffic to a \
    new version, deploy with `deploy.strategy: canary`";

/// One note per key set in `raw` that hoist does not act on.
pub(super) fn notes(raw: &RawConfig) -> Vec<String> {
    let mut notes = Vec::new();
    let mut note = |set: bool, key: &str, text: &str| {
        if set {
            notes.push(format!("`{key}` is ignored: {text}"));
        }
    };
    note(
        raw.asset_path.is_some(),
        "asset_path",
        "hoist does not bridge assets between versions, so requests for old asset names may 404 during a switch",
    );
    note(
        raw.error_pages_path.is_some(),
        "error_pages_path",
        "hoist-proxy answers errors with its own pages",
    );
    note(
        raw.minimum_version.is_some(),
        "minimum_version",
        "it names a Kamal version, which hoist does not check",
    );
    note(
        raw.run_directory.is_some(),
        "run_directory",
        "hoist keeps its state on the hosts in Docker labels and volumes, not in a run directory",
    );
    note(
        raw.output.is_some(),
        "output",
        "hoist writes no per-command log file and ships no logs over OTLP; its audit log is on the primary host",
    );
    note(raw.rollout.is_some(), "rollout", ROLLOUT);
    note(
        raw.push_env.is_some(),
        "push_env",
        "hoist gives each container its whole `env` (clear and secret) when it creates it",
    );
    note(
        raw.post_deploy_lock.is_some(),
        "post_deploy_lock",
        "hoist releases the deploy lock before `post-deploy` runs, as Kamal 2 does (the hook sees KAMAL_LOCK=false); take your own lock in the hook if it must not overlap a deploy",
    );
    if let Some(boot) = &raw.boot {
        note(
            boot.group_limit.is_some() || boot.group_wait.is_some(),
            "boot.group_limit/group_wait",
            "the `rolling` strategy boots in batches of `boot.limit` hosts, `boot.wait` seconds apart; set those instead",
        );
        note(
            boot.role_order.is_some(),
            "boot.role_order",
            "the `rolling` strategy boots the primary role first, then the other roles together",
        );

        let strategy = raw
            .deploy
            .as_ref()
            .and_then(|d| d.strategy.as_deref())
            .unwrap_or("rolling");
        note(
            boot.parallel_roles.is_some() && strategy != "rolling",
            "boot.parallel_roles",
            "only the `rolling` strategy reads it; the configured strategy decides how roles boot",
        );
    }
    if let Some(b) = &raw.builder {
        note(
            b.arch.is_some(),
            "builder.arch",
            "hoist builds one image for the build engine's own architecture; build on an engine of the servers' architecture",
        );
        note(
            b.remote.is_some(),
            "builder.remote",
            "hoist builds on the local engine",
        );
        note(
            b.local.is_some(),
            "builder.local",
            "hoist builds on the local engine",
        );
        note(
            b.pack.is_some(),
            "builder.pack",
            "hoist builds from the Dockerfile only",
        );
        note(
            b.cache.is_some(),
            "builder.cache",
            "builds use only the engine's own layer cache",
        );
        note(
            b.secrets.is_some(),
            "builder.secrets",
            "no build secrets are passed, so `RUN --mount=type=secret` finds nothing",
        );
        note(
            b.ssh.is_some(),
            "builder.ssh",
            "no SSH agent is forwarded into the build",
        );
        note(
            b.driver.is_some(),
            "builder.driver",
            "hoist uses the Docker Engine's build API",
        );
        note(
            b.provenance.is_some(),
            "builder.provenance",
            "no attestations are produced",
        );
        note(b.sbom.is_some(), "builder.sbom", "no SBOM is produced");
        note(
            b.engine.is_some(),
            "builder.engine",
            "hoist builds with the local Docker Engine's build API",
        );
    }
    if let Some(s) = &raw.ssh {
        note(
            s.log_level.is_some(),
            "ssh.log_level",
            "use `-v` for hoist's own connection logging",
        );
        note(
            s.key_data.is_some(),
            "ssh.key_data",
            "hoist loads keys from `ssh.keys` files, `~/.ssh/id_*` and the agent; put the key in a file and list it under `ssh.keys`",
        );
        note(
            s.config.is_some(),
            "ssh.config",
            "hoist does not read OpenSSH config files; set user, port, proxy and keys under `ssh:`",
        );
        note(
            s.forward_agent.is_some(),
            "ssh.forward_agent",
            "the agent is not forwarded to the hosts",
        );
    }
    if let Some(s) = &raw.sshkit {
        note(
            s.pool_idle_timeout.is_some(),
            "sshkit.pool_idle_timeout",
            "hoist keeps each connection open for the whole command",
        );
        note(
            s.dns_retries.is_some(),
            "sshkit.dns_retries",
            "hoist does not retry DNS failures",
        );
    }
    if let Some(h) = &raw.healthcheck {
        let kamal1 = h.path.is_some()
            || h.port.is_some()
            || h.max_attempts.is_some()
            || h.log_lines.is_some()
            || h.cord.is_some();
        note(
            kamal1,
            "healthcheck.path/port/max_attempts/log_lines/cord",
            "these are Kamal 1 keys; use `proxy.healthcheck`, or `healthcheck.cmd` for a Docker health check",
        );
    }
    let mut proxy_notes = Vec::new();
    if let Some(Servers::Roles(roles)) = &raw.servers {
        for (name, entry) in roles {
            let RoleEntry::Role(role) = entry else {
                continue;
            };
            note(
                role.asset_path.is_some(),
                &format!("servers.{name}.asset_path"),
                "hoist does not bridge assets between versions, so requests for old asset names may 404 during a switch",
            );
            note(
                role.rollout.is_some(),
                &format!("servers.{name}.rollout"),
                ROLLOUT,
            );
            if let Some(RoleProxy::Config(p)) = &role.proxy {
                let mut p = p.as_ref().clone();
                note(
                    p.run.take().is_some(),
                    &format!("servers.{name}.proxy.run"),
                    "one hoist-proxy serves every role on a host, and it runs as the root `proxy.run` says",
                );
                proxy_notes.extend(super::proxy::notes(
                    &format!("servers.{name}.proxy"),
                    Some(&p),
                ));
            }
        }
    }
    notes.extend(proxy_notes);
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ignored_key_set_gives_its_note() {
        let raw = super::super::raw::parse_str(
            "service: a\nasset_path: /rails/public/assets\nbuilder:\n  arch: arm64\n  secrets: [TOKEN]\nssh:\n  key_data: [x]\nboot:\n  parallel_roles: true\ndeploy:\n  strategy: canary\n",
        )
        .unwrap();
        let notes = notes(&raw);
        for key in [
            "asset_path",
            "builder.arch",
            "builder.secrets",
            "ssh.key_data",
            "boot.parallel_roles",
        ] {
            assert!(
                notes
                    .iter()
                    .any(|n| n.starts_with(&format!("`{key}` is ignored: "))),
                "{key}: {notes:#?}"
            );
        }
        assert_eq!(notes.len(), 5, "{notes:#?}");
        // A role's own keys are named with their role.
        let raw = super::super::raw::parse_str(
            "service: a\nservers:\n  web:\n    hosts: [h]\n    asset_path: /app/public\n    proxy:\n      buffering:\n        requests: true\n      logging:\n        request_headers: [X]\n",
        )
        .unwrap();
        let notes = super::notes(&raw);
        // (A role's proxy.buffering and proxy.logging are acted on.)
        assert_eq!(notes.len(), 1, "{notes:#?}");
        assert!(notes[0].starts_with("`servers.web.asset_path` is ignored: "));
        let raw = super::super::raw::parse_str(
            "service: a\nbuilder:\n  dockerfile: Dockerfile\nboot:\n  parallel_roles: true\naliases:\n  c: app exec -i bash\n",
        )
            .unwrap();
        assert!(super::notes(&raw).is_empty());
    }
}
