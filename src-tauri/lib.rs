//! `codexos-desktop`: the Tauri shell of CodexOS.
//!
//! A thin layer: each command takes typed input, calls `codexos-runtime` and
//! maps the error to [`IpcError`]. Command signatures and types are exported
//! to `ui/src/ipc/bindings.ts` by tauri-specta; a test fails when that file
//! drifts from this code (`make bindings` regenerates it).

mod agents;
mod analytics;
mod audit;
mod bundles;
mod commands;
mod conversations;
pub mod display;
mod evals;
mod flows;
mod links;
mod llm;
mod remote;
mod server_projects;
mod server_vault;
mod sessions;
mod team;
mod telemetry;
mod tools;
mod vault;

use std::sync::Arc;

use codexos_runtime::{Home, Runtime};
use specta_typescript::Typescript;

pub use commands::{AppInfo, IpcError};

/// Where the generated TypeScript bindings live, relative to the repository.
pub const BINDINGS_PATH: &str = "ui/src/ipc/bindings.ts";

/// Declares the app's commands once: the typed command set and the names
/// the isolation hook lets through come from the same list.
macro_rules! app_commands {
    ($($module:ident :: $command:ident),* $(,)?) => {
        /// The names of the app's commands, as the window sends them.
        pub const COMMAND_NAMES: &[&str] = &[$(stringify!($command)),*];

        fn commands() -> tauri_specta::Commands<tauri::Wry> {
            tauri_specta::collect_commands![$($module::$command),*]
        }
    };
}

app_commands![
    commands::app_info,
    commands::ui_painted,
    commands::projects,
    commands::ingest,
    commands::ingest_files,
    commands::path_kinds,
    commands::search,
    commands::ask,
    commands::cancel,
    commands::watches,
    commands::project_files,
    commands::file_preview,
    commands::unwatch,
    commands::project_remove,
    commands::logs,
    conversations::conversations,
    conversations::conversation,
    conversations::conversation_new,
    conversations::conversation_send,
    conversations::conversation_rename,
    conversations::conversation_delete,
    conversations::conversation_export,
    agents::agents,
    agents::agent_publish,
    agents::agent_pins,
    agents::agent_repin,
    agents::workspace_agents,
    agents::workspace_agent_publish,
    agents::workspace_agent_pins,
    agents::workspace_agent_repin,
    agents::workspace_tools,
    llm::llm_settings,
    llm::workspace_llm_settings,
    llm::set_policy,
    llm::set_offline,
    llm::store_secret,
    llm::test_provider,
    llm::provider_add,
    llm::provider_remove,
    llm::pull_model,
    llm::import_model,
    llm::remove_model,
    flows::flow_library,
    flows::flow_check,
    flows::flow_save,
    flows::flow_schema,
    flows::flow_create,
    flows::flow_rename,
    flows::flow_delete,
    flows::flow_restore,
    flows::flows_missing,
    flows::flow_restore_missing,
    flows::flow_versions,
    flows::flow_diff,
    flows::flow_rollback,
    flows::flow_run,
    flows::run_resume,
    flows::runs,
    flows::run_detail,
    flows::run_compare,
    analytics::analytics_dashboard,
    analytics::analytics_runs,
    evals::datasets,
    evals::dataset,
    evals::dataset_add_run,
    evals::dataset_import,
    evals::dataset_delete,
    evals::evals,
    evals::eval_report,
    evals::eval_delete,
    evals::eval_export,
    evals::eval_run,
    telemetry::otlp_status,
    telemetry::otlp_add,
    telemetry::otlp_remove,
    telemetry::otlp_test,
    telemetry::otlp_flush,
    audit::audit_entries,
    audit::audit_verify,
    flows::run_replay,
    flows::run_fork,
    tools::tools_overview,
    tools::tool_approval,
    tools::tool_permissions,
    tools::tool_permission_set,
    tools::tool_source_add,
    tools::tool_source_remove,
    vault::vault_view,
    vault::vault_unlock,
    vault::vault_remove,
    vault::vault_reveal,
    vault::vault_rotate,
    bundles::bundle_keys,
    bundles::bundle_generate_keys,
    bundles::bundle_untrust,
    bundles::bundle_export,
    bundles::bundle_check,
    bundles::bundle_import,
    team::team_sign_in,
    team::team_session,
    team::team_sessions,
    team::team_show,
    team::team_sign_out,
    team::team_flows,
    team::team_run,
    team::team_fork,
    team::team_share,
    team::team_open_link,
    team::team_link_run,
    team::team_link_fork,
    team::team_oidc_start,
    team::team_oidc_finish,
    team::team_oidc_cancel,
    team::team_automation,
    team::team_add_trigger,
    team::team_add_webhook,
    team::team_remove_automation,
    team::team_deliveries,
    remote::workspace_open,
    remote::workspace_current,
    remote::workspace_projects,
    remote::workspace_models,
    server_projects::workspace_ingest,
    server_projects::workspace_project_files,
    server_projects::workspace_file_preview,
    server_projects::workspace_project_remove,
    server_vault::workspace_vault,
    server_vault::workspace_secret_set,
    server_vault::workspace_secret_remove,
    links::link_pending,
];

