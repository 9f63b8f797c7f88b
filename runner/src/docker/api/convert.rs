//! Conversions between hoist's values and the Engine API's: image
//! references, restart policies, registry credentials, `--since` times.

use super::*;

pub(super) fn since_seconds(text: &str) -> Option<i32> {
    if let Ok(t) = text.parse::<i64>() {
        return i32::try_from(t).ok();
    }
    let ago = humantime::parse_duration(text).ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    i32::try_from(now.checked_sub(ago)?.as_secs()).ok()
}

/// Splits `repo[:tag]` (a registry port's colon is not a tag separator).
pub fn split_reference(image: &str) -> (&str, &str) {
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(i) => (&image[..slash + i], &image[slash + i + 1..]),
        None => (image, "latest"),
    }
}

pub(super) fn restart_policy(text: &str) -> Result<RestartPolicy, DockerError> {
    let (name, count) = text.split_once(':').unwrap_or((text, ""));
    let name = match name {
        "no" => RestartPolicyNameEnum::NO,
        "always" => RestartPolicyNameEnum::ALWAYS,
        "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        other => {
            return Err(DockerError::Unsupported(format!(
                "restart policy `{other}`: use no, always, unless-stopped or on-failure[:N]"
            )));
        }
    };
    Ok(RestartPolicy {
        name: Some(name),
        maximum_retry_count: count.parse().ok(),
    })
}

pub(super) fn credentials(a: &RegistryAuth) -> DockerCredentials {
    DockerCredentials {
        username: Some(a.username.clone()),
        password: Some(a.password.expose().to_string()),
        serveraddress: Some(a.server.clone()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(split_reference("hello:v1"), ("hello", "v1"));
        assert_eq!(split_reference("hello"), ("hello", "latest"));
        assert_eq!(
            split_reference("localhost:5555/app:abc"),
            ("localhost:5555/app", "abc")
        );
        assert_eq!(
            split_reference("localhost:5555/app"),
            ("localhost:5555/app", "latest")
        );
    }

    #[test]
    fn restart_policies() {
        assert_eq!(
            restart_policy("on-failure:3").unwrap().maximum_retry_count,
            Some(3)
        );
        assert!(restart_policy("sometimes").is_err());
    }
}
