//! How free JSON values (settings, state, outputs) look to the UI's
//! generated TypeScript: any JSON, numbers as JavaScript numbers.

use std::collections::BTreeMap;

use serde::Serialize;

/// Any JSON value, for `#[specta(type = JsonValue)]` on `serde_json::Value`
/// fields (specta refuses `serde_json::Value` itself: its integers could
/// exceed a JavaScript number, which run state never needs).
#[derive(Serialize, specta::Type)]
#[serde(untagged)]
pub enum JsonValue {
    /// `null`.
    Null(()),
    /// A boolean.
    Boolean(bool),
    /// A number.
    Number(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<JsonValue>),
    /// An object.
    Object(BTreeMap<String, JsonValue>),
}
