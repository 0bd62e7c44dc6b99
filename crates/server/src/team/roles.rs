//! Roles, token scopes and the endpoint table: the one source of what each
//! role may do. The server enforces it (a middleware looks every request up
//! here, and a route missing from the table is refused), the `OpenAPI`
//! document and docs/server.md's table are generated from it, and the
//! role × endpoint test walks it.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Read flows, runs, traces and who is in the workspace.
    View,
    /// Start, cancel and replay runs; search and ask the projects.
    Run,
    /// Answer a run waiting for a person.
    Approve,
    /// Change flows and projects (upload, ingest, remove) and read the
    /// vault's names.
    Edit,
    /// Set and remove vault values; read the audit log.
    Secrets,
    /// Add, change and remove members and per-flow grants.
    Members,
}

impl Permission {
    /// Every permission, weakest first.
    pub const ALL: [Self; 6] = [
        Self::View,
        Self::Run,
        Self::Approve,
        Self::Edit,
        Self::Secrets,
        Self::Members,
    ];

    /// Its name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::Run => "run",
            Self::Approve => "approve",
            Self::Edit => "edit",
            Self::Secrets => "secrets",
            Self::Members => "members",
        }
    }
}

/// A role in a workspace (or, as a grant, on one flow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads runs and traces.
    Viewer,
    /// Runs flows and approves their steps.
    Executor,
    /// Edits flows, agents and tools.
    Creator,
    /// Manages the vault and the members below owner.
    Admin,
    /// Everything, including other owners and admins.
    Owner,
}

impl Role {
    /// Every role, weakest first.
    pub const ALL: [Self; 5] = [
        Self::Viewer,
        Self::Executor,
        Self::Creator,
        Self::Admin,
        Self::Owner,
    ];

    /// Its name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Executor => "executor",
            Self::Creator => "creator",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    /// The role named `name`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == name)
    }

    /// Whether this role may do what `permission` guards.
    #[must_use]
    pub fn allows(self, permission: Permission) -> bool {
        let needed = match permission {
            Permission::View => Self::Viewer,
            Permission::Run | Permission::Approve => Self::Executor,
            Permission::Edit => Self::Creator,
            Permission::Secrets | Permission::Members => Self::Admin,
        };
        self >= needed
    }
}

/// What a token may be limited to (a session has every scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read only.
    Read,
    /// Read, run and approve.
    Run,
    /// Read and edit.
    Edit,
    /// Everything the account's role allows.
    Admin,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Self; 4] = [Self::Read, Self::Run, Self::Edit, Self::Admin];

    /// Its name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Run => "run",
            Self::Edit => "edit",
            Self::Admin => "admin",
        }
    }

    /// The scope named `name`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == name)
    }

    /// Whether a credential with this scope may use `permission`.
    #[must_use]
    pub fn covers(self, permission: Permission) -> bool {
        match self {
            Self::Read => permission == Permission::View,
            Self::Run => matches!(
                permission,
                Permission::View | Permission::Run | Permission::Approve
            ),
            Self::Edit => matches!(permission, Permission::View | Permission::Edit),
            Self::Admin => true,
        }
    }
}

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, login, the `OpenAPI` document).
    Public,
    /// Any signed-in account, about itself.
    Account,
    /// A member of the path's workspace whose role (or grant on the path's
    /// flow) has the permission.
    Workspace(Permission),
}

/// One endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    /// HTTP method.
    pub method: &'static str,
    /// Path as routed (`{name}` for a parameter).
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// What it does, one line.
    pub summary: &'static str,
}

const fn endpoint(
    method: &'static str,
    path: &'static str,
    access: Access,
    summary: &'static str,
) -> Endpoint {
    Endpoint {
        method,
        path,
        access,
        summary,
    }
}

use Access::{Account, Public, Workspace};
use Permission::{Approve, Edit, Members, Run, Secrets, View};

/// Prefix of a workspace's endpoints.
pub const WORKSPACE: &str = "/api/v1/workspaces/{workspace}";

