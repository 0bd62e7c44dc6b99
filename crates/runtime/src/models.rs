//! Model files: the pinned catalog, lookup and checksum verification.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use codexos_store::Store;
use sha2::{Digest, Sha256};

use crate::{Error, Home, Result};

/// The catalog shared with `scripts/fetch-models.sh`.
const CATALOG: &str = include_str!("../models.tsv");

/// File name of the ONNX Runtime library in the models folder.
pub const ONNX_RUNTIME: &str = "onnxruntime/libonnxruntime.so.1.31.1";

/// A pinned model file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogFile {
    /// Component it belongs to (`smollm2`, `minilm`, `onnxruntime`).
    pub component: String,
    /// Path relative to the models folder.
    pub file: String,
    /// Expected sha256, hex.
    pub sha256: String,
    /// Registry packages (`name==version`) whose members, concatenated in
    /// order, make the file.
    pub requirements: Vec<String>,
    /// The file's parts inside those packages, one per requirement.
    pub members: Vec<String>,
    /// Installed on request (`codexos models pull`), not by default.
    pub optional: bool,
}

/// Every pinned file.
#[must_use]
pub fn catalog() -> Vec<CatalogFile> {
    CATALOG
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let split = |field: Option<&str>| -> Vec<String> {
                field.map_or_else(Vec::new, |text| {
                    text.split('+').map(str::to_owned).collect()
                })
            };
            Some(CatalogFile {
                component: fields.next()?.to_owned(),
                file: fields.next()?.to_owned(),
                sha256: fields.next()?.to_owned(),
                requirements: split(fields.next()),
                members: split(fields.next()),
                optional: fields
                    .next()
                    .is_some_and(|scope| scope.split(',').any(|word| word == "optional")),
            })
        })
        .collect()
}

/// Resolves a model name: an absolute or relative path that exists, a file
/// name in the models folder, or such a name without its `.gguf`.
#[must_use]
pub fn resolve(home: &Home, name: &str) -> PathBuf {
    let direct = PathBuf::from(name);
    if direct.is_absolute() || direct.exists() {
        return direct;
    }
    let in_models = home.models().join(name);
    let has_extension = Path::new(name)
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("gguf"));
    if !in_models.exists() && !has_extension {
        let with_extension = home.models().join(format!("{name}.gguf"));
        if with_extension.exists() {
            return with_extension;
        }
    }
    in_models
}

/// A model in the models folder, for `codexos models list`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, specta::Type)]
pub struct ModelEntry {
    /// Name to use in config and `--model` (file or folder name).
    pub name: String,
    /// `chat` (GGUF), `embedding` or `reranker` (ONNX folders), `runtime`.
    pub kind: String,
    /// `catalog` (a pinned registry package) or `local` (found in the folder).
    pub source: String,
    /// Whether every file of it is present.
    pub installed: bool,
    /// Bytes on disk.
    #[specta(type = f64)]
    pub bytes: u64,
    /// Whether the configuration uses it by default.
    pub default: bool,
}

pub(crate) fn is_gguf(name: &str) -> bool {
    Path::new(name)
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("gguf"))
}

fn size_of(path: &Path) -> u64 {
    if path.is_dir() {
        std::fs::read_dir(path).map_or(0, |entries| {
            entries
                .filter_map(std::result::Result::ok)
                .map(|entry| size_of(&entry.path()))
                .sum()
        })
    } else {
        std::fs::metadata(path).map_or(0, |meta| meta.len())
    }
}

/// The catalog entry a name given to `codexos models pull` means: a
/// component (`minilm`), a file (`SmolLM2-135M-Instruct.Q4_1.gguf`, with or
/// without `.gguf`) or a model folder (`all-minilm-l6-v2`).
#[must_use]
pub fn find(catalog: &[CatalogFile], name: &str) -> Option<usize> {
    catalog.iter().position(|entry| {
        entry.component == name
            || entry.file == name
            || entry.file.trim_end_matches(".gguf") == name
            || entry.file.split('/').next() == Some(name)
    })
}

/// The command that installs the model `name` (a catalog name, file or
/// folder), for error messages and `models list`; for a name outside the
/// catalog, where to look instead.
#[must_use]
pub fn pull_hint(name: &str) -> String {
    let catalog = catalog();
    match find(&catalog, name) {
        Some(index) => format!(
            "run `codexos models pull {}` (in the app: Settings → Models → Pull)",
            catalog[index].component
        ),
        None => format!(
            "`{name}` is not in the catalog: check the name with `codexos models list`, or import the file with `codexos models import`"
        ),
    }
}

