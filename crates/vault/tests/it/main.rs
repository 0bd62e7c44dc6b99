//! Integration tests of the vault against the real OS keychain (Secret
//! Service; `make test` runs them under `dbus-run-session` with an unlocked
//! gnome-keyring).

use std::sync::Arc;

use codexos_store::Store;
use codexos_vault::{Error, Mode, Rotation, Vault};
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
    let key_id = home
        .store
        .meta("vault.key_id")
        .expect("meta")
        .expect("a key id");
    let account = format!("master-key:{}:{key_id}", home.store.home_id().expect("id"));
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

fn passphrase(text: &str) -> SecretString {
    SecretString::from(text.to_owned())
}

#[test]
fn rotation_rewraps_every_secret_and_retires_the_old_key() {
    let home = home();
    for (name, value) in [("A", "value-a"), ("B", "value-b"), ("C", "value-c")] {
        home.vault
            .set(name, &SecretString::from(value))
            .expect("set");
    }
    let before = home.store.secrets().expect("records");
    let old_id = home.vault.status().expect("status").key_id.expect("id");
    let report = home.vault.rotate(Rotation::Keychain).expect("rotate");
    assert_eq!(report.resealed, 3);
    assert_ne!(report.key_id, old_id);
    assert!(report.warning.is_none(), "{:?}", report.warning);
    let after = home.store.secrets().expect("records");
    for (old, new) in before.iter().zip(&after) {
        assert_ne!(
            old.ciphertext, new.ciphertext,
            "{} was not re-wrapped",
            old.name
        );
        // Envelope encryption: the value's own ciphertext (the tail) is unchanged.
        assert_eq!(
            old.ciphertext[old.ciphertext.len() - 20..],
            new.ciphertext[new.ciphertext.len() - 20..]
        );
    }
    for (name, value) in [("A", "value-a"), ("B", "value-b"), ("C", "value-c")] {
        assert_eq!(home.vault.get(name).expect("get").expose_secret(), value);
    }
    let old_account = format!("master-key:{}:{old_id}", home.store.home_id().expect("id"));
    assert!(matches!(
        keyring::Entry::new("codexos-vault", &old_account)
            .expect("entry")
            .get_password(),
        Err(keyring::Error::NoEntry)
    ));
    // A second handle on the same data home (another process) sees the new key.
    let other = Vault::new(Arc::clone(&home.store)).expect("vault");
    assert_eq!(other.get("B").expect("get").expose_secret(), "value-b");
}

#[test]
fn a_passphrase_vault_is_chosen_explicitly_and_refuses_a_wrong_passphrase() {
    let home = home();
    home.vault
        .set("TOKEN", &SecretString::from("t-value"))
        .expect("set");
    assert!(matches!(
        home.vault.rotate(Rotation::Passphrase(passphrase("short"))),
        Err(Error::WeakPassphrase)
    ));
    let report = home
        .vault
        .rotate(Rotation::Passphrase(passphrase("a long test passphrase")))
        .expect("to passphrase");
    assert_eq!(report.mode, Mode::Passphrase);
    assert_eq!(
        home.vault
            .get("TOKEN")
            .expect("unlocked here")
            .expose_secret(),
        "t-value"
    );

    // A new process: locked until the passphrase is given.
    let fresh = Vault::new(Arc::clone(&home.store)).expect("vault");
    assert!(fresh.status().expect("status").locked);
    assert!(matches!(fresh.get("TOKEN"), Err(Error::Locked)));
    let wrong = fresh
        .unlock(&passphrase("not the passphrase"))
        .expect_err("wrong");
    assert!(matches!(wrong, Error::WrongPassphrase { .. }), "{wrong}");
    assert!(
        matches!(fresh.get("TOKEN"), Err(Error::Locked)),
        "a wrong passphrase unlocks nothing"
    );
    fresh
        .unlock(&passphrase("a long test passphrase"))
        .expect("unlock");
    assert_eq!(fresh.get("TOKEN").expect("get").expose_secret(), "t-value");
    fresh
        .set("MORE", &SecretString::from("m"))
        .expect("set while unlocked");

    // And back to the keychain, with nothing lost.
    fresh.rotate(Rotation::Keychain).expect("to keychain");
    let again = Vault::new(Arc::clone(&home.store)).expect("vault");
    assert_eq!(again.status().expect("status").mode, Mode::Keychain);
    assert_eq!(again.get("TOKEN").expect("get").expose_secret(), "t-value");
    assert_eq!(again.get("MORE").expect("get").expose_secret(), "m");
    assert!(codexos_test_support::files_containing(home.dir.path(), b"t-value").is_empty());
}

