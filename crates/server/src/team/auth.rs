//! Passwords (Argon2id), credentials (API tokens and sessions: a random
//! secret shown once, stored as its SHA-256), failed-login lockout.
//!
//! A credential reads `cxo_<id>_<secret>`: the id (16 hex digits) finds the
//! row, the secret (64 hex digits, 256 random bits) proves it. The secret is
//! stored hashed, so a copy of the database lets no one in.

use std::time::Duration;

use argon2::password_hash::rand_core::{OsRng, RngCore as _};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::Argon2;
use codexos_store::team::{Credential, CredentialKind, StoredCredential};
use codexos_store::Store;
use sha2::{Digest as _, Sha256};

use super::roles::Scope;
use super::ApiError;

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 12;

/// Failed logins of one account that lock it.
pub const MAX_FAILURES: u32 = 5;

/// How long failures count, and how long a lock lasts after the last one.
pub const LOCKOUT: Duration = Duration::from_mins(15);

/// Longest life of an API token.
pub const MAX_TOKEN_DAYS: u32 = 365;

/// Life of an app session.
pub const SESSION: Duration = Duration::from_hours(12);

/// The Argon2id hash (PHC string) of `password`, with a fresh salt.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(ApiError::invalid(format!(
            "a password needs at least {MIN_PASSWORD} characters"
        )));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| ApiError::internal(format!("hashing the password failed: {error}")))
}

/// A fixed hash to verify against when the account does not exist, so a
/// wrong name takes as long as a wrong password.
fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        // Hashing a fixed password with a fresh salt cannot fail on valid
        // default parameters; were it to, the fixed PHC string below keeps
        // the timing (a valid Argon2id hash of another decoy).
        Argon2::default()
            .hash_password(b"no account has this password", &salt)
            .map_or_else(
                |_| "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$8m7VsN1VJ4rEdQ7H1VXmZ7XdI3mD6Y1o8qfCq3sU6zQ".to_owned(),
                |hash| hash.to_string(),
            )
    })
}

/// Whether `password` matches the stored hash (the decoy when `None`).
#[must_use]
pub fn verify_password(hash: Option<&str>, password: &str) -> bool {
    let stored: &str = match hash {
        Some(hash) => hash,
        None => decoy(),
    };
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
        && hash.is_some()
}

/// Hex SHA-256.
#[must_use]
pub fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// `bytes` random bytes (from the OS) as hex.
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0_u8; bytes];
    OsRng.fill_bytes(&mut buffer);
    hex::encode(buffer)
}

/// A new credential and what its holder gets once.
#[derive(Debug)]
pub struct Minted {
    /// As stored and listed.
    pub credential: Credential,
    /// `cxo_<id>_<secret>`: shown once, never stored.
    pub token: String,
    /// A session's CSRF token: shown once, stored hashed.
    pub csrf: Option<String>,
}

/// Creates and stores a credential for `account`.
pub fn mint(
    store: &Store,
    account: &str,
    kind: CredentialKind,
    label: &str,
    scopes: &[Scope],
    life: Duration,
) -> Result<Minted, ApiError> {
    let id = random_hex(8);
    let secret = random_hex(32);
    let csrf = (kind == CredentialKind::Session).then(|| random_hex(32));
    let now = codexos_store::unix_ms();
    let credential = Credential {
        id: id.clone(),
        account: account.to_owned(),
        kind,
        label: label.to_owned(),
        scopes: scopes
            .iter()
            .map(|scope| scope.as_str().to_owned())
            .collect(),
        created_at_ms: now,
        expires_at_ms: now + u64::try_from(life.as_millis()).unwrap_or(u64::MAX / 2),
        last_used_at_ms: None,
        revoked_at_ms: None,
    };
    store.team_add_credential(&StoredCredential {
        credential: credential.clone(),
        secret_hash: digest(&secret),
        csrf_hash: csrf.as_deref().map(digest),
    })?;
    Ok(Minted {
        credential,
        token: format!("cxo_{id}_{secret}"),
        csrf,
    })
}

/// The id and secret of a credential's text, if it has the shape of one.
fn parse(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix("cxo_")?;
    let (id, secret) = rest.split_once('_')?;
    let hex = |text: &str, len: usize| {
        text.len() == len && text.bytes().all(|byte| byte.is_ascii_hexdigit())
    };
    (hex(id, 16) && hex(secret, 64)).then_some((id, secret))
}

/// Why a credential was not accepted (all say the same to the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a credential's shape, unknown id or wrong secret.
    Unknown,
    /// Past its expiry.
    Expired,
    /// Revoked by its owner.
    Revoked,
    /// Its account is disabled.
    Disabled,
}

impl Refusal {
    /// What the caller is told.
    #[must_use]
    pub fn message(self) -> &'static str {
        match self {
            Self::Unknown => "the credential is not valid — sign in again or create a new token",
            Self::Expired => "the credential has expired — sign in again or create a new token",
            Self::Revoked => "the credential was revoked — sign in again or create a new token",
            Self::Disabled => "the account is disabled — ask a server administrator",
        }
    }
}

