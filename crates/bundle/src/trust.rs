//! The trust list: signers whose bundles import without a question. A JSON
//! file in the data home, written atomically.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Signer};

/// Known signers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustList {
    /// The signers, with their public keys.
    pub signers: Vec<Signer>,
}

impl TrustList {
    /// Reads the list at `path`; an absent file is an empty list.
    pub fn load(path: &Path) -> Result<Self, Error> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| Error::Malformed {
                reason: format!(
                    "the trust list `{}` is damaged ({error}) — fix or delete it and trust the signers again",
                    path.display()
                ),
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(error) => Err(Error::Malformed {
                reason: format!("cannot read the trust list `{}`: {error}", path.display()),
            }),
        }
    }

    /// Writes the list to `path` (a temporary file renamed over it).
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let failed = |error: std::io::Error| Error::Malformed {
            reason: format!("cannot write the trust list `{}`: {error}", path.display()),
        };
        let bytes = serde_json::to_vec_pretty(self).map_err(|error| Error::Malformed {
            reason: error.to_string(),
        })?;
        let temporary = path.with_extension("json.tmp");
        std::fs::write(&temporary, bytes).map_err(failed)?;
        std::fs::rename(&temporary, path).map_err(failed)
    }

    /// Whether these exact keys are trusted (the name is not compared).
    #[must_use]
    pub fn contains(&self, signer: &Signer) -> bool {
        self.signers
            .iter()
            .any(|known| known.ed25519 == signer.ed25519 && known.ml_dsa_65 == signer.ml_dsa_65)
    }

    /// Adds a signer; `false` when already there.
    pub fn add(&mut self, signer: Signer) -> bool {
        if self.contains(&signer) {
            return false;
        }
        self.signers.push(signer);
        true
    }

    /// Removes the signer with this fingerprint (or unique prefix of it).
    pub fn remove(&mut self, fingerprint: &str) -> Option<Signer> {
        let matches: Vec<usize> = self
            .signers
            .iter()
            .enumerate()
            .filter(|(_, signer)| signer.fingerprint().starts_with(fingerprint))
            .map(|(index, _)| index)
            .collect();
        match matches.as_slice() {
            [index] => Some(self.signers.remove(*index)),
            _ => None,
        }
    }
}
