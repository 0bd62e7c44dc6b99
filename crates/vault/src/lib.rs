//! `codexos-vault`: named secrets encrypted at rest, keyed from the OS keychain.
//!
//! Each value is sealed with XChaCha20-Poly1305 under a 256-bit master key that
//! lives only in the OS keychain (Secret Service on Linux, Keychain on macOS,
//! Credential Manager on Windows, through the `keyring` crate). The store keeps
//! ciphertext and nonce; the secret's name is bound as associated data, so a
//! record moved under another name fails to open. There is no plaintext
//! fallback: without a reachable keychain every operation fails with
//! [`Error::KeychainUnavailable`], which says how to get one.
//!
//! The master key's keychain entry is scoped by the data home's id, so two
//! `CODEXOS_HOME`s never share or overwrite each other's key.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use secrecy::{ExposeSecret, SecretString};
//! let store = Arc::new(codexos_store::Store::open(std::path::Path::new("/tmp/h/codexos.sqlite"))?);
//! let vault = codexos_vault::Vault::new(store)?;
//! vault.set("OPENAI_API_KEY", &SecretString::from("sk-…"))?;
//! assert_eq!(vault.get("OPENAI_API_KEY")?.expose_secret(), "sk-…");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use codexos_store::{SealedSecret, Store};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

const SERVICE: &str = "codexos-vault";
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;

/// Errors of the vault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No OS keychain answered.
    #[error("no OS keychain is reachable ({source}) — on Linux start a Secret Service provider (gnome-keyring-daemon or KeePassXC) in a D-Bus session and unlock it; CodexOS never stores secrets in plaintext")]
    KeychainUnavailable {
        /// The keychain error.
        #[source]
        source: keyring::Error,
    },
    /// Secrets exist but the keychain no longer holds the key that sealed them.
    #[error("the vault's master key is missing from the OS keychain (entry `{SERVICE}`/`{account}`), so the {count} stored secret(s) cannot be decrypted — restore the keychain, or remove them with `codexos vault rm NAME` and set them again")]
    MasterKeyMissing {
        /// Keychain account of the missing key.
        account: String,
        /// Secrets that cannot be opened.
        count: usize,
    },
    /// The keychain entry holds something that is not a CodexOS master key.
    #[error("the keychain entry `{SERVICE}`/`{account}` does not hold a valid master key — it was changed outside CodexOS; restore it from a backup")]
    MasterKeyCorrupt {
        /// Keychain account.
        account: String,
    },
    /// No secret of that name.
    #[error("no secret named `{name}` in the vault — list them with `codexos vault list`")]
    NotFound {
        /// Secret name.
        name: String,
    },
    /// A name outside the allowed alphabet.
    #[error(
        "invalid secret name `{name}`: use 1–128 characters from A–Z, a–z, 0–9, `_`, `-`, `.`"
    )]
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// Authentication of the ciphertext failed.
    #[error("the secret `{name}` failed to decrypt: its ciphertext was altered or sealed with another key — set it again with `codexos vault set {name}`")]
    Tampered {
        /// Secret name.
        name: String,
    },
    /// Any other keychain failure.
    #[error("OS keychain error: {source}")]
    Keychain {
        /// The keychain error.
        #[source]
        source: keyring::Error,
    },
    /// The metadata store failed.
    #[error(transparent)]
    Store(#[from] codexos_store::Error),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn keychain_error(source: keyring::Error) -> Error {
    match source {
        keyring::Error::PlatformFailure(_) | keyring::Error::NoStorageAccess(_) => {
            Error::KeychainUnavailable { source }
        }
        other => Error::Keychain { source: other },
    }
}

/// The vault of one data home.
#[derive(Debug, Clone)]
pub struct Vault {
    store: Arc<Store>,
    account: String,
}

impl Vault {
    /// A vault over `store`; touches the keychain only when used.
    pub fn new(store: Arc<Store>) -> Result<Self> {
        let account = format!("master-key:{}", store.home_id()?);
        Ok(Self { store, account })
    }

    /// Checks that the keychain answers and the master key (if any) is usable.
    pub fn check(&self) -> Result<()> {
        match self.entry()?.get_password() {
            Ok(encoded) => decode_key(&encoded, &self.account).map(drop),
            Err(keyring::Error::NoEntry) => Ok(()),
            Err(error) => Err(keychain_error(error)),
        }
    }

