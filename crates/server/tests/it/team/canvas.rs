//! The calls the app's canvas makes on a server's workspace, over real
//! HTTP: its flows as the canvas lists them, the server's check, saves (and
//! the role that may not), runs paused and resumed with only the new events
//! streamed, the run's trace, versions, and delete with history kept.

use codexos_server::team::client::{ClientError, TeamClient};
use serde_json::json;

use super::{roomy, signed_in, start};

/// `flow` with its second node a sub-flow of `path`.
fn with_subflow(flow: &codexos_runtime::Flow, path: &str) -> codexos_runtime::Flow {
    let mut changed = flow.clone();
    let mut nodes = serde_json::to_value(&changed.nodes).expect("nodes");
    nodes[1] = json!({"id": "after", "kind": "subflow", "flow": path});
    changed.nodes = serde_json::from_value(nodes).expect("nodes");
    changed
}

#[tokio::test(flavor = "multi_thread")]
async fn the_servers_check_names_missing_sub_flows_and_never_looks_outside_its_flows() {
    let server = start(roomy()).await;
    let cora = signed_in(&server, "cora").await;
    let flow = cora.flow("team", "gate").await.expect("flow");
    // The check is the workspace's: a sub-flow it does not have is named.
    let broken = with_subflow(&flow, "nowhere");
    let problems = cora.check_flow("team", &broken).await.expect("check");
    assert!(
        problems
            .iter()
            .any(|problem| problem.message.contains("nowhere")),
        "{problems:?}"
    );
    assert!(
        cora.check_flow("team", &flow)
            .await
            .expect("check")
            .is_empty(),
        "positive control: the flow as stored checks clean"
    );
    // A path out of the workspace's flows is refused without looking: the
    // check says nothing about files elsewhere on the server.
    for outside in ["/etc/hostname", "../../../../etc/hostname"] {
        let codes: Vec<String> = cora
            .check_flow("team", &with_subflow(&flow, outside))
            .await
            .expect("check")
            .into_iter()
            .map(|problem| problem.code)
            .collect();
        assert_eq!(codes, ["subflow-outside"], "{outside}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_canvas_lists_checks_saves_runs_resumes_and_deletes_a_servers_flows() {
    let server = start(roomy()).await;
    let cora = signed_in(&server, "cora").await;
    let eve = signed_in(&server, "eve").await;

    let listed = cora.flow_entries("team").await.expect("flows");
    let entry = listed
        .iter()
        .find(|entry| entry.name == "gate")
        .expect("gate listed");
    assert_eq!(entry.path, cora.flow_address("team", "gate"));
    let mut flow = entry.flow.clone().expect("gate readable");
    assert_eq!(cora.flow("team", "gate").await.expect("flow"), flow);

    // A creator saves a new version; an executor is refused.
    let before = cora.flow_versions("team", "gate").await.expect("versions");
    flow.description = "ships on Fridays".to_owned();
    let saved = cora.save_flow("team", &flow).await.expect("save");
    assert_eq!(saved.version, before.last().expect("a version").version + 1);
    assert!(saved.problems.is_empty(), "{:?}", saved.problems);
    let refused = eve
        .save_flow("team", &flow)
        .await
        .expect_err("an executor may not save");
    assert!(
        matches!(refused, ClientError::Refused { status: 403, .. }),
        "{refused}"
    );

    // A run pauses on the server; resumed, only what is new streams back.
    let run = eve.start_run("team", "gate", json!({})).await.expect("run");
    let paused = eve.follow("team", &run, &|_| {}).await.expect("follow");
    assert_eq!(paused, "paused");
    let runs = eve.runs("team", Some("gate")).await.expect("runs");
    assert_eq!(
        runs.first()
            .map(|summary| (summary.id.as_str(), summary.status.as_str())),
        Some((run.as_str(), "paused"))
    );
    let seen = eve
        .run_detail("team", &run)
        .await
        .expect("detail")
        .events
        .last()
        .expect("events")
        .seq;
    eve.resume("team", &run, Some(json!({"approved": true})))
        .await
        .expect("resume");
    let new = std::sync::Mutex::new(Vec::new());
    let end = eve
        .follow_after("team", &run, Some(seen), &|event| {
            new.lock().expect("lock").push(event.seq);
        })
        .await
        .expect("follow");
    assert_eq!(end, "succeeded");
    let new = new.into_inner().expect("new");
    assert!(
        !new.is_empty() && new.iter().all(|seq| *seq > seen),
        "after {seen}: {new:?}"
    );
    let detail = eve.run_detail("team", &run).await.expect("detail");
    assert_eq!(detail.detail["output"]["n"], json!(7));
    assert!(detail.nodes.iter().any(|node| node.node == "after"));

    // Deleted, its history stays on the server.
    cora.delete_flow("team", "gate").await.expect("delete");
    assert!(!cora
        .flow_entries("team")
        .await
        .expect("flows")
        .iter()
        .any(|entry| entry.name == "gate"));
    let kept = cora.flow_versions("team", "gate").await.expect("versions");
    assert!(kept
        .last()
        .is_some_and(|saved| saved.content.contains("ships on Fridays")));
    let unknown = cora.flow_versions("team", "never").await;
    assert!(
        matches!(unknown, Err(ClientError::Refused { status: 404, .. })),
        "{unknown:?}"
    );
}

use codexos_runtime::{ConversationMode, Home, RemoteAsker, Runtime, Turn, TurnEvent, TurnStatus};
use codexos_server::team::client::WorkspaceAsker;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// A data home here, with nothing ingested.
fn this_machine() -> (tempfile::TempDir, Arc<Runtime>) {
    let here = tempfile::tempdir().expect("home");
    let runtime = Runtime::open(Home::new(
        here.path().join("home"),
        Some(codexos_test_support::models_dir()),
    ))
    .expect("runtime");
    (here, runtime)
}

/// Sends `text` in conversation `id`, to `remote` or (`None`) here.
async fn say(
    runtime: &Arc<Runtime>,
    id: &str,
    text: &str,
    remote: Option<Arc<dyn RemoteAsker>>,
) -> codexos_runtime::Result<codexos_runtime::ConversationMessage> {
    let turn = Turn {
        text: text.to_owned(),
        remote,
        ..Turn::default()
    };
    runtime
        .send_message(id, turn, &|_| {}, &CancellationToken::new())
        .await
}

/// Asks `team` on the server as `client`.
fn asker(client: &TeamClient) -> Arc<dyn RemoteAsker> {
    Arc::new(WorkspaceAsker {
        client: client.clone(),
        workspace: "team".to_owned(),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conversation_on_this_machine_asks_a_servers_workspace_and_keeps_the_answer() {
    let server = start(roomy()).await;
    let eve = signed_in(&server, "eve").await;
    let (_here, runtime) = this_machine();
    assert!(
        runtime.projects().expect("projects").is_empty(),
        "nothing is ingested here: the answer can only come from the server"
    );
    let listed = eve.projects("team").await.expect("the server's projects");
    assert_eq!(
        listed
            .iter()
            .map(|project| project.name.as_str())
            .collect::<Vec<_>>(),
        ["docs"]
    );
    assert!(
        runtime
            .new_conversation(ConversationMode::Ask, Some("docs"))
            .is_err(),
        "`docs` is the server's project, unknown here"
    );
    let id = runtime
        .new_remote_conversation(asker(&eve).as_ref(), ConversationMode::Ask, Some("docs"))
        .expect("conversation")
        .id;
    let events = Mutex::new(Vec::new());
    let turn = Turn {
        text: "How do I build it?".to_owned(),
        remote: Some(asker(&eve)),
        ..Turn::default()
    };
    let answer = runtime
        .send_message(
            &id,
            turn,
            &|event| events.lock().expect("lock").push(event),
            &CancellationToken::new(),
        )
        .await
        .expect("sent");
    assert_eq!(answer.meta.status, TurnStatus::Done, "{answer:?}");
    assert!(
        !answer.meta.citations.is_empty()
            && answer
                .meta
                .citations
                .iter()
                .all(|citation| citation.project == "docs"),
        "the server's project answered: {:?}",
        answer.meta.citations
    );
    let events = events.into_inner().expect("events");
    assert!(matches!(events.first(), Some(TurnEvent::Question { .. })));
    assert!(events
        .iter()
        .any(|event| matches!(event, TurnEvent::Retrieved { .. })));
    // The ask is kept as a run on the server; the conversation here.
    let run = answer.meta.run_id.clone().expect("the server's run");
    let kept = eve.run_detail("team", &run).await.expect("the run");
    assert_eq!(kept.exchange.as_deref(), Some("ask"));
    assert_eq!(
        runtime
            .conversation(&id)
            .expect("conversation")
            .messages
            .len(),
        2
    );

    // Someone the workspace does not know: the turn is kept, failed, with
    // the server's reason.
    let otto = signed_in(&server, "otto").await;
    let refused = say(&runtime, &id, "And how do I test it?", Some(asker(&otto)))
        .await
        .expect("sent");
    assert_eq!(refused.meta.status, TurnStatus::Failed);
    let reason = refused.meta.error.unwrap_or_default();
    let said = reason
        .strip_prefix(&format!("{} answered: ", server.base))
        .unwrap_or_default();
    assert!(said.contains("team"), "the server's refusal: {reason}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conversation_is_continued_only_on_its_side() {
    let server = start(roomy()).await;
    let eve = signed_in(&server, "eve").await;
    let (_here, runtime) = this_machine();
    let origin = format!("{}/team", server.base);
    let id = runtime
        .new_remote_conversation(asker(&eve).as_ref(), ConversationMode::Ask, Some("docs"))
        .expect("conversation")
        .id;
    let asked = say(&runtime, &id, "How do I build it?", Some(asker(&eve)))
        .await
        .expect("positive control: asked on its side");
    assert_eq!(asked.meta.status, TurnStatus::Done, "{asked:?}");
    // A conversation continues only on its side: not here, and a local
    // one not on the server. Nothing is stored by a refused turn.
    let before = runtime
        .conversation(&id)
        .expect("conversation")
        .messages
        .len();
    let here = say(&runtime, &id, "And here?", None)
        .await
        .expect_err("a server's conversation is not continued here");
    assert!(here.to_string().contains(&origin), "{here}");
    assert_eq!(
        runtime
            .conversation(&id)
            .expect("conversation")
            .messages
            .len(),
        before
    );
    let local = runtime
        .new_conversation(ConversationMode::Ask, None)
        .expect("local")
        .id;
    let there = say(&runtime, &local, "Over there?", Some(asker(&eve)))
        .await
        .expect_err("a local conversation is not continued on the server");
    assert!(there.to_string().contains("This machine"), "{there}");
    let chat = runtime
        .new_conversation(ConversationMode::Chat, None)
        .expect("chat")
        .id;
    let models = say(&runtime, &chat, "Hello?", Some(asker(&eve)))
        .await
        .expect_err("a chat is this machine's models");
    assert!(models.to_string().contains("models and agents"), "{models}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_library_creates_diffs_rolls_back_restores_and_runs_only_the_servers_version() {
    let server = start(roomy()).await;
    let cora = signed_in(&server, "cora").await;
    let made = cora
        .create_flow("team", "fresh", None)
        .await
        .expect("a blank flow");
    let mut fresh = made.flow.expect("its flow");
    let again = cora.create_flow("team", "fresh", None).await;
    assert!(
        matches!(&again, Err(ClientError::Refused { status: 409, .. })),
        "{again:?}"
    );
    let copy = cora
        .create_flow("team", "copied", Some("gate-copy"))
        .await
        .expect("a copy");
    assert_eq!(
        copy.flow.expect("its flow").forked_from,
        None,
        "a copy is not a fork"
    );

    // Versions, their diff, a rollback and a delete undone.
    fresh.description = "second thoughts".to_owned();
    cora.save_flow("team", &fresh).await.expect("v2");
    let diff = cora.flow_diff("team", "fresh", 1, 2).await.expect("diff");
    assert!(
        diff.contains("+  \"description\": \"second thoughts\""),
        "{diff}"
    );
    let back = cora
        .rollback_flow("team", "fresh", 1)
        .await
        .expect("rolled back");
    assert_eq!(back.flow.expect("flow").description, "");
    assert_eq!(
        cora.versions_kept("team", "fresh")
            .await
            .expect("versions")
            .len(),
        3
    );
    cora.delete_flow("team", "fresh").await.expect("deleted");
    let restored = cora.restore_flow("team", "fresh").await.expect("restored");
    assert_eq!(restored.name, "fresh");
    assert!(cora
        .versions_kept("team", "never")
        .await
        .expect("none")
        .is_empty());

    // Only the server's version runs: a stale copy is refused.
    let stale = cora.start_run_of("team", &fresh, json!({})).await;
    assert!(
        matches!(&stale, Err(ClientError::Refused { status: 409, .. })),
        "{stale:?}"
    );
    let current = cora.flow("team", "fresh").await.expect("current");
    let run = cora
        .start_run_of("team", &current, json!({}))
        .await
        .expect("positive control: the server's version runs");
    cora.follow("team", &run, &|_| {}).await.expect("followed");
    let outcome = cora.run_outcome("team", &run).await.expect("outcome");
    assert_eq!(
        (outcome.run_id.as_str(), outcome.status),
        (run.as_str(), codexos_runtime::RunStatus::Succeeded)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_is_told_apart_from_another_sign_in_of_the_same_account() {
    let server = start(roomy()).await;
    let first = signed_in(&server, "eve").await;
    let again = signed_in(&server, "eve").await;
    assert!(first.same_session(&first.clone()), "positive control");
    assert!(
        !first.same_session(&again),
        "a new sign-in is another session"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chat_conversation_here_is_answered_by_a_servers_models_token_by_token() {
    let server = start(roomy()).await;
    let eve = signed_in(&server, "eve").await;
    let (_here, runtime) = this_machine();
    let summary = runtime
        .new_remote_conversation(
            asker(&eve).as_ref(),
            ConversationMode::Chat,
            Some("ignored"),
        )
        .expect("conversation");
    assert_eq!(summary.mode, "chat");
    assert_eq!(
        summary.target.as_deref(),
        Some(format!("remote:{}/team", server.base).as_str()),
        "a chat names no project"
    );
    let events = Mutex::new(Vec::new());
    let turn = Turn {
        text: "Say hello.".to_owned(),
        remote: Some(asker(&eve)),
        ..Turn::default()
    };
    let first = runtime
        .send_message(
            &summary.id,
            turn,
            &|event| events.lock().expect("lock").push(event),
            &CancellationToken::new(),
        )
        .await
        .expect("sent");
    assert_eq!(first.meta.status, TurnStatus::Done, "{first:?}");
    assert!(!first.text.is_empty());
    // The text came as it was made, and the turn is a chat run there.
    let streamed: String = events
        .into_inner()
        .expect("events")
        .into_iter()
        .filter_map(|event| match event {
            TurnEvent::Token { text } => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(streamed.trim(), first.text);
    let run = first.meta.run_id.clone().expect("the server's run");
    let kept = eve.run_detail("team", &run).await.expect("the run");
    assert_eq!(kept.exchange.as_deref(), Some("chat"));
    assert!(first.meta.stats.is_some(), "the server's token counts");
    // A second turn goes with the first exchange: another run there.
    let second = say(&runtime, &summary.id, "Again.", Some(asker(&eve)))
        .await
        .expect("sent");
    assert_eq!(second.meta.status, TurnStatus::Done, "{second:?}");
    assert_ne!(second.meta.run_id, first.meta.run_id);
    // The first exchange went with it: the prompt grew.
    let tokens = |message: &codexos_runtime::ConversationMessage| {
        message
            .meta
            .stats
            .as_ref()
            .map_or(0, |stats| stats.prompt_tokens)
    };
    assert!(
        tokens(&second) > tokens(&first),
        "{} then {}",
        tokens(&first),
        tokens(&second)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_servers_chat_is_refused_to_viewers_and_takes_model_names_only() {
    let server = start(roomy()).await;
    let eve = signed_in(&server, "eve").await;
    let (_here, runtime) = this_machine();
    // Positive control: the executor's turn is answered.
    let conversation = runtime
        .new_remote_conversation(asker(&eve).as_ref(), ConversationMode::Chat, None)
        .expect("conversation");
    let answered = say(&runtime, &conversation.id, "Hello?", Some(asker(&eve)))
        .await
        .expect("sent");
    assert_eq!(answered.meta.status, TurnStatus::Done, "{answered:?}");
    // A viewer may not spend the workspace's models: kept, failed, why.
    let vic = signed_in(&server, "vic").await;
    let viewer = runtime
        .new_remote_conversation(asker(&vic).as_ref(), ConversationMode::Chat, None)
        .expect("conversation");
    let refused = say(&runtime, &viewer.id, "Hello?", Some(asker(&vic)))
        .await
        .expect("sent");
    assert_eq!(refused.meta.status, TurnStatus::Failed);
    assert!(
        refused.meta.error.unwrap_or_default().contains("run"),
        "the server's refusal names the permission"
    );
    // An agent conversation names its agent; a model is a name, never a
    // path there.
    assert!(runtime
        .new_remote_conversation(asker(&eve).as_ref(), ConversationMode::Agent, None)
        .is_err());
    let path = eve
        .chat(
            "team",
            &[codexos_runtime::ChatMessage::user("hi")],
            Some("../models/x.gguf"),
            &|_| {},
        )
        .await;
    assert!(
        matches!(path, Err(ClientError::Refused { status: 400, .. })),
        "{path:?}"
    );
    assert_eq!(
        eve.models("team")
            .await
            .expect("models")
            .first()
            .map(String::as_str),
        Some("codexos")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_set_list_and_remove_a_workspaces_secrets_whose_values_never_come_back() {
    let server = start(roomy()).await;
    let adam = signed_in(&server, "adam").await;
    let cora = signed_in(&server, "cora").await;
    let vic = signed_in(&server, "vic").await;
    let value = "sk-never-back-7d1e";
    adam.set_secret("team", "openai-key", value)
        .await
        .expect("an admin sets a secret");
    // Positive control: the workspace's vault holds the value.
    let held = server
        .team
        .runtime("team")
        .expect("runtime")
        .secret_for("openai-key", "test")
        .expect("stored");
    assert_eq!(secrecy::ExposeSecret::expose_secret(&held), value);
    // A creator reads the names (to refer to them), never a value.
    let names = cora.secret_names("team").await.expect("names");
    assert!(names.contains(&"openai-key".to_owned()), "{names:?}");
    let (_, listed) = server
        .call("cora", "GET", "/api/v1/workspaces/team/vault", None)
        .await;
    assert!(!listed.contains(value), "{listed}");
    // A creator may not set or remove one; a viewer may not read the names.
    let refused = cora.set_secret("team", "openai-key", "other").await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 403, .. })),
        "{refused:?}"
    );
    let refused = cora.remove_secret("team", "openai-key").await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 403, .. })),
        "{refused:?}"
    );
    let refused = vic.secret_names("team").await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 403, .. })),
        "{refused:?}"
    );
    adam.remove_secret("team", "openai-key")
        .await
        .expect("an admin removes it");
    assert!(!adam
        .secret_names("team")
        .await
        .expect("names")
        .contains(&"openai-key".to_owned()));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agents_panel_publishes_lists_and_repins_a_workspaces_agents() {
    let server = start(roomy()).await;
    let cora = signed_in(&server, "cora").await;
    let eve = signed_in(&server, "eve").await;
    let spec = |version: &str| -> codexos_runtime::AgentSpec {
        serde_json::from_value(super::helper("helper", version)).expect("spec")
    };
    let first = cora
        .publish_agent("team", &spec("1.0.0"))
        .await
        .expect("a creator publishes");
    assert_eq!(
        (first.name.as_str(), first.version.as_str()),
        ("helper", "1.0.0")
    );
    // Published versions never change: the same one again names the next.
    let again = cora.publish_agent("team", &spec("1.0.0")).await;
    assert!(
        matches!(&again, Err(ClientError::Refused { message, .. }) if message.contains("1.0.1")),
        "{again:?}"
    );
    let mut unknown = spec("2.0.0");
    unknown.tools = vec!["no.such.tool".to_owned()];
    let refused = cora.publish_agent("team", &unknown).await;
    assert!(
        matches!(&refused, Err(ClientError::Refused { message, .. }) if message.contains("no.such.tool")),
        "{refused:?}"
    );
    // An executor lists them (the canvas's agent nodes) but may not publish.
    let listed = eve.agents("team").await.expect("agents");
    assert!(listed
        .iter()
        .any(|agent| agent.name == "helper" && agent.version == "1.0.0"));
    let refused = eve.publish_agent("team", &spec("3.0.0")).await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 403, .. })),
        "{refused:?}"
    );
    // A flow pins 1.0.0; once 1.1.0 is out it is moved there (a new version).
    let flow: codexos_runtime::Flow = serde_json::from_value(super::pinned("1.0.0")).expect("flow");
    cora.save_flow("team", &flow).await.expect("save");
    let pins = eve.agent_pins("team").await.expect("pins");
    assert!(
        pins.iter().any(|pin| pin.flow == "pinned"
            && pin.agent == "helper"
            && pin.version.as_deref() == Some("1.0.0")),
        "{pins:?}"
    );
    cora.publish_agent("team", &spec("1.1.0"))
        .await
        .expect("publish");
    let refused = eve.repin_agent("team", "pinned", "helper", "1.1.0").await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 403, .. })),
        "{refused:?}"
    );
    let moved = cora
        .repin_agent("team", "pinned", "helper", "1.1.0")
        .await
        .expect("repin");
    assert_eq!(moved.path, "pinned", "no server path goes back");
    let stored = cora.flow("team", "pinned").await.expect("flow");
    let nodes = serde_json::to_value(&stored.nodes).expect("nodes");
    assert_eq!(nodes[0]["agent"], "helper@1.1.0");
    // The tools an agent may be given: the workspace's, without the
    // server's configured commands or paths; every member reads them.
    let tools = eve.tools("team").await.expect("tools");
    assert!(tools.tools.iter().any(|tool| tool.name == "fs.read"));
    assert!(tools.configured.is_empty());
    let shown = serde_json::to_string(&tools).expect("json");
    assert!(shown.contains("\"folder:tools\""), "{shown}");
    assert!(!shown.contains("/tmp/"), "a server path went out: {shown}");
    // Another workspace's agents are its own.
    let otto = signed_in(&server, "otto").await;
    assert!(otto
        .agents("other")
        .await
        .expect("agents")
        .iter()
        .all(|agent| agent.name != "helper"));
}

