//! The sealed form of one secret (envelope encryption).
//!
//! Each secret has its own random 256-bit data key. The value is sealed with
//! the data key; the data key is sealed ("wrapped") with the vault's master
//! key. Rotating the master key re-wraps the data keys and never touches the
//! values. Both seals are XChaCha20-Poly1305 with the secret's name (and the
//! master key's id) bound as associated data, so a record moved under another
//! name, or presented to another master key, fails to open.
//!
//! Byte layout (version 2; version 1 records sealed the value directly with
//! the master key and are upgraded on the next rotation):
//!
//! ```text
//! "CXV2" | id length (u8) | key id (ASCII) | wrap nonce (24) | wrapped data key (48)
//!        | value nonce (24) | value ciphertext with tag (≥ 16)
//! ```

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

/// Length of keys (master and data), in bytes.
pub const KEY_LEN: usize = 32;
/// Length of an XChaCha20 nonce, in bytes.
pub const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const MAGIC: &[u8; 4] = b"CXV2";

/// A 256-bit key that is wiped from memory when dropped.
pub type Key = Zeroizing<[u8; KEY_LEN]>;

/// Why a record did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// The bytes are not a well-formed record.
    Malformed,
    /// Authentication failed: altered, moved, or another key.
    Unauthentic,
}

/// A parsed version-2 record (still sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Id of the master key that wrapped the data key.
    pub key_id: String,
    wrap_nonce: [u8; NONCE_LEN],
    wrapped_key: Vec<u8>,
    value_nonce: [u8; NONCE_LEN],
    value: Vec<u8>,
}

/// A fresh random key.
#[must_use]
pub fn random_key() -> Key {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    rand::rng().fill_bytes(key.as_mut_slice());
    key
}

/// A fresh random nonce.
#[must_use]
pub fn random_nonce() -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    nonce
}

/// Seals `plaintext` under `key` with a fresh nonce; returns (nonce, ciphertext).
#[must_use]
pub fn seal(key: &Key, plaintext: &[u8], aad: &[u8]) -> ([u8; NONCE_LEN], Vec<u8>) {
    let nonce = random_nonce();
    let cipher = XChaCha20Poly1305::new(key.as_slice().into());
    let ciphertext = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .unwrap_or_default(); // Only messages beyond 256 GiB fail.
    (nonce, ciphertext)
}

/// Opens what [`seal`] produced.
pub fn open(
    key: &Key,
    nonce: &[u8],
    ciphertext: &[u8],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    if nonce.len() != NONCE_LEN || ciphertext.len() < TAG_LEN {
        return Err(OpenError::Malformed);
    }
    let cipher = XChaCha20Poly1305::new(key.as_slice().into());
    cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| OpenError::Unauthentic)
}

fn wrap_aad(name: &str, key_id: &str) -> Vec<u8> {
    format!("codexos-vault:v2:key:{name}:{key_id}").into_bytes()
}

fn value_aad(name: &str) -> Vec<u8> {
    format!("codexos-vault:v2:value:{name}").into_bytes()
}

/// Associated data of a version-1 record (value sealed with the master key).
#[must_use]
pub fn legacy_aad(name: &str) -> Vec<u8> {
    format!("codexos-vault:v1:{name}").into_bytes()
}

impl Envelope {
    /// Seals `value` for `name` with a fresh data key wrapped by `master`.
    #[must_use]
    pub fn seal(name: &str, value: &SecretString, master: &Key, key_id: &str) -> Self {
        let data_key = random_key();
        let (value_nonce, value) = seal(
            &data_key,
            value.expose_secret().as_bytes(),
            &value_aad(name),
        );
        let mut envelope = Self {
            key_id: String::new(),
            wrap_nonce: [0; NONCE_LEN],
            wrapped_key: Vec::new(),
            value_nonce,
            value,
        };
        envelope.wrap(name, &data_key, master, key_id);
        envelope
    }

    fn wrap(&mut self, name: &str, data_key: &Key, master: &Key, key_id: &str) {
        let (wrap_nonce, wrapped_key) = seal(master, data_key.as_slice(), &wrap_aad(name, key_id));
        key_id.clone_into(&mut self.key_id);
        self.wrap_nonce = wrap_nonce;
        self.wrapped_key = wrapped_key;
    }

    fn data_key(&self, name: &str, master: &Key) -> Result<Key, OpenError> {
        let bytes = open(
            master,
            &self.wrap_nonce,
            &self.wrapped_key,
            &wrap_aad(name, &self.key_id),
        )?;
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        if bytes.len() != KEY_LEN {
            return Err(OpenError::Malformed);
        }
        key.copy_from_slice(&bytes);
        Ok(key)
    }

