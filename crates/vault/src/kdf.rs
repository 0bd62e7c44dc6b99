//! Keys from passphrases: Argon2id with parameters stored beside what they
//! protect, bounded on the way in so a crafted file cannot make a reader
//! allocate gigabytes or spin for hours.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::envelope::{Key, KEY_LEN};

/// Shortest passphrase accepted for new keys.
pub const MIN_PASSPHRASE_CHARS: usize = 10;

const SALT_LEN: usize = 16;
/// 64 MiB, 3 passes, 1 lane: OWASP's first Argon2id recommendation.
const DEFAULT_MEMORY_KIB: u32 = 64 * 1024;
const DEFAULT_PASSES: u32 = 3;
const MAX_MEMORY_KIB: u32 = 1024 * 1024;
const MAX_PASSES: u32 = 16;
const MAX_LANES: u32 = 16;

/// Argon2id parameters and salt (hex) of one derived key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdfParams {
    /// Always `argon2id`.
    pub alg: String,
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub passes: u32,
    /// Lanes.
    pub lanes: u32,
    /// Salt, hex.
    pub salt: String,
}

impl KdfParams {
    /// Fresh parameters with a random salt.
    #[must_use]
    pub fn new() -> Self {
        let mut salt = [0u8; SALT_LEN];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt);
        Self {
            alg: "argon2id".into(),
            memory_kib: DEFAULT_MEMORY_KIB,
            passes: DEFAULT_PASSES,
            lanes: 1,
            salt: hex::encode(salt),
        }
    }

    /// Checks parameters read from a file or the database; the reason if unusable.
    pub fn validate(&self) -> Result<Vec<u8>, String> {
        if self.alg != "argon2id" {
            return Err(format!(
                "unknown key derivation `{}` (expected argon2id)",
                self.alg
            ));
        }
        if !(1..=MAX_LANES).contains(&self.lanes)
            || !(1..=MAX_PASSES).contains(&self.passes)
            || self.memory_kib < 8 * self.lanes
            || self.memory_kib > MAX_MEMORY_KIB
        {
            return Err(format!(
                "Argon2id parameters out of range (memory {} KiB, {} passes, {} lanes)",
                self.memory_kib, self.passes, self.lanes
            ));
        }
        let salt = hex::decode(&self.salt).map_err(|_| "the salt is not hex".to_owned())?;
        if !(8..=64).contains(&salt.len()) {
            return Err("the salt has the wrong length".into());
        }
        Ok(salt)
    }

    /// Derives the key of `passphrase`.
    pub fn derive(&self, passphrase: &SecretString) -> Result<Key, String> {
        let salt = self.validate()?;
        let params = argon2::Params::new(self.memory_kib, self.passes, self.lanes, Some(KEY_LEN))
            .map_err(|error| format!("Argon2id parameters: {error}"))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        argon
            .hash_password_into(
                passphrase.expose_secret().as_bytes(),
                &salt,
                key.as_mut_slice(),
            )
            .map_err(|error| format!("Argon2id: {error}"))?;
        Ok(key)
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_passphrase_and_salt_give_the_same_key() {
        let mut params = KdfParams::new();
        params.memory_kib = 64;
        params.passes = 1;
        let passphrase = SecretString::from("correct horse battery");
        let first = params.derive(&passphrase).expect("derive");
        assert_eq!(*first, *params.derive(&passphrase).expect("derive"));
        assert_ne!(
            *first,
            *params.derive(&SecretString::from("wrong")).expect("derive")
        );
    }

    #[test]
    fn hostile_parameters_are_refused_before_any_work() {
        let mut params = KdfParams::new();
        params.memory_kib = u32::MAX;
        assert!(params.validate().is_err());
        let mut params = KdfParams::new();
        params.passes = 1_000_000;
        assert!(params.validate().is_err());
        let mut params = KdfParams::new();
        params.alg = "scrypt".into();
        assert!(params.validate().is_err());
        let mut params = KdfParams::new();
        params.salt = "zz".into();
        assert!(params.validate().is_err());
    }
}
