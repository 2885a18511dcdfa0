//! Exports `gridhub:rules/program@2.0.0`; the host serves 1.1.x and must refuse it.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

wit_bindgen::generate!({ path: "wit", world: "plugin" });

struct Future;

impl exports::gridhub::rules::program::Guest for Future {
    fn info() -> exports::gridhub::rules::program::PluginInfo {
        exports::gridhub::rules::program::PluginInfo {
            program_code: "TEST_HOSTILE".into(),
            plugin_version: "9.0.0".into(),
            contract_version: "2.0.0".into(),
            description: "from the future".into(),
        }
    }
}

#[cfg(target_arch = "wasm32")]
export!(Future);
