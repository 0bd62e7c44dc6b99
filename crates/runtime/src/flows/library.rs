//! The flow library as a user manages it: new flows (blank or copied from
//! another), rename, duplicate, and delete with undo. The file in the flows
//! folder stays the single source of truth; every change is recorded in the
//! flow's version history, and a deleted file waits in the data home's
//! trash until it is restored.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use codexos_flow::{Flow, ForkOrigin, FLOW_VERSION};
use serde::Serialize;

use super::{read_flow, valid_flow_name, write_flow_file, FlowEntry};
use crate::{Error, Result, Runtime};

/// A flow moved to the trash, and how to bring it back.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DeletedFlow {
    /// Flow name.
    pub name: String,
    /// Where the file waits (give it to `restore_flow`).
    pub trash: String,
}

/// A flow whose file left the flows folder without the app (deleted in a
/// file manager, the whole folder removed): its saved versions remain, so it
/// can be written back.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct MissingFlow {
    /// Flow name.
    pub name: String,
    /// Its newest saved version.
    pub version: u32,
    /// Where its file was.
    pub path: String,
    /// When that version was saved (Unix seconds).
    #[specta(type = f64)]
    pub saved_at: i64,
}

/// A blank flow: an input node wired to an output node, no state yet.
///
/// # Errors
/// When `name` is not a valid flow name.
pub fn blank_flow(name: &str) -> Result<Flow> {
    let text = serde_json::json!({
        "version": FLOW_VERSION,
        "name": name,
        "state": {},
        "nodes": [
            {"id": "input", "kind": "input", "title": "Input", "position": {"x": 0, "y": 0}},
            {"id": "output", "kind": "output", "title": "Output", "position": {"x": 0, "y": 240}},
        ],
        "edges": [{"from": "input", "to": "output"}],
    })
    .to_string();
    Ok(codexos_flow::parse(&text)?)
}

fn check_name(name: &str) -> Result<()> {
    if valid_flow_name(name) {
        Ok(())
    } else {
        Err(Error::InvalidFlowName { name: name.into() })
    }
}

impl Runtime {
    fn trash(&self) -> PathBuf {
        self.home.root().join("trash").join("flows")
    }

    /// The flows-folder file of the flow named `name`.
    pub fn library_file(&self, name: &str) -> Result<PathBuf> {
        self.flow_library()?
            .into_iter()
            .find(|entry| entry.name == name)
            .map(|entry| PathBuf::from(entry.path))
            .ok_or_else(|| Error::UnknownFlow { name: name.into() })
    }

    /// Refuses `name` when a flow or a file already holds it.
    fn free_name(&self, name: &str) -> Result<PathBuf> {
        check_name(name)?;
        let path = self.home.flows().join(format!("{name}.flow.json"));
        let taken = path.exists() || self.flow_library()?.iter().any(|entry| entry.name == name);
        if taken {
            return Err(Error::FlowExists { name: name.into() });
        }
        Ok(path)
    }

    fn entry(path: &Path, flow: Flow) -> FlowEntry {
        FlowEntry {
            name: flow.name.clone(),
            path: path.to_string_lossy().into_owned(),
            flow: Some(flow),
            error: None,
        }
    }

    /// Creates the flow `name` in the flows folder: blank, or a copy of the
    /// library flow `from` (its nodes, state and permissions; the name is
    /// the new one). Refuses a name that is taken.
    pub fn create_flow(&self, name: &str, from: Option<&str>) -> Result<FlowEntry> {
        self.free_name(name)?;
        let (mut flow, note) = match from {
            None => (blank_flow(name)?, "created".to_owned()),
            Some(source) => (
                read_flow(&self.library_file(source)?)?,
                format!("copied from {source}"),
            ),
        };
        name.clone_into(&mut flow.name);
        flow.schema = None;
        let path = write_flow_file(&self.home.flows(), &flow)?;
        self.save_flow_version(&flow, Some(&path), &note)?;
        Ok(Self::entry(&path, flow))
    }

    /// Creates the flow `name` as a fork of `flow`: a copy that records
    /// where it came from (`forkedFrom`). Refuses a name that is taken.
    pub fn fork_flow(&self, flow: &Flow, name: &str, origin: ForkOrigin) -> Result<FlowEntry> {
        self.free_name(name)?;
        let mut copy = flow.clone();
        name.clone_into(&mut copy.name);
        copy.schema = None;
        let note = format!(
            "forked from {} {} v{}",
            origin.origin, origin.flow, origin.version
        );
        self.audited(
            "flow.fork",
            name,
            serde_json::json!({ "origin": origin.origin, "flow": origin.flow, "version": origin.version }),
        );
        copy.forked_from = Some(origin);
        let path = write_flow_file(&self.home.flows(), &copy)?;
        self.save_flow_version(&copy, Some(&path), &note)?;
        Ok(Self::entry(&path, copy))
    }

