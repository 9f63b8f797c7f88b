//! The hosts and roles a run works on: the config's servers with `-h`, `-r`
//! and `-p` applied, primary role and primary host first.

use globset::Glob;

use crate::config::Config;
use crate::fleet::LOCAL;

/// A role with the hosts it has in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedRole {
    /// Role name.
    pub name: String,
    /// Its selected hosts, in config order.
    pub hosts: Vec<String>,
    /// True for the primary role.
    pub primary: bool,
}

/// What `-h`, `-r` and `-p` leave of the config's servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Selected roles, primary first, each with at least one host.
    pub roles: Vec<SelectedRole>,
    /// Every selected host, primary host first.
    pub hosts: Vec<String>,
    /// The primary host.
    pub primary_host: String,
    /// The primary host of the full config, whatever the filters select:
    /// where the deploy lock lives, so one lock covers every run of the
    /// service.
    pub lock_host: String,
    /// The primary role.
    pub primary_role: String,
}

/// The filters from the command line.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// `-h`: host patterns (`*` wildcards).
    pub hosts: Vec<String>,
    /// `-r`: role patterns.
    pub roles: Vec<String>,
    /// `-p`: the primary host only.
    pub primary_only: bool,
}

/// The filters match nothing, or a pattern is bad.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// A bad pattern.
    #[error("bad pattern `{0}`: {1}")]
    Pattern(String, String),
    /// Nothing left.
    #[error("no hosts match {what} (hosts: {known})")]
    Empty { what: String, known: String },
}

fn matcher(patterns: &[String]) -> Result<Option<globset::GlobSet>, SelectError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = globset::GlobSetBuilder::new();
    for p in patterns {
        b.add(Glob::new(p).map_err(|e| SelectError::Pattern(p.clone(), e.to_string()))?);
    }
    b.build()
        .map(Some)
        .map_err(|e| SelectError::Pattern(patterns.join(","), e.to_string()))
}

/// Applies the filters to the config's roles.
pub fn select(config: &Config, f: &Filters) -> Result<Selection, SelectError> {
    let hosts_m = matcher(&f.hosts)?;
    // Roles come primary first; the first host of the first role with one.
    let lock_host = config
        .roles
        .iter()
        .find_map(|r| r.hosts.first().cloned())
        .unwrap_or_default();
    let roles_m = matcher(&f.roles)?;
    let all_hosts: Vec<&str> = {
        let mut v: Vec<&str> = Vec::new();
        for r in &config.roles {
            for h in &r.hosts {
                if !v.contains(&h.as_str()) {
                    v.push(h);
                }
            }
        }
        v
    };
    let mut roles: Vec<SelectedRole> = config
        .roles
        .iter()
        .filter(|r| roles_m.as_ref().is_none_or(|m| m.is_match(&r.name)))
        .map(|r| SelectedRole {
            name: r.name.clone(),
            hosts: r
                .hosts
                .iter()
                .filter(|h| hosts_m.as_ref().is_none_or(|m| m.is_match(h.as_str())))
                .cloned()
                .collect(),
            primary: r.name == config.primary_role,
        })
        .filter(|r| !r.hosts.is_empty())
        .collect();
    let describe = || {
        let mut parts = Vec::new();
        if !f.hosts.is_empty() {
            parts.push(format!("-h {}", f.hosts.join(",")));
        }
        if !f.roles.is_empty() {
            parts.push(format!("-r {}", f.roles.join(",")));
        }
        if parts.is_empty() {
            parts.push("the config".into());
        }
        parts.join(" ")
    };
    let empty = || SelectError::Empty {
        what: describe(),
        known: all_hosts.join(", "),
    };
    // Primary host: the primary role's first host, else the first selected.
    let primary_host = roles
        .iter()
        .find(|r| r.primary)
        .or(roles.first())
        .and_then(|r| r.hosts.first().cloned())
        .ok_or_else(empty)?;
    if f.primary_only {
        for r in &mut roles {
            r.hosts.retain(|h| *h == primary_host);
        }
        roles.retain(|r| !r.hosts.is_empty());
    }
    let mut hosts = vec![primary_host.clone()];
    for r in &roles {
        for h in &r.hosts {
            if !hosts.contains(h) {
                hosts.push(h.clone());
            }
        }
    }
    Ok(Selection {
        primary_role: config.primary_role.clone(),
        roles,
        hosts,
        primary_host,
        lock_host,
    })
}

impl Selection {
    /// Every (host, role) pair: primary role's targets first.
    pub fn targets(&self) -> Vec<(String, String)> {
        self.roles
            .iter()
            .flat_map(|r| r.hosts.iter().map(|h| (h.clone(), r.name.clone())))
            .collect()
    }

    /// The roles `host` runs in this run, in selection order.
    pub fn roles_on(&self, host: &str) -> Vec<&str> {
        self.roles
            .iter()
            .filter(|r| r.hosts.iter().any(|h| h == host))
            .map(|r| r.name.as_str())
            .collect()
    }

    /// True when `host` runs `role` in this run.
    pub fn has(&self, host: &str, role: &str) -> bool {
        self.roles
            .iter()
            .any(|r| r.name == role && r.hosts.iter().any(|h| h == host))
    }

    /// Selected hosts other than `local` (servers).
    pub fn remote_hosts(&self) -> Vec<&str> {
        self.hosts
            .iter()
            .filter(|h| *h != LOCAL)
            .map(String::as_str)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::config::{LoadOptions, load};

    fn config(yaml: &str) -> (tempfile::TempDir, Config) {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("config")).unwrap();
        std::fs::write(d.path().join("config/deploy.yml"), yaml).unwrap();
        let c = load(&LoadOptions {
            config_file: d.path().join("config/deploy.yml"),
            destination: None,
            erb: Default::default(),
        })
        .unwrap();
        (d, c)
    }

    const YAML: &str =
        "service: s\nimage: s\nservers:\n  workers: [web-1, job-1]\n  web: [web-1, web-2, web-3]\n";

    #[test]
    fn primary_first_and_filters() {
        let (_d, c) = config(YAML);
        let s = select(&c, &Filters::default()).unwrap();
        assert_eq!(s.primary_host, "web-1");
        assert_eq!(s.hosts, vec!["web-1", "web-2", "web-3", "job-1"]);
        assert_eq!(s.roles[0].name, "web");
        let s = select(
            &c,
            &Filters {
                hosts: vec!["web-[23]".into(), "job-*".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.hosts, vec!["web-2", "web-3", "job-1"]);
        let s = select(
            &c,
            &Filters {
                roles: vec!["work*".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.roles.len(), 1);
        assert_eq!(s.primary_host, "web-1");
        let s = select(
            &c,
            &Filters {
                hosts: vec!["web-3".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            (s.primary_host.as_str(), s.lock_host.as_str()),
            ("web-3", "web-1"),
            "the lock stays on the config's primary host"
        );
        let s = select(
            &c,
            &Filters {
                primary_only: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.hosts, vec!["web-1"]);
        assert_eq!(
            s.targets(),
            vec![
                ("web-1".into(), "web".into()),
                ("web-1".into(), "workers".into())
            ]
        );
        let e = select(
            &c,
            &Filters {
                hosts: vec!["db-*".into()],
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("no hosts match -h db-*") && e.contains("web-1"),
            "{e}"
        );
    }
}
