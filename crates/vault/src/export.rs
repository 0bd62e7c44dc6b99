//! The export file: every secret of a vault, sealed under a key derived from
//! a passphrase, for moving to another machine. One JSON object:
//!
//! ```json
//! { "format": "codexos-vault-export", "version": 1,
//!   "kdf": { "alg": "argon2id", "memory_kib": 65536, "passes": 3, "lanes": 1, "salt": "…" },
//!   "secrets": 2, "nonce": "…hex…", "ciphertext": "…hex…" }
//! ```
//!
//! The plaintext (a JSON list of names and values) never touches the disk;
//! the header is bound as associated data, so editing the parameters or the
//! count makes the file fail to open.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::envelope::{self, OpenError};
use crate::kdf::KdfParams;

const FORMAT: &str = "codexos-vault-export";
const VERSION: u32 = 1;
/// Export files larger than this are refused unread.
pub const MAX_EXPORT_BYTES: usize = 64 * 1024 * 1024;

/// The file's outer JSON.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportFile {
    format: String,
    version: u32,
    kdf: KdfParams,
    secrets: usize,
    nonce: String,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    name: String,
    value: String,
}

impl Drop for Entry {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.value);
    }
}

/// Why an export file did not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportError {
    /// Not an export file, or a damaged one; the reason.
    Malformed(String),
    /// The passphrase is wrong or the content was altered.
    Unauthentic,
}

/// A parsed export file, still sealed.
#[derive(Debug)]
pub struct Sealed {
    file: ExportFile,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

fn header_aad(kdf: &KdfParams, secrets: usize) -> Vec<u8> {
    format!(
        "{FORMAT}:{VERSION}:{}:{}:{}:{}:{}:{secrets}",
        kdf.alg, kdf.memory_kib, kdf.passes, kdf.lanes, kdf.salt
    )
    .into_bytes()
}

/// Seals `secrets` (name, value) under `passphrase`.
pub fn seal(
    secrets: &[(String, SecretString)],
    passphrase: &SecretString,
) -> Result<Vec<u8>, String> {
    let kdf = KdfParams::new();
    let key = kdf.derive(passphrase)?;
    let entries: Vec<Entry> = secrets
        .iter()
        .map(|(name, value)| Entry {
            name: name.clone(),
            value: value.expose_secret().to_owned(),
        })
        .collect();
    let plaintext =
        Zeroizing::new(serde_json::to_vec(&entries).map_err(|error| error.to_string())?);
    drop(entries);
    let (nonce, ciphertext) = envelope::seal(&key, &plaintext, &header_aad(&kdf, secrets.len()));
    let file = ExportFile {
        format: FORMAT.into(),
        version: VERSION,
        kdf,
        secrets: secrets.len(),
        nonce: hex::encode(nonce),
        ciphertext: hex::encode(ciphertext),
    };
    serde_json::to_vec_pretty(&file).map_err(|error| error.to_string())
}

/// Parses an export file without decrypting it; never panics.
pub fn parse(bytes: &[u8]) -> Result<Sealed, ExportError> {
    if bytes.len() > MAX_EXPORT_BYTES {
        return Err(ExportError::Malformed("larger than 64 MiB".into()));
    }
    let file: ExportFile = serde_json::from_slice(bytes)
        .map_err(|error| ExportError::Malformed(format!("not a CodexOS vault export ({error})")))?;
    if file.format != FORMAT {
        return Err(ExportError::Malformed(format!(
            "format `{}` is not `{FORMAT}`",
            file.format
        )));
    }
    if file.version != VERSION {
        return Err(ExportError::Malformed(format!(
            "export version {} (this CodexOS reads version {VERSION})",
            file.version
        )));
    }
    file.kdf.validate().map_err(ExportError::Malformed)?;
    let nonce = hex::decode(&file.nonce)
        .map_err(|_| ExportError::Malformed("the nonce is not hex".into()))?;
    let ciphertext = hex::decode(&file.ciphertext)
        .map_err(|_| ExportError::Malformed("the ciphertext is not hex".into()))?;
    if nonce.len() != envelope::NONCE_LEN {
        return Err(ExportError::Malformed(
            "the nonce has the wrong length".into(),
        ));
    }
    Ok(Sealed {
        file,
        nonce,
        ciphertext,
    })
}

impl Sealed {
    /// How many secrets the header says the file holds.
    #[must_use]
    pub fn count(&self) -> usize {
        self.file.secrets
    }

    /// Decrypts with `passphrase`.
    pub fn open(
        &self,
        passphrase: &SecretString,
    ) -> Result<Vec<(String, SecretString)>, ExportError> {
        let key = self
            .file
            .kdf
            .derive(passphrase)
            .map_err(ExportError::Malformed)?;
        let plaintext = envelope::open(
            &key,
            &self.nonce,
            &self.ciphertext,
            &header_aad(&self.file.kdf, self.file.secrets),
        )
        .map_err(|error| match error {
            OpenError::Malformed => ExportError::Malformed("the ciphertext is truncated".into()),
            OpenError::Unauthentic => ExportError::Unauthentic,
        })?;
        let entries: Vec<Entry> = serde_json::from_slice(&plaintext).map_err(|_| {
            ExportError::Malformed("the decrypted content is not a list of secrets".into())
        })?;
        if entries.len() != self.file.secrets {
            return Err(ExportError::Malformed(
                "the secret count does not match the header".into(),
            ));
        }
        Ok(entries
            .iter()
            .map(|entry| (entry.name.clone(), SecretString::from(entry.value.clone())))
            .collect())
    }
}
