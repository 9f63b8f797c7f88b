//! Image builds through the Engine API (the legacy builder).

use super::*;

impl ApiEngine {
    pub(super) async fn build(
        &self,
        op: &DockerOp,
        b: &BuildSpec,
    ) -> Result<OpOutput, DockerError> {
        let (ctx, dockerfile) = (b.context.clone(), b.dockerfile.clone());
        let (tar, dockerfile_in_tar) =
            tokio::task::spawn_blocking(move || context::tar_context(&ctx, &dockerfile))
                .await
                .map_err(|e| DockerError::Context {
                    path: b.context.display().to_string(),
                    source: std::io::Error::other(e),
                })?
                .map_err(|source| DockerError::Context {
                    path: b.context.display().to_string(),
                    source,
                })?;
        let labels: HashMap<&str, &str> = b
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let args: HashMap<&str, &str> = b
            .args
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut opts = BuildImageOptionsBuilder::default()
            .dockerfile(&dockerfile_in_tar)
            .t(&b.tag)
            .labels(&labels)
            .buildargs(&args)
            .rm(true)
            .forcerm(true);
        if let Some(t) = &b.target {
            opts = opts.target(t);
        }
        let mut stream =
            self.docker
                .build_image(opts.build(), None, Some(bollard::body_full(tar.into())));
        let mut id = None;
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| self.error(op, e))?;
            if let Some(line) = info.stream {
                for l in line.lines().filter(|l| !l.trim().is_empty()) {
                    self.say(l);
                }
            }
            if let Some(aux) = info.aux {
                id = aux.id.or(id);
            }
        }
        Ok(OpOutput::Id(id.unwrap_or_else(|| b.tag.clone())))
    }
}
