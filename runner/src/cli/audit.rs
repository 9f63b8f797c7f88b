//! `hoist audit`: each host's audit log.

use super::common::Common;
use super::scope::connect;
use crate::audit::AuditLog;

/// `hoist audit`: the last 50 lines of each host's audit log.
pub async fn audit(common: Common) -> anyhow::Result<()> {
    let super::scope::Connected {
        config: c,
        selection,
        fleet,
        ..
    } = connect(&common).await?;
    let log = AuditLog::new(&c.service_id());
    let tails = futures_util::future::join_all(selection.hosts.iter().map(|h| {
        let (fleet, log) = (&fleet, log.clone());
        async move {
            let shell = fleet.shell(h).await?;
            anyhow::Ok(log.tail(shell.as_ref(), 50).await?)
        }
    }))
    .await;
    let mut failed = 0;
    for (host, tail) in selection.hosts.iter().zip(tails) {
        println!("== {host}");
        match tail {
            Ok(t) if t.trim().is_empty() => println!("(no deploys recorded)"),
            Ok(t) => print!("{t}"),
            Err(e) => {
                failed += 1;
                println!("error: {e}");
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} host(s) could not be read");
    }
    Ok(())
}
