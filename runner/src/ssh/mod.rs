//! SSH to servers (russh): one authenticated connection per host, reused for
//! the whole run, opened at most `sshkit.max_concurrent_starts` at a time,
//! optionally through a jump host (`ssh.proxy`). Host keys are checked
//! against a known_hosts file ([`known_hosts`]).
//!
//! Over a connection hoist runs shell commands ([`Session`] is a
//! [`Shell`]), reaches the server's Docker socket over `direct-streamlocal`
//! channels (the API client connects through [`channels::StreamLocal`]; the
//! docker CLI through a local unix socket forwarded the same way), and opens
//! reverse tunnels (the local-registry mode).

pub mod channels;
pub mod known_hosts;
pub mod options;
pub mod pool;
pub mod session;

pub use known_hosts::HostKeyPolicy;
pub use options::{Endpoint, EndpointError, SshOptions};
pub use pool::Pool;
pub use session::{ForwardedSocket, Session};

/// Why a connection failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SshError {
    /// TCP or SSH handshake failure.
    #[error("cannot connect to `{host}` ({addr}): {detail}")]
    Connect {
        host: String,
        addr: String,
        detail: String,
    },
    /// The server's key differs from the recorded one.
    #[error(
        "the host key of `{host}` does not match {file} line {line}: refusing to connect. If the server was really reinstalled, remove that line (`ssh-keygen -R '{name}' -f {file}`); otherwise someone may be intercepting the connection"
    )]
    HostKeyChanged {
        host: String,
        name: String,
        file: String,
        line: usize,
    },
    /// Strict mode and the key is not recorded.
    #[error(
        "the host key of `{host}` is not in {file} and ssh.strict_host_keys is on: add it (e.g. `ssh-keyscan -p PORT HOST >> {file}`) after checking its fingerprint"
    )]
    HostKeyUnknown { host: String, file: String },
    /// No key was accepted.
    #[error(
        "`{user}@{host}` refused every key hoist offered ({tried}). Add your key to the server's authorized_keys, or set ssh.keys / ssh.user"
    )]
    Auth {
        host: String,
        user: String,
        tried: String,
    },
    /// Connecting took too long.
    #[error("connecting to `{host}` ({addr}) timed out after {secs}s")]
    Timeout {
        host: String,
        addr: String,
        secs: u64,
    },
    /// A channel (command, socket, tunnel) could not be opened.
    #[error("`{host}`: {detail}")]
    Channel { host: String, detail: String },
}
