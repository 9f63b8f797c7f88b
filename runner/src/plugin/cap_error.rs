//! Why a capability call did nothing or failed, and how each library error
//! becomes one of its four kinds.

use super::grants::Refusal;
use crate::delivery::DeliveryError;
use crate::docker::DockerError;
use crate::http::HttpError;
use crate::shell::ShellError;
use crate::steps::StepError;

/// Why a capability call did nothing or failed; each WIT version maps these
/// to its `plugin-error` cases one to one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapError {
    /// Not granted (or not declared). Nothing was done.
    #[error("{0}")]
    Denied(String),
    /// Not possible now or here (a host that cannot be reached, no rollout
    /// outside the rollout stage). Nothing was done.
    #[error("{0}")]
    Unavailable(String),
    /// A wrong argument: unknown host, a container hoist does not manage.
    #[error("{0}")]
    Invalid(String),
    /// The work was tried and failed.
    #[error("{0}")]
    Failed(String),
}

impl CapError {
    /// The same kind of error with its message changed by `f`.
    pub fn map(self, f: impl FnOnce(String) -> String) -> CapError {
        match self {
            CapError::Denied(m) => CapError::Denied(f(m)),
            CapError::Unavailable(m) => CapError::Unavailable(f(m)),
            CapError::Invalid(m) => CapError::Invalid(f(m)),
            CapError::Failed(m) => CapError::Failed(f(m)),
        }
    }
}

impl From<Refusal> for CapError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Denied(m) => CapError::Denied(m),
        }
    }
}

impl From<DockerError> for CapError {
    fn from(e: DockerError) -> Self {
        match e {
            DockerError::Unreachable { .. } => CapError::Unavailable(e.to_string()),
            DockerError::NotFound { .. } | DockerError::Unsupported(_) => {
                CapError::Invalid(e.to_string())
            }
            other => CapError::Failed(other.to_string()),
        }
    }
}

impl From<ShellError> for CapError {
    fn from(e: ShellError) -> Self {
        match e {
            ShellError::Unreachable { .. } => CapError::Unavailable(e.to_string()),
            ShellError::Broken { .. } => CapError::Failed(e.to_string()),
        }
    }
}

impl From<DeliveryError> for CapError {
    fn from(e: DeliveryError) -> Self {
        match e {
            DeliveryError::Docker(d) => d.into(),
            DeliveryError::Tunnel(_) => CapError::Unavailable(e.to_string()),
            other => CapError::Failed(other.to_string()),
        }
    }
}

impl From<StepError> for CapError {
    fn from(e: StepError) -> Self {
        match e {
            StepError::Invalid(m) => CapError::Invalid(m),
            StepError::During { step, error } => {
                CapError::from(*error).map(|m| format!("{step} failed: {m}"))
            }
            StepError::Docker(d @ DockerError::Unreachable { .. }) => d.into(),
            other => CapError::Failed(other.to_string()),
        }
    }
}

impl From<HttpError> for CapError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Url { .. } => CapError::Invalid(e.to_string()),
            HttpError::Send { .. } | HttpError::Timeout { .. } => CapError::Failed(e.to_string()),
        }
    }
}
