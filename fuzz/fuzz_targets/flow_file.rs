//! Flow files: parsing (with version migrations) never panics.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _parsed = codexos_flow::model::parse(text);
    }
});