/// Where the generated allow-list of the isolation hook lives.
pub const ISOLATION_ALLOWED_PATH: &str = "ui/isolation/allowed.js";

/// The typed command set shared by the app and the bindings export.
#[must_use]
pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(commands())
        .events(tauri_specta::collect_events![
            commands::ProjectUpdated,
            commands::WatchStopped,
            tools::ToolApprovalRequested,
            tools::ToolApprovalClosed,
            links::LinkOpened
        ])
}

/// The exporter settings used for the bindings file.
#[must_use]
pub fn typescript() -> Typescript {
    Typescript::default()
        .header("// Generated by tauri-specta from src-tauri/ — do not edit. Regenerate with `make bindings`.\n")
}

/// State shared by the commands: the runtime, or why it could not open (the
/// window still starts and shows the error instead of dying silently).
pub struct AppState {
    runtime: Result<Arc<Runtime>, IpcError>,
    requests: commands::Requests,
    approvals: Arc<tools::Approvals>,
    /// The team servers signed in to, the one the Team panel shows, and
    /// the server's workspace open in the window (none: this machine's).
    team: std::sync::Mutex<sessions::Signed<codexos_server::team::client::TeamClient>>,
    /// A sign-in through the server's OIDC provider under way.
    oidc: std::sync::Mutex<Option<team::PendingOidc>>,
    /// A `codexos://` link opened from outside, until the window takes it.
    link: std::sync::Mutex<Option<links::LinkOpened>>,
}