/// The stored credential `token` names, checked: right secret, not
/// expired, not revoked, account enabled.
pub fn check(store: &Store, token: &str) -> Result<Result<StoredCredential, Refusal>, ApiError> {
    let Some((id, secret)) = parse(token.trim()) else {
        return Ok(Err(Refusal::Unknown));
    };
    let Some(stored) = store.team_credential(&id.to_ascii_lowercase())? else {
        return Ok(Err(Refusal::Unknown));
    };
    // Both sides are hashes of a 256-bit secret: comparing them leaks
    // nothing an attacker can steer.
    if stored.secret_hash != digest(&secret.to_ascii_lowercase()) {
        return Ok(Err(Refusal::Unknown));
    }
    if stored.credential.revoked_at_ms.is_some() {
        return Ok(Err(Refusal::Revoked));
    }
    if stored.credential.expires_at_ms <= codexos_store::unix_ms() {
        return Ok(Err(Refusal::Expired));
    }
    match store.team_account(&stored.credential.account)? {
        Some((account, _)) if !account.disabled => {}
        _ => return Ok(Err(Refusal::Disabled)),
    }
    // Last use to the minute: not a database write on every request.
    let now = codexos_store::unix_ms();
    if stored
        .credential
        .last_used_at_ms
        .is_none_or(|last| now.saturating_sub(last) >= 60_000)
    {
        store.team_touch(&stored.credential.id)?;
    }
    Ok(Ok(stored))
}

/// Checks a login; records a failure (for any name, so the lock does not
/// tell which accounts exist) and refuses while the account is locked.
pub fn login(store: &Store, account: &str, password: &str, address: &str) -> Result<(), ApiError> {
    let window = u64::try_from(LOCKOUT.as_millis()).unwrap_or(u64::MAX);
    let now = codexos_store::unix_ms();
    // The attempt counts as a failure before the password is checked (and
    // is cleared by a success), so parallel guesses cannot pass the count
    // together.
    if let Some(oldest) =
        store.team_login_attempt(account, address, now.saturating_sub(window), MAX_FAILURES)?
    {
        let wait = (oldest + window).saturating_sub(now).max(1000);
        let minutes = wait.div_ceil(60_000);
        let mut error = ApiError::locked(format!(
            "too many failed logins for `{account}` — try again in {minutes} minute(s), or ask an administrator to set a new password"
        ));
        error.retry_after = Some(wait.div_ceil(1000));
        return Err(error);
    }
    let stored = store.team_account(account)?;
    let hash = stored
        .as_ref()
        .filter(|(account, _)| !account.disabled)
        .and_then(|(_, hash)| hash.as_deref());
    if verify_password(hash, password) {
        store.team_clear_login_failures(account)?;
        Ok(())
    } else {
        Err(ApiError::unauthorized("wrong account name or password"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_check_their_secret_expiry_and_revocation() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("team.sqlite")).expect("store");
        store.team_add_account("ada", None).expect("account");
        let minted = mint(
            &store,
            "ada",
            CredentialKind::Token,
            "ci",
            &[Scope::Read],
            Duration::from_mins(1),
        )
        .expect("mint");
        assert!(check(&store, &minted.token).expect("check").is_ok());
        // One digit of the secret changed.
        let mut tampered = minted.token.clone();
        let last = tampered.pop().expect("digit");
        tampered.push(if last == '0' { '1' } else { '0' });
        assert_eq!(
            check(&store, &tampered).expect("check"),
            Err(Refusal::Unknown)
        );
        assert_eq!(
            check(&store, "cxo_x_y").expect("check"),
            Err(Refusal::Unknown)
        );
        let expired = mint(
            &store,
            "ada",
            CredentialKind::Token,
            "old",
            &[],
            Duration::ZERO,
        )
        .expect("mint");
        assert_eq!(
            check(&store, &expired.token).expect("check"),
            Err(Refusal::Expired)
        );
        assert!(store
            .team_revoke("ada", &minted.credential.id)
            .expect("revoke"));
        assert_eq!(
            check(&store, &minted.token).expect("check"),
            Err(Refusal::Revoked)
        );
    }

    #[test]
    fn five_wrong_passwords_lock_the_account_and_unknown_names_alike() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("team.sqlite")).expect("store");
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(hash_password("short").is_err());
        store.team_add_account("ada", Some(&hash)).expect("account");
        login(&store, "ada", "correct horse battery", "127.0.0.1").expect("positive control");
        for _ in 0..MAX_FAILURES {
            let error = login(&store, "ada", "wrong", "127.0.0.1").expect_err("wrong");
            assert_eq!(error.status, http::StatusCode::UNAUTHORIZED);
        }
        let locked = login(&store, "ada", "correct horse battery", "127.0.0.1")
            .expect_err("locked even with the right password");
        assert_eq!(locked.status, http::StatusCode::TOO_MANY_REQUESTS);
        for _ in 0..MAX_FAILURES {
            login(&store, "nobody", "guess", "127.0.0.1").expect_err("no such account");
        }
        let unknown = login(&store, "nobody", "guess", "127.0.0.1").expect_err("locked");
        assert_eq!(unknown.status, http::StatusCode::TOO_MANY_REQUESTS);
    }
}
