//! Vault records: decoding and opening never panic, a record that decodes
//! encodes back to one that decodes the same, and random bytes never open.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    use codexos_vault::envelope::Envelope;
    if let Ok(envelope) = Envelope::decode(data) {
        assert_eq!(Envelope::decode(&envelope.encode()).as_ref(), Ok(&envelope));
        let key = codexos_vault::envelope::random_key();
        assert!(envelope.open("NAME", &key).is_err());
    }
});
