//! The fuzz target `flow_file`'s corpus, replayed: no input panics.

#[test]
fn the_flow_file_corpus_parses_or_fails_cleanly() {
    for (name, bytes) in codexos_test_support::fuzz_corpus("flow_file") {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let outcome = codexos_flow::model::parse(text);
            if name.ends_with(".flow.json") {
                assert!(outcome.is_ok(), "{name}: {:?}", outcome.err());
            }
            if let Ok(flow) = outcome {
                let _taint = codexos_flow::taint::Taint::of(&flow, &|_| true);
            }
        }
    }
}
