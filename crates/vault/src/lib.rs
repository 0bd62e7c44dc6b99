//! `codexos-vault`: named secrets encrypted at rest, keyed from the OS keychain
//! or, chosen explicitly, from a passphrase.
//!
//! Envelope encryption ([`envelope`]): every secret has its own random data
//! key; values are sealed with XChaCha20-Poly1305 under the data key, and the
//! data key under the vault's 256-bit master key. The master key comes from
//! one of two sources, recorded in the data home so it is never guessed:
//!
//! - **keychain** (default): a random key in the OS keychain (Secret Service
//!   on Linux, Keychain on macOS, Credential Manager on Windows, through the
//!   `keyring` crate), one entry per data home and key generation;
//! - **passphrase**: Argon2id over a passphrase ([`kdf`]), for machines with
//!   no keychain. The passphrase comes from `CODEXOS_VAULT_PASSPHRASE`, the
//!   terminal or the app's unlock dialog, and is never stored.
//!
//! There is no plaintext fallback: without the key every operation fails with
//! an error that says how to get it. [`Vault::rotate`] re-wraps every data key
//! under a new master key (or moves to the other source) in one SQLite
//! transaction; [`Vault::export`] / [`Vault::import`] move secrets between
//! machines in a passphrase-sealed file ([`export`]).
//!
//! Secrets are referred to by name, written `vault://NAME` in config, flows
//! and tool manifests ([`secret_name`]), and resolved at call time only.
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

pub mod envelope;
pub mod export;
pub mod kdf;

use std::sync::{Arc, Mutex, PoisonError};

use codexos_store::{SealedSecret, Store};
use secrecy::SecretString;
use serde::Serialize;
use zeroize::Zeroizing;

use envelope::{Envelope, Key, OpenError, KEY_LEN};
use kdf::KdfParams;

const SERVICE: &str = "codexos-vault";
/// Environment variable holding the passphrase of a passphrase-mode vault.
pub const PASSPHRASE_ENV: &str = "CODEXOS_VAULT_PASSPHRASE";
const META_MODE: &str = "vault.mode";
const META_KEY_ID: &str = "vault.key_id";
const META_KDF: &str = "vault.kdf";
const META_CHECK: &str = "vault.check";
const CHECK_PLAINTEXT: &[u8] = b"codexos-vault passphrase check";

/// Errors of the vault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No OS keychain answered.
    #[error("no OS keychain is reachable ({source}) — on Linux start a Secret Service provider (gnome-keyring-daemon or KeePassXC) in a D-Bus session and unlock it, or switch this vault to a passphrase with `codexos vault rotate --to passphrase`; CodexOS never stores secrets in plaintext")]
    KeychainUnavailable {
        /// The keychain error.
        #[source]
        source: keyring::Error,
    },
    /// Secrets exist but the keychain no longer holds the key that sealed them.
    #[error("the vault's master key is missing from the OS keychain (entry `{SERVICE}`/`{account}`), so the {count} stored secret(s) cannot be decrypted — restore the keychain, import an export with `codexos vault import FILE`, or remove them with `codexos vault rm NAME` and set them again")]
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
    /// A passphrase-mode vault with no passphrase given.
    #[error("the vault is locked: it is keyed by a passphrase — set {PASSPHRASE_ENV} or type it when asked")]
    Locked,
    /// The passphrase does not open the vault (or an export file).
    #[error("wrong passphrase for {what} — nothing was decrypted or changed")]
    WrongPassphrase {
        /// `the vault` or `the export file`.
        what: &'static str,
    },
    /// A new passphrase that is too short.
    #[error(
        "the passphrase is too short: use at least {} characters",
        kdf::MIN_PASSPHRASE_CHARS
    )]
    WeakPassphrase,
    /// The vault's own records in the data home are damaged.
    #[error("the vault's settings in the data home are damaged ({reason}) — restore `codexos.sqlite` from a backup or import an export")]
    CorruptSettings {
        /// What is wrong.
        reason: String,
    },
    /// No secret of that name.
    #[error("no secret named `{name}` in the vault — list them with `codexos vault list`")]
    NotFound {
        /// Secret name.
        name: String,
    },
    /// A name outside the allowed alphabet.
    #[error(
        "invalid secret name `{name}`: use 1–128 characters from A–Z, a–z, 0–9, `_`, `-`, `.` (written `vault://NAME` in files)"
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
    /// An export file that cannot be read.
    #[error("not a usable vault export: {reason} — nothing was imported")]
    BadExport {
        /// What is wrong.
        reason: String,
    },
    /// Importing would overwrite secrets.
    #[error("the vault already has {} of the imported secrets ({}) — import again with --overwrite to replace them; nothing was imported", names.len(), names.join(", "))]
    ImportConflict {
        /// Names present on both sides.
        names: Vec<String>,
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

/// Where the master key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A random key in the OS keychain.
    Keychain,
    /// Argon2id over a passphrase.
    Passphrase,
}

