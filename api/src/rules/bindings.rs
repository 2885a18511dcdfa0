//! Host-side bindings generated from the same WIT as the guest SDK.

wasmtime::component::bindgen!({
    path: "../plugin-sdk/wit",
    world: "plugin",
});
