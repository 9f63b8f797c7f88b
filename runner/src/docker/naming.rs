//! Container names, labels and image references, as Kamal makes them.
//!
//! App containers are named `<service>-<role>[-<destination>]-<version>` and
//! carry the labels `service`, `role`, `destination` (empty when none) plus
//! hoist's marker `hoist.managed=true` and `hoist.version`. hoist only ever
//! stops, removes or prunes containers that carry its marker and the service's
//! labels.

use std::collections::BTreeMap;

/// Label marking a container as created by hoist.
pub const MANAGED_LABEL: &str = "hoist.managed";
/// Label holding the app version a container runs.
pub const VERSION_LABEL: &str = "hoist.version";

/// What identifies the app containers of one service (and destination).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceId {
    /// `service` from the config.
    pub service: String,
    /// `-d` destination, if any.
    pub destination: Option<String>,
}

impl ServiceId {
    /// `<service>[-<destination>]`: names the lock and the audit log.
    pub fn qualified(&self) -> String {
        match &self.destination {
            Some(d) => format!("{}-{d}", self.service),
            None => self.service.clone(),
        }
    }

    /// `<service>-<role>[-<destination>]`: the container name prefix (and the
    /// proxy service name).
    pub fn role_prefix(&self, role: &str) -> String {
        match &self.destination {
            Some(d) => format!("{}-{role}-{d}", self.service),
            None => format!("{}-{role}", self.service),
        }
    }

    /// `<service>-<role>[-<destination>]-<version>`.
    pub fn container_name(&self, role: &str, version: &str) -> String {
        format!("{}-{version}", self.role_prefix(role))
    }

    /// The labels every app container of `role` gets (before user labels).
    pub fn labels(&self, role: &str, version: &str) -> BTreeMap<String, String> {
        let mut l = self.base_labels();
        l.insert("role".into(), role.into());
        l.insert(VERSION_LABEL.into(), version.into());
        l
    }

    /// Labels shared by every container hoist manages for this service.
    pub fn base_labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("service".to_string(), self.service.clone()),
            (
                "destination".to_string(),
                self.destination.clone().unwrap_or_default(),
            ),
            (MANAGED_LABEL.to_string(), "true".to_string()),
        ])
    }

    /// Label filter selecting this service's managed containers of `role`
    /// (all roles when `None`).
    pub fn filter(&self, role: Option<&str>) -> Vec<(String, String)> {
        let mut f: Vec<(String, String)> = self.base_labels().into_iter().collect();
        if let Some(r) = role {
            f.push(("role".into(), r.into()));
        }
        f
    }

    /// True when `labels` mark a container hoist manages for this service.
    pub fn owns(&self, labels: &BTreeMap<String, String>) -> bool {
        self.base_labels()
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
    }

    /// `_replaced_<16 hex>` name for a clashing container (Kamal's rule).
    pub fn replaced_name(name: &str) -> String {
        format!("{name}_replaced_{:016x}", rand::random::<u64>())
    }
}

/// An image repository, e.g. `registry.example.com/team/app` or `hello`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository(pub String);

impl Repository {
    /// `[server/]image` (Kamal: the registry server is prefixed unless it is
    /// Docker Hub).
    pub fn new(server: Option<&str>, image: &str) -> Self {
        match server {
            Some(s) if !s.is_empty() && s != "docker.io" && s != "registry.hub.docker.com" => {
                Repository(format!("{}/{image}", s.trim_end_matches('/')))
            }
            _ => Repository(image.to_string()),
        }
    }

    /// `<repository>:<version>`.
    pub fn tagged(&self, version: &str) -> String {
        format!("{}:{version}", self.0)
    }

    /// `<repository>:latest[-<destination>]`.
    pub fn latest(&self, destination: Option<&str>) -> String {
        match destination {
            Some(d) => format!("{}:latest-{d}", self.0),
            None => format!("{}:latest", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_kamal() {
        let s = ServiceId {
            service: "hello".into(),
            destination: None,
        };
        assert_eq!(s.container_name("web", "abc123"), "hello-web-abc123");
        let s = ServiceId {
            service: "hello".into(),
            destination: Some("staging".into()),
        };
        assert_eq!(s.container_name("web", "v1"), "hello-web-staging-v1");
        assert_eq!(s.role_prefix("workers"), "hello-workers-staging");
        let l = s.labels("web", "v1");
        assert_eq!(l["service"], "hello");
        assert_eq!(l["role"], "web");
        assert_eq!(l["destination"], "staging");
        assert_eq!(l[MANAGED_LABEL], "true");
        assert_eq!(l[VERSION_LABEL], "v1");
        assert!(s.owns(&l));
        let mut foreign = l.clone();
        foreign.remove(MANAGED_LABEL);
        assert!(!s.owns(&foreign));
        let r = ServiceId::replaced_name("hello-web-v1");
        assert!(
            r.starts_with("hello-web-v1_replaced_")
                && r.len() == "hello-web-v1_replaced_".len() + 16
        );
    }

    #[test]
    fn repositories() {
        assert_eq!(Repository::new(None, "app").tagged("v1"), "app:v1");
        assert_eq!(
            Repository::new(Some("localhost:5555"), "app").tagged("v1"),
            "localhost:5555/app:v1"
        );
        assert_eq!(Repository::new(Some("docker.io"), "me/app").0, "me/app");
        assert_eq!(
            Repository::new(None, "app").latest(Some("staging")),
            "app:latest-staging"
        );
    }
}
