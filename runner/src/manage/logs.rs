//! `hoist app logs` and `hoist proxy logs`.

use futures_util::StreamExt;

use crate::docker::{Docker, LogQuery};
use crate::proxy;

use super::{ManageError, Result, Scope, running_version};

/// `hoist app logs` options.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// `-n`: lines (default 100, or 10 with `-f`).
    pub lines: Option<u32>,
    /// `--since`.
    pub since: Option<String>,
    /// `--grep`: a regular expression lines must match.
    pub grep: Option<String>,
    /// `-f`: follow (primary host only, as Kamal).
    pub follow: bool,
    /// `-T`: no timestamps.
    pub skip_timestamps: bool,
}

/// Reads (or follows) the log of `container` on a host, filtered.
async fn read_log(
    docker: &Docker,
    container: &str,
    o: &LogOptions,
    prefix: &str,
    sink: &mut Vec<String>,
) -> Result<()> {
    let grep = o
        .grep
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
        .map_err(|e| ManageError::Other(format!("--grep: {e}")))?;
    let query = LogQuery {
        tail: Some(o.lines.unwrap_or(if o.follow { 10 } else { 100 })),
        since: o.since.clone(),
        timestamps: !o.skip_timestamps,
        follow: o.follow,
    };
    let mut lines = docker.log_stream(container, &query).await?;
    while let Some(line) = lines.next().await {
        let line = line?;
        if grep.as_ref().is_none_or(|g| g.is_match(&line)) {
            let text = format!("{prefix}{line}");
            if o.follow {
                println!("{text}");
            } else {
                sink.push(text);
            }
        }
    }
    Ok(())
}

/// `hoist app logs`: each role's current container on each host.
pub async fn app_logs(s: &Scope<'_>, o: &LogOptions) -> Result<()> {
    let hosts = if o.follow {
        vec![s.selection.primary_host.clone()]
    } else {
        s.selection.hosts.clone()
    };
    s.each(&hosts, |host, docker| async move {
        let mut out = Vec::new();
        for role in s.roles_on(&host) {
            let Some(c) = running_version(s, &docker, role).await? else {
                out.push(format!("{role}: no running container"));
                continue;
            };
            read_log(&docker, &c.name, o, "", &mut out).await?;
        }
        Ok(out.join("\n"))
    })
    .await
}

/// `hoist proxy logs`.
pub async fn proxy_logs(s: &Scope<'_>, o: &LogOptions) -> Result<()> {
    let hosts = if o.follow {
        vec![s.selection.primary_host.clone()]
    } else {
        s.proxied_hosts()
    };
    s.each(&hosts, |_, docker| async move {
        let mut out = Vec::new();
        read_log(&docker, proxy::CONTAINER, o, "", &mut out).await?;
        Ok(out.join("\n"))
    })
    .await
}
