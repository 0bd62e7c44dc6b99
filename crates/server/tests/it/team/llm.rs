//! A server workspace's model settings over real HTTP with the app's
//! client: every member reads the policy, providers and models; only
//! admins and owners reorder the policy and add or remove providers; a
//! provider's key goes into the workspace's vault and never comes back; a
//! provider is tested there by a role that may run.

use codexos_runtime::ProviderConfig;
use codexos_server::team::client::ClientError;
use reqwest::StatusCode;

use super::{roomy, signed_in, stand_in, start, SENTINEL};

fn names(settings: &codexos_runtime::LlmSettings) -> Vec<&str> {
    settings
        .providers
        .iter()
        .map(|provider| provider.name.as_str())
        .collect()
}

fn refused(outcome: &Result<impl std::fmt::Debug, ClientError>, status: u16) -> bool {
    matches!(outcome, Err(ClientError::Refused { status: got, .. }) if *got == status)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workspaces_model_settings_are_read_by_members_and_changed_by_admins() {
    let server = start(roomy()).await;
    let (vic, cora, eve, adam) = (
        signed_in(&server, "vic").await,
        signed_in(&server, "cora").await,
        signed_in(&server, "eve").await,
        signed_in(&server, "adam").await,
    );
    // A viewer reads them: the local model, and no secret names.
    let read = vic.llm_settings("team").await.expect("settings");
    assert_eq!(names(&read), ["local"]);
    assert!(
        read.models.iter().any(|model| model.installed),
        "{:?}",
        read.models
    );
    assert!(read.secrets.is_empty());

    // An admin adds a provider with its key (positive control); a creator
    // may not, nor reorder the policy.
    let provider: ProviderConfig = serde_json::from_value(stand_in("vllm")).expect("entry");
    adam.add_provider("team", &provider, Some(SENTINEL))
        .await
        .expect("added");
    let other: ProviderConfig = serde_json::from_value(stand_in("mine")).expect("entry");
    assert!(refused(&cora.add_provider("team", &other, None).await, 403));
    let order = ["vllm".to_owned(), "local".to_owned()];
    assert!(refused(&cora.set_policy("team", &order).await, 403));
    let read = vic.llm_settings("team").await.expect("settings");
    assert!(read.configured.iter().any(|entry| entry.name == "vllm"));
    // The key is in the workspace's vault, by name only.
    let secrets = adam.secret_names("team").await.expect("vault");
    assert!(secrets.contains(&"stand-in-key".to_owned()), "{secrets:?}");
    let (status, body) = server
        .call("olga", "GET", "/api/v1/workspaces/team/llm", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains(SENTINEL), "the key came back");

    // The policy reordered there; a name it does not know is refused.
    adam.set_policy("team", &order).await.expect("policy");
    assert_eq!(
        names(&vic.llm_settings("team").await.expect("settings")),
        ["vllm", "local"]
    );
    // Names only: a path to a file of the server is not a model.
    for name in ["nope", "/etc/passwd", "../Cargo.toml"] {
        let unknown = adam.set_policy("team", &[name.to_owned()]).await;
        assert!(refused(&unknown, 400), "{name}: {unknown:?}");
    }

    // Tested there: the local model answers an executor; a viewer may not
    // test; the stand-in's address does not answer.
    let answered = eve.test_provider("team", "local").await.expect("test");
    assert!(!answered.text.is_empty(), "{answered:?}");
    assert!(refused(&vic.test_provider("team", "local").await, 403));
    assert!(
        std::path::Path::new("Cargo.toml").is_file(),
        "positive control"
    );
    let elsewhere = eve.test_provider("team", "Cargo.toml").await;
    assert!(refused(&elsewhere, 404), "{elsewhere:?}");
    let down = eve.test_provider("team", "vllm").await;
    assert!(refused(&down, 503), "nothing listens there: {down:?}");

    // Removed; its key stays in the vault.
    adam.remove_provider("team", "vllm").await.expect("removed");
    let read = vic.llm_settings("team").await.expect("settings");
    assert!(read.configured.iter().all(|entry| entry.name != "vllm"));
    assert_eq!(names(&read), ["local"]);
    assert!(adam
        .secret_names("team")
        .await
        .expect("vault")
        .contains(&"stand-in-key".to_owned()));
}