/// Where a rotation moves the master key.
#[derive(Debug)]
pub enum Rotation {
    /// A new random key in the OS keychain.
    Keychain,
    /// A key derived from this (new) passphrase.
    Passphrase(SecretString),
}

/// What the vault looks like now (no values).
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Source of the master key.
    pub mode: Mode,
    /// Passphrase mode with no passphrase known to this process yet.
    pub locked: bool,
    /// Stored secrets.
    pub secrets: usize,
    /// Id of the current master key (changes on every rotation).
    pub key_id: Option<String>,
}

/// The outcome of [`Vault::rotate`].
#[derive(Debug, Clone, Serialize)]
pub struct RotateReport {
    /// Secrets whose data keys were re-wrapped.
    pub resealed: usize,
    /// Source of the new master key.
    pub mode: Mode,
    /// Id of the new master key.
    pub key_id: String,
    /// Set when the old keychain entry could not be removed (harmless: it no
    /// longer opens anything, but it is still in the keychain).
    pub warning: Option<String>,
}

/// The outcome of [`Vault::import`].
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// Names added.
    pub added: Vec<String>,
    /// Names replaced (with `overwrite`).
    pub replaced: Vec<String>,
}

/// A master key and its id.
struct MasterKey {
    id: String,
    key: Key,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("MasterKey")
            .field("id", &self.id)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// The vault of one data home.
#[derive(Debug, Clone)]
pub struct Vault {
    store: Arc<Store>,
    home_id: String,
    /// The passphrase-derived key once unlocked (passphrase mode only; the
    /// keychain key is fetched per use and not kept).
    unlocked: Arc<Mutex<Option<MasterKey>>>,
}

/// The secret name of a reference: `vault://NAME` or a bare `NAME`.
pub fn secret_name(reference: &str) -> Result<&str> {
    let name = reference.strip_prefix("vault://").unwrap_or(reference);
    validate(name)?;
    Ok(name)
}

impl Vault {
    /// A vault over `store`; touches the keychain only when used.
    pub fn new(store: Arc<Store>) -> Result<Self> {
        let home_id = store.home_id()?;
        Ok(Self {
            store,
            home_id,
            unlocked: Arc::new(Mutex::new(None)),
        })
    }

    fn account(&self, key_id: Option<&str>) -> String {
        match key_id {
            // Version 1 vaults had one key per home and no id.
            None | Some("") => format!("master-key:{}", self.home_id),
            Some(id) => format!("master-key:{}:{id}", self.home_id),
        }
    }

    /// Source of the master key.
    pub fn mode(&self) -> Result<Mode> {
        match self.store.meta(META_MODE)?.as_deref() {
            None | Some("keychain") => Ok(Mode::Keychain),
            Some("passphrase") => Ok(Mode::Passphrase),
            Some(other) => Err(Error::CorruptSettings {
                reason: format!("unknown key source `{other}`"),
            }),
        }
    }

    /// The vault's state, without touching any value.
    pub fn status(&self) -> Result<Status> {
        let mode = self.mode()?;
        let locked = mode == Mode::Passphrase
            && self.cached().is_none()
            && std::env::var_os(PASSPHRASE_ENV).is_none();
        Ok(Status {
            mode,
            locked,
            secrets: self.store.secret_names()?.len(),
            key_id: self.store.meta(META_KEY_ID)?,
        })
    }

