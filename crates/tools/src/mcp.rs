//! MCP servers' tools.