/// Every endpoint of the server.
pub const ENDPOINTS: &[Endpoint] = &[
    endpoint("GET", "/api/v1/health", Public, "Whether the server is up"),
    endpoint(
        "GET",
        "/openapi.json",
        Public,
        "This API's OpenAPI document",
    ),
    endpoint(
        "POST",
        "/api/v1/login",
        Public,
        "Sign in with an account's password: a session cookie and its CSRF token",
    ),
    endpoint(
        "GET",
        "/api/v1/oidc/login",
        Public,
        "Sign in through the server's OIDC provider (a redirect there; `handoff` for the app)",
    ),
    endpoint(
        "GET",
        "/api/v1/oidc/callback",
        Public,
        "Where the OIDC provider sends the browser back (the redirect URI)",
    ),
    endpoint(
        "POST",
        "/api/v1/oidc/confirm",
        Public,
        "Confirm, on the server's page, an app's sign-in through the provider",
    ),
    endpoint(
        "POST",
        "/api/v1/oidc/handoff",
        Public,
        "The app collects the session of its confirmed OIDC sign-in (once)",
    ),
    endpoint("POST", "/api/v1/logout", Account, "End this session"),
    endpoint(
        "GET",
        "/api/v1/me",
        Account,
        "The signed-in account, its workspaces, roles and grants",
    ),
    endpoint(
        "GET",
        "/api/v1/tokens",
        Account,
        "The account's API tokens (never their secrets)",
    ),
    endpoint(
        "POST",
        "/api/v1/tokens",
        Account,
        "Create an API token (its secret is shown once)",
    ),
    endpoint(
        "DELETE",
        "/api/v1/tokens/{token}",
        Account,
        "Revoke an API token",
    ),
    endpoint(
        "GET",
        "/api/v1/shared/{link}",
        Public,
        "What a share link opens: a run's trace read-only, or the flow to run or fork",
    ),
    endpoint(
        "POST",
        "/api/v1/shared/{link}/runs",
        Account,
        "Run the flow of a run link",
    ),
    endpoint(
        "POST",
        "/api/v1/shared/{link}/fork",
        Account,
        "Fork the flow of a fork link into a workspace where you may edit",
    ),
    endpoint(
        "GET",
        "/share/{link}",
        Public,
        "The read-only web page of a shared run's trace",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/flows",
        Workspace(View),
        "The workspace's flows",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/flows/{flow}",
        Workspace(View),
        "A flow's definition",
    ),
    endpoint(
        "PUT",
        "/api/v1/workspaces/{workspace}/flows/{flow}",
        Workspace(Edit),
        "Save a flow (a new version)",
    ),
    endpoint(
        "DELETE",
        "/api/v1/workspaces/{workspace}/flows/{flow}",
        Workspace(Edit),
        "Delete a flow (its history is kept)",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/check",
        Workspace(View),
        "Check a flow as edited against the workspace's agents, tools and flows (nothing is saved)",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/flows/{flow}/versions",
        Workspace(View),
        "A flow's saved versions",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/flows/{flow}/runs",
        Workspace(Run),
        "Start a run of a flow",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/flows/{flow}/fork",
        Workspace(View),
        "Fork a flow into a workspace where you may edit (the copy records its origin)",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/flows/{flow}/origin",
        Workspace(View),
        "A fork's lineage: its origin's newest version and the diff an update would apply",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/flows/{flow}/origin",
        Workspace(Edit),
        "Update a fork from its origin (the version whose diff was shown)",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/runs",
        Workspace(View),
        "The newest runs",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/runs/{run}",
        Workspace(View),
        "A run's trace: events, nodes, usage",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/runs/{run}/events",
        Workspace(View),
        "A run's events as they happen (server-sent events)",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/runs/{run}/cancel",
        Workspace(Run),
        "Stop a run",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/runs/{run}/resume",
        Workspace(Approve),
        "Continue a paused or interrupted run, answering its waiting step",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/runs/{run}/replay",
        Workspace(View),
        "Replay a run from its recording (no model, no network, nothing stored) and compare it node by node",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/runs/{run}/rerun",
        Workspace(Run),
        "Run a run's flow again live with its input and answers (optionally on another model): a new run",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/runs/{run}/fork",
        Workspace(Run),
        "A new run from the state just before a node ran in this run, with state edits",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/runs/{run}/compare/{other}",
        Workspace(View),
        "Two runs side by side, node by node, with the first node where they part ways",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/runs/{run}/diff/{other}",
        Workspace(View),
        "A later run (a re-run) checked against this run's recording, node by node",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/openai/v1/models",
        Workspace(View),
        "The OpenAI-compatible model list of the workspace (`codexos` = its policy)",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/openai/v1/chat/completions",
        Workspace(Run),
        "OpenAI-compatible chat completions with the workspace's models and policy (streamed or whole)",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/mcp",
        Workspace(Run),
        "MCP over streamable HTTP, stateless (no server stream: GET is 405): search, ask, list and run the workspace's flows (a run follows the flow's grant)",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/triggers",
        Workspace(Edit),
        "The workspace's triggers: webhooks and cron schedules that start runs",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/triggers",
        Workspace(Edit),
        "Add a trigger (its runs use your role on the flow; a webhook's secret is shown once)",
    ),
    endpoint(
        "DELETE",
        "/api/v1/workspaces/{workspace}/triggers/{trigger}",
        Workspace(Edit),
        "Remove a trigger (its webhook URL and secret stop working)",
    ),
    endpoint(
        "POST",
        "/api/v1/hooks/{trigger}",
        Public,
        "A webhook trigger's URL: a request signed with its secret starts a run",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/webhooks",
        Workspace(Secrets),
        "Outgoing webhooks: run events sent, signed, to a URL",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/webhooks",
        Workspace(Secrets),
        "Add an outgoing webhook (its signing secret is shown once)",
    ),
    endpoint(
        "DELETE",
        "/api/v1/workspaces/{workspace}/webhooks/{hook}",
        Workspace(Secrets),
        "Remove an outgoing webhook and its delivery log",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/webhooks/{hook}/deliveries",
        Workspace(Secrets),
        "An outgoing webhook's delivery log, newest first: event, state, attempts, last answer",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/projects",
        Workspace(View),
        "The ingested projects",
    ),
    endpoint(
        "DELETE",
        "/api/v1/workspaces/{workspace}/projects/{project}",
        Workspace(Edit),
        "Remove a project: its index and, for an uploaded one, its files",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/projects/{project}/files",
        Workspace(View),
        "A project's indexed files with their chunk counts",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/projects/{project}/preview",
        Workspace(View),
        "The text of one of a project's files",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/projects/{project}/sources",
        Workspace(Edit),
        "An uploaded project's files with their SHA-256, and the upload limits",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/projects/{project}/sources",
        Workspace(Edit),
        "Upload files into a project (a zip; added or replaced, each written whole)",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/projects/{project}/sources/remove",
        Workspace(Edit),
        "Remove uploaded files from a project",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/projects/{project}/ingest",
        Workspace(Edit),
        "Index a project's uploaded files (what changed), streaming progress as server-sent events",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/projects/{project}/ingest/cancel",
        Workspace(Edit),
        "Stop a project's running ingest (what it indexed stays)",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/search",
        Workspace(View),
        "Search the projects",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/ask",
        Workspace(Run),
        "Ask the projects a question (kept as a run)",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/agents",
        Workspace(View),
        "Every published agent version, by name then version",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/agents",
        Workspace(Edit),
        "Publish an agent as a new immutable version",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/agents/{agent}/turns",
        Workspace(Run),
        "A turn of an agent conversation, started as a run of the workspace (202 with its id; followed like any run)",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/agents/pins",
        Workspace(View),
        "The agent nodes of the workspace's flows and the versions they pin",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/flows/{flow}/repin",
        Workspace(Edit),
        "Move a flow's nodes using an agent to one of its published versions (a new flow version)",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/tools",
        Workspace(View),
        "The tools an agent may be given, with the permission each runs at, and their sources' states",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/datasets",
        Workspace(View),
        "The workspace's eval datasets, with their cases counted",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/datasets",
        Workspace(Edit),
        "Create a dataset from a JSONL or CSV file's text",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/datasets/{dataset}",
        Workspace(View),
        "A dataset's cases",
    ),
    endpoint(
        "DELETE",
        "/api/v1/workspaces/{workspace}/datasets/{dataset}",
        Workspace(Edit),
        "Delete a dataset",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/datasets/{dataset}/runs",
        Workspace(Edit),
        "Add a stored run to a dataset as a case (its output as expected unless given)",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/flows/{flow}/evals",
        Workspace(Run),
        "Evaluate a flow over a dataset, progress as server-sent events (leaving cancels it)",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/evals",
        Workspace(View),
        "Stored evals, newest first",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/evals/{eval}",
        Workspace(View),
        "An eval's report",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/evals/{eval}/baseline",
        Workspace(View),
        "An eval's report with its runs' recorded calls, as a baseline file holds it",
    ),
    endpoint(
        "DELETE",
        "/api/v1/workspaces/{workspace}/evals/{eval}",
        Workspace(Edit),
        "Delete a stored eval (its runs stay)",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/llm",
        Workspace(View),
        "The model settings: provider policy, configured providers, installed models, newest router attempts",
    ),
    endpoint(
        "PUT",
        "/api/v1/workspaces/{workspace}/llm/policy",
        Workspace(Secrets),
        "Set the provider order",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/llm/providers",
        Workspace(Secrets),
        "Add a remote provider (its key into the vault)",
    ),
    endpoint(
        "DELETE",
        "/api/v1/workspaces/{workspace}/llm/providers/{provider}",
        Workspace(Secrets),
        "Remove a provider (its key stays in the vault)",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/llm/providers/{provider}/test",
        Workspace(Run),
        "Send one short request to a provider alone",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/bundles/check",
        Workspace(Edit),
        "Verify a bundle against the workspace's trust list (nothing written)",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/bundles",
        Workspace(Edit),
        "Import a bundle all or nothing: flows (edit on each), agents, templates; trusting its signer needs `secrets`",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/analytics",
        Workspace(View),
        "Runs, failures, tokens, cost, latency and fallbacks over a date range, day by day and by a dimension",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/analytics/runs",
        Workspace(View),
        "The runs behind a dashboard figure, newest first",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/chat",
        Workspace(Run),
        "A chat turn with the workspace's models, streamed as server-sent events (kept as a run)",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/vault",
        Workspace(Edit),
        "The vault's secret names (never values)",
    ),
    endpoint(
        "PUT",
        "/api/v1/workspaces/{workspace}/vault/{secret}",
        Workspace(Secrets),
        "Set a secret",
    ),
    endpoint(
        "DELETE",
        "/api/v1/workspaces/{workspace}/vault/{secret}",
        Workspace(Secrets),
        "Remove a secret",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/shares",
        Workspace(Edit),
        "The workspace's share links",
    ),
    endpoint(
        "POST",
        "/api/v1/workspaces/{workspace}/shares",
        Workspace(Edit),
        "Create a share link: view a run read-only, run a flow, or fork it",
    ),
    endpoint(
        "DELETE",
        "/api/v1/workspaces/{workspace}/shares/{share}",
        Workspace(Edit),
        "Revoke a share link",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/members",
        Workspace(View),
        "Members and per-flow grants",
    ),
    endpoint(
        "PUT",
        "/api/v1/workspaces/{workspace}/members/{account}",
        Workspace(Members),
        "Set an account's role (or its grant on one flow)",
    ),
    endpoint(
        "DELETE",
        "/api/v1/workspaces/{workspace}/members/{account}",
        Workspace(Members),
        "Remove a member (or one grant)",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/audit",
        Workspace(Secrets),
        "The workspace's audit log, newest first",
    ),
    endpoint(
        "GET",
        "/api/v1/workspaces/{workspace}/audit/verify",
        Workspace(Secrets),
        "Check the audit log's hash chain",
    ),
];

