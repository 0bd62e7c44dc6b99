//! Bundles: sign, verify, and every way a bundle can be wrong.

use codexos_bundle::{inspect, sign, unsigned, verify, Error, File, Kind, SigningKeys, TrustList};

fn files() -> Vec<File> {
    vec![
        File::new(Kind::Flow, "triage", r#"{"name":"triage","nodes":[]}"#),
        File::new(
            Kind::Agent,
            "planner",
            r#"{"name":"planner","version":"1.0.0"}"#,
        ),
    ]
}

fn trusting(keys: &SigningKeys) -> TrustList {
    let mut trust = TrustList::default();
    assert!(trust.add(keys.public("Ada")));
    trust
}

#[test]
fn a_signed_bundle_verifies_for_a_trusted_signer() {
    let keys = SigningKeys::generate();
    let bytes = sign("team-flows", files(), &keys, "Ada").expect("sign");
    let verified = verify(&bytes, &trusting(&keys)).expect("verify");
    assert!(verified.trusted);
    assert_eq!(verified.files, files());
    assert_eq!(verified.fingerprint, keys.public("Ada").fingerprint());
    // Keys survive their stored form.
    let again = SigningKeys::from_stored(secrecy::ExposeSecret::expose_secret(&keys.to_stored()))
        .expect("stored");
    assert_eq!(again.public("Ada"), keys.public("Ada"));
}

#[test]
fn an_unknown_signer_is_reported_not_trusted() {
    let keys = SigningKeys::generate();
    let bytes = sign("b", files(), &keys, "Mallory").expect("sign");
    let verified = verify(&bytes, &trusting(&SigningKeys::generate())).expect("valid signature");
    assert!(!verified.trusted);
    // A stranger reusing a trusted name is still a stranger.
    let trust = trusting(&SigningKeys::generate());
    let verified =
        verify(&sign("b", files(), &keys, "Ada").expect("sign"), &trust).expect("verify");
    assert!(!verified.trusted);
}

/// One way of editing a signed bundle's JSON.
type Edit = Box<dyn Fn(&mut serde_json::Value)>;

#[test]
fn every_edit_after_signing_is_caught() {
    let keys = SigningKeys::generate();
    let trust = trusting(&keys);
    let bytes = sign("b", files(), &keys, "Ada").expect("sign");
    let original: serde_json::Value = serde_json::from_slice(&bytes).expect("json");

    let edits: Vec<(&str, Edit)> = vec![
        (
            "content, hash left",
            Box::new(|bundle| bundle["files"][0]["content"] = "{\"evil\":1}".into()),
        ),
        (
            "content and hash",
            Box::new(|bundle| {
                let content = r#"{"name":"triage","nodes":[{"id":"x"}]}"#;
                bundle["files"][0]["content"] = content.into();
                bundle["files"][0]["sha256"] =
                    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(content.as_bytes())).into();
            }),
        ),
        (
            "file name",
            Box::new(|bundle| bundle["files"][1]["name"] = "executor".into()),
        ),
        (
            "file kind",
            Box::new(|bundle| bundle["files"][0]["kind"] = "template".into()),
        ),
        (
            "manifest",
            Box::new(|bundle| bundle["manifest"]["name"] = "other".into()),
        ),
        (
            "file removed",
            Box::new(|bundle| {
                bundle["files"].as_array_mut().expect("files").pop();
            }),
        ),
        (
            "signer key swapped",
            Box::new(|bundle| {
                let other = SigningKeys::generate().public("Ada");
                bundle["signature"]["signer"]["ed25519"] = other.ed25519.into();
            }),
        ),
        (
            "ML-DSA signature",
            Box::new(|bundle| {
                let text = bundle["signature"]["ml_dsa_65"]
                    .as_str()
                    .expect("hex")
                    .to_owned();
                let flipped = if text.starts_with('0') { "1" } else { "0" };
                bundle["signature"]["ml_dsa_65"] = format!("{flipped}{}", &text[1..]).into();
            }),
        ),
    ];
    for (what, edit) in edits {
        let mut bundle = original.clone();
        edit(&mut bundle);
        let error = verify(&serde_json::to_vec(&bundle).expect("json"), &trust).expect_err(what);
        assert!(matches!(error, Error::Tampered { .. }), "{what}: {error}");
        assert!(
            error.to_string().contains("nothing in it was imported"),
            "{error}"
        );
    }
}

#[test]
fn a_hybrid_signature_needs_both_halves() {
    // A valid Ed25519 signature alone (ML-DSA taken from another bundle) fails.
    let keys = SigningKeys::generate();
    let trust = trusting(&keys);
    let first: serde_json::Value =
        serde_json::from_slice(&sign("a", files(), &keys, "Ada").expect("sign")).expect("json");
    let mut second: serde_json::Value =
        serde_json::from_slice(&sign("a", files()[..1].to_vec(), &keys, "Ada").expect("sign"))
            .expect("json");
    second["files"] = first["files"].clone();
    second["signature"]["ed25519"] = first["signature"]["ed25519"].clone();
    second["manifest"] = first["manifest"].clone();
    let error = verify(&serde_json::to_vec(&second).expect("json"), &trust).expect_err("mixed");
    assert!(error.to_string().contains("ML-DSA-65"), "{error}");
}

#[test]
fn unsigned_and_garbage_bundles_are_refused() {
    let bytes = unsigned("plain", files()).expect("bundle");
    assert!(matches!(
        verify(&bytes, &TrustList::default()),
        Err(Error::Unsigned { .. })
    ));
    let inspected = inspect(&bytes).expect("inspect");
    assert!(!inspected.signed);
    for garbage in [&b""[..], b"{}", b"not json", br#"{"format":"codexos-bundle","version":9,"manifest":{"name":"x","created_at":0,"generator":""},"files":[]}"#] {
        assert!(matches!(verify(garbage, &TrustList::default()), Err(Error::Malformed { .. })));
    }
}

#[test]
fn the_trust_list_persists_and_forgets() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("trusted-signers.json");
    assert_eq!(TrustList::load(&path).expect("empty"), TrustList::default());
    let keys = SigningKeys::generate();
    let mut trust = trusting(&keys);
    assert!(
        !trust.add(keys.public("Ada again")),
        "same keys are one signer"
    );
    trust.save(&path).expect("save");
    let mut loaded = TrustList::load(&path).expect("load");
    assert!(loaded.contains(&keys.public("Ada")));
    let fingerprint = keys.public("Ada").fingerprint();
    assert!(loaded.remove(&fingerprint[..8]).is_some());
    assert!(!loaded.contains(&keys.public("Ada")));
    std::fs::write(&path, b"{broken").expect("write");
    assert!(TrustList::load(&path).is_err());
}

#[test]
fn the_bundle_fuzz_corpus_is_refused_cleanly() {
    for (name, bytes) in codexos_test_support::fuzz_corpus("bundle_verify") {
        assert!(
            verify(&bytes, &TrustList::default()).is_err(),
            "{name} verified"
        );
    }
}