    /// Encrypts and stores `value` under `name`, replacing any previous value.
    pub fn set(&self, name: &str, value: &SecretString) -> Result<()> {
        validate(name)?;
        let key = self.master_key(true)?;
        let cipher = XChaCha20Poly1305::new(key.as_slice().into());
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: value.expose_secret().as_bytes(),
                    aad: &associated_data(name),
                },
            )
            // Encryption only fails for messages beyond 256 GiB.
            .map_err(|_| Error::Tampered {
                name: name.to_owned(),
            })?;
        self.store.put_secret(&SealedSecret {
            name: name.to_owned(),
            nonce: nonce.to_vec(),
            ciphertext,
        })?;
        Ok(())
    }

    /// Decrypts the secret `name`.
    pub fn get(&self, name: &str) -> Result<SecretString> {
        validate(name)?;
        let sealed = self.store.secret(name)?.ok_or_else(|| Error::NotFound {
            name: name.to_owned(),
        })?;
        let key = self.master_key(false)?;
        let cipher = XChaCha20Poly1305::new(key.as_slice().into());
        if sealed.nonce.len() != NONCE_LEN {
            return Err(Error::Tampered {
                name: name.to_owned(),
            });
        }
        let plaintext = Zeroizing::new(
            cipher
                .decrypt(
                    XNonce::from_slice(&sealed.nonce),
                    Payload {
                        msg: &sealed.ciphertext,
                        aad: &associated_data(name),
                    },
                )
                .map_err(|_| Error::Tampered {
                    name: name.to_owned(),
                })?,
        );
        let text = std::str::from_utf8(&plaintext).map_err(|_| Error::Tampered {
            name: name.to_owned(),
        })?;
        Ok(SecretString::from(text.to_owned()))
    }

    /// Names of all stored secrets (values are never listed).
    pub fn list(&self) -> Result<Vec<String>> {
        Ok(self.store.secret_names()?)
    }

    /// Removes a secret; `false` when there was none.
    pub fn remove(&self, name: &str) -> Result<bool> {
        validate(name)?;
        Ok(self.store.delete_secret(name)?)
    }

    fn entry(&self) -> Result<keyring::Entry> {
        keyring::Entry::new(SERVICE, &self.account).map_err(keychain_error)
    }

    fn master_key(&self, create: bool) -> Result<Zeroizing<[u8; KEY_LEN]>> {
        let entry = self.entry()?;
        match entry.get_password() {
            Ok(encoded) => decode_key(&encoded, &self.account),
            Err(keyring::Error::NoEntry) => {
                let count = self.store.secret_names()?.len();
                if count > 0 || !create {
                    return Err(Error::MasterKeyMissing {
                        account: self.account.clone(),
                        count,
                    });
                }
                let mut key = Zeroizing::new([0u8; KEY_LEN]);
                rand::rng().fill_bytes(key.as_mut_slice());
                let encoded = Zeroizing::new(hex::encode(key.as_slice()));
                entry.set_password(&encoded).map_err(keychain_error)?;
                Ok(key)
            }
            Err(error) => Err(keychain_error(error)),
        }
    }
}

fn decode_key(encoded: &str, account: &str) -> Result<Zeroizing<[u8; KEY_LEN]>> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    hex::decode_to_slice(encoded.trim(), key.as_mut_slice()).map_err(|_| {
        Error::MasterKeyCorrupt {
            account: account.to_owned(),
        }
    })?;
    Ok(key)
}

fn associated_data(name: &str) -> Vec<u8> {
    format!("codexos-vault:v1:{name}").into_bytes()
}

fn validate(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidName {
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert!(validate("OPENAI_API_KEY").is_ok());
        assert!(validate("a.b-c_1").is_ok());
        assert!(validate("").is_err());
        assert!(validate("has space").is_err());
        assert!(validate("semi;colon").is_err());
        assert!(validate(&"x".repeat(129)).is_err());
    }

    #[test]
    fn key_decoding_rejects_garbage() {
        assert!(decode_key(&"ab".repeat(32), "a").is_ok());
        assert!(matches!(
            decode_key("not hex", "a"),
            Err(Error::MasterKeyCorrupt { .. })
        ));
        assert!(decode_key("abcd", "a").is_err());
    }
}
