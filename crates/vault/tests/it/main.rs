//! Integration tests of the vault against the real OS keychain (Secret
//! Service; `make test` runs them under `dbus-run-session` with an unlocked
//! gnome-keyring).

use std::sync::Arc;

use codexos_store::Store;
use codexos_vault::{Error, Vault};
use secrecy::{ExposeSecret, SecretString};

struct Home {
    dir: tempfile::TempDir,
    store: Arc<Store>,
    vault: Vault,
}

fn home() -> Home {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(Store::open(&dir.path().join("codexos.sqlite")).expect("store"));
    let vault = Vault::new(Arc::clone(&store)).expect("vault");
    Home { dir, store, vault }
}

#[test]
fn secrets_round_trip_and_never_touch_disk_in_plaintext() {
    let home = home();
    let sentinel = "sentinel-7f3a9c-do-not-leak";
    home.vault
        .set("API_KEY", &SecretString::from(sentinel))
        .expect("set (is a Secret Service running?)");
    assert_eq!(
        home.vault.get("API_KEY").expect("get").expose_secret(),
        sentinel
    );
    assert_eq!(home.vault.list().expect("list"), vec!["API_KEY".to_owned()]);
    home.vault
        .set("API_KEY", &SecretString::from("rotated"))
        .expect("replace");
    assert_eq!(
        home.vault.get("API_KEY").expect("get").expose_secret(),
        "rotated"
    );
    home.vault
        .set("OTHER", &SecretString::from(sentinel))
        .expect("set");
    assert!(
        codexos_test_support::files_containing(home.dir.path(), sentinel.as_bytes()).is_empty()
    );
    assert!(home.vault.remove("API_KEY").expect("rm"));
    assert!(matches!(
        home.vault.get("API_KEY"),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn tampered_ciphertext_fails_with_a_clear_error() {
    let home = home();
    home.vault
        .set("TOKEN", &SecretString::from("value"))
        .expect("set");
    let mut sealed = home.store.secret("TOKEN").expect("read").expect("present");
    sealed.ciphertext[0] ^= 0x01;
    home.store.put_secret(&sealed).expect("write");
    let error = home.vault.get("TOKEN").expect_err("tampered");
    assert!(matches!(error, Error::Tampered { .. }), "{error}");
    assert!(
        error.to_string().contains("codexos vault set TOKEN"),
        "{error}"
    );

    // A record copied under another name does not open either (name is AAD).
    home.vault
        .set("A", &SecretString::from("value-a"))
        .expect("set");
    let mut moved = home.store.secret("A").expect("read").expect("present");
    moved.name = "B".into();
    home.store.put_secret(&moved).expect("write");
    assert!(matches!(home.vault.get("B"), Err(Error::Tampered { .. })));
}

#[test]
fn two_data_homes_have_separate_keys_and_secrets() {
    let first = home();
    let second = home();
    first
        .vault
        .set("SHARED", &SecretString::from("one"))
        .expect("set");
    assert!(matches!(
        second.vault.get("SHARED"),
        Err(Error::NotFound { .. })
    ));
    second
        .vault
        .set("SHARED", &SecretString::from("two"))
        .expect("set");
    assert_eq!(
        first.vault.get("SHARED").expect("get").expose_secret(),
        "one"
    );
    assert_eq!(
        second.vault.get("SHARED").expect("get").expose_secret(),
        "two"
    );
}

#[test]
fn a_lost_master_key_is_reported_not_replaced() {
    let home = home();
    home.vault
        .set("KEEP", &SecretString::from("value"))
        .expect("set");
    let account = format!("master-key:{}", home.store.home_id().expect("id"));
    keyring::Entry::new("codexos-vault", &account)
        .expect("entry")
        .delete_credential()
        .expect("delete the key behind the vault's back");
    let error = home.vault.get("KEEP").expect_err("key gone");
    assert!(
        matches!(error, Error::MasterKeyMissing { count: 1, .. }),
        "{error}"
    );
    // Setting another secret must not silently mint a new key over old data.
    assert!(matches!(
        home.vault.set("NEW", &SecretString::from("v")),
        Err(Error::MasterKeyMissing { .. })
    ));
}
