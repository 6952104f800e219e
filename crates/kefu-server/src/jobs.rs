//! Background jobs: run in the server process, their progress stored in the database
//! batch by batch, so a restarted server resumes them where they stopped.

use kefu_store::tiers::{BatchOutcome, Job, TIER_RECOMPUTE};

use crate::AppState;

/// Runs a tier recomputation to its end in the background.
pub fn spawn_tier_recompute(state: AppState, job_id: i64) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match state
                .store
                .recompute_tiers_batch(job_id, state.clock.now())
                .await
            {
                Ok(BatchOutcome::Continue { .. }) => tokio::task::yield_now().await,
                Ok(BatchOutcome::Finished | BatchOutcome::Superseded) => break,
                Err(e) => {
                    tracing::error!(job_id, error = %e, "tier recomputation failed");
                    let _ = state
                        .store
                        .fail_job(job_id, &e.to_string(), state.clock.now())
                        .await;
                    break;
                }
            }
        }
    })
}

/// Resumes the jobs a previous run left unfinished.
pub async fn resume(state: &AppState) -> Result<Vec<Job>, kefu_store::StoreError> {
    let jobs = state.store.running_jobs().await?;
    for job in &jobs {
        if job.kind == TIER_RECOMPUTE {
            tracing::info!(
                job_id = job.id,
                done = job.done,
                total = job.total,
                "resuming tier recomputation"
            );
            spawn_tier_recompute(state.clone(), job.id);
        }
    }
    Ok(jobs)
}
