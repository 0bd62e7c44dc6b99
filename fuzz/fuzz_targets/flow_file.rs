//! Flow files: parsing (with version migrations) never panics, nor does the
//! taint analysis of a flow that parses.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(flow) = codexos_flow::model::parse(text) {
            let _taint = codexos_flow::taint::Taint::of(&flow, &|_| true);
        }
    }
});
