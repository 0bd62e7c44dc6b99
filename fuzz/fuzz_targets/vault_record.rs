//! Vault records: decoding and opening never panic, and random bytes never open.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = codexos_vault::envelope::Envelope::decode(data) {
        let key = codexos_vault::envelope::random_key();
        assert!(envelope.open("NAME", &key).is_err());
    }
});
