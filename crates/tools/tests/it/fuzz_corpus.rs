//! The fuzz target `tool_manifest`'s corpus, replayed: no input panics, and
//! the shipped example manifests parse.

#[test]
fn the_tool_manifest_corpus_parses_or_fails_cleanly() {
    for (name, bytes) in codexos_test_support::fuzz_corpus("tool_manifest") {
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let outcome = codexos_tools::folder::parse_manifest(text, std::path::Path::new(&name));
        if ["line-count.toml", "todos.toml", "sqlite-query.toml"].contains(&name.as_str()) {
            assert!(outcome.is_ok(), "{name}: {:?}", outcome.err());
        }
    }
}