    /// Checks that the key source answers and the master key (if any) is usable.
    pub fn check(&self) -> Result<()> {
        match self.mode()? {
            Mode::Keychain => {
                let key_id = self.store.meta(META_KEY_ID)?;
                match self.entry(key_id.as_deref())?.get_password() {
                    Ok(encoded) => decode_key(&encoded, &self.account(key_id.as_deref())).map(drop),
                    Err(keyring::Error::NoEntry) => {
                        let count = self.store.secret_names()?.len();
                        if count > 0 {
                            Err(Error::MasterKeyMissing {
                                account: self.account(key_id.as_deref()),
                                count,
                            })
                        } else {
                            Ok(())
                        }
                    }
                    Err(error) => Err(keychain_error(error)),
                }
            }
            Mode::Passphrase => self.master_key(false).map(drop),
        }
    }

    /// Unlocks a passphrase-mode vault for this process.
    pub fn unlock(&self, passphrase: &SecretString) -> Result<()> {
        let key = self.derive_current(passphrase)?;
        *self.unlocked.lock().unwrap_or_else(PoisonError::into_inner) = Some(key);
        Ok(())
    }

    /// Forgets the unlocked passphrase key.
    pub fn lock(&self) {
        *self.unlocked.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn cached(&self) -> Option<MasterKey> {
        self.unlocked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|master| MasterKey {
                id: master.id.clone(),
                key: master.key.clone(),
            })
    }

    /// Encrypts and stores `value` under `name`, replacing any previous value.
    pub fn set(&self, name: &str, value: &SecretString) -> Result<()> {
        let name = secret_name(name)?;
        let master = self.master_key(true)?;
        let envelope = Envelope::seal(name, value, &master.key, &master.id);
        self.store.put_secret(&SealedSecret {
            name: name.to_owned(),
            nonce: Vec::new(),
            ciphertext: envelope.encode(),
        })?;
        self.record("secret.set", name, "{}");
        Ok(())
    }

    /// Decrypts the secret `name` (or `vault://NAME`) for `purpose` (`reveal`,
    /// `provider openai`, `tool`, …). The use is recorded in the audit log
    /// before the value is handed out: a use that cannot be recorded does
    /// not happen.
    pub fn get_for(&self, name: &str, purpose: &str) -> Result<SecretString> {
        let name = secret_name(name)?;
        let sealed = self.store.secret(name)?.ok_or_else(|| Error::NotFound {
            name: name.to_owned(),
        })?;
        let master = self.master_key(false)?;
        let value = open_record(&sealed, &master)?;
        self.store.audit(
            "secret.use",
            name,
            &serde_json::json!({ "for": purpose }).to_string(),
        )?;
        Ok(value)
    }

    /// [`Vault::get_for`] with no purpose named.
    pub fn get(&self, name: &str) -> Result<SecretString> {
        self.get_for(name, "")
    }

    /// Records a change in the audit log. The change is made already: one
    /// that cannot be recorded (the disk is full) stays made, and the failure
    /// is logged as an error.
    fn record(&self, action: &str, target: &str, detail: &str) {
        if let Err(error) = self.store.audit(action, target, detail) {
            tracing::error!(action, target, %error, "a vault change could not be recorded in the audit log");
        }
    }

    /// Names of all stored secrets (values are never listed).
    pub fn list(&self) -> Result<Vec<String>> {
        Ok(self.store.secret_names()?)
    }

    /// Removes a secret; `false` when there was none.
    pub fn remove(&self, name: &str) -> Result<bool> {
        let name = secret_name(name)?;
        let removed = self.store.delete_secret(name)?;
        if removed {
            self.record("secret.delete", name, "{}");
        }
        Ok(removed)
    }