    /// Opens the value.
    pub fn open(&self, name: &str, master: &Key) -> Result<SecretString, OpenError> {
        let data_key = self.data_key(name, master)?;
        let plaintext = open(&data_key, &self.value_nonce, &self.value, &value_aad(name))?;
        let text = std::str::from_utf8(&plaintext).map_err(|_| OpenError::Malformed)?;
        Ok(SecretString::from(text.to_owned()))
    }

    /// Re-wraps the data key under another master key (the value is untouched).
    pub fn rewrap(
        &self,
        name: &str,
        old: &Key,
        new: &Key,
        new_id: &str,
    ) -> Result<Self, OpenError> {
        let data_key = self.data_key(name, old)?;
        let mut envelope = self.clone();
        envelope.wrap(name, &data_key, new, new_id);
        Ok(envelope)
    }

    /// The stored bytes.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(
            MAGIC.len()
                + 1
                + self.key_id.len()
                + 2 * NONCE_LEN
                + self.wrapped_key.len()
                + self.value.len(),
        );
        bytes.extend_from_slice(MAGIC);
        bytes.push(self.key_id.len() as u8);
        bytes.extend_from_slice(self.key_id.as_bytes());
        bytes.extend_from_slice(&self.wrap_nonce);
        bytes.extend_from_slice(&self.wrapped_key);
        bytes.extend_from_slice(&self.value_nonce);
        bytes.extend_from_slice(&self.value);
        bytes
    }

    /// Parses stored bytes; never panics, whatever they are.
    pub fn decode(bytes: &[u8]) -> Result<Self, OpenError> {
        let rest = bytes.strip_prefix(MAGIC).ok_or(OpenError::Malformed)?;
        let (&id_len, rest) = rest.split_first().ok_or(OpenError::Malformed)?;
        let id_len = usize::from(id_len);
        let wrapped_len = KEY_LEN + TAG_LEN;
        if rest.len() < id_len + 2 * NONCE_LEN + wrapped_len + TAG_LEN {
            return Err(OpenError::Malformed);
        }
        let (id, rest) = rest.split_at(id_len);
        let key_id = std::str::from_utf8(id)
            .ok()
            .filter(|id| id.bytes().all(|byte| byte.is_ascii_graphic()))
            .ok_or(OpenError::Malformed)?
            .to_owned();
        let (wrap_nonce, rest) = rest.split_at(NONCE_LEN);
        let (wrapped_key, rest) = rest.split_at(wrapped_len);
        let (value_nonce, value) = rest.split_at(NONCE_LEN);
        Ok(Self {
            key_id,
            wrap_nonce: wrap_nonce.try_into().map_err(|_| OpenError::Malformed)?,
            wrapped_key: wrapped_key.to_vec(),
            value_nonce: value_nonce.try_into().map_err(|_| OpenError::Malformed)?,
            value: value.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_rewraps() {
        let master = random_key();
        let envelope = Envelope::seal("K", &SecretString::from("value"), &master, "a1");
        let decoded = Envelope::decode(&envelope.encode()).expect("decode");
        assert_eq!(decoded, envelope);
        assert_eq!(
            decoded.open("K", &master).expect("open").expose_secret(),
            "value"
        );
        // Another name or another key does not open it.
        assert_eq!(
            decoded.open("L", &master).err(),
            Some(OpenError::Unauthentic)
        );
        assert_eq!(
            decoded.open("K", &random_key()).err(),
            Some(OpenError::Unauthentic)
        );

        let next = random_key();
        let rewrapped = decoded.rewrap("K", &master, &next, "b2").expect("rewrap");
        assert_eq!(rewrapped.key_id, "b2");
        assert_eq!(rewrapped.value, decoded.value, "the value is not re-sealed");
        assert_eq!(
            rewrapped.open("K", &next).expect("open").expose_secret(),
            "value"
        );
        assert!(rewrapped.open("K", &master).is_err());
    }

    #[test]
    fn every_bit_flip_and_truncation_is_refused() {
        let master = random_key();
        let bytes = Envelope::seal("K", &SecretString::from("v"), &master, "id").encode();
        // Positive control: the untouched record opens.
        assert!(Envelope::decode(&bytes)
            .and_then(|envelope| envelope.open("K", &master))
            .is_ok());
        for index in 0..bytes.len() {
            for bit in 0..8 {
                let mut altered = bytes.clone();
                altered[index] ^= 1 << bit;
                let opened =
                    Envelope::decode(&altered).and_then(|envelope| envelope.open("K", &master));
                assert!(opened.is_err(), "flip of bit {bit} of byte {index} opened");
            }
        }
        for length in 0..bytes.len() {
            let opened =
                Envelope::decode(&bytes[..length]).and_then(|envelope| envelope.open("K", &master));
            assert!(opened.is_err(), "truncation to {length} opened");
        }
    }
}