    /// Takes a fork's origin's newer content (`theirs`, at `version`): the
    /// fork keeps its name and its lineage, now at that version.
    pub fn update_fork(&self, name: &str, theirs: &Flow, version: u32) -> Result<FlowEntry> {
        let path = self.library_file(name)?;
        let ours = read_flow(&path)?;
        let Some(mut origin) = ours.forked_from.clone() else {
            return Err(Error::Flow(codexos_flow::Error::Schema {
                node: None,
                message: format!("flow `{name}` is not a fork: it has no origin to update from"),
            }));
        };
        origin.version = version;
        let mut updated = theirs.clone();
        name.clone_into(&mut updated.name);
        updated.schema = None;
        updated.forked_from = Some(origin.clone());
        let path = write_flow_file(&self.home.flows(), &updated)?;
        self.save_flow_version(
            &updated,
            Some(&path),
            &format!("updated from {} {} v{version}", origin.origin, origin.flow),
        )?;
        Ok(Self::entry(&path, updated))
    }

    /// Renames a library flow: its file and the name inside it. The new
    /// name's history starts with a version noting the old name (the old
    /// name's history stays readable).
    pub fn rename_flow(&self, from: &str, to: &str) -> Result<FlowEntry> {
        let source = self.library_file(from)?;
        self.free_name(to)?;
        let mut flow = read_flow(&source)?;
        to.clone_into(&mut flow.name);
        // The new file first: a crash in between leaves both, never neither.
        let path = write_flow_file(&self.home.flows(), &flow)?;
        self.save_flow_version(&flow, Some(&path), &format!("renamed from {from}"))?;
        std::fs::remove_file(&source).map_err(|source_error| Error::Home {
            path: source.clone(),
            source: source_error,
        })?;
        self.audited("flow.rename", from, serde_json::json!({ "to": to }));
        Ok(Self::entry(&path, flow))
    }

