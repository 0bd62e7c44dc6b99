//! Servers sharing one database: each renews the claims of the runs it
//! runs (a heartbeat every third of the lease), and takes over and resumes
//! the runs of a server that stopped renewing (died, cut off) once their
//! lease ran out. Claims are taken with `FOR UPDATE SKIP LOCKED`, so two
//! surviving servers never take the same run, and a server that lost a
//! claim writes nothing more to that run (see `codexos_store::claims`).

use std::sync::Arc;
use std::time::Duration;

use super::api::{resume, Caller, Workspace};
use super::roles::Role;
use super::Team;

/// Claims taken per workspace per sweep.
const SWEEP: u32 = 16;

/// Renews and sweeps until the server stops.
pub(crate) async fn keep(team: Arc<Team>) {
    let beat = (team.options.claim_lease / 3).max(Duration::from_millis(100));
    loop {
        tokio::select! {
            () = tokio::time::sleep(beat) => {}
            () = team.shutdown.cancelled() => return,
        }
        let workspaces = match team.workspaces() {
            Ok(workspaces) => workspaces,
            Err(error) => {
                tracing::warn!(error = %error.message, "cannot list workspaces to renew run claims");
                continue;
            }
        };
        // Every workspace's heartbeat first: a slow takeover elsewhere must
        // not let this server's own claims lapse.
        let going: Vec<String> = super::lock(&team.runs).keys().cloned().collect();
        for workspace in &workspaces {
            if let Err(error) = renew(&team, workspace, going.clone()).await {
                tracing::warn!(workspace, error = %error.message, "renewing the run claims of a workspace");
            }
        }
        for workspace in &workspaces {
            if let Err(error) = sweep(&team, workspace).await {
                tracing::warn!(workspace, error = %error.message, "taking over lapsed runs of a workspace");
            }
        }
    }
}

/// Renews this server's claims of the runs going on here.
async fn renew(
    team: &Arc<Team>,
    workspace: &str,
    going: Vec<String>,
) -> Result<(), super::ApiError> {
    let store = Arc::clone(team.runtime(workspace)?.store());
    tokio::task::spawn_blocking(move || store.renew_claims(&going))
        .await
        .map_err(|error| super::ApiError::internal(error.to_string()))??;
    Ok(())
}

/// Takes over and resumes runs whose server stopped renewing them.
async fn sweep(team: &Arc<Team>, workspace: &str) -> Result<(), super::ApiError> {
    let runtime = team.runtime(workspace)?;
    let store = Arc::clone(runtime.store());
    let taken = tokio::task::spawn_blocking(move || store.take_lapsed_claims(SWEEP))
        .await
        .map_err(|error| super::ApiError::internal(error.to_string()))??;
    let ws = Workspace {
        name: workspace.to_owned(),
        runtime,
        role: Role::Owner,
    };
    for run in taken {
        let caller = Caller::acting_for("server", "takeover", &team.instance);
        tracing::info!(workspace, run, server = %team.instance, "taking over a run whose server stopped");
        if let Err(error) = resume(team, &ws, &caller, run.clone(), None).await {
            // Left for a person to resume (it shows as interrupted).
            tracing::warn!(workspace, run, error = %error.message, "a run taken over did not resume");
            ws.runtime.store().release_claim(&run).ok();
        }
    }
    Ok(())
}
