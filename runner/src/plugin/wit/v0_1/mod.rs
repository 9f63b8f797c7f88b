//! `hoist:plugin@0.1.x` (`wit/0.1/` in the repository): its bindings and
//! its host implementation ([`host`]).
//!
//! The import-only world `host-api` is generated once; the two plugin worlds
//! reuse its interfaces through `with:`, so the host API is implemented once
//! for both kinds of plugin. The `hook-plugin` world does not import
//! `rollout`.

pub mod host;

/// The version of `wit/0.1/` (its `package` line, read by `build.rs`).
pub const VERSION: &str = env!("HOIST_WIT_0_1");

/// The host API every plugin imports.
pub mod host_api {
    wasmtime::component::bindgen!({
        world: "host-api",
        path: "../wit/0.1",
        imports: { default: async },
    });
}

/// Hook plugins (`export hook`).
pub mod hook {
    wasmtime::component::bindgen!({
        world: "hook-plugin",
        path: "../wit/0.1",
        imports: { default: async },
        exports: { default: async },
        with: {
            "hoist:plugin/types": super::host_api::hoist::plugin::types,
            "hoist:plugin/log": super::host_api::hoist::plugin::log,
            "hoist:plugin/context": super::host_api::hoist::plugin::context,
            "hoist:plugin/docker": super::host_api::hoist::plugin::docker,
            "hoist:plugin/commands": super::host_api::hoist::plugin::commands,
            "hoist:plugin/http": super::host_api::hoist::plugin::http,
        },
    });
}

/// Strategy plugins (`export strategy`).
pub mod strategy {
    wasmtime::component::bindgen!({
        world: "strategy-plugin",
        path: "../wit/0.1",
        imports: { default: async },
        exports: { default: async },
        with: {
            "hoist:plugin/types": super::host_api::hoist::plugin::types,
            "hoist:plugin/log": super::host_api::hoist::plugin::log,
            "hoist:plugin/context": super::host_api::hoist::plugin::context,
            "hoist:plugin/docker": super::host_api::hoist::plugin::docker,
            "hoist:plugin/commands": super::host_api::hoist::plugin::commands,
            "hoist:plugin/rollout": super::host_api::hoist::plugin::rollout,
            "hoist:plugin/http": super::host_api::hoist::plugin::http,
        },
    });
}

pub use host_api::hoist::plugin::types;
