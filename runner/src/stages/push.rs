//! push: make the image available on every host. On the local target the
//! image built here is already where it runs, so there is nothing to push.

use crate::fleet::LOCAL;
use crate::pipeline::Run;

/// Delivers the image to the hosts.
pub async fn run(run: &Run) -> Result<((), String), String> {
    if run.selection.all_local() {
        return Ok(((), format!("nothing to push: every host is `{LOCAL}`")));
    }
    Err(format!(
        "hosts {} are not `{LOCAL}`: delivering images to servers over SSH is not supported by this build yet",
        run.selection
            .hosts
            .iter()
            .filter(|h| *h != LOCAL)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    ))
}
