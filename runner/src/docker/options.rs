//! Applying `docker run` flags (a role's `options:`) to an Engine API create
//! body. The docker CLI takes any flag; through the API each one has to be
//! mapped, so this covers the flags deploy configs use and names the rest.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, HostConfig, PortBinding, ResourcesUlimits,
};

use super::DockerError;

/// Flags [`apply`] understands (for the error message).
pub const SUPPORTED: &[&str] = &[
    "add-host",
    "cap-add",
    "cap-drop",
    "cpu-shares",
    "cpus",
    "device",
    "dns",
    "entrypoint",
    "group-add",
    "hostname",
    "init",
    "memory",
    "memory-reservation",
    "memory-swap",
    "network",
    "pids-limit",
    "privileged",
    "publish",
    "read-only",
    "security-opt",
    "shm-size",
    "stop-signal",
    "stop-timeout",
    "sysctl",
    "tmpfs",
    "ulimit",
    "user",
    "workdir",
];

/// Parses a Docker size (`512m`, `2g`, `1024`, `1.5g`) into bytes.
pub fn parse_bytes(text: &str) -> Option<i64> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.trim_end_matches('b');
    let (num, mult) = match t.chars().last()? {
        'k' => (&t[..t.len() - 1], 1i64 << 10),
        'm' => (&t[..t.len() - 1], 1 << 20),
        'g' => (&t[..t.len() - 1], 1 << 30),
        't' => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num.parse().ok()?;
    (n >= 0.0).then_some((n * mult as f64) as i64)
}

/// Adds `-p [ip:][host:]container[/proto]` to the port maps.
fn publish(value: &str, host: &mut HostConfig, body: &mut ContainerCreateBody) -> Option<()> {
    let (spec, proto) = match value.rsplit_once('/') {
        Some((s, p)) => (s, p),
        None => (value, "tcp"),
    };
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    let (container, host_port, host_ip) = match parts.as_slice() {
        [c] => (*c, None, None),
        [c, h] => (*c, Some(*h), None),
        [c, h, ip] => (*c, Some(*h), Some(*ip)),
        _ => return None,
    };
    container.parse::<u16>().ok()?;
    let key = format!("{container}/{proto}");
    body.exposed_ports
        .get_or_insert_with(Vec::new)
        .push(key.clone());
    host.port_bindings
        .get_or_insert_with(HashMap::new)
        .entry(key)
        .or_insert_with(|| Some(Vec::new()))
        .get_or_insert_with(Vec::new)
        .push(PortBinding {
            host_ip: host_ip.map(|s| s.trim_matches(['[', ']']).to_string()),
            host_port: host_port.filter(|p| !p.is_empty()).map(String::from),
        });
    Some(())
}