    /// Moves a library flow's file to the data home's trash; its history is
    /// kept. [`Runtime::restore_flow`] brings it back.
    pub fn delete_flow(&self, name: &str) -> Result<DeletedFlow> {
        let source = self.library_file(name)?;
        let trash = self.trash();
        std::fs::create_dir_all(&trash).map_err(|source| Error::Home {
            path: trash.clone(),
            source,
        })?;
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis());
        let file = source
            .file_name()
            .map(|file| file.to_string_lossy().into_owned())
            .unwrap_or_default();
        let target = trash.join(format!("{stamp}-{file}"));
        std::fs::rename(&source, &target).map_err(|error| Error::Home {
            path: source.clone(),
            source: error,
        })?;
        self.audited(
            "flow.delete",
            name,
            serde_json::json!({ "trash": target.to_string_lossy() }),
        );
        Ok(DeletedFlow {
            name: name.to_owned(),
            trash: target.to_string_lossy().into_owned(),
        })
    }

    /// A flow's saved versions, oldest first; none for a flow never saved
    /// or run (the app's Versions panel).
    pub fn flow_versions(&self, name: &str) -> Result<Vec<codexos_store::FlowVersion>> {
        match self.flow_history(name) {
            Err(Error::UnknownFlow { .. }) => Ok(Vec::new()),
            other => other,
        }
    }

    /// Writes an old version back to the flow's file in the flows folder
    /// (never a copy run from elsewhere), recorded as the newest version;
    /// the flow as now on disk.
    pub fn rollback_library_flow(&self, name: &str, version: u32) -> Result<FlowEntry> {
        let file = self.library_file(name)?;
        let (path, _) = self.flow_rollback(name, version, Some(&file))?;
        let flow = read_flow(&path)?;
        self.audited(
            "flow.rollback",
            name,
            serde_json::json!({ "version": version }),
        );
        Ok(Self::entry(&path, flow))
    }

    /// Flows whose newest saved version lived in the flows folder but whose
    /// file is gone — not deleted from the app (that waits in the trash),
    /// not renamed, and not back under another file.
    pub fn missing_flows(&self) -> Result<Vec<MissingFlow>> {
        let folder = self.home.flows();
        let present: Vec<String> = self
            .flow_library()?
            .into_iter()
            .map(|entry| entry.name)
            .collect();
        let trashed: Vec<String> = std::fs::read_dir(self.trash())
            .map(|listing| {
                listing
                    .flatten()
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let latest = self.store.flows()?;
        // (old name, when it was renamed away)
        let renamed = self.store.flow_renames()?;
        // A trash file is `{milliseconds}-{file}`: the whole rest must match.
        let binned = |file: &str| {
            trashed.iter().any(|name| {
                name.split_once('-').is_some_and(|(stamp, rest)| {
                    !stamp.is_empty() && stamp.chars().all(|c| c.is_ascii_digit()) && rest == file
                })
            })
        };
        Ok(latest
            .into_iter()
            .filter_map(|saved| {
                let path = PathBuf::from(saved.path.as_deref()?);
                let file = path.file_name()?.to_string_lossy().into_owned();
                // Renamed away after its newest version: not missing.
                let moved = renamed
                    .iter()
                    .any(|(old, at)| old == &saved.flow && *at >= saved.saved_at);
                let gone = path.parent() == Some(folder.as_path())
                    && !path.exists()
                    && !present.contains(&saved.flow)
                    && !moved
                    && !binned(&file);
                gone.then(|| MissingFlow {
                    name: saved.flow,
                    version: saved.version,
                    path: path.to_string_lossy().into_owned(),
                    saved_at: saved.saved_at,
                })
            })
            .collect())
    }

    /// Writes a missing flow's newest saved version back to its file in
    /// the flows folder (refused when the name is taken meanwhile).
    pub fn restore_missing_flow(&self, name: &str) -> Result<FlowEntry> {
        let missing = self
            .missing_flows()?
            .into_iter()
            .find(|flow| flow.name == name)
            .ok_or_else(|| Error::UnknownFlow { name: name.into() })?;
        let saved = self.flow_version(name, missing.version)?;
        let flow = codexos_flow::parse(&saved.content)?;
        let target = self.free_name(&flow.name)?;
        let folder = self.home.flows();
        let file = target
            .file_name()
            .map(|file| file.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = super::write_in_place(&folder, &file, saved.content.as_bytes())?;
        self.save_flow_version(&flow, Some(&path), "restored after its file was deleted")?;
        Ok(Self::entry(&path, flow))
    }

    /// Brings a deleted flow back from the trash (refused when its name was
    /// taken meanwhile, or when `trash` is not a file in the trash).
    pub fn restore_flow(&self, trash: &str) -> Result<FlowEntry> {
        let refused = || Error::NotInTrash {
            path: PathBuf::from(trash),
        };
        // Both sides resolved (links included); a trash that does not exist
        // yet holds nothing.
        let folder = self.trash().canonicalize().map_err(|_| refused())?;
        let file = Path::new(trash).canonicalize().map_err(|_| refused())?;
        let inside = file.parent() == Some(folder.as_path())
            && file.is_file()
            && file
                .file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.ends_with(".flow.json"));
        if !inside {
            return Err(refused());
        }
        let file = file.as_path();
        let flow = read_flow(file)?;
        let target = self.free_name(&flow.name)?;
        std::fs::rename(file, &target).map_err(|source| Error::Home {
            path: target.clone(),
            source,
        })?;
        self.audited("flow.restore", &flow.name, serde_json::json!({}));
        Ok(Self::entry(&target, flow))
    }
}

/// What taking `theirs` over `ours` would change: a unified diff of the two
/// flows as their files read (lineage and name aside).
#[must_use]
pub fn flow_change(ours: &Flow, theirs: &Flow, labels: (&str, &str)) -> String {
    let text = |flow: &Flow| {
        let mut plain = flow.clone();
        plain.forked_from = None;
        plain.schema = None;
        plain.name = String::new();
        serde_json::to_string_pretty(&plain).unwrap_or_default() + "\n"
    };
    similar::TextDiff::from_lines(&text(ours), &text(theirs))
        .unified_diff()
        .header(labels.0, labels.1)
        .to_string()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::{Error, Home, Runtime};

    fn runtime(home: &tempfile::TempDir) -> Arc<Runtime> {
        Runtime::open(Home::new(home.path().join("home"), None)).expect("runtime")
    }

    fn names(runtime: &Runtime) -> Vec<String> {
        runtime
            .flow_library()
            .expect("library")
            .into_iter()
            .map(|entry| entry.name)
            .collect()
    }

    #[test]
    fn a_new_flow_is_a_checked_file_with_its_first_version() {
        let home = tempfile::tempdir().expect("temp dir");
        let runtime = runtime(&home);
        let entry = runtime.create_flow("notes", None).expect("created");
        assert!(names(&runtime).contains(&"notes".to_owned()));
        let flow = entry.flow.expect("parsed");
        assert_eq!(flow.nodes.len(), 2);
        let problems = runtime.check_flow(&flow, None);
        assert!(
            problems
                .iter()
                .all(|problem| problem.severity != codexos_flow::Severity::Error),
            "{problems:?}"
        );
        let history = runtime.flow_history("notes").expect("history");
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].note, "created");
        // A copy takes the source's nodes under its own name.
        let copy = runtime
            .create_flow("qa-copy", Some("rag-qa"))
            .expect("copied");
        let source = runtime
            .flow_library()
            .expect("library")
            .into_iter()
            .find(|entry| entry.name == "rag-qa")
            .and_then(|entry| entry.flow)
            .expect("example");
        let copy = copy.flow.expect("parsed");
        assert_eq!(copy.name, "qa-copy");
        assert_eq!(copy.nodes, source.nodes);
    }

    #[test]
    fn a_flows_folder_deleted_outside_the_app_comes_back_from_history() {
        let home = tempfile::tempdir().expect("temp dir");
        let runtime = runtime(&home);
        runtime.create_flow("kept", None).expect("created");
        runtime.create_flow("binned", None).expect("created");
        // Binning `my-kept` must not hide a deleted `kept` (the trash file
        // is `{stamp}-my-kept.flow.json`).
        runtime.create_flow("my-kept", None).expect("created");
        runtime.delete_flow("my-kept").expect("binned");
        // An example changed by the user is theirs; the others are pristine.
        let example = runtime.library_file("rag-qa").expect("example");
        let mut changed = crate::read_flow(&example).expect("example flow");
        changed.description = "my own".into();
        runtime.save_flow(&changed).expect("saved");
        runtime.create_flow("before", None).expect("created");
        runtime.rename_flow("before", "after").expect("renamed");
        runtime.delete_flow("binned").expect("deleted");
        // Positive control: nothing is missing while the folder is there.
        assert!(runtime.missing_flows().expect("missing").is_empty());
        std::fs::remove_dir_all(home.path().join("home/flows")).expect("folder deleted");
        // The folder comes back with the untouched examples only — the
        // changed one is not overwritten by its pristine copy — and the
        // deleted flows are offered back, except the one binned from the app
        // (in the trash) and the old name of a rename.
        let back = names(&runtime);
        assert!(
            back.contains(&"plan-execute".to_owned()) && !back.contains(&"rag-qa".to_owned()),
            "{back:?}"
        );
        let missing: Vec<String> = runtime
            .missing_flows()
            .expect("missing")
            .into_iter()
            .map(|flow| flow.name)
            .collect();
        for expected in ["after", "kept", "rag-qa"] {
            assert!(missing.contains(&expected.to_owned()), "{missing:?}");
        }
        assert!(
            !missing.contains(&"binned".to_owned()) && !missing.contains(&"before".to_owned()),
            "{missing:?}"
        );
        let restored = runtime.restore_missing_flow("kept").expect("restored");
        assert_eq!(restored.flow.expect("parsed").name, "kept");
        assert!(names(&runtime).contains(&"kept".to_owned()));
        assert!(!runtime
            .missing_flows()
            .expect("missing")
            .iter()
            .any(|flow| flow.name == "kept"));
        let history = runtime.flow_history("kept").expect("history");
        assert_eq!(
            std::fs::read_to_string(home.path().join("home/flows/kept.flow.json")).expect("file"),
            history.last().expect("newest").content,
            "the newest saved version is back on disk"
        );
        assert!(matches!(
            runtime.restore_missing_flow("kept"),
            Err(Error::UnknownFlow { .. })
        ));
    }

    #[test]
    fn a_taken_or_invalid_name_is_refused_and_nothing_is_overwritten() {
        let home = tempfile::tempdir().expect("temp dir");
        let runtime = runtime(&home);
        runtime.create_flow("mine", None).expect("created");
        let file = home.path().join("home/flows/mine.flow.json");
        let before = std::fs::read_to_string(&file).expect("file");
        let error = runtime
            .create_flow("mine", Some("rag-qa"))
            .expect_err("taken");
        assert!(matches!(error, Error::FlowExists { .. }), "{error}");
        let error = runtime.rename_flow("rag-qa", "mine").expect_err("taken");
        assert!(matches!(error, Error::FlowExists { .. }), "{error}");
        assert_eq!(std::fs::read_to_string(&file).expect("file"), before);
        for bad in ["", "../escape", "with space", "a/b"] {
            let error = runtime.create_flow(bad, None).expect_err("invalid");
            assert!(
                matches!(error, Error::InvalidFlowName { .. }),
                "{bad}: {error}"
            );
        }
        let error = runtime
            .create_flow("x", Some("no-such-flow"))
            .expect_err("unknown");
        assert!(matches!(error, Error::UnknownFlow { .. }), "{error}");
    }

    #[test]
    fn rename_moves_the_file_and_the_name_inside_it() {
        let home = tempfile::tempdir().expect("temp dir");
        let runtime = runtime(&home);
        runtime.create_flow("before", None).expect("created");
        let entry = runtime.rename_flow("before", "after").expect("renamed");
        let listed = names(&runtime);
        assert!(listed.contains(&"after".to_owned()), "{listed:?}");
        assert!(!listed.contains(&"before".to_owned()), "{listed:?}");
        assert!(!home.path().join("home/flows/before.flow.json").exists());
        let text = std::fs::read_to_string(&entry.path).expect("file");
        assert!(text.contains("\"name\": \"after\""), "{text}");
        let history = runtime.flow_history("after").expect("history");
        assert_eq!(history[0].note, "renamed from before");
    }

    #[test]
    fn a_library_flow_rolls_back_in_its_own_file_and_versions_start_empty() {
        let home = tempfile::tempdir().expect("temp dir");
        let runtime = runtime(&home);
        assert!(runtime
            .flow_versions("never-saved")
            .expect("none")
            .is_empty());
        let first = runtime
            .create_flow("steps", None)
            .expect("created")
            .flow
            .expect("flow");
        let mut changed = first.clone();
        changed.description = "second version".into();
        runtime.save_flow(&changed).expect("saved");
        assert_eq!(runtime.flow_versions("steps").expect("versions").len(), 2);
        let entry = runtime
            .rollback_library_flow("steps", 1)
            .expect("rolled back");
        assert_eq!(entry.flow.expect("flow").description, first.description);
        let file = home.path().join("home/flows/steps.flow.json");
        assert_eq!(entry.path, file.to_string_lossy());
        assert!(!std::fs::read_to_string(&file)
            .expect("file")
            .contains("second version"));
        let versions = runtime.flow_versions("steps").expect("versions");
        assert_eq!(versions.last().expect("newest").note, "rollback to v1");
    }

    #[test]
    fn a_deleted_flow_comes_back_from_the_trash_unless_its_name_was_taken() {
        let home = tempfile::tempdir().expect("temp dir");
        let runtime = runtime(&home);
        runtime.create_flow("keep", None).expect("created");
        let file = home.path().join("home/flows/keep.flow.json");
        let text = std::fs::read_to_string(&file).expect("file");
        let deleted = runtime.delete_flow("keep").expect("deleted");
        assert!(!file.exists());
        assert!(!names(&runtime).contains(&"keep".to_owned()));
        runtime.restore_flow(&deleted.trash).expect("restored");
        assert_eq!(std::fs::read_to_string(&file).expect("back"), text);
        // Deleted again, and the name taken meanwhile: the restore refuses.
        let deleted = runtime.delete_flow("keep").expect("deleted");
        runtime.create_flow("keep", None).expect("a new one");
        let error = runtime.restore_flow(&deleted.trash).expect_err("taken");
        assert!(matches!(error, Error::FlowExists { .. }), "{error}");
        assert!(
            std::path::Path::new(&deleted.trash).exists(),
            "still in the trash"
        );
        // Only files in the trash can be restored: not a flow file elsewhere,
        // not a relative path, not before anything was ever deleted.
        let error = runtime
            .restore_flow(&file.to_string_lossy())
            .expect_err("not in the trash");
        assert!(matches!(error, Error::NotInTrash { .. }), "{error}");
        for path in ["keep.flow.json", "../keep.flow.json", ""] {
            let error = runtime.restore_flow(path).expect_err("relative");
            assert!(matches!(error, Error::NotInTrash { .. }), "{path}: {error}");
        }
        let fresh = tempfile::tempdir().expect("temp dir");
        let untouched = Runtime::open(Home::new(fresh.path().join("home"), None)).expect("runtime");
        std::fs::write(fresh.path().join("stray.flow.json"), "{}").expect("stray");
        let error = untouched
            .restore_flow(&fresh.path().join("stray.flow.json").to_string_lossy())
            .expect_err("no trash yet");
        assert!(matches!(error, Error::NotInTrash { .. }), "{error}");
        assert!(fresh.path().join("stray.flow.json").exists());
    }
}
