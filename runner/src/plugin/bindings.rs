//! Host-side bindings for `wit/hoist-plugin.wit`.
//!
//! The import-only world `host-api` is generated once; the two plugin worlds
//! reuse its interfaces through `with:`, so the host API is implemented once
//! (in [`super::api`]) for both kinds of plugin.

/// The host API every plugin imports.
pub mod host {
    wasmtime::component::bindgen!({
        world: "host-api",
        path: "../wit",
        imports: { default: async },
    });
}

/// Hook plugins (`export hook`).
pub mod hook {
    wasmtime::component::bindgen!({
        world: "hook-plugin",
        path: "../wit",
        imports: { default: async },
        exports: { default: async },
        with: {
            "hoist:plugin/types": super::host::hoist::plugin::types,
            "hoist:plugin/log": super::host::hoist::plugin::log,
            "hoist:plugin/context": super::host::hoist::plugin::context,
            "hoist:plugin/docker": super::host::hoist::plugin::docker,
            "hoist:plugin/commands": super::host::hoist::plugin::commands,
            "hoist:plugin/rollout": super::host::hoist::plugin::rollout,
            "hoist:plugin/http": super::host::hoist::plugin::http,
        },
    });
}

/// Strategy plugins (`export strategy`).
pub mod strategy {
    wasmtime::component::bindgen!({
        world: "strategy-plugin",
        path: "../wit",
        imports: { default: async },
        exports: { default: async },
        with: {
            "hoist:plugin/types": super::host::hoist::plugin::types,
            "hoist:plugin/log": super::host::hoist::plugin::log,
            "hoist:plugin/context": super::host::hoist::plugin::context,
            "hoist:plugin/docker": super::host::hoist::plugin::docker,
            "hoist:plugin/commands": super::host::hoist::plugin::commands,
            "hoist:plugin/rollout": super::host::hoist::plugin::rollout,
            "hoist:plugin/http": super::host::hoist::plugin::http,
        },
    });
}

pub use host::hoist::plugin::types;