/// Applies one flag (without dashes; short forms `p`, `m`, `u`, `w` too).
pub fn apply(
    flag: &str,
    value: Option<&str>,
    body: &mut ContainerCreateBody,
    host: &mut HostConfig,
) -> Result<(), DockerError> {
    let bad = |why: &str| {
        DockerError::Unsupported(format!(
            "option `{flag}`{}: {why}",
            value.map(|v| format!(" = `{v}`")).unwrap_or_default()
        ))
    };
    let need = || value.ok_or_else(|| bad("needs a value"));
    let push = |v: &mut Option<Vec<String>>, s: &str| v.get_or_insert_with(Vec::new).push(s.into());
    match flag {
        "publish" | "p" => {
            publish(need()?, host, body).ok_or_else(|| bad("expected [ip:][host:]port[/proto]"))?
        }
        "memory" | "m" => {
            host.memory =
                Some(parse_bytes(need()?).ok_or_else(|| bad("expected a size like 512m"))?)
        }
        "memory-reservation" => {
            host.memory_reservation =
                Some(parse_bytes(need()?).ok_or_else(|| bad("expected a size"))?)
        }
        "memory-swap" => {
            host.memory_swap = Some(parse_bytes(need()?).ok_or_else(|| bad("expected a size"))?)
        }
        "shm-size" => {
            host.shm_size = Some(parse_bytes(need()?).ok_or_else(|| bad("expected a size"))?)
        }
        "cpus" => {
            let n: f64 = need()?.parse().map_err(|_| bad("expected a number"))?;
            host.nano_cpus = Some((n * 1e9) as i64);
        }
        "cpu-shares" => {
            host.cpu_shares = Some(need()?.parse().map_err(|_| bad("expected a number"))?)
        }
        "pids-limit" => {
            host.pids_limit = Some(need()?.parse().map_err(|_| bad("expected a number"))?)
        }
        "network" => host.network_mode = Some(need()?.into()),
        "add-host" => push(&mut host.extra_hosts, need()?),
        "dns" => push(&mut host.dns, need()?),
        "cap-add" => push(&mut host.cap_add, need()?),
        "cap-drop" => push(&mut host.cap_drop, need()?),
        "group-add" => push(&mut host.group_add, need()?),
        "security-opt" => push(&mut host.security_opt, need()?),
        "hostname" => body.hostname = Some(need()?.into()),
        "user" | "u" => body.user = Some(need()?.into()),
        "workdir" | "w" => body.working_dir = Some(need()?.into()),
        "entrypoint" => body.entrypoint = Some(vec![need()?.into()]),
        "stop-signal" => body.stop_signal = Some(need()?.into()),
        "stop-timeout" => {
            body.stop_timeout = Some(need()?.parse().map_err(|_| bad("expected seconds"))?)
        }
        "init" => host.init = Some(value.is_none_or(|v| v != "false")),
        "privileged" => host.privileged = Some(value.is_none_or(|v| v != "false")),
        "read-only" => host.readonly_rootfs = Some(value.is_none_or(|v| v != "false")),
        "tmpfs" => {
            let v = need()?;
            let (path, opts) = v.split_once(':').unwrap_or((v, ""));
            host.tmpfs
                .get_or_insert_with(HashMap::new)
                .insert(path.into(), opts.into());
        }
        "sysctl" => {
            let (k, v) = need()?
                .split_once('=')
                .ok_or_else(|| bad("expected key=value"))?;
            host.sysctls
                .get_or_insert_with(HashMap::new)
                .insert(k.into(), v.into());
        }
        "ulimit" => {
            let (name, limits) = need()?
                .split_once('=')
                .ok_or_else(|| bad("expected name=soft[:hard]"))?;
            let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
            host.ulimits
                .get_or_insert_with(Vec::new)
                .push(ResourcesUlimits {
                    name: Some(name.into()),
                    soft: Some(soft.parse().map_err(|_| bad("expected numbers"))?),
                    hard: Some(hard.parse().map_err(|_| bad("expected numbers"))?),
                });
        }
        "device" => {
            let v = need()?;
            let mut parts = v.splitn(3, ':');
            let on_host = parts.next().unwrap_or_default();
            let in_container = parts.next().unwrap_or(on_host);
            let perms = parts.next().unwrap_or("rwm");
            host.devices
                .get_or_insert_with(Vec::new)
                .push(DeviceMapping {
                    path_on_host: Some(on_host.into()),
                    path_in_container: Some(in_container.into()),
                    cgroup_permissions: Some(perms.into()),
                });
        }
        _ => {
            return Err(DockerError::Unsupported(format!(
                "option `{flag}` is not supported by hoist on this target; supported: {}",
                SUPPORTED.join(", ")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("512m"), Some(512 << 20));
        assert_eq!(parse_bytes("2g"), Some(2 << 30));
        assert_eq!(parse_bytes("2GB"), Some(2 << 30));
        assert_eq!(parse_bytes("1024"), Some(1024));
        assert_eq!(parse_bytes("lots"), None);
    }

    #[test]
    fn publish_and_unknown() {
        let mut b = ContainerCreateBody::default();
        let mut h = HostConfig::default();
        apply("publish", Some("127.0.0.1:8080:3000"), &mut b, &mut h).unwrap();
        apply("p", Some("9000/udp"), &mut b, &mut h).unwrap();
        assert_eq!(
            b.exposed_ports.as_ref().unwrap(),
            &vec!["3000/tcp".to_string(), "9000/udp".to_string()]
        );
        let pb = h.port_bindings.as_ref().unwrap();
        let web = pb["3000/tcp"].as_ref().unwrap();
        assert_eq!(web[0].host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(web[0].host_port.as_deref(), Some("8080"));
        assert!(pb["9000/udp"].as_ref().unwrap()[0].host_port.is_none());
        apply("memory", Some("64m"), &mut b, &mut h).unwrap();
        assert_eq!(h.memory, Some(64 << 20));
        apply("init", None, &mut b, &mut h).unwrap();
        assert_eq!(h.init, Some(true));
        let e = apply("frobnicate", Some("x"), &mut b, &mut h)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`frobnicate` is not supported") && e.contains("publish"),
            "{e}"
        );
        let e = apply("memory", Some("lots"), &mut b, &mut h)
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected a size"), "{e}");
    }
}
