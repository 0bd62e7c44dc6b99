//! `codexos-bundle`: flows, agents and templates exported as one signed file,
//! verified before anything in it is used.
//!
//! A bundle is a JSON document: a manifest, the files (kind, name, text and
//! SHA-256), and a signature. Signatures are **hybrid**: Ed25519 and
//! ML-DSA-65 (FIPS 204, post-quantum) over the same domain-separated bytes,
//! and a bundle verifies only when both do — it stays safe if either scheme
//! falls. A verified signature is then checked against the [`TrustList`]:
//! a valid signature by an unknown key is reported as such, not trusted.
//!
//! The signed bytes are the canonical JSON of the manifest and files (struct
//! fields in declaration order, no maps), so verification re-derives them
//! from what was parsed and any edit — content, name, kind, manifest — fails.
//!
//! Keys are two 32-byte seeds ([`SigningKeys`]); `runtime` keeps them in the
//! vault. Sits beside `vault` in the dependency graph: no CodexOS crate below
//! it; `runtime` uses it; fuzzed by `fuzz/` (`bundle_verify`).
//!
//! ```
//! let keys = codexos_bundle::SigningKeys::generate();
//! let signer = keys.public("Ada");
//! let files = vec![codexos_bundle::File::new(codexos_bundle::Kind::Flow, "hello", "{}")];
//! let bytes = codexos_bundle::sign("greetings", files, &keys, "Ada")?;
//! let mut trust = codexos_bundle::TrustList::default();
//! trust.add(signer);
//! let verified = codexos_bundle::verify(&bytes, &trust)?;
//! assert!(verified.trusted);
//! # Ok::<(), codexos_bundle::Error>(())
//! ```

mod trust;

use ed25519_dalek::Signer as _;
use ml_dsa::MlDsa65;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub use trust::TrustList;

const FORMAT: &str = "codexos-bundle";
const VERSION: u32 = 1;
const DOMAIN: &[u8] = b"codexos-bundle:v1\0";
/// ML-DSA context string (FIPS 204 allows up to 255 bytes).
const CONTEXT: &[u8] = b"codexos-bundle";
/// Bundles larger than this are refused unread.
pub const MAX_BUNDLE_BYTES: usize = 32 * 1024 * 1024;

/// Errors of bundles.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not a bundle, or a damaged one.
    #[error("not a usable CodexOS bundle: {reason} — nothing in it was imported or run")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// No signature.
    #[error("the bundle `{name}` is not signed — nothing in it was imported; import it anyway only if you trust its source (`--allow-unsigned`)")]
    Unsigned {
        /// Bundle name.
        name: String,
    },
    /// A signature or a file hash does not match: the bundle was edited.
    #[error("the bundle `{name}` was altered after it was signed ({detail}) — nothing in it was imported or run")]
    Tampered {
        /// Bundle name.
        name: String,
        /// What did not match.
        detail: String,
    },
    /// A key that cannot be used.
    #[error("invalid signing key: {reason}")]
    BadKey {
        /// What is wrong.
        reason: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a bundled file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A flow file (`*.flow.json`).
    Flow,
    /// An agent spec (`*.agent.json`).
    Agent,
    /// A flow meant as a starting point (imported as a flow).
    Template,
}

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// Kind.
    pub kind: Kind,
    /// Name (flow or agent name).
    pub name: String,
    /// SHA-256 of `content`, hex.
    pub sha256: String,
    /// The file's text.
    pub content: String,
}

impl File {
    /// A file with its hash computed.
    #[must_use]
    pub fn new(kind: Kind, name: &str, content: &str) -> Self {
        Self {
            kind,
            name: name.to_owned(),
            sha256: hex::encode(Sha256::digest(content.as_bytes())),
            content: content.to_owned(),
        }
    }
}

/// The manifest of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Bundle name.
    pub name: String,
    /// Unix seconds when it was made.
    pub created_at: u64,
    /// Version of CodexOS that made it.
    pub generator: String,
}

/// A signer's public identity: the two public keys and a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signer {
    /// Who they say they are (not verified: the keys are what is trusted).
    pub name: String,
    /// Ed25519 public key, hex (32 bytes).
    pub ed25519: String,
    /// ML-DSA-65 public key, hex (1952 bytes).
    pub ml_dsa_65: String,
}

