//! A bundle made on this machine imported into a server's workspace over
//! real HTTP with the app's client: verified against the workspace's trust
//! list, refused while its signer is untrusted, trusted only by an admin,
//! imported with its lineage, and refused — writing nothing — to a member
//! whose grant on a flow it would overwrite does not allow editing.

use codexos_runtime::{BundleContents, Home, Runtime};
use codexos_server::team::client::ClientError;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{paris, roomy, signed_in, start};

fn refused(outcome: &Result<impl std::fmt::Debug, ClientError>, status: u16) -> bool {
    matches!(outcome, Err(ClientError::Refused { status: got, .. }) if *got == status)
}

/// A signed bundle of flow `paris` made in a data home of this machine.
fn bundle_here() -> (tempfile::TempDir, Vec<u8>) {
    let here = tempfile::tempdir().expect("home");
    let runtime = Runtime::open(Home::new(
        here.path().join("home"),
        Some(codexos_test_support::models_dir()),
    ))
    .expect("runtime");
    let flow = codexos_runtime::parse_flow(&paris("paris").to_string()).expect("flow");
    runtime.save_flow(&flow).expect("saved");
    runtime.generate_signing_keys("Tess", false).expect("keys");
    let contents = BundleContents {
        flows: vec!["paris".to_owned()],
        agents: Vec::new(),
        templates: Vec::new(),
    };
    let bytes = runtime
        .export_bundle("capitals", &contents, true)
        .expect("bundle");
    (here, bytes)
}

/// The saved versions of `paris` in `team`.
async fn versions(server: &super::Server) -> usize {
    let path = "/api/v1/workspaces/team/flows/paris/versions";
    let (status, body) = server.call("olga", "GET", path, None).await;
    if status == StatusCode::NOT_FOUND {
        return 0;
    }
    serde_json::from_str::<Value>(&body)
        .expect("json")
        .as_array()
        .expect("versions")
        .len()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bundle_from_this_machine_is_verified_and_imported_into_a_servers_workspace() {
    let server = start(roomy()).await;
    let (_here, bytes) = bundle_here();
    let (cora, adam) = (
        signed_in(&server, "cora").await,
        signed_in(&server, "adam").await,
    );
    // Verified against the workspace's trust list: signed, not trusted.
    let checked = cora
        .check_bundle("team", bytes.clone())
        .await
        .expect("checked");
    assert_eq!(
        checked.signer.as_ref().map(|signer| signer.name.as_str()),
        Some("Tess")
    );
    assert!(!checked.trusted);
    assert!(
        checked.files.contains(&"flow paris".to_owned()),
        "{:?}",
        checked.files
    );
    let fingerprint = checked.fingerprint.clone().expect("fingerprint");
    // Untrusted: refused; trusting its signer is an admin's decision.
    assert!(cora
        .import_bundle("team", bytes.clone(), false, false, Some(&fingerprint))
        .await
        .is_err());
    let trust = cora
        .import_bundle("team", bytes.clone(), false, true, Some(&fingerprint))
        .await;
    assert!(refused(&trust, 403), "{trust:?}");
    assert_eq!(versions(&server).await, 0, "nothing was written");
    let imported = adam
        .import_bundle("team", bytes.clone(), false, true, Some(&fingerprint))
        .await
        .expect("imported");
    assert_eq!(imported.flows, ["paris"]);
    assert!(imported.signer_added);
    // The copy names where it came from, and the signer.
    let (_, flow) = server
        .call("olga", "GET", "/api/v1/workspaces/team/flows/paris", None)
        .await;
    let flow: Value = serde_json::from_str(&flow).expect("json");
    let origin = &flow["forkedFrom"];
    assert_eq!(origin["origin"], json!("bundle:capitals"), "{flow}");
    assert_eq!(origin["signer"], json!(fingerprint));
    // Now trusted, a creator imports it again (the same content: no new
    // version) …
    assert!(
        cora.check_bundle("team", bytes.clone())
            .await
            .expect("checked")
            .trusted
    );
    cora.import_bundle("team", bytes.clone(), false, false, Some(&fingerprint))
        .await
        .expect("imported again");
    let before = versions(&server).await;
    assert!(before >= 1);
    // … but not once a grant on `paris` makes them a viewer of it.
    let grant = Some(json!({"role": "viewer", "flow": "paris"}));
    let (status, body) = server
        .call("olga", "PUT", "/api/v1/workspaces/team/members/cora", grant)
        .await;
    assert!(status.is_success(), "{body}");
    let narrowed = cora
        .import_bundle("team", bytes.clone(), false, false, Some(&fingerprint))
        .await;
    assert!(refused(&narrowed, 403), "{narrowed:?}");
    assert_eq!(versions(&server).await, before);
    // A file that is not a bundle is refused as such.
    let junk = cora.check_bundle("team", b"not a bundle".to_vec()).await;
    assert!(refused(&junk, 400), "{junk:?}");
}