#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::too_many_lines)]
async fn an_agent_conversation_here_runs_a_servers_agent_there() {
    let server = start(roomy()).await;
    for version in ["1.0.0", "1.1.0"] {
        let agent = Some(super::helper("helper", version));
        let (status, body) = server
            .call("olga", "POST", "/api/v1/workspaces/team/agents", agent)
            .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    }
    let eve = signed_in(&server, "eve").await;
    let (_here, runtime) = this_machine();
    // The agent is the server's (this machine has none): its target names
    // the side and the version there.
    let summary = runtime
        .new_remote_conversation(
            asker(&eve).as_ref(),
            ConversationMode::Agent,
            Some("helper@1.1.0"),
        )
        .expect("conversation");
    assert_eq!(
        summary.target.as_deref(),
        Some(format!("remote:{}/team#helper@1.1.0", server.base).as_str())
    );
    let events = Mutex::new(Vec::new());
    let turn = Turn {
        text: "Say hello.".to_owned(),
        remote: Some(asker(&eve)),
        ..Turn::default()
    };
    let answered = runtime
        .send_message(
            &summary.id,
            turn,
            &|event| events.lock().expect("lock").push(event),
            &CancellationToken::new(),
        )
        .await
        .expect("sent");
    // It ran there, as eve, on the version the conversation names; the
    // run's events came back as they happened.
    let run = answered.meta.run_id.clone().expect("the server's run");
    let kept = eve.run_detail("team", &run).await.expect("the run");
    assert_eq!(kept.summary.flow, "chat-helper");
    assert!(
        serde_json::to_string(&kept.flow)
            .expect("flow")
            .contains("helper@1.1.0"),
        "{:?}",
        kept.flow
    );
    assert_eq!(
        kept.input["task"].as_str().map(str::trim),
        Some("Say hello.")
    );
    assert!(
        events
            .into_inner()
            .expect("events")
            .iter()
            .any(|event| matches!(event, TurnEvent::Run { run_id } if *run_id == run)),
        "the run was announced as it started"
    );
    assert!(
        matches!(answered.meta.status, TurnStatus::Done | TurnStatus::Failed),
        "{answered:?}"
    );
    if answered.meta.status == TurnStatus::Done {
        assert_eq!(kept.summary.status, "succeeded");
    }
    // Its tools work in a project of the server's (this machine has none
    // of that name).
    server.notes().await;
    let turn = Turn {
        text: "Read README.md.".to_owned(),
        remote: Some(asker(&eve)),
        project: Some("notes".to_owned()),
        ..Turn::default()
    };
    let in_project = runtime
        .send_message(&summary.id, turn, &|_| {}, &CancellationToken::new())
        .await
        .expect("sent");
    let run = in_project.meta.run_id.clone().expect("ran there");
    assert_ne!(Some(run.clone()), answered.meta.run_id);
    assert!(
        !in_project
            .meta
            .error
            .as_deref()
            .is_some_and(|error| error.contains("no project")),
        "{in_project:?}"
    );
    // Stopped before its run had started: the run there is cancelled.
    let stop = CancellationToken::new();
    stop.cancel();
    let turn = Turn {
        text: "Say hello again.".to_owned(),
        remote: Some(asker(&eve)),
        ..Turn::default()
    };
    let stopped = runtime
        .send_message(&summary.id, turn, &|_| {}, &stop)
        .await
        .expect("kept");
    // (The cancel may land mid-generation: the run then fails with the
    // model's "cancelled" — either way it was stopped, not answered.)
    let cancelled = stopped.meta.status == TurnStatus::Cancelled
        || stopped
            .meta
            .error
            .as_deref()
            .is_some_and(|error| error.contains("cancelled"));
    assert!(cancelled, "{stopped:?}");
    let run = stopped.meta.run_id.clone().expect("it had started there");
    let kept = eve.run_detail("team", &run).await.expect("the run");
    assert!(
        ["cancelled", "failed"].contains(&kept.summary.status.as_str()),
        "{}",
        kept.summary.status
    );
    // An agent the workspace does not have is refused there.
    let missing = runtime
        .new_remote_conversation(
            asker(&eve).as_ref(),
            ConversationMode::Agent,
            Some("nobody"),
        )
        .expect("conversation");
    let refused = say(&runtime, &missing.id, "Hello?", Some(asker(&eve)))
        .await
        .expect("kept");
    assert_eq!(refused.meta.status, TurnStatus::Failed, "{refused:?}");
    assert!(
        refused
            .meta
            .error
            .as_deref()
            .is_some_and(|error| error.contains("nobody")),
        "{refused:?}"
    );
}
