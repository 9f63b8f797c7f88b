//! Host keys: checked against a known_hosts file ([`HostKeyPolicy`]). An
//! unknown host is recorded (or, strict, refused); a changed key is always
//! refused, naming the file and line to fix.

use std::path::PathBuf;

use super::{Endpoint, SshError};

/// How host keys are checked.
#[derive(Debug, Clone)]
pub struct HostKeyPolicy {
    /// The known_hosts file.
    pub file: PathBuf,
    /// Refuse unknown hosts instead of recording them.
    pub strict: bool,
}

/// The verdict on a server's key: `Ok(true)` when it was unknown and has
/// just been recorded, `Ok(false)` when it was already known.
pub fn check(
    policy: &HostKeyPolicy,
    host: &str,
    endpoint: &Endpoint,
    key: &russh::keys::PublicKey,
) -> Result<bool, SshError> {
    let file = policy.file.display().to_string();
    let (name, port) = (endpoint.host.as_str(), endpoint.port);
    let changed = |line| SshError::HostKeyChanged {
        host: host.to_string(),
        name: endpoint.known_hosts_name(),
        file: file.clone(),
        line,
    };
    match russh::keys::check_known_hosts_path(name, port, key, &policy.file) {
        Ok(true) => Ok(false),
        Ok(false) => {
            // A host recorded with another key type counts as changed:
            // accepting it would let an attacker pick the type.
            let known = russh::keys::known_hosts::known_host_keys_path(name, port, &policy.file)
                .unwrap_or_default();
            if let Some((line, _)) = known.first() {
                return Err(changed(*line));
            }
            if policy.strict {
                return Err(SshError::HostKeyUnknown {
                    host: host.to_string(),
                    file,
                });
            }
            if let Some(dir) = policy.file.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            russh::keys::known_hosts::learn_known_hosts_path(name, port, key, &policy.file)
                .map_err(|e| SshError::Connect {
                    host: host.to_string(),
                    addr: endpoint.known_hosts_name(),
                    detail: format!("cannot record its host key in {file}: {e}"),
                })?;
            Ok(true)
        }
        Err(russh::keys::Error::KeyChanged { line }) => Err(changed(line)),
        Err(e) => Err(SshError::Connect {
            host: host.to_string(),
            addr: endpoint.known_hosts_name(),
            detail: format!("cannot read {file}: {e}"),
        }),
    }
}