/// Starts the desktop app.
pub fn run() -> anyhow::Result<()> {
    let _ = commands::STARTED.set(std::time::Instant::now());
    let builder = specta_builder();
    let home = Home::from_env()?;
    codexos_runtime::logging::init(&home, "desktop");
    match display::decision() {
        display::Compositing::Gpu => tracing::info!("the page is composited with OpenGL (a GPU render node exists)"),
        display::Compositing::OffNoGpu => tracing::info!(
            "no GPU render node in /dev/dri: WebKit paints without OpenGL compositing (faster than Mesa on the CPU); {}=1 keeps compositing",
            display::OVERRIDE_VARIABLE
        ),
        display::Compositing::AsSet => tracing::info!("compositing as set in the environment"),
    }
    let home_root = home.root().to_path_buf();
    let runtime = Runtime::open(home).map_err(|error| IpcError::from(&error));
    if let Err(error) = &runtime {
        tracing::error!(message = %error.message, "the data home could not be opened");
    }
    if let Ok(runtime) = &runtime {
        runtime.set_audit_origin("app");
    }
    let tools_runtime = runtime.clone().ok();
    let state = AppState {
        runtime,
        requests: commands::Requests::default(),
        approvals: Arc::default(),
        team: std::sync::Mutex::default(),
        oidc: std::sync::Mutex::default(),
        link: std::sync::Mutex::default(),
    };
    let app = tauri::Builder::default()
        // First: a second launch (a `codexos://` link opened by the system)
        // hands its link to this instance and exits.
        .plugin(links::single_instance(&home_root))
        .plugin(tauri_plugin_deep_link::init())
        .manage(state)
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            builder.mount_events(app);
            links::setup(app);
            if let Some(runtime) = tools_runtime.clone() {
                // MCP servers, OpenAPI specs and the tools/ watch start in
                // the background; Settings → Tools shows their state.
                let exporter = runtime.clone();
                tauri::async_runtime::spawn(async move { runtime.start_tools() });
                // Finished runs go to the OTLP endpoints while the app is open.
                tauri::async_runtime::spawn(async move {
                    codexos_runtime::spawn_exporter(
                        exporter,
                        tokio_util::sync::CancellationToken::new(),
                    );
                });
            }
            Ok(())
        })
        .build(tauri::generate_context!())?;
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            if let Ok(runtime) = tauri::Manager::state::<AppState>(handle).runtime() {
                runtime.stop_tools();
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// The repository root at run time (not compile time: the target folder
    /// is shared between checkouts).
    fn repository_root() -> PathBuf {
        std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .expect("run the tests with cargo")
    }

    #[test]
    fn typescript_bindings_match_the_commands() {
        let root = repository_root();
        let committed = root.join(BINDINGS_PATH);
        let fresh_dir = tempfile::tempdir().expect("temp dir");
        let fresh = fresh_dir.path().join("bindings.ts");
        specta_builder()
            .export(typescript(), &fresh)
            .expect("export bindings");
        let fresh_text = std::fs::read_to_string(&fresh).expect("read fresh bindings");
        if std::env::var_os("CODEXOS_UPDATE_BINDINGS").is_some() {
            std::fs::write(&committed, &fresh_text).expect("write bindings");
            return;
        }
        let committed_text = std::fs::read_to_string(&committed).unwrap_or_default();
        assert!(
            committed_text == fresh_text,
            "{BINDINGS_PATH} is out of date with the Tauri commands — run `make bindings` and commit it"
        );
    }

    /// What the isolation hook must let through: the app's commands, and
    /// the plugin commands the capabilities grant, resolved through the
    /// permission manifests tauri-build wrote (gen/schemas).
    fn ipc_allow_list(root: &std::path::Path) -> Vec<String> {
        let read = |path: PathBuf| -> serde_json::Value {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            serde_json::from_str(&text).expect("JSON")
        };
        let manifests = read(root.join("gen/schemas/acl-manifests.json"));
        let capabilities = read(root.join("gen/schemas/capabilities.json"));
        let mut allowed: Vec<String> = COMMAND_NAMES
            .iter()
            .map(|name| (*name).to_owned())
            .collect();
        let mut plugin_commands = std::collections::BTreeSet::new();
        for capability in capabilities.as_object().expect("capabilities").values() {
            for permission in capability["permissions"].as_array().expect("permissions") {
                let identifier = permission
                    .as_str()
                    .or_else(|| permission["identifier"].as_str())
                    .expect("a permission identifier");
                let (plugin, name) = identifier.rsplit_once(':').expect("plugin:permission");
                let manifest = &manifests[plugin];
                assert!(manifest.is_object(), "no manifest for {plugin}");
                let mut pending = vec![name.to_owned()];
                while let Some(name) = pending.pop() {
                    if name == "default" {
                        let set = &manifest["default_permission"]["permissions"];
                        pending.extend(
                            set.as_array()
                                .into_iter()
                                .flatten()
                                .filter_map(|p| p.as_str().map(str::to_owned)),
                        );
                    } else if let Some(set) =
                        manifest["permission_sets"][&name]["permissions"].as_array()
                    {
                        pending.extend(set.iter().filter_map(|p| p.as_str().map(str::to_owned)));
                    } else {
                        let commands = &manifest["permissions"][&name]["commands"]["allow"];
                        let commands = commands
                            .as_array()
                            .unwrap_or_else(|| panic!("unknown permission {plugin}:{name}"));
                        let short = plugin.strip_prefix("core:").unwrap_or(plugin);
                        for command in commands.iter().filter_map(serde_json::Value::as_str) {
                            plugin_commands.insert(format!("plugin:{short}|{command}"));
                        }
                    }
                }
            }
        }
        // Tauri core's own: a Channel message of 8 KiB or more (ask events
        // with their citations, run events, progress) is fetched by the
        // window with this command; refusing it would drop those messages.
        plugin_commands.insert("plugin:__TAURI_CHANNEL__|fetch".to_owned());
        allowed.sort();
        allowed.extend(plugin_commands);
        allowed
    }

    #[test]
    fn the_isolation_allow_list_is_the_commands_and_the_granted_plugin_commands() {
        let root = repository_root();
        let allowed = ipc_allow_list(&root);
        // Positive controls: the app's own commands and the event listener
        // the UI uses are in; a plugin the capabilities do not grant is not.
        assert!(allowed.iter().any(|name| name == "app_info"), "{allowed:?}");
        assert!(
            allowed.iter().any(|name| name == "plugin:event|listen"),
            "{allowed:?}"
        );
        assert!(
            allowed
                .iter()
                .any(|name| name == "plugin:__TAURI_CHANNEL__|fetch"),
            "large Channel messages need the channel fetch: {allowed:?}"
        );
        assert!(
            !allowed.iter().any(|name| name.starts_with("plugin:path|")),
            "{allowed:?}"
        );
        assert!(
            !allowed.iter().any(|name| name.starts_with("plugin:fs|")),
            "{allowed:?}"
        );
        let fresh = format!(
            "// Generated by src-tauri's tests from the app's commands and the plugin commands its\n\
             // capabilities grant — do not edit. Regenerate with `make bindings`.\n\
             globalThis.CODEXOS_IPC_ALLOWED = {};\n",
            serde_json::to_string_pretty(&allowed).expect("JSON")
        );
        let committed_path = root.join(ISOLATION_ALLOWED_PATH);
        if std::env::var_os("CODEXOS_UPDATE_BINDINGS").is_some() {
            std::fs::write(&committed_path, &fresh).expect("write the allow-list");
            return;
        }
        let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
        assert!(
            committed == fresh,
            "{ISOLATION_ALLOWED_PATH} is out of date with the commands or the capabilities — run `make bindings` and commit it"
        );
        // The hook loads the list before it runs, and refuses what is not on it.
        let page = std::fs::read_to_string(root.join("ui/isolation/index.html")).expect("page");
        let list = page.find("allowed.js").expect("the page loads allowed.js");
        assert!(
            list < page.find("index.js").expect("the page loads the hook"),
            "{page}"
        );
        let hook = std::fs::read_to_string(root.join("ui/isolation/index.js")).expect("hook");
        assert!(hook.contains("CODEXOS_IPC_ALLOWED"), "{hook}");
    }

    #[test]
    fn capabilities_are_loaded_by_the_build() {
        // tauri-build resolves the capabilities it found into gen/schemas; an
        // empty file there means the window would get no permissions at all.
        let resolved = repository_root().join("gen/schemas/capabilities.json");
        let text = std::fs::read_to_string(&resolved)
            .expect("tauri-build wrote gen/schemas/capabilities.json");
        assert!(
            text.contains("\"main-window\""),
            "capability main-window not loaded: {text}"
        );
        assert!(
            !text.contains("**"),
            "a capability grants a wildcard scope: {text}"
        );
    }

    #[test]
    fn the_content_security_policy_is_strict() {
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../tauri.conf.json")).expect("config parses");
        let csp = config["app"]["security"]["csp"]
            .as_str()
            .expect("a CSP is set");
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-eval"), "{csp}");
        assert!(
            !csp.contains("http://*") && !csp.contains("https://*"),
            "{csp}"
        );
        // Directive by directive: nothing reaches beyond the app and its IPC,
        // so text a model wrote (a markdown image, a link) cannot leak data.
        let directives: std::collections::HashMap<&str, Vec<&str>> = csp
            .split(';')
            .filter_map(|directive| {
                let mut words = directive.split_whitespace();
                Some((words.next()?, words.collect()))
            })
            .collect();
        let allowed = [
            "'self'",
            "'unsafe-inline'",
            "'none'",
            "data:",
            "asset:",
            "http://asset.localhost",
            "ipc:",
            "http://ipc.localhost",
        ];
        for (name, sources) in &directives {
            for source in sources {
                assert!(allowed.contains(source), "{name} allows `{source}`: {csp}");
            }
        }
        for required in ["object-src", "base-uri", "frame-ancestors", "form-action"] {
            assert_eq!(
                directives.get(required),
                Some(&vec!["'none'"]),
                "{required}: {csp}"
            );
        }
        assert_eq!(
            directives.get("connect-src"),
            Some(&vec!["ipc:", "http://ipc.localhost"]),
            "{csp}"
        );
        assert!(
            !directives["script-src"].contains(&"'unsafe-inline'"),
            "{csp}"
        );
        // Frames fall back to default-src: the app itself and the isolation
        // frame, whose random origin Tauri adds there at run time (an explicit
        // frame-src would shut the isolation frame out).
        assert!(
            !directives.contains_key("frame-src") && !directives.contains_key("child-src"),
            "{csp}"
        );
        // The isolation pattern: every IPC message passes the hook first.
        assert_eq!(config["app"]["security"]["pattern"]["use"], "isolation");
        let hook_dir = config["app"]["security"]["pattern"]["options"]["dir"]
            .as_str()
            .expect("an isolation dir");
        let hook = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(hook_dir)
                .join("index.js"),
        )
        .expect("the isolation hook");
        assert!(hook.contains("__TAURI_ISOLATION_HOOK__"), "{hook}");
        // No remote pages, no global Tauri object for injected scripts.
        for window in config["app"]["windows"].as_array().expect("windows") {
            assert!(window
                .get("url")
                .is_none_or(|url| !url.as_str().unwrap_or("").contains("://")));
        }
        assert_ne!(
            config["app"]["withGlobalTauri"],
            serde_json::Value::Bool(true)
        );
    }

    #[test]
    fn capabilities_grant_least_privilege() {
        let folder = repository_root().join("src-tauri/capabilities");
        let mut seen = 0;
        for entry in std::fs::read_dir(&folder).expect("capabilities folder") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("read");
            let capability: serde_json::Value = serde_json::from_str(&text).expect("json");
            seen += 1;
            assert!(
                capability.get("remote").is_none(),
                "{}: remote URLs get no capability",
                path.display()
            );
            let windows = capability["windows"].as_array().expect("windows listed");
            assert!(
                windows
                    .iter()
                    .all(|window| window.as_str().is_some_and(|label| !label.contains('*'))),
                "{}",
                path.display()
            );
            for permission in capability["permissions"].as_array().expect("permissions") {
                // Scoped permissions are objects; none may appear, and no plugin
                // that reaches the file system, a shell or the network.
                let name = permission.as_str().unwrap_or_else(|| {
                    panic!("{}: scoped permission {permission}", path.display())
                });
                assert!(!name.contains('*'), "{name}");
                for forbidden in ["fs:", "shell:", "http:", "opener:", "process:", "dialog:"] {
                    assert!(!name.starts_with(forbidden), "{}: {name}", path.display());
                }
                assert!(
                    name.starts_with("core:"),
                    "{}: unexpected permission {name}",
                    path.display()
                );
            }
        }
        assert!(seen > 0, "no capability files");
    }
}
