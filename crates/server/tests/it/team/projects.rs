//! A folder of this machine as a project of a server's workspace, over real
//! HTTP with the app's client: uploaded (only what changed), indexed there
//! and searchable, listed, previewed, synced and removed; unsafe, conflicting
//! or oversized
//! uploads write nothing.

use codexos_runtime::IngestProgress;
use codexos_server::team::client::ClientError;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::{roomy, signed_in, start, zip_of};

fn write(root: &std::path::Path, path: &str, text: &str) {
    let target = root.join(path);
    std::fs::create_dir_all(target.parent().expect("parent")).expect("folder");
    std::fs::write(target, text).expect("write");
}

/// The search hits' paths for `query` in project `project` of `team`.
async fn hits(server: &super::Server, query: &str, project: &str) -> Vec<String> {
    let (status, body) = server
        .call(
            "eve",
            "POST",
            "/api/v1/workspaces/team/search",
            Some(json!({"query": query, "project": project, "k": 3})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let found: Value = serde_json::from_str(&body).expect("json");
    found
        .as_array()
        .expect("hits")
        .iter()
        .map(|hit| hit["path"].as_str().expect("path").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::too_many_lines)]
async fn a_folder_is_uploaded_indexed_synced_and_removed_by_the_app_client() {
    let server = start(roomy()).await;
    let cora = signed_in(&server, "cora").await;
    let folder = tempfile::tempdir().expect("folder");
    let root = folder.path().join("My Repo");
    write(
        &root,
        "README.md",
        "# Quarry\n\nThe quarry ships granite on Tuesdays.\n",
    );
    write(
        &root,
        "src/lib.rs",
        "/// Adds.\npub fn add(a: u32, b: u32) -> u32 { a + b }\n",
    );
    write(&root, "notes/old.md", "# Old\n\nTo be deleted.\n");
    write(&root, ".gitignore", "build/\n");
    write(&root, "build/junk.txt", "ignored by .gitignore\n");
    // Larger than the server takes here (its upload limit is 1 MiB).
    write(&root, "big.log", &"a line of a large log\n".repeat(60_000));
    let name = codexos_server::team::client::project_name_for(&root);
    assert_eq!(name, "My-Repo");

    let events = Mutex::new(Vec::new());
    let stop = CancellationToken::new();
    let report = cora
        .upload_and_ingest(
            "team",
            &root,
            &name,
            &|event| events.lock().expect("events").push(event),
            &stop,
        )
        .await
        .expect("upload and ingest");
    // Positive control: the files were sent, indexed there and are found.
    assert_eq!(report.project, name);
    assert_eq!(report.files_indexed, 3, "{report:?}");
    assert!(
        report
            .skipped
            .iter()
            .any(|file| file.path == "big.log" && file.reason.contains("bytes the server takes")),
        "the large file is named with the reason: {:?}",
        report.skipped
    );
    let seen = std::mem::take(&mut *events.lock().expect("events"));
    assert!(
        matches!(
            seen.first(),
            Some(IngestProgress::Uploading {
                done: 0,
                total: 3,
                ..
            })
        ),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|event| matches!(
            event,
            IngestProgress::Uploading {
                done: 3,
                total: 3,
                ..
            }
        )),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|event| matches!(event, IngestProgress::Finished { .. })),
        "the server's ingest events stream back: {seen:?}"
    );
    assert_eq!(
        hits(&server, "granite quarry Tuesdays", &name)
            .await
            .first()
            .map(String::as_str),
        Some("README.md")
    );
    let listed = cora.projects("team").await.expect("projects");
    let project = listed
        .iter()
        .find(|project| project.name == name)
        .expect("listed");
    assert!(
        project.root.ends_with(&format!("uploads/{name}")),
        "{}",
        project.root
    );
    // What .gitignore leaves out is not sent.
    let uploads = std::path::Path::new(&project.root);
    assert!(uploads.join("README.md").is_file());
    assert!(!uploads.join("build").exists());
    let files = cora.project_files("team", &name).await.expect("files");
    let mut paths: Vec<&str> = files.iter().map(|file| file.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["README.md", "notes/old.md", "src/lib.rs"]);
    let preview = cora
        .file_preview("team", &name, "src/lib.rs")
        .await
        .expect("preview");
    assert!(preview.text.contains("pub fn add"), "{preview:?}");
    // The search panel's filters reach the server's engine: the same query
    // finds the README (positive control), then nothing once only code
    // under src/ may match; a mode the engine does not know is refused.
    let mut request = codexos_runtime::SearchRequest::new(
        5,
        codexos_runtime::SearchMode::Bm25,
        Some(name.as_str()),
    );
    let found = cora
        .search("team", "granite Tuesdays", &request)
        .await
        .expect("search");
    assert_eq!(
        found.first().map(|hit| hit.path.as_str()),
        Some("README.md")
    );
    request.filter.path = Some("src/**".to_owned());
    request.filter.kind = Some("code".to_owned());
    let narrowed = cora
        .search("team", "granite Tuesdays", &request)
        .await
        .expect("search");
    assert!(
        narrowed.iter().all(|hit| hit.path == "src/lib.rs"),
        "{narrowed:?}"
    );
    let code = cora
        .search("team", "add a b u32", &request)
        .await
        .expect("search");
    assert_eq!(
        code.first().map(|hit| hit.path.as_str()),
        Some("src/lib.rs")
    );
    let (status, body) = server
        .call(
            "cora",
            "POST",
            "/api/v1/workspaces/team/search",
            Some(json!({"query": "granite", "mode": "fuzzy"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("unknown search mode `fuzzy`"), "{body}");
    let outside = cora.file_preview("team", &name, "../../team.sqlite").await;
    assert!(
        matches!(outside, Err(ClientError::Refused { status: 400, .. })),
        "{outside:?}"
    );
    // A file in the folder that was not indexed (hidden) is not shown.
    std::fs::write(uploads.join(".env"), "TOKEN=secret").expect("write");
    let hidden = cora.file_preview("team", &name, ".env").await;
    assert!(
        matches!(hidden, Err(ClientError::Refused { status: 404, .. })),
        "{hidden:?}"
    );
    std::fs::remove_file(uploads.join(".env")).expect("remove");

    // A second upload sends only what changed; a file gone here goes there.
    write(
        &root,
        "README.md",
        "# Quarry\n\nThe quarry ships basalt on Fridays.\n",
    );
    write(
        &root,
        "docs/new.md",
        "# New\n\nA lighthouse keeper's log.\n",
    );
    std::fs::remove_file(root.join("notes/old.md")).expect("remove");
    let report = cora
        .upload_and_ingest(
            "team",
            &root,
            &name,
            &|event| events.lock().expect("events").push(event),
            &stop,
        )
        .await
        .expect("sync");
    let seen = std::mem::take(&mut *events.lock().expect("events"));
    assert!(
        matches!(
            seen.first(),
            Some(IngestProgress::Uploading {
                done: 1,
                total: 3,
                ..
            })
        ),
        "src/lib.rs is unchanged, two files are sent: {seen:?}"
    );
    assert_eq!(
        (
            report.files_indexed,
            report.files_unchanged,
            report.files_removed
        ),
        (2, 1, 1),
        "{report:?}"
    );
    assert!(
        !uploads.join("notes").exists(),
        "an emptied folder goes too"
    );
    assert_eq!(
        hits(&server, "lighthouse keeper log", &name)
            .await
            .first()
            .map(String::as_str),
        Some("docs/new.md")
    );

    // Again without a folder: the server's files are indexed again.
    let again = cora
        .ingest_uploaded("team", &name, &|_| {}, &stop)
        .await
        .expect("ingest again");
    assert_eq!(
        (again.files_indexed, again.files_unchanged),
        (0, 3),
        "{again:?}"
    );

    // An executor may search it but not upload or remove.
    let eve = signed_in(&server, "eve").await;
    let refused = eve
        .upload_and_ingest("team", &root, &name, &|_| {}, &stop)
        .await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 403, .. })),
        "{refused:?}"
    );
    let refused = eve.remove_project("team", &name).await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 403, .. })),
        "{refused:?}"
    );

    let chunks = cora.remove_project("team", &name).await.expect("remove");
    assert!(chunks >= 3, "{chunks}");
    assert!(!uploads.exists(), "the uploaded files are gone");
    let listed = cora.projects("team").await.expect("projects");
    assert!(listed.iter().all(|project| project.name != name));
    let gone = cora.remove_project("team", &name).await;
    assert!(
        matches!(gone, Err(ClientError::Refused { status: 404, .. })),
        "{gone:?}"
    );
    // The changes are in the workspace's audit log, by cora (the ingest's
    // `project.add` too, though it ran in a task of its own).
    let (_, audit) = server
        .call("olga", "GET", "/api/v1/workspaces/team/audit", None)
        .await;
    let audit: Value = serde_json::from_str(&audit).expect("json");
    let entries = audit
        .as_array()
        .or_else(|| audit["entries"].as_array())
        .expect("entries");
    for action in [
        "project.upload",
        "project.add",
        "project.unupload",
        "project.remove",
    ] {
        let by: Vec<&str> = entries
            .iter()
            .filter(|entry| entry["action"] == action && entry["target"] == name.as_str())
            .map(|entry| entry["who"].as_str().unwrap_or_default())
            .collect();
        assert!(
            !by.is_empty() && by.iter().all(|who| *who == "cora"),
            "{action}: {by:?}"
        );
    }
}

