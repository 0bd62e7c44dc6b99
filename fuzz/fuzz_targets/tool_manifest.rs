//! tools/ manifests: parsing and checking never panics.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _parsed = codexos_tools::folder::parse_manifest(text, std::path::Path::new("tool.toml"));
    }
});