    /// Replaces the master key: every data key is re-wrapped under the new
    /// key in one transaction (values are not re-encrypted), then the old
    /// keychain entry is removed. A crash at any point leaves a vault that
    /// opens with either the old or the new key, never neither.
    pub fn rotate(&self, to: Rotation) -> Result<RotateReport> {
        let sealed = self.store.secrets()?;
        // A vault that never held a key (a fresh home on a machine with no
        // keychain) needs none to move to a passphrase.
        let never_keyed = sealed.is_empty() && self.store.meta(META_KEY_ID)?.is_none();
        let old = if never_keyed {
            None
        } else {
            Some(self.master_key(true)?)
        };
        // Open everything first: a damaged record stops the rotation before
        // anything is written.
        let opened: Vec<(SealedSecret, Option<Envelope>)> = sealed
            .into_iter()
            .map(|record| {
                let envelope = if record.nonce.is_empty() {
                    Some(Envelope::decode(&record.ciphertext).map_err(|_| tampered(&record.name))?)
                } else {
                    None
                };
                Ok((record, envelope))
            })
            .collect::<Result<_>>()?;
        let old_mode = self.mode()?;
        let (mode, new, kdf) = self.new_master(to)?;
        let mut resealed = Vec::with_capacity(opened.len());
        for (record, envelope) in &opened {
            let old = old.as_ref().ok_or(Error::Locked)?;
            let envelope = if let Some(envelope) = envelope {
                envelope
                    .rewrap(&record.name, &old.key, &new.key, &new.id)
                    .map_err(|_| tampered(&record.name))?
            } else {
                let value = open_record(record, old)?;
                Envelope::seal(&record.name, &value, &new.key, &new.id)
            };
            resealed.push(SealedSecret {
                name: record.name.clone(),
                nonce: Vec::new(),
                ciphertext: envelope.encode(),
            });
        }
        let mode_name = match mode {
            Mode::Keychain => "keychain",
            Mode::Passphrase => "passphrase",
        };
        let (kdf_json, check_hex) = match &kdf {
            Some(kdf) => {
                let json = serde_json::to_string(kdf).map_err(|error| Error::CorruptSettings {
                    reason: error.to_string(),
                })?;
                let (nonce, check) = envelope::seal(&new.key, CHECK_PLAINTEXT, new.id.as_bytes());
                (json, hex::encode([nonce.as_slice(), &check].concat()))
            }
            None => (String::new(), String::new()),
        };
        self.store.reseal_secrets(
            &resealed,
            &[
                (META_MODE, mode_name),
                (META_KEY_ID, &new.id),
                (META_KDF, &kdf_json),
                (META_CHECK, &check_hex),
            ],
        )?;
        let warning = if let (Mode::Keychain, Some(old)) = (old_mode, &old) {
            match self.entry(Some(&old.id))?.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => None,
                Err(error) => Some(format!(
                    "the old master key could not be removed from the keychain ({error}); it opens nothing now — delete `{SERVICE}`/`{}` by hand",
                    self.account(Some(&old.id))
                )),
            }
        } else {
            None
        };
        let report = RotateReport {
            resealed: resealed.len(),
            mode,
            key_id: new.id.clone(),
            warning,
        };
        if mode == Mode::Passphrase {
            *self.unlocked.lock().unwrap_or_else(PoisonError::into_inner) = Some(new);
        } else {
            self.lock();
        }
        self.record(
            "vault.rotate",
            "",
            &serde_json::json!({ "resealed": report.resealed, "to": format!("{mode:?}").to_lowercase() })
                .to_string(),
        );
        Ok(report)
    }

    /// A new random master key, stored in the keychain under its own id.
    fn new_keychain_key(&self) -> Result<MasterKey> {
        let master = MasterKey {
            id: new_key_id("k"),
            key: envelope::random_key(),
        };
        let encoded = Zeroizing::new(hex::encode(master.key.as_slice()));
        self.entry(Some(&master.id))?
            .set_password(&encoded)
            .map_err(keychain_error)?;
        Ok(master)
    }

    /// A new master key for a rotation (a keychain key is stored at once).
    fn new_master(&self, to: Rotation) -> Result<(Mode, MasterKey, Option<KdfParams>)> {
        Ok(match to {
            Rotation::Keychain => (Mode::Keychain, self.new_keychain_key()?, None),
            Rotation::Passphrase(passphrase) => {
                check_strength(&passphrase)?;
                let kdf = KdfParams::new();
                let key = kdf
                    .derive(&passphrase)
                    .map_err(|reason| Error::CorruptSettings { reason })?;
                (
                    Mode::Passphrase,
                    MasterKey {
                        id: new_key_id("p"),
                        key,
                    },
                    Some(kdf),
                )
            }
        })
    }