impl Signer {
    /// The fingerprint: SHA-256 over both public keys, first 16 bytes, hex.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"codexos-signer:v1\0");
        hasher.update(self.ed25519.as_bytes());
        hasher.update(b"\0");
        hasher.update(self.ml_dsa_65.as_bytes());
        hex::encode(&hasher.finalize()[..16])
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Signature {
    signer: Signer,
    ed25519: String,
    ml_dsa_65: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BundleFile {
    format: String,
    version: u32,
    manifest: Manifest,
    files: Vec<File>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signature: Option<Signature>,
}

#[derive(Serialize)]
struct Signed<'a> {
    format: &'a str,
    version: u32,
    manifest: &'a Manifest,
    files: &'a [File],
}

fn signed_bytes(manifest: &Manifest, files: &[File]) -> Result<Vec<u8>> {
    let mut bytes = DOMAIN.to_vec();
    serde_json::to_writer(
        &mut bytes,
        &Signed {
            format: FORMAT,
            version: VERSION,
            manifest,
            files,
        },
    )
    .map_err(|error| Error::Malformed {
        reason: error.to_string(),
    })?;
    Ok(bytes)
}

/// A user's signing keys: two 32-byte seeds, wiped when dropped.
pub struct SigningKeys {
    ed25519: Zeroizing<[u8; 32]>,
    ml_dsa: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SigningKeys([redacted])")
    }
}

impl SigningKeys {
    /// New random keys.
    #[must_use]
    pub fn generate() -> Self {
        let mut ed25519 = Zeroizing::new([0u8; 32]);
        let mut ml_dsa = Zeroizing::new([0u8; 32]);
        rand::RngCore::fill_bytes(&mut rand::rng(), ed25519.as_mut_slice());
        rand::RngCore::fill_bytes(&mut rand::rng(), ml_dsa.as_mut_slice());
        Self { ed25519, ml_dsa }
    }

    /// Keys from their stored form (two hex seeds, `ed25519:ml-dsa`).
    pub fn from_stored(stored: &str) -> Result<Self> {
        let bad = || Error::BadKey {
            reason: "the stored signing key is not two 32-byte hex seeds".into(),
        };
        let (first, second) = stored.trim().split_once(':').ok_or_else(bad)?;
        let mut ed25519 = Zeroizing::new([0u8; 32]);
        let mut ml_dsa = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(first, ed25519.as_mut_slice()).map_err(|_| bad())?;
        hex::decode_to_slice(second, ml_dsa.as_mut_slice()).map_err(|_| bad())?;
        Ok(Self { ed25519, ml_dsa })
    }

    /// The stored form (a secret: keep it in the vault).
    #[must_use]
    pub fn to_stored(&self) -> secrecy::SecretString {
        secrecy::SecretString::from(format!(
            "{}:{}",
            hex::encode(self.ed25519.as_slice()),
            hex::encode(self.ml_dsa.as_slice())
        ))
    }

    fn ml_dsa_key(&self) -> ml_dsa::SigningKey<MlDsa65> {
        let seed = ml_dsa::Seed::from(*self.ml_dsa);
        ml_dsa::SigningKey::<MlDsa65>::from_seed(&seed)
    }

    /// The public identity, under `name`.
    #[must_use]
    pub fn public(&self, name: &str) -> Signer {
        let ed25519 = ed25519_dalek::SigningKey::from_bytes(&self.ed25519);
        let ml_dsa = self.ml_dsa_key();
        Signer {
            name: name.to_owned(),
            ed25519: hex::encode(ed25519.verifying_key().as_bytes()),
            ml_dsa_65: hex::encode(ml_dsa.expanded_key().verifying_key().encode().as_slice()),
        }
    }
}

/// Makes a signed bundle of `files`.
pub fn sign(
    name: &str,
    files: Vec<File>,
    keys: &SigningKeys,
    signer_name: &str,
) -> Result<Vec<u8>> {
    let manifest = Manifest {
        name: name.to_owned(),
        created_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs()),
        generator: format!("codexos {}", env!("CARGO_PKG_VERSION")),
    };
    let message = signed_bytes(&manifest, &files)?;
    let ed25519 = ed25519_dalek::SigningKey::from_bytes(&keys.ed25519).sign(&message);
    let ml_dsa = keys
        .ml_dsa_key()
        .expanded_key()
        .sign_deterministic(&message, CONTEXT)
        .map_err(|_| Error::BadKey {
            reason: "ML-DSA signing failed".into(),
        })?;
    let bundle = BundleFile {
        format: FORMAT.into(),
        version: VERSION,
        manifest,
        files,
        signature: Some(Signature {
            signer: keys.public(signer_name),
            ed25519: hex::encode(ed25519.to_bytes()),
            ml_dsa_65: hex::encode(ml_dsa.encode().as_slice()),
        }),
    };
    serde_json::to_vec_pretty(&bundle).map_err(|error| Error::Malformed {
        reason: error.to_string(),
    })
}

/// Makes an unsigned bundle (for sharing where signing is not wanted; it is
/// flagged on import).
pub fn unsigned(name: &str, files: Vec<File>) -> Result<Vec<u8>> {
    let bundle = BundleFile {
        format: FORMAT.into(),
        version: VERSION,
        manifest: Manifest {
            name: name.to_owned(),
            created_at: 0,
            generator: format!("codexos {}", env!("CARGO_PKG_VERSION")),
        },
        files,
        signature: None,
    };
    serde_json::to_vec_pretty(&bundle).map_err(|error| Error::Malformed {
        reason: error.to_string(),
    })
}

