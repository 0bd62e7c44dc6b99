//! `codexos-test-support`: the one place for helpers that several crates'
//! integration tests share. Test-only (a dev-dependency); holds no fakes —
//! the tests it serves run on the real components.
//!
//! ```no_run
//! let corpus = codexos_test_support::corpus();
//! assert!(corpus.path().join("README.md").is_file());
//! ```

pub mod postgres;

use std::path::{Path, PathBuf};

/// The shared models folder from `CODEXOS_MODELS` (`make test` sets it).
///
/// # Panics
/// When the variable is unset or not a folder, with the fix in the message.
#[must_use]
pub fn models_dir() -> PathBuf {
    let dir = std::env::var_os("CODEXOS_MODELS")
        .map(PathBuf::from)
        .expect("set CODEXOS_MODELS to the models folder (make test does it)");
    assert!(
        dir.is_dir(),
        "CODEXOS_MODELS={} is not a folder: run `make models`",
        dir.display()
    );
    dir
}

/// A model file that a test needs, from the models folder. `make test`
/// installs every model the tests use (`scripts/fetch-models.sh --test`);
/// a missing one is a skip that says so, and under CI (`CI=true`) a failure:
/// no test passes in CI without having run.
///
/// # Panics
/// In CI, when the file is missing.
#[must_use]
pub fn model_or_skip(file: &str) -> Option<PathBuf> {
    let path = models_dir().join(file);
    if path.is_file() {
        return Some(path);
    }
    skip(&format!(
        "{} is not installed — `scripts/fetch-models.sh --test \"$CODEXOS_MODELS\"` (make test does it)",
        path.display()
    ));
    None
}

/// Records a skipped test: printed, and a failure under CI (`CI` set to
/// anything but `false`/`0`), where every test must run.
///
/// # Panics
/// In CI.
pub fn skip(reason: &str) {
    let in_ci = std::env::var("CI")
        .is_ok_and(|value| !value.is_empty() && value != "false" && value != "0");
    assert!(!in_ci, "a test would be skipped in CI: {reason}");
    eprintln!("SKIPPED (not in CI): {reason}");
}

/// This crate's `fixtures` folder, found at run time from the package under
/// test (cargo sets `CARGO_MANIFEST_DIR` when it runs a test), so a target
/// folder shared between checkouts never points at another checkout.
///
/// # Panics
/// When run outside `cargo test` in this repository.
#[must_use]
pub fn fixtures() -> PathBuf {
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .expect("CARGO_MANIFEST_DIR is set: run the tests with cargo");
    start
        .ancestors()
        .map(|folder| folder.join("crates/test-support/fixtures"))
        .find(|fixtures| fixtures.is_dir())
        .expect("the test-support fixtures exist in this checkout")
}

/// The fixture corpus: a small documentation project ("Lumen").
#[must_use]
pub fn fixture() -> PathBuf {
    fixtures().join("lumen-docs")
}

/// Files in every loaded format: a two-page PDF, JSON settings, an HTML guide.
#[must_use]
pub fn formats_fixture() -> PathBuf {
    fixtures().join("formats")
}

/// A writable copy of the fixture corpus.
///
/// # Panics
/// When the temporary copy cannot be made.
#[must_use]
pub fn corpus() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_tree(&fixture(), dir.path());
    dir
}

/// Copies a folder recursively.
///
/// # Panics
/// On any I/O error.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read folder") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Every file under `root` whose bytes contain `needle` (for "no plaintext
/// secret on disk" checks).
///
/// # Panics
/// When `root` cannot be listed.
#[must_use]
pub fn files_containing(root: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root).expect("read folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if let Ok(bytes) = std::fs::read(&path) {
            if bytes.windows(needle.len()).any(|window| window == needle) {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

/// The kept corpus of a fuzz target (`fuzz/corpus/TARGET/`): every input,
/// with its file name, so the crates' own tests replay what the fuzzer found.
///
/// # Panics
/// When the corpus folder is missing from this checkout.
#[must_use]
pub fn fuzz_corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .expect("CARGO_MANIFEST_DIR is set: run the tests with cargo");
    let folder = start
        .ancestors()
        .map(|folder| folder.join("fuzz/corpus").join(target))
        .find(|folder| folder.is_dir())
        .unwrap_or_else(|| panic!("fuzz/corpus/{target} exists in this checkout"));
    let mut inputs: Vec<(String, Vec<u8>)> = std::fs::read_dir(&folder)
        .expect("read the corpus")
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, std::fs::read(&path).expect("read a corpus input"))
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "fuzz/corpus/{target} is empty");
    inputs
}