    /// Every secret, sealed under `passphrase` in an export file's bytes.
    pub fn export(&self, passphrase: &SecretString) -> Result<Vec<u8>> {
        check_strength(passphrase)?;
        let master = self.master_key(false).or_else(|error| match error {
            // An empty keychain vault exports an empty file.
            Error::MasterKeyMissing { count: 0, .. } => Ok(MasterKey {
                id: String::new(),
                key: envelope::random_key(),
            }),
            other => Err(other),
        })?;
        let secrets = self
            .store
            .secrets()?
            .iter()
            .map(|record| Ok((record.name.clone(), open_record(record, &master)?)))
            .collect::<Result<Vec<_>>>()?;
        let sealed = export::seal(&secrets, passphrase)
            .map_err(|reason| Error::CorruptSettings { reason })?;
        let names: Vec<&String> = secrets.iter().map(|(name, _)| name).collect();
        self.record(
            "vault.export",
            "",
            &serde_json::json!({ "secrets": names }).to_string(),
        );
        Ok(sealed)
    }

    /// Imports an export file; existing names are refused unless `overwrite`.
    /// All or nothing: a wrong passphrase, a damaged file or a conflict
    /// changes nothing.
    pub fn import(
        &self,
        bytes: &[u8],
        passphrase: &SecretString,
        overwrite: bool,
    ) -> Result<ImportReport> {
        let sealed = export::parse(bytes).map_err(export_error)?;
        let secrets = sealed.open(passphrase).map_err(export_error)?;
        for (name, _) in &secrets {
            validate(name)?;
        }
        let existing = self.store.secret_names()?;
        let (replaced, added): (Vec<String>, Vec<String>) = secrets
            .iter()
            .map(|(name, _)| name.clone())
            .partition(|name| existing.contains(name));
        if !replaced.is_empty() && !overwrite {
            return Err(Error::ImportConflict { names: replaced });
        }
        let master = self.master_key(true)?;
        let records: Vec<SealedSecret> = secrets
            .iter()
            .map(|(name, value)| SealedSecret {
                name: name.clone(),
                nonce: Vec::new(),
                ciphertext: Envelope::seal(name, value, &master.key, &master.id).encode(),
            })
            .collect();
        self.store.put_secrets(&records)?;
        self.record(
            "vault.import",
            "",
            &serde_json::json!({ "added": added, "replaced": replaced }).to_string(),
        );
        Ok(ImportReport { added, replaced })
    }

    fn entry(&self, key_id: Option<&str>) -> Result<keyring::Entry> {
        keyring::Entry::new(SERVICE, &self.account(key_id)).map_err(keychain_error)
    }

    fn kdf_settings(&self) -> Result<(KdfParams, Vec<u8>, String)> {
        let corrupt = |reason: &str| Error::CorruptSettings {
            reason: reason.to_owned(),
        };
        let kdf: KdfParams = serde_json::from_str(
            &self
                .store
                .meta(META_KDF)?
                .ok_or_else(|| corrupt("no key derivation settings"))?,
        )
        .map_err(|_| corrupt("the key derivation settings are not valid JSON"))?;
        kdf.validate().map_err(|reason| corrupt(&reason))?;
        let check = hex::decode(self.store.meta(META_CHECK)?.unwrap_or_default())
            .map_err(|_| corrupt("the passphrase check is not hex"))?;
        let key_id = self
            .store
            .meta(META_KEY_ID)?
            .ok_or_else(|| corrupt("no key id"))?;
        Ok((kdf, check, key_id))
    }

    fn derive_current(&self, passphrase: &SecretString) -> Result<MasterKey> {
        if self.mode()? != Mode::Passphrase {
            return Err(Error::CorruptSettings {
                reason: "this vault is keyed by the OS keychain, not a passphrase".into(),
            });
        }
        let (kdf, check, key_id) = self.kdf_settings()?;
        let key = kdf
            .derive(passphrase)
            .map_err(|reason| Error::CorruptSettings { reason })?;
        if check.len() < envelope::NONCE_LEN {
            return Err(Error::CorruptSettings {
                reason: "the passphrase check is truncated".into(),
            });
        }
        let (nonce, sealed) = check.split_at(envelope::NONCE_LEN);
        match envelope::open(&key, nonce, sealed, key_id.as_bytes()) {
            Ok(plain) if plain.as_slice() == CHECK_PLAINTEXT => Ok(MasterKey { id: key_id, key }),
            _ => Err(Error::WrongPassphrase { what: "the vault" }),
        }
    }

