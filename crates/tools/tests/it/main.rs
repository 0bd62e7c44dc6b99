//! Integration tests of `codexos-tools` on real processes, a real sandbox,
//! real files, real HTTP and MCP servers.

mod argv;
mod builtins;
mod folder;
mod fuzz_corpus;
mod mcp;
mod openapi;
mod sandbox;

use codexos_tools::{builtin, CallContext, Policy, PreApproved, Registry};
use serde_json::Value;

/// A registry with the built-ins, calling with every `ask` approved.
pub async fn call(
    context: &CallContext,
    name: &str,
    arguments: Value,
) -> codexos_tools::Result<Value> {
    let registry = Registry::new();
    builtin::register(&registry);
    registry
        .call(name, arguments, &Policy::default(), &PreApproved, context)
        .await
}
