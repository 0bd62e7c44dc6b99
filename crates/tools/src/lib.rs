//! `codexos-tools`: every tool an agent or flow can call, in one
//! [`Registry`] — the built-ins ([`builtin`]), tools described by a
//! `tools/<name>/tool.toml` manifest ([`folder`]), operations of an
//! `OpenAPI` spec ([`openapi`]) and the tools of MCP servers ([`mcp`]).
//!
//! Each tool has a JSON Schema for its arguments (checked before the call),
//! its [`Effects`] and a default [`Permission`]: read-only tools are
//! `allow`, anything that writes, runs code or reaches the network is `ask`.
//! A [`Policy`] (config, then per-flow overrides) can change a tool's level;
//! an `ask` goes to an [`Approver`] (the CLI's prompt, the app's dialog).
//! Tools that run programs (`shell`, `python`, folder tools) run inside the
//! [`sandbox`]. The crate sits below `codexos-runtime`, which wires the
//! registry to the flow engine, the vault and the RAG engine (`rag.search`
//! is registered there).
//!
//! ```no_run
//! # async fn demo() -> codexos_tools::Result<()> {
//! use codexos_tools::{builtin, CallContext, Policy, PreApproved, Registry};
//! let registry = Registry::new();
//! builtin::register(&registry);
//! let context = CallContext::new("/path/to/project".into());
//! let listing = registry
//!     .call("fs.list", serde_json::json!({"path": "."}), &Policy::default(), &PreApproved, &context)
//!     .await?;
//! println!("{listing}");
//! # Ok(()) }
//! ```

pub mod builtin;
mod error;
pub mod folder;
pub mod mcp;
pub mod openapi;
mod references;
mod registry;
pub mod sandbox;
mod schema;
mod tool;

pub use error::{Error, Result};
pub use references::{looks_like_key, looks_like_key_in, pasted_key_message};
pub use registry::{
    Approval, ApprovalRequest, Approver, Policy, PreApproved, Refuse, Registry, SourceInfo,
    SourceState, ToolEntry,
};
pub use schema::validate;
pub use tool::{
    bound, CallContext, Effects, NoSecrets, Permission, Secrets, Tool, ToolInfo, OUTPUT_LIMIT,
};