    fn master_key(&self, create: bool) -> Result<MasterKey> {
        if self.mode()? == Mode::Passphrase {
            if let Some(master) = self.cached() {
                return Ok(master);
            }
            let passphrase = std::env::var(PASSPHRASE_ENV).map_err(|_| Error::Locked)?;
            let passphrase = SecretString::from(passphrase);
            let master = self.derive_current(&passphrase)?;
            *self.unlocked.lock().unwrap_or_else(PoisonError::into_inner) = Some(MasterKey {
                id: master.id.clone(),
                key: master.key.clone(),
            });
            return Ok(master);
        }
        let key_id = self.store.meta(META_KEY_ID)?;
        let entry = self.entry(key_id.as_deref())?;
        match entry.get_password() {
            Ok(encoded) => Ok(MasterKey {
                key: decode_key(&encoded, &self.account(key_id.as_deref()))?,
                id: key_id.unwrap_or_default(),
            }),
            Err(keyring::Error::NoEntry) => {
                let count = self.store.secret_names()?.len();
                if count > 0 || !create {
                    return Err(Error::MasterKeyMissing {
                        account: self.account(key_id.as_deref()),
                        count,
                    });
                }
                // A new vault: the key goes to the keychain before its id is
                // recorded, so a crash in between leaves an unused entry, not
                // a vault without its key.
                let master = self.new_keychain_key()?;
                self.store.set_meta(META_KEY_ID, &master.id)?;
                Ok(master)
            }
            Err(error) => Err(keychain_error(error)),
        }
    }
}

fn open_record(record: &SealedSecret, master: &MasterKey) -> Result<SecretString> {
    let name = &record.name;
    if record.nonce.is_empty() {
        let envelope = Envelope::decode(&record.ciphertext).map_err(|_| tampered(name))?;
        if envelope.key_id != master.id {
            return Err(tampered(name));
        }
        envelope.open(name, &master.key).map_err(|_| tampered(name))
    } else {
        // Version 1: the value sealed directly with the (id-less) master key.
        let plaintext = envelope::open(
            &master.key,
            &record.nonce,
            &record.ciphertext,
            &envelope::legacy_aad(name),
        )
        .map_err(|_: OpenError| tampered(name))?;
        let text = std::str::from_utf8(&plaintext).map_err(|_| tampered(name))?;
        Ok(SecretString::from(text.to_owned()))
    }
}

fn tampered(name: &str) -> Error {
    Error::Tampered {
        name: name.to_owned(),
    }
}

fn export_error(error: export::ExportError) -> Error {
    match error {
        export::ExportError::Malformed(reason) => Error::BadExport { reason },
        export::ExportError::Unauthentic => Error::WrongPassphrase {
            what: "the export file (or it was altered)",
        },
    }
}

fn check_strength(passphrase: &SecretString) -> Result<()> {
    if secrecy::ExposeSecret::expose_secret(passphrase)
        .chars()
        .count()
        < kdf::MIN_PASSPHRASE_CHARS
    {
        Err(Error::WeakPassphrase)
    } else {
        Ok(())
    }
}

fn new_key_id(prefix: &str) -> String {
    let mut bytes = [0u8; 8];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

fn decode_key(encoded: &str, account: &str) -> Result<Key> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    hex::decode_to_slice(encoded.trim(), key.as_mut_slice()).map_err(|_| {
        Error::MasterKeyCorrupt {
            account: account.to_owned(),
        }
    })?;
    Ok(key)
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
    fn references_name_a_secret() {
        assert_eq!(secret_name("vault://OPENAI").expect("ref"), "OPENAI");
        assert_eq!(secret_name("OPENAI").expect("bare"), "OPENAI");
        assert!(secret_name("vault://").is_err());
        assert!(secret_name("vault://a b").is_err());
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