/// The uploads of project `held` of `team`.
const HELD: &str = "/api/v1/workspaces/team/projects/held/sources";

/// The paths `held` holds, as its manifest lists them.
async fn held(server: &super::Server) -> Vec<String> {
    let (_, listed) = server.call("cora", "GET", HELD, None).await;
    let parsed: Value = serde_json::from_str(&listed).expect("json");
    parsed["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|file| file["path"].as_str().expect("path").to_owned())
        .collect()
}

/// `body` sent as it is (a zip, or not) as cora's upload into `held`.
async fn upload(server: &super::Server, body: Vec<u8>) -> (StatusCode, String) {
    let response = server
        .client
        .post(format!("{}{HELD}", server.base))
        .bearer_auth(&server.tokens["cora"])
        .header("content-type", "application/zip")
        .body(body)
        .send()
        .await
        .expect("upload");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

/// A server whose `held` holds `a.md` (the positive control: a plain upload
/// is taken).
async fn with_one_upload() -> super::Server {
    let server = start(roomy()).await;
    let (status, text) = upload(&server, zip_of(&[("a.md".to_owned(), "# A".to_owned())])).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_eq!(held(&server).await, ["a.md"]);
    server
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_with_unsafe_names_write_nothing() {
    let server = with_one_upload().await;
    for (what, files) in [
        (
            "a parent path",
            vec![("b.md", "# B"), ("../escape.md", "out")],
        ),
        (
            "an absolute path",
            vec![("b.md", "# B"), ("/tmp/escape.md", "out")],
        ),
        (
            "a backslash",
            vec![("b.md", "# B"), ("..\\escape.md", "out")],
        ),
    ] {
        let files: Vec<(String, String)> = files
            .into_iter()
            .map(|(path, text)| (path.to_owned(), text.to_owned()))
            .collect();
        let (status, text) = upload(&server, zip_of(&files)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {text}");
        assert_eq!(
            held(&server).await,
            ["a.md"],
            "{what}: the whole batch is refused"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn conflicting_or_oversized_batches_and_the_servers_own_projects_are_refused() {
    let server = with_one_upload().await;
    // A file and a folder of the same name, or more than the batch may
    // unpack to: refused whole.
    for (what, files) in [
        (
            "a file under a file",
            vec![
                ("c.md".to_owned(), "# C".to_owned()),
                ("c.md/d.md".to_owned(), "# D".to_owned()),
            ],
        ),
        (
            "a file under an uploaded file",
            vec![("a.md/e.md".to_owned(), "# E".to_owned())],
        ),
        (
            "more than a batch unpacks to",
            (0..3)
                .map(|n| (format!("part-{n}.txt"), "y".repeat(400 * 1024)))
                .collect(),
        ),
    ] {
        let (status, text) = upload(&server, zip_of(&files)).await;
        assert!(status.is_client_error(), "{what}: {status} {text}");
        assert_eq!(held(&server).await, ["a.md"], "{what}: nothing written");
    }
    assert_eq!(
        upload(&server, b"not a zip".to_vec()).await.0,
        StatusCode::BAD_REQUEST
    );
    // A file over the workspace's limit (4 MiB by default), however small
    // its zip: refused as it is read.
    let bomb = zip_of(&[("bomb.txt".to_owned(), "x".repeat(5 * 1024 * 1024))]);
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    let (status, text) = upload(&server, bomb).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("takes files up to"), "{text}");
    // Over the upload limit (1 MiB here): refused before it is read.
    let big = vec![0; 2 * 1024 * 1024];
    assert_eq!(upload(&server, big).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(held(&server).await, ["a.md"]);
    // Removing a path outside the project is refused.
    let (status, _) = server
        .call(
            "cora",
            "POST",
            &format!("{HELD}/remove"),
            Some(json!({"paths": ["../../team.sqlite"]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // `docs` is indexed from a folder of the server: not written to, nor
    // removed over the API.
    let (status, body) = server
        .call(
            "cora",
            "DELETE",
            "/api/v1/workspaces/team/projects/docs",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = server
        .call(
            "cora",
            "POST",
            "/api/v1/workspaces/team/projects/docs/sources",
            Some(json!({"$zip": {"a.md": "# A"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("indexed from"), "{body}");
    // Nothing uploaded: nothing to ingest.
    let (status, body) = server
        .call(
            "cora",
            "POST",
            "/api/v1/workspaces/team/projects/empty/ingest",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body.contains("upload its files first"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ingest_the_app_cancels_stops_on_the_server_and_the_next_one_finishes() {
    const FILES: usize = 300;
    let server = start(roomy()).await;
    let cora = signed_in(&server, "cora").await;
    let files: serde_json::Map<String, Value> = (0..FILES)
        .map(|n| {
            let text = format!("# Note {n}\n\nThe quarry's crane number {n} lifts granite.\n");
            (format!("notes/n{n}.md"), Value::String(text))
        })
        .collect();
    let upload = "/api/v1/workspaces/team/projects/big/sources";
    let (status, body) = server
        .call("cora", "POST", upload, Some(json!({ "$zip": files })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Cancelled at its first event: the client says so and stops it there.
    let stop = CancellationToken::new();
    let seen = Mutex::new(0);
    let ended = cora
        .ingest_uploaded(
            "team",
            "big",
            &|_| {
                *seen.lock().expect("seen") += 1;
                stop.cancel();
            },
            &stop,
        )
        .await;
    assert!(
        matches!(ended, Err(ClientError::Cancelled { .. })),
        "{ended:?}"
    );
    assert!(*seen.lock().expect("seen") >= 1, "it ran");
    // The server's ingest ends (the project is free again: a removal of
    // nothing is taken) short of the whole project; the next ingest indexes
    // the rest.
    let remove = "/api/v1/workspaces/team/projects/big/sources/remove";
    let mut stopped = false;
    for _ in 0..100 {
        let nothing = Some(json!({"paths": ["not-there.md"]}));
        if server.call("cora", "POST", remove, nothing).await.0 != StatusCode::CONFLICT {
            stopped = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(stopped, "the cancelled ingest never ended");
    let partway = match cora.project_files("team", "big").await {
        Ok(files) => files.len(),
        Err(ClientError::Refused { status: 404, .. }) => 0,
        Err(other) => panic!("{other:?}"),
    };
    assert!(
        partway < FILES,
        "{partway} files indexed: it was not stopped"
    );
    let report = cora
        .ingest_uploaded("team", "big", &|_| {}, &CancellationToken::new())
        .await
        .expect("ingest");
    assert_eq!(report.files_indexed as usize, FILES - partway, "{report:?}");
    // Nothing runs now: a cancel says so.
    let cancel = "/api/v1/workspaces/team/projects/big/ingest/cancel";
    assert_eq!(
        server.call("cora", "POST", cancel, None).await.0,
        StatusCode::CONFLICT
    );
    let indexed = cora.project_files("team", "big").await.expect("files");
    assert_eq!(indexed.len(), FILES);
}