#[test]
fn export_and_import_move_secrets_between_data_homes() {
    let source = home();
    let sentinel = "sentinel-export-4b1d";
    source
        .vault
        .set("API", &SecretString::from(sentinel))
        .expect("set");
    source
        .vault
        .set("OTHER", &SecretString::from("other"))
        .expect("set");
    let file = source
        .vault
        .export(&passphrase("export passphrase 1"))
        .expect("export");
    assert!(!file
        .windows(sentinel.len())
        .any(|window| window == sentinel.as_bytes()));

    let target = home();
    target
        .vault
        .set("API", &SecretString::from("existing"))
        .expect("set");
    // Wrong passphrase, altered file, conflict: nothing imported.
    let wrong = target
        .vault
        .import(&file, &passphrase("wrong passphrase!!"), false)
        .expect_err("wrong passphrase");
    assert!(matches!(wrong, Error::WrongPassphrase { .. }), "{wrong}");
    let mut altered: serde_json::Value = serde_json::from_slice(&file).expect("json");
    let ciphertext = altered["ciphertext"].as_str().expect("hex").to_owned();
    let flipped = if ciphertext.starts_with('0') {
        "1"
    } else {
        "0"
    };
    altered["ciphertext"] = format!("{flipped}{}", &ciphertext[1..]).into();
    let error = target
        .vault
        .import(
            &serde_json::to_vec(&altered).expect("json"),
            &passphrase("export passphrase 1"),
            false,
        )
        .expect_err("altered");
    assert!(matches!(error, Error::WrongPassphrase { .. }), "{error}");
    let error = target
        .vault
        .import(b"{not json", &passphrase("export passphrase 1"), false)
        .expect_err("garbage");
    assert!(matches!(error, Error::BadExport { .. }), "{error}");
    let conflict = target
        .vault
        .import(&file, &passphrase("export passphrase 1"), false)
        .expect_err("conflict");
    assert!(
        matches!(conflict, Error::ImportConflict { .. }),
        "{conflict}"
    );
    assert_eq!(target.vault.list().expect("list"), vec!["API".to_owned()]);
    assert_eq!(
        target.vault.get("API").expect("get").expose_secret(),
        "existing"
    );

    let report = target
        .vault
        .import(&file, &passphrase("export passphrase 1"), true)
        .expect("import");
    assert_eq!(report.added, vec!["OTHER".to_owned()]);
    assert_eq!(report.replaced, vec!["API".to_owned()]);
    assert_eq!(
        target.vault.get("API").expect("get").expose_secret(),
        sentinel
    );
    assert_eq!(
        target.vault.get("OTHER").expect("get").expose_secret(),
        "other"
    );
}

#[test]
fn version_one_records_still_open_and_are_upgraded_by_rotation() {
    let home = home();
    // A vault written by an earlier CodexOS: one id-less keychain key, values
    // sealed with it directly.
    let legacy = codexos_vault::envelope::random_key();
    let account = format!("master-key:{}", home.store.home_id().expect("id"));
    keyring::Entry::new("codexos-vault", &account)
        .expect("entry")
        .set_password(&hex::encode(legacy.as_slice()))
        .expect("legacy key");
    let (nonce, ciphertext) = codexos_vault::envelope::seal(
        &legacy,
        b"old-value",
        &codexos_vault::envelope::legacy_aad("OLD"),
    );
    home.store
        .put_secret(&codexos_store::SealedSecret {
            name: "OLD".into(),
            nonce: nonce.to_vec(),
            ciphertext,
        })
        .expect("legacy record");
    assert_eq!(
        home.vault.get("OLD").expect("legacy get").expose_secret(),
        "old-value"
    );
    home.vault.rotate(Rotation::Keychain).expect("rotate");
    let record = home.store.secret("OLD").expect("read").expect("present");
    assert!(record.nonce.is_empty(), "upgraded to an envelope");
    assert_eq!(
        home.vault.get("OLD").expect("get").expose_secret(),
        "old-value"
    );
}

