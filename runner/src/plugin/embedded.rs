//! The default plugins, built by `build.rs` and embedded in the binary.

/// (manifest text, component bytes) of every embedded plugin.
pub const EMBEDDED: &[(&str, &[u8])] = &[
    (
        include_str!("../../../plugins/rolling/plugin.toml"),
        include_bytes!(env!("HOIST_WASM_ROLLING")),
    ),
    (
        include_str!("../../../plugins/immediate/plugin.toml"),
        include_bytes!(env!("HOIST_WASM_IMMEDIATE")),
    ),
    (
        include_str!("../../../plugins/canary/plugin.toml"),
        include_bytes!(env!("HOIST_WASM_CANARY")),
    ),
    (
        include_str!("../../../plugins/blue-green/plugin.toml"),
        include_bytes!(env!("HOIST_WASM_BLUE_GREEN")),
    ),
    (
        include_str!("../../../hooks/git-clean/plugin.toml"),
        include_bytes!(env!("HOIST_WASM_GIT_CLEAN")),
    ),
    (
        include_str!("../../../hooks/preflight/plugin.toml"),
        include_bytes!(env!("HOIST_WASM_PREFLIGHT")),
    ),
    (
        include_str!("../../../hooks/deploy-log/plugin.toml"),
        include_bytes!(env!("HOIST_WASM_DEPLOY_LOG")),
    ),
    (
        include_str!("../../../hooks/webhook/plugin.toml"),
        include_bytes!(env!("HOIST_WASM_WEBHOOK")),
    ),
];
