//! Vault export files: parsing never panics; parameters are bounded before
//! any key derivation (a crafted file cannot make Argon2id allocate
//! gigabytes), so opening stays cheap enough to fuzz.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(sealed) = codexos_vault::export::parse(data) {
        let _count = sealed.count();
    }
});