#[test]
fn a_corrupted_record_stops_rotation_before_anything_changes() {
    let home = home();
    home.vault
        .set("GOOD", &SecretString::from("g"))
        .expect("set");
    home.vault
        .set("BAD", &SecretString::from("b"))
        .expect("set");
    let mut bad = home.store.secret("BAD").expect("read").expect("present");
    bad.ciphertext.truncate(10);
    home.store.put_secret(&bad).expect("write");
    let before = home.store.secrets().expect("records");
    let error = home.vault.rotate(Rotation::Keychain).expect_err("corrupt");
    assert!(
        matches!(error, Error::Tampered { ref name } if name == "BAD"),
        "{error}"
    );
    assert_eq!(home.store.secrets().expect("records"), before);
    assert_eq!(home.vault.get("GOOD").expect("get").expose_secret(), "g");
}

#[test]
fn the_vault_fuzz_corpora_are_refused_cleanly() {
    // The hand-written seeds are refused outright; what libFuzzer found may
    // decode — then it must encode back to a record that decodes to the same
    // envelope (the decoder and the encoder agree on every input, which a
    // lenient or lossy decoder would break), and it never opens.
    use codexos_vault::envelope::Envelope;
    let seed = |name: &str| !name.chars().all(|c| c.is_ascii_hexdigit());
    let key = codexos_vault::envelope::random_key();
    // Positive control: a real record decodes, round-trips and opens.
    let real = Envelope::seal("NAME", &SecretString::from("v"), &key, "id");
    assert_eq!(Envelope::decode(&real.encode()).as_ref(), Ok(&real));
    assert_eq!(real.open("NAME", &key).expect("opens").expose_secret(), "v");
    let mut decoded = 0;
    let corpus = codexos_test_support::fuzz_corpus("vault_record");
    assert!(!corpus.is_empty(), "the vault_record corpus is missing");
    for (name, bytes) in corpus {
        if let Ok(envelope) = Envelope::decode(&bytes) {
            decoded += 1;
            assert!(!seed(&name), "{name} decoded");
            assert_eq!(
                Envelope::decode(&envelope.encode()).as_ref(),
                Ok(&envelope),
                "{name}: decode and encode disagree"
            );
            assert!(envelope.open("NAME", &key).is_err(), "{name} opened");
        }
    }
    // The property was checked on something: libFuzzer's corpus holds
    // records that decode (the hand-written seeds do not).
    assert!(
        decoded > 0,
        "no corpus record decoded: the property was never checked"
    );
    // Positive control of the export parser: a real export parses.
    let export = codexos_vault::export::seal(
        &[("NAME".to_owned(), SecretString::from("v"))],
        &SecretString::from("a long enough passphrase"),
    )
    .expect("seal an export");
    assert_eq!(
        codexos_vault::export::parse(&export)
            .expect("parses")
            .count(),
        1
    );
    for (name, bytes) in codexos_test_support::fuzz_corpus("vault_export") {
        // Hostile Argon2id parameters are refused before any derivation.
        if let Ok(sealed) = codexos_vault::export::parse(&bytes) {
            assert!(!seed(&name), "{name} parsed");
            let _count = sealed.count();
        }
    }
}

/// A use that cannot be recorded in the audit log does not happen; a change
/// that cannot be recorded stays made.
#[test]
fn a_secret_is_not_handed_out_when_its_use_cannot_be_recorded() {
    let home = home();
    let value = SecretString::from("sentinel-audit-fail-closed".to_owned());
    home.vault.set("KEY", &value).expect("set");
    // Positive control: recorded, handed out.
    assert_eq!(
        home.vault
            .get_for("KEY", "test")
            .expect("get")
            .expose_secret(),
        "sentinel-audit-fail-closed"
    );
    let uses = |store: &Store| {
        store
            .audit_entries("secret.use", "", 10)
            .expect("entries")
            .len()
    };
    assert_eq!(uses(&home.store), 1);
    // The log refuses every entry from now on (as a full disk would).
    rusqlite::Connection::open(home.dir.path().join("codexos.sqlite"))
        .expect("database")
        .execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
        )
        .expect("trigger");
    let refused = home.vault.get_for("KEY", "test");
    assert!(
        matches!(&refused, Err(Error::Store(_))),
        "not handed out: {:?}",
        refused.as_ref().map(|_| "a value")
    );
    assert_eq!(uses(&home.store), 1);
    // A change is made all the same.
    home.vault
        .set("OTHER", &value)
        .expect("set while the log refuses");
    assert!(home
        .vault
        .list()
        .expect("list")
        .contains(&"OTHER".to_owned()));
}
