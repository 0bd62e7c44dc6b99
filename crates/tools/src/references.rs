//! `vault://NAME` references in a flow's tool arguments: put in after the
//! policy check (so approvals, traces and recordings show the reference,
//! never the value) and taken back out of whatever the tool returns.

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::tool::Secrets;
use crate::{Error, Result};

const PREFIX: &str = "vault://";

/// Prefixes of well-known API key formats.
const KEY_PREFIXES: [&str; 16] = [
    "sk-",
    "sk_",
    "pk_",
    "rk_",
    "xai-",
    "ghp_",
    "gho_",
    "ghs_",
    "github_pat_",
    "AIza",
    "hf_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "AKIA",
    "ASIA",
];

/// Whether `text` starts like a well-known credential: a key prefix, a JWT,
/// a bearer header.
fn known_credential(text: &str) -> bool {
    KEY_PREFIXES.iter().any(|prefix| text.starts_with(prefix))
        || text.to_ascii_lowercase().starts_with("bearer ")
        || (text.starts_with("eyJ") && text.matches('.').count() == 2)
}

/// A run of letters and digits (and `-_+/=`) at least `length` long, mixing
/// both — what keys look like, and names, paths and words do not.
fn token_like(text: &str, length: usize) -> bool {
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    let letters = text.bytes().filter(u8::is_ascii_alphabetic).count();
    text.len() >= length
        && !text.starts_with('/')
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_+/=".contains(&byte))
        && digits >= 4
        && letters >= 4
}

/// Whether `text`, written where a secret's *name* or a plain setting
/// belongs, is really a pasted credential: a known key prefix, or a long
/// token of letters and digits (no path, no words) no one would pick as a
/// name. Used wherever config or a manifest can hold a secret, so a key is
/// refused before it is saved in plain text.
#[must_use]
pub fn looks_like_key(text: &str) -> bool {
    let text = text.trim();
    !text.starts_with(PREFIX) && (known_credential(text) || token_like(text, 32))
}

/// Whether the plain value of the environment variable `name` is a pasted
/// credential. Plain values are legitimate settings (ids, hashes), so a long
/// token alone is not enough: it must start like a known credential, or be
/// a token under a name that says secret (`…TOKEN`, `…KEY`, `…SECRET`,
/// `…PASSWORD`, `…AUTH…`).
#[must_use]
pub fn looks_like_key_in(name: &str, value: &str) -> bool {
    let value = value.trim();
    let name = name.to_ascii_uppercase();
    let secret_name = [
        "TOKEN",
        "KEY",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "AUTH",
        "CREDENTIAL",
    ]
    .iter()
    .any(|word| name.contains(word));
    !value.starts_with(PREFIX)
        && (known_credential(value) || (secret_name && token_like(value, 16)))
}

/// The refusal of a pasted key in `field`: the fix, never the value.
#[must_use]
pub fn pasted_key_message(field: &str, suggested: &str) -> String {
    format!(
        "{field} holds what looks like a pasted key — keys never live in config files or \
         manifests: store it with `codexos vault set {suggested}` (or Settings → Vault) and \
         write `vault://{suggested}` (a manifest's env: `{{ vault = \"{suggested}\" }}`)"
    )
}

/// The values of the references a call may resolve, by name.
#[derive(Default)]
pub(crate) struct Revealed(Vec<(String, SecretString)>);

impl Revealed {
    /// Values a tool put in itself (manifest env, API auth), to redact.
    /// Names may be given as `vault://NAME` or `NAME`.
    pub(crate) fn new(values: Vec<(String, SecretString)>) -> Self {
        Self(
            values
                .into_iter()
                .map(|(name, value)| {
                    (
                        name.strip_prefix(PREFIX)
                            .map_or(name.clone(), str::to_owned),
                        value,
                    )
                })
                .collect(),
        )
    }

    /// Fetches `names` from the vault for `tool`.
    pub(crate) fn fetch(tool: &str, names: &[String], secrets: &dyn Secrets) -> Result<Self> {
        names
            .iter()
            .map(|name| {
                secrets
                    .secret(name)
                    .map(|value| (name.clone(), value))
                    .map_err(|message| Error::Secret {
                        tool: tool.to_owned(),
                        name: name.clone(),
                        message,
                    })
            })
            .collect::<Result<_>>()
            .map(Self::new)
    }

    /// The value of `name` (`vault://NAME` or `NAME`), if it was fetched.
    pub(crate) fn value(&self, name: &str) -> Option<&SecretString> {
        let name = name.strip_prefix(PREFIX).unwrap_or(name);
        self.0
            .iter()
            .find(|(known, _)| known == name)
            .map(|(_, value)| value)
    }

    /// Whether nothing was fetched.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `text` contains a fetched value.
    pub(crate) fn appears_in_text(&self, text: &str) -> bool {
        self.0.iter().any(|(_, value)| {
            let value = value.expose_secret();
            !value.is_empty() && text.contains(value)
        })
    }

    /// Whether any string (or key) of `value` contains a fetched value.
    pub(crate) fn appears_in(&self, value: &Value) -> bool {
        any_string(value, &|text| self.appears_in_text(text))
    }

