//! push: make the image available on every host. On the local target the
//! image built here is already where it runs, so there is nothing to push.

use crate::fleet::LOCAL;
use crate::pipeline::Run;

/// Delivers the image to the hosts.
pub async fn run(run: &Run) -> Result<((), String), String> {
    let remote = run.selection.remote_hosts();
    if remote.is_empty() {
        return Ok(((), format!("nothing to push: every host is `{LOCAL}`")));
    }
    // load-config refuses servers outside dry runs; a dry run shows the step.
    Ok((
        (),
        format!(
            "would deliver {} to {} (not supported by this build yet)",
            run.image,
            remote.join(", ")
        ),
    ))
}