/// The catalog's models (installed or not) and every other model found in
/// the models folder: `.gguf` files and folders holding a `model.onnx`.
#[must_use]
pub fn list(home: &Home, defaults: &[&str]) -> Vec<ModelEntry> {
    let mut entries: Vec<ModelEntry> = Vec::new();
    for file in catalog() {
        let top = file.file.split('/').next().unwrap_or_default().to_owned();
        let path = home.models().join(&file.file);
        if let Some(entry) = entries.iter_mut().find(|entry| entry.name == top) {
            entry.installed &= path.is_file();
            continue;
        }
        let kind = match file.component.as_str() {
            "onnxruntime" => "runtime",
            _ if is_gguf(&top) => "chat",
            _ => "embedding",
        };
        entries.push(ModelEntry {
            name: top.clone(),
            kind: kind.into(),
            source: "catalog".into(),
            installed: path.is_file(),
            bytes: size_of(&home.models().join(&top)),
            default: defaults.contains(&top.as_str()),
        });
    }
    let mut local: Vec<ModelEntry> = std::fs::read_dir(home.models())
        .map(|found| {
            found
                .filter_map(std::result::Result::ok)
                .filter_map(|entry| {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let path = entry.path();
                    let kind = if is_gguf(&name) && path.is_file() {
                        "chat"
                    } else if path.join("model.onnx").is_file() {
                        if name.contains("rerank") {
                            "reranker"
                        } else {
                            "embedding"
                        }
                    } else {
                        return None;
                    };
                    Some(ModelEntry {
                        default: defaults.contains(&name.as_str()),
                        bytes: size_of(&path),
                        kind: kind.into(),
                        source: "local".into(),
                        installed: true,
                        name,
                    })
                })
                .filter(|found| !entries.iter().any(|entry| entry.name == found.name))
                .collect()
        })
        .unwrap_or_default();
    local.sort_by(|a, b| a.name.cmp(&b.name));
    entries.extend(local);
    entries
}

/// The ONNX Runtime library: `ORT_DYLIB_PATH` when set, else the models folder.
#[must_use]
pub fn onnx_runtime(home: &Home) -> PathBuf {
    std::env::var_os("ORT_DYLIB_PATH")
        .filter(|value| !value.is_empty())
        .map_or_else(|| home.models().join(ONNX_RUNTIME), PathBuf::from)
}

pub(crate) fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Checks every catalog file under `path` (a file, or the folder holding a
/// model's files) against its pinned checksum. Files outside the catalog
/// (a user's own model) pass unverified. Checksums are cached by size and
/// modification time, so large files are hashed once.
pub fn verify(store: &Store, home: &Home, path: &Path) -> Result<()> {
    for entry in catalog() {
        let file = home.models().join(&entry.file);
        if file != path && !file.starts_with(path) {
            continue;
        }
        verify_file(store, &file, &entry)?;
    }
    Ok(())
}

/// Checks one catalog file.
pub fn verify_file(store: &Store, file: &Path, entry: &CatalogFile) -> Result<()> {
    let metadata = std::fs::metadata(file).map_err(|_| Error::ModelMissing {
        path: file.to_path_buf(),
        component: entry.component.clone(),
    })?;
    let mtime = metadata
        .modified()
        .ok()
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |elapsed| elapsed.as_nanos() as i64);
    if store
        .verified_checksum(file, metadata.len(), mtime)?
        .as_deref()
        == Some(entry.sha256.as_str())
    {
        return Ok(());
    }
    let actual = sha256_file(file).map_err(|source| Error::Home {
        path: file.to_path_buf(),
        source,
    })?;
    if actual != entry.sha256 {
        return Err(Error::ModelChecksum {
            path: file.to_path_buf(),
            fix: format!("{} (it replaces the file)", pull_hint(&entry.component)),
            expected: entry.sha256.clone(),
            actual,
        });
    }
    store.record_checksum(file, metadata.len(), mtime, &actual)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_lists_the_default_models() {
        let files = catalog();
        assert!(files.iter().any(|file| file.component == "smollm2"));
        assert!(files.iter().any(|file| file.file == ONNX_RUNTIME));
        assert!(files.iter().all(|file| file.sha256.len() == 64));
    }

    #[test]
    fn a_wrong_checksum_is_reported_and_a_right_one_cached() {
        let dir = tempfile::tempdir().expect("temp dir");
        let home = Home::new(dir.path().to_path_buf(), None);
        home.prepare().expect("prepare");
        let store = Store::open(&home.database()).expect("store");
        let file = home.models().join("m.gguf");
        std::fs::write(&file, b"hello").expect("write");
        let right = CatalogFile {
            component: "m".into(),
            file: "m.gguf".into(),
            sha256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824".into(),
            requirements: Vec::new(),
            members: Vec::new(),
            optional: false,
        };
        verify_file(&store, &file, &right).expect("matches");
        let wrong = CatalogFile {
            sha256: "0".repeat(64),
            ..right
        };
        let error = verify_file(&store, &file, &wrong).expect_err("mismatch");
        assert!(matches!(error, Error::ModelChecksum { .. }), "{error}");
    }

    #[test]
    fn names_resolve_with_or_without_extension() {
        let dir = tempfile::tempdir().expect("temp dir");
        let home = Home::new(dir.path().to_path_buf(), None);
        home.prepare().expect("prepare");
        std::fs::write(home.models().join("tiny.gguf"), b"x").expect("write");
        assert_eq!(resolve(&home, "tiny"), home.models().join("tiny.gguf"));
        assert_eq!(resolve(&home, "tiny.gguf"), home.models().join("tiny.gguf"));
    }
}