    /// `arguments` with every reference to a fetched secret replaced by its
    /// value; other `vault://` text is left as it is.
    pub(crate) fn resolve(&self, arguments: Value) -> Value {
        map_strings(arguments, &|text| self.resolve_text(text))
    }

    fn resolve_text(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(PREFIX) {
            out.push_str(&rest[..start]);
            let after = &rest[start + PREFIX.len()..];
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
                .unwrap_or(after.len());
            let name = &after[..end];
            match self.0.iter().find(|(known, _)| known == name) {
                Some((_, value)) => out.push_str(value.expose_secret()),
                None => out.push_str(&rest[start..start + PREFIX.len() + end]),
            }
            rest = &after[end..];
        }
        out.push_str(rest);
        out
    }

    /// `text` with every revealed value put back as its reference.
    pub(crate) fn redact_text(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (name, value) in &self.0 {
            let value = value.expose_secret();
            // A value this short would match by chance; nobody uses one.
            if value.len() >= 4 {
                text = text.replace(value, &format!("{PREFIX}{name}"));
            }
        }
        text
    }

    /// A tool's result with every revealed value taken out.
    pub(crate) fn redact(&self, result: Result<Value>, tool: &str) -> Result<Value> {
        if self.0.is_empty() {
            return result;
        }
        match result {
            Ok(value) => Ok(map_strings(value, &|text| self.redact_text(text))),
            Err(error) => {
                let message = error.to_string();
                let redacted = self.redact_text(&message);
                if redacted == message {
                    Err(error)
                } else {
                    Err(Error::Failed {
                        tool: tool.to_owned(),
                        message: redacted,
                    })
                }
            }
        }
    }
}

fn any_string(value: &Value, found: &dyn Fn(&str) -> bool) -> bool {
    match value {
        Value::String(text) => found(text),
        Value::Array(items) => items.iter().any(|item| any_string(item, found)),
        Value::Object(fields) => fields
            .iter()
            .any(|(key, item)| found(key) || any_string(item, found)),
        _ => false,
    }
}

fn map_strings(value: Value, change: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::String(text) => Value::String(change(&text)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| map_strings(item, change))
                .collect(),
        ),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(key, item)| (change(&key), map_strings(item, change)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    struct Two;
    impl Secrets for Two {
        fn secret(&self, name: &str) -> std::result::Result<SecretString, String> {
            match name {
                "A" => Ok(SecretString::from("alpha-value")),
                "AB" => Ok(SecretString::from("beta-value")),
                _ => Err("not in the vault".into()),
            }
        }
    }

    #[test]
    fn references_are_resolved_by_whole_name_and_values_are_taken_back_out() {
        let revealed = Revealed::fetch("t", &["A".into(), "AB".into()], &Two).expect("fetch");
        let resolved =
            revealed.resolve(json!({"h": "Bearer vault://AB", "l": ["vault://A/x", "vault://C"]}));
        assert_eq!(
            resolved,
            json!({"h": "Bearer beta-value", "l": ["alpha-value/x", "vault://C"]})
        );
        let out = revealed
            .redact(Ok(json!({"echo": "got alpha-value and beta-value"})), "t")
            .expect("ok");
        assert_eq!(out, json!({"echo": "got vault://A and vault://AB"}));
        let failed = revealed.redact(
            Err(Error::Failed {
                tool: "t".into(),
                message: "401 for beta-value".into(),
            }),
            "t",
        );
        assert!(!failed
            .expect_err("error")
            .to_string()
            .contains("beta-value"));
    }

    #[test]
    fn pasted_keys_are_told_from_names_paths_and_settings() {
        for key in [
            "sk-proj-8c1f0e6b2a9d4f7e",
            "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUv",
            "3f9a1c7e5b2d8f6a4c0e9b1d7f3a5c8e2b6d0f4a",
            "ghp_0123456789abcdef0123456789abcdef0123",
            "Bearer abc",
            "dGhpcyBpcyBhIHNlY3JldCB0b2tlbiAxMjM0NTY3OA==",
        ] {
            assert!(looks_like_key(key), "{key}");
        }
        // Plain environment values: a long id is a setting, unless its name
        // says secret or it starts like a credential.
        let id = "8c1f0e6b2a9d4f7e8c1f0e6b2a9d4f7e";
        assert!(!looks_like_key_in("NOTION_DATABASE_ID", id));
        assert!(looks_like_key_in("NOTION_TOKEN", id));
        assert!(looks_like_key_in("ANYTHING", "AKIAIOSFODNN7EXAMPLE"));
        assert!(looks_like_key_in(
            "ANYTHING",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
        ));
        assert!(!looks_like_key_in("LOG_LEVEL", "debug"));
        for plain in [
            "vault://OPENAI_API_KEY",
            "OPENAI_API_KEY",
            "/usr/lib/python3.11/site-packages/x1234",
            "http://127.0.0.1:8080/v1",
            "C.UTF-8",
            "debug",
            "some words of a setting 1234 5678 90ab",
        ] {
            assert!(!looks_like_key(plain), "{plain}");
        }
    }

    #[test]
    fn a_missing_secret_is_a_clear_error() {
        let error = Revealed::fetch("t", &["C".into()], &Two)
            .err()
            .expect("missing");
        assert!(error.to_string().contains("`C`"), "{error}");
    }
}
