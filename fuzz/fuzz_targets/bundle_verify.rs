//! Bundles: verification never panics and never accepts what it cannot check.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let trust = codexos_bundle::TrustList::default();
    if let Ok(verified) = codexos_bundle::verify(data, &trust) {
        assert!(!verified.trusted, "an empty trust list trusts nobody");
    }
    let _inspected = codexos_bundle::inspect(data);
});