/// A bundle whose signature checked out.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    /// The manifest.
    pub manifest: Manifest,
    /// The files.
    pub files: Vec<File>,
    /// Who signed it.
    pub signer: Signer,
    /// The signer's fingerprint.
    pub fingerprint: String,
    /// Whether the signer is on the trust list.
    pub trusted: bool,
}

/// What [`inspect`] finds: the contents and whether they are signed.
#[derive(Debug, Clone)]
pub struct Inspected {
    /// The manifest.
    pub manifest: Manifest,
    /// The files (hashes checked).
    pub files: Vec<File>,
    /// Whether a signature is present (not yet checked).
    pub signed: bool,
}

fn parse(bytes: &[u8]) -> Result<BundleFile> {
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(Error::Malformed {
            reason: "larger than 32 MiB".into(),
        });
    }
    let bundle: BundleFile = serde_json::from_slice(bytes).map_err(|error| Error::Malformed {
        reason: format!("not bundle JSON ({error})"),
    })?;
    if bundle.format != FORMAT || bundle.version != VERSION {
        return Err(Error::Malformed {
            reason: format!(
                "format `{}` version {} (this CodexOS reads `{FORMAT}` version {VERSION})",
                bundle.format, bundle.version
            ),
        });
    }
    for file in &bundle.files {
        if hex::encode(Sha256::digest(file.content.as_bytes())) != file.sha256 {
            return Err(Error::Tampered {
                name: bundle.manifest.name.clone(),
                detail: format!(
                    "the content of {} `{}` does not match its hash",
                    kind_word(file.kind),
                    file.name
                ),
            });
        }
    }
    Ok(bundle)
}

fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Flow => "flow",
        Kind::Agent => "agent",
        Kind::Template => "template",
    }
}

/// Reads a bundle without requiring a signature (hashes are still checked).
pub fn inspect(bytes: &[u8]) -> Result<Inspected> {
    let bundle = parse(bytes)?;
    Ok(Inspected {
        signed: bundle.signature.is_some(),
        manifest: bundle.manifest,
        files: bundle.files,
    })
}

/// Verifies both signatures of a bundle and looks its signer up in `trust`.
/// Never panics, whatever the bytes.
pub fn verify(bytes: &[u8], trust: &TrustList) -> Result<Verified> {
    let bundle = parse(bytes)?;
    let name = bundle.manifest.name.clone();
    let signature = bundle
        .signature
        .as_ref()
        .ok_or_else(|| Error::Unsigned { name: name.clone() })?;
    let tampered = |detail: &str| Error::Tampered {
        name: name.clone(),
        detail: detail.to_owned(),
    };
    let message = signed_bytes(&bundle.manifest, &bundle.files)?;

    let key: [u8; 32] = hex::decode(&signature.signer.ed25519)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| tampered("the Ed25519 public key is malformed"))?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key)
        .map_err(|_| tampered("the Ed25519 public key is invalid"))?;
    let signature_bytes: [u8; 64] = hex::decode(&signature.ed25519)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| tampered("the Ed25519 signature is malformed"))?;
    key.verify_strict(
        &message,
        &ed25519_dalek::Signature::from_bytes(&signature_bytes),
    )
    .map_err(|_| tampered("the Ed25519 signature does not match"))?;

    let key_bytes = hex::decode(&signature.signer.ml_dsa_65)
        .map_err(|_| tampered("the ML-DSA-65 public key is malformed"))?;
    let encoded_key = ml_dsa::EncodedVerifyingKey::<MlDsa65>::try_from(key_bytes.as_slice())
        .map_err(|_| tampered("the ML-DSA-65 public key has the wrong length"))?;
    let key = ml_dsa::VerifyingKey::<MlDsa65>::decode(&encoded_key);
    let signature_bytes = hex::decode(&signature.ml_dsa_65)
        .map_err(|_| tampered("the ML-DSA-65 signature is malformed"))?;
    let encoded_signature =
        ml_dsa::EncodedSignature::<MlDsa65>::try_from(signature_bytes.as_slice())
            .map_err(|_| tampered("the ML-DSA-65 signature has the wrong length"))?;
    let ml_signature = ml_dsa::Signature::<MlDsa65>::decode(&encoded_signature)
        .ok_or_else(|| tampered("the ML-DSA-65 signature is malformed"))?;
    if !key.verify_with_context(&message, CONTEXT, &ml_signature) {
        return Err(tampered("the ML-DSA-65 signature does not match"));
    }

    let fingerprint = signature.signer.fingerprint();
    let trusted = trust.contains(&signature.signer);
    Ok(Verified {
        manifest: bundle.manifest,
        files: bundle.files,
        signer: signature.signer.clone(),
        fingerprint,
        trusted,
    })
}
