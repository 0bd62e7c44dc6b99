//! The store's features on both databases, in one run: SQLite in a temporary
//! folder and PostgreSQL on a real server the test starts. Each scenario
//! runs on both and must read back the same; then a filled SQLite store is
//! moved to PostgreSQL and reads back identically there.

use codexos_store::{AttemptRecord, Location, SealedSecret, Store};
use codexos_test_support::postgres;

fn sqlite(dir: &tempfile::TempDir, name: &str) -> Store {
    Store::open(&dir.path().join(format!("{name}.sqlite"))).expect("SQLite store")
}

fn on_postgres() -> Store {
    Store::connect(&postgres::server().url, &postgres::fresh_schema()).expect("PostgreSQL store")
}

/// Writes one of everything through the store's API: a project, its
/// files, a sealed secret, then [`fill_runs`].
fn fill(store: &Store) {
    store
        .upsert_project("docs", std::path::Path::new("/srv/docs"))
        .expect("project");
    store
        .record_files(
            "docs",
            &[codexos_store::FileRecord {
                path: "README.md".into(),
                hash: "ab".repeat(32),
                size: 1234,
                chunks: 3,
            }],
        )
        .expect("files");
    store
        .put_secret(&SealedSecret {
            name: "TOKEN".into(),
            nonce: vec![0, 1, 2, 255],
            ciphertext: vec![9; 40],
        })
        .expect("secret");
    fill_runs(store);
}

