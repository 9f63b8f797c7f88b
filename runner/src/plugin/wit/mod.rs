//! The `hoist:plugin` WIT versions this host loads: one module per version
//! (`wit/<major>.<minor>/` in the repository, `v<major>_<minor>` here), each
//! with that version's bindings and a host implementation that converts its
//! records to the version-neutral calls in [`super::call`]. [`SUPPORTED`] is
//! the one place that says which versions load; a new version is a new
//! directory, a new module and a line here.

pub mod v0_1;

/// The newest version: the types the rest of hoist speaks.
pub use v0_1 as latest;

/// The WIT package name.
pub const PACKAGE: &str = "hoist:plugin";

/// Every version this host loads, newest first (each stands for its
/// `major.minor` series: a plugin built against any `0.1.x` loads).
pub const SUPPORTED: &[&str] = &[v0_1::VERSION];

/// `0.1` for `0.1.3`.
pub fn series(version: &str) -> &str {
    match version.match_indices('.').nth(1) {
        Some((i, _)) => &version[..i],
        None => version,
    }
}

/// The supported version a plugin built against `version` loads as, if any.
pub fn matching(version: &str) -> Option<&'static str> {
    SUPPORTED
        .iter()
        .copied()
        .find(|v| series(v) == series(version))
}

/// What this host loads, for messages: `hoist:plugin@0.1.x`.
pub fn describe() -> String {
    SUPPORTED
        .iter()
        .map(|v| format!("{PACKAGE}@{}.x", series(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_match() {
        assert_eq!(series("0.1.7"), "0.1");
        assert_eq!(
            matching(&format!("{}.9", series(v0_1::VERSION))),
            Some(v0_1::VERSION)
        );
        assert_eq!(matching("0.2.0"), None);
        assert!(describe().starts_with("hoist:plugin@0."));
    }
}