/// The endpoint routed as `method` `path`.
#[must_use]
pub fn endpoint_of(method: &str, path: &str) -> Option<&'static Endpoint> {
    ENDPOINTS
        .iter()
        .find(|endpoint| endpoint.method == method && endpoint.path == path)
}

/// The Markdown table of roles × endpoints in docs/server.md.
#[must_use]
pub fn markdown_table() -> String {
    let mut out = String::from("| Endpoint | Needs |");
    for role in Role::ALL {
        write!(out, " {} |", role.as_str()).ok();
    }
    out.push_str("\n|---|---|");
    for _ in Role::ALL {
        out.push_str(":-:|");
    }
    out.push('\n');
    for endpoint in ENDPOINTS {
        let needs = match endpoint.access {
            Public => "anyone".to_owned(),
            Account => "signed in".to_owned(),
            Workspace(permission) => format!("`{}`", permission.as_str()),
        };
        write!(out, "| `{} {}` | {needs} |", endpoint.method, endpoint.path).ok();
        for role in Role::ALL {
            let allowed = match endpoint.access {
                Public | Account => true,
                Workspace(permission) => role.allows(permission),
            };
            out.push_str(if allowed { " ✓ |" } else { " — |" });
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_scopes_narrow() {
        assert!(Role::Viewer.allows(View));
        assert!(!Role::Viewer.allows(Run));
        assert!(Role::Executor.allows(Approve) && !Role::Executor.allows(Edit));
        assert!(Role::Creator.allows(Edit) && !Role::Creator.allows(Secrets));
        assert!(Role::Admin.allows(Members) && Role::Owner.allows(Members));
        assert!(Scope::Read.covers(View) && !Scope::Read.covers(Run));
        assert!(!Scope::Edit.covers(Run) && !Scope::Run.covers(Edit));
        assert!(Permission::ALL.into_iter().all(|p| Scope::Admin.covers(p)));
        assert_eq!(Role::parse("creator"), Some(Role::Creator));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn every_endpoint_is_listed_once() {
        for (index, endpoint) in ENDPOINTS.iter().enumerate() {
            assert!(
                ENDPOINTS[index + 1..]
                    .iter()
                    .all(|other| (other.method, other.path) != (endpoint.method, endpoint.path)),
                "{} {} twice",
                endpoint.method,
                endpoint.path
            );
            if let Workspace(_) = endpoint.access {
                assert!(endpoint.path.starts_with(WORKSPACE), "{}", endpoint.path);
            }
        }
    }
}