/// Runs, their checkpoints, events, calls and status; versions, agents,
/// memory, a conversation, audit entries, team rows.
fn fill_runs(store: &Store) {
    store
        .record_attempts(&[AttemptRecord {
            request: "q1".into(),
            provider: "local".into(),
            model: "smol".into(),
            latency_ms: 120,
            first_token_ms: Some(30),
            prompt_tokens: 50,
            completion_tokens: 7,
            outcome: "ok".into(),
            detail: String::new(),
        }])
        .expect("attempts");
    store
        .begin_run("r1", "qa", "docs", r#"{"input":{"project":"docs"}}"#)
        .expect("run");
    store
        .run_events(
            "r1",
            &[(
                0,
                r#"{"run":"r1","seq":0,"atMs":1000,"event":{"type":"runStarted"}}"#.into(),
            )],
            &[],
        )
        .expect("events");
    store
        .run_node_done(
            "r1",
            r#"{"node":"ask","step":0}"#,
            &[(
                1,
                r#"{"run":"r1","seq":1,"atMs":1500,"node":"ask","event":{"type":"nodeFinished"}}"#
                    .into(),
            )],
            &[codexos_store::analytics::SpanFact {
                seq: 1,
                at_ms: 1500,
                kind: "node",
                node: "ask".into(),
                provider: String::new(),
                model: String::new(),
                ok: 1,
                latency_ms: Some(500),
                tokens_in: 0,
                tokens_out: 0,
                cached: 0,
                cost_usd: None,
                unpriced: false,
                fallbacks: 0,
            }],
        )
        .expect("checkpoint");
    store
        .run_call("r1", "ask", 0, r#"{"answer":"42"}"#)
        .expect("call");
    // A retried call replaces the one recorded.
    store
        .run_call("r1", "ask", 0, r#"{"answer":"43"}"#)
        .expect("call again");
    store
        .set_run_status("r1", "succeeded", r#"{"output":"43"}"#)
        .expect("status");
    store
        .save_flow_version("qa", "{}", "h1", Some("qa.flow.json"), "save")
        .expect("version");
    store
        .save_flow_version("qa", "{\"a\":1}", "h2", None, "run")
        .expect("version 2");
    assert!(store
        .publish_agent("planner", "1.0.0", "{}")
        .expect("agent"));
    assert!(!store.publish_agent("planner", "1.0.0", "{}").expect("once"));
    store
        .remember("planner", "build", "the build uses cargo and make")
        .expect("memory");
    store
        .remember("planner", "deploy", "deploys go through staging first")
        .expect("memory");
    store
        .create_conversation("c1", "chat", Some("docs"), "First")
        .expect("conversation");
    store
        .append_message("c1", "user", "What is CodexOS?", "{}")
        .expect("message");
    store.audit("flow.save", "qa", "{}").expect("audit");
    store.audit("secret.use", "TOKEN", "{}").expect("audit");
    assert!(store
        .team_add_account("ada", Some("$argon2id$hash"))
        .expect("account"));
    assert!(store.team_add_workspace("core").expect("workspace"));
}

/// What the API reads back, as text to compare.
fn read_back(store: &Store) -> Vec<String> {
    let run = store.run("r1").expect("run").expect("stored");
    vec![
        format!("{:?}", store.projects().expect("projects")),
        format!("{:?}", store.project_files("docs").expect("files")),
        format!("{:?}", store.project_totals("docs").expect("totals")),
        format!("{:?}", store.secrets().expect("secrets")),
        format!("{:?}", store.recent_attempts(10).expect("attempts")),
        format!("{run:?}"),
        format!("{:?}", store.run_status("r1").expect("status")),
        format!(
            "{:?}",
            store.run_events_since("r1", Some(0)).expect("since")
        ),
        format!("{:?}", store.run_next_seq("r1").expect("next")),
        format!("{:?}", store.runs(Some("qa"), 10).expect("runs")),
        format!("{:?}", store.run_ids_with_prefix("r").expect("prefix")),
        format!("{:?}", store.flow_versions("qa").expect("versions")),
        format!("{:?}", store.agents().expect("agents")),
        format!("{:?}", store.recall("planner", "build").expect("recall")),
        format!(
            "{:?}",
            store
                .search_memory("planner", "how does the BUILD work", 5)
                .expect("search")
                .iter()
                .map(|(key, value, _)| (key.clone(), value.clone()))
                .collect::<Vec<_>>()
        ),
        format!("{:?}", store.conversation_messages("c1").expect("messages")),
        {
            let check = store.audit_verify().expect("verify");
            format!("{} {:?}", check.entries, check.broken)
        },
        format!("{:?}", store.team_accounts().expect("accounts")),
        format!("{:?}", store.team_workspaces().expect("workspaces")),
        format!("{:?}", store.span_count().expect("spans")),
        // Rolled up (a copy brings the roll-ups along: none left to add).
        format!("{}", store.catch_up_rollups().expect("rolled up") <= 1),
        format!("{:?}", store.rollups("node", 0, 1).expect("rollups")),
        format!(
            "{:?}",
            store
                .span_runs("node", "qa › ask", 0, 86_400_000, 10)
                .expect("span runs")
        ),
        // Last: the audit chain's head (over the entries' times too).
        store.audit_verify().expect("verify").head,
    ]
}

#[test]
fn every_feature_reads_back_the_same_on_sqlite_and_postgresql() {
    let dir = tempfile::tempdir().expect("dir");
    let lite = sqlite(&dir, "one");
    let pg = on_postgres();
    assert_eq!(lite.dialect(), codexos_store::db::Dialect::Sqlite);
    assert_eq!(pg.dialect(), codexos_store::db::Dialect::Postgres);
    fill(&lite);
    fill(&pg);
    let (from_lite, from_pg) = (read_back(&lite), read_back(&pg));
    // Positive control: the scenario stored what it wrote.
    assert!(
        from_lite[5].contains("43") && !from_lite[5].contains("\"42\""),
        "{}",
        from_lite[5]
    );
    assert!(from_lite[14].contains("build"), "{}", from_lite[14]);
    // Times differ (each store stamps its own); the rest is the same.
    let untimed = |lines: &[String]| lines.iter().map(|line| untimed(line)).collect::<Vec<_>>();
    let timeless = from_lite.len() - 1;
    assert_eq!(
        untimed(&from_lite[..timeless]),
        untimed(&from_pg[..timeless])
    );
}

/// `text` with every time (a number with a fraction, or of ten digits or
/// more: Unix seconds and milliseconds) as `T`.
fn untimed(text: &str) -> String {
    let mut out = String::new();
    let mut number = String::new();
    let flush = |number: &mut String, out: &mut String| {
        if number.contains('.') || number.len() >= 10 {
            out.push('T');
        } else {
            out.push_str(number);
        }
        number.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || (c == '.' && !number.is_empty()) {
            number.push(c);
        } else {
            flush(&mut number, &mut out);
            out.push(c);
        }
    }
    flush(&mut number, &mut out);
    out
}

#[test]
fn a_sqlite_store_moves_to_postgresql_losing_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let lite = sqlite(&dir, "source");
    fill(&lite);
    let before = read_back(&lite);
    let target = on_postgres();
    let mut heard = 0;
    let copied = lite.copy_into(&target, |_| heard += 1).expect("copied");
    assert_eq!(heard, copied.len());
    let rows = |table: &str| {
        copied
            .iter()
            .find(|entry| entry.table == table)
            .map(|entry| entry.rows)
    };
    assert_eq!(rows("runs"), Some(1));
    assert_eq!(rows("run_events"), Some(2));
    assert_eq!(rows("audit"), Some(2));
    assert_eq!(
        read_back(&target),
        before,
        "the moved store reads back as the original"
    );
    // It goes on working there: ids continue past the copied ones, the
    // audit chain grows.
    target
        .record_attempts(&[AttemptRecord {
            request: "q2".into(),
            provider: "local".into(),
            model: "smol".into(),
            latency_ms: 1,
            first_token_ms: None,
            prompt_tokens: 1,
            completion_tokens: 1,
            outcome: "ok".into(),
            detail: String::new(),
        }])
        .expect("a new attempt");
    assert_eq!(target.recent_attempts(1).expect("newest")[0].request, "q2");
    target.audit("flow.save", "after", "{}").expect("appended");
    let check = target.audit_verify().expect("verify");
    assert_eq!((check.entries, check.broken), (3, None));
    // A second copy into the now filled target is refused, and changes
    // nothing.
    let again = lite
        .copy_into(&target, |_| {})
        .expect_err("not into a filled store");
    assert!(again.to_string().contains("already holds rows"), "{again}");
    assert_eq!(target.audit_verify().expect("verify").entries, 3);
    // The location names the same schema.
    let Location::Postgres { schema, .. } = target.location() else {
        panic!("a PostgreSQL store");
    };
    assert!(schema.starts_with('t'));
}

#[test]
fn a_wrong_address_or_password_is_a_clear_error() {
    let server = postgres::server();
    let port = server
        .url
        .rsplit(':')
        .next()
        .expect("port")
        .split('/')
        .next()
        .expect("port");
    // Positive control: the server answers.
    drop(on_postgres());
    let closed = Store::connect("postgres://postgres:secret@127.0.0.1:1/postgres", "x")
        .expect_err("nothing listens on port 1");
    let message = closed.to_string();
    assert!(
        message.contains("cannot connect to the PostgreSQL database"),
        "{message}"
    );
    assert!(
        !message.contains("secret"),
        "the password is not shown: {message}"
    );
    let missing = Store::connect(
        &format!("postgres://postgres@127.0.0.1:{port}/nosuchdb"),
        "x",
    )
    .expect_err("no such database");
    assert!(missing.to_string().contains("nosuchdb"), "{missing}");
}
