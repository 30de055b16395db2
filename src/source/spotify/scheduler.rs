//! The scheduler: runs each job at its interval, turns its pages into micro-batches, and
//! marks the source state each pull completes as a commit point, so it commits with the data.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::client::{Client, PullError};
use super::jobs::JobConfig;
use super::pulls::{Page, PullState, pull};
use crate::page::{BatchLimits, Checkpoint, CommitPoint, LineRef, PageBatch, SourceFile};
use crate::telemetry::SourceCounters;

/// How often an idle source still sends an (empty) batch, so the sink's clock moves on and
/// aged files are committed even when nothing new arrives.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

struct Scheduled {
    job: JobConfig,
    label: String,
    next_due: Instant,
    /// Set when the job cannot run until the user acts (a new login).
    blocked: Option<String>,
}

pub struct Scheduler {
    client: Arc<Client>,
    jobs: Vec<Scheduled>,
    state: PullState,
    checkpoint_path: PathBuf,
    limits: BatchLimits,
    seq: u64,
}

impl Scheduler {
    pub fn new(
        client: Arc<Client>,
        jobs: Vec<JobConfig>,
        state: PullState,
        checkpoint_path: PathBuf,
        limits: BatchLimits,
    ) -> Self {
        let now = Instant::now();
        let jobs =
            jobs.into_iter().map(|job| Scheduled { label: job.label(), job, next_due: now, blocked: None }).collect();
        Self { client, jobs, state, checkpoint_path, limits, seq: 0 }
    }

    fn counters(&self) -> &SourceCounters {
        &self.client.counters
    }

    /// Pulls until `cancel` fires, sending micro-batches to `tx`.
    pub async fn run(mut self, tx: mpsc::Sender<PageBatch>, cancel: CancellationToken) {
        while !cancel.is_cancelled() {
            let now = Instant::now();
            let due = self.jobs.iter().position(|j| j.blocked.is_none() && j.next_due <= now);
            let Some(i) = due else {
                let wake = self.jobs.iter().filter(|j| j.blocked.is_none()).map(|j| j.next_due).min();
                let wake = wake.map_or(now + HEARTBEAT, |w| w.min(now + HEARTBEAT));
                tokio::select! {
                    _ = tokio::time::sleep_until(wake) => {}
                    _ = cancel.cancelled() => break,
                }
                if self.send(&tx, Vec::new(), "idle").await.is_err() {
                    return;
                }
                continue;
            };
            let pages = self.run_job(i).await;
            let label = self.jobs[i].label.clone();
            if self.send(&tx, pages, &label).await.is_err() {
                return;
            }
        }
        // A last checkpoint-only batch, so the sink commits the state of everything sent.
        let _ = self.send(&tx, Vec::new(), "shutdown").await;
    }

    async fn run_job(&mut self, i: usize) -> Vec<Page> {
        let job = &mut self.jobs[i];
        job.next_due = Instant::now() + Duration::from_secs(job.job.every_secs().max(1));
        let (label, job_config) = (job.label.clone(), job.job.clone());
        if let Some((until, reason)) = self.client.circuit().await {
            SourceCounters::add(&self.client.counters.pulls_paused, 1);
            let who = crate::blame::Blame::Service.who();
            let problem = format!("paused: the account's circuit is open until {until} ({reason}; {who})");
            tracing::info!(job = %label, "{problem}");
            self.counters().set_problem(&label, Some(problem));
            return Vec::new();
        }
        let mut pages = Vec::new();
        let mut state = self.state.clone();
        let span = tracing::info_span!("pull", job = %label);
        let result = pull(&self.client, &job_config, &mut state, &mut pages).instrument(span.clone()).await;
        let _enter = span.enter();
        // Targets finished before an error keep their pages and state: both are consistent.
        self.state = state;
        SourceCounters::add(&self.counters().pulls, 1);
        SourceCounters::add(&self.counters().pages, pages.len() as u64);
        match result {
            Ok(report) => {
                SourceCounters::add(&self.counters().unchanged_playlists, report.unchanged_playlists);
                SourceCounters::add(&self.counters().gaps, report.gaps);
                let problems: Vec<String> = report.skipped.into_iter().chain(report.failed).collect();
                tracing::info!(
                    pages = pages.len(),
                    unchanged_playlists = report.unchanged_playlists,
                    problems = problems.len(),
                    "pulled"
                );
                self.counters().set_problem(&label, (!problems.is_empty()).then(|| problems.join("; ")));
            }
            Err(e @ PullError::NeedsLogin { .. }) => {
                tracing::error!("{e}; this user's jobs stop, everything else keeps running");
                let user = job_config.user().map(str::to_owned);
                for other in self.jobs.iter_mut().filter(|j| j.job.user().map(str::to_owned) == user) {
                    other.blocked = Some(e.to_string());
                    self.client.counters.set_problem(&other.label, Some(e.with_blame()));
                }
            }
            Err(e) if e.is_pause() => {
                SourceCounters::add(&self.counters().pulls_paused, 1);
                tracing::warn!("pull paused: {e}");
                self.counters().set_problem(&label, Some(e.with_blame()));
            }
            Err(e) => {
                tracing::error!("pull failed: {e}");
                self.counters().set_problem(&label, Some(e.with_blame()));
            }
        }
        pages
    }

    /// Sends `pages` as one or more micro-batches; only the last carries the clock and the
    /// state they complete, as its commit point, so no part of a pull commits without the rest.
    /// Between pulls the state is whole, so an idle heartbeat carries it too.
    async fn send(&mut self, tx: &mpsc::Sender<PageBatch>, pages: Vec<Page>, label: &str) -> Result<(), ()> {
        let mut batch = self.new_batch();
        for page in pages {
            let source = Arc::new(SourceFile {
                path: PathBuf::from(format!("spotify/{label}")),
                modified_micros: page.fetched_at.timestamp_micros(),
                kind: None,
            });
            let start = batch.buf.len();
            batch.buf.extend_from_slice(&page.to_line());
            batch.lines.push(LineRef {
                file: source,
                line_no: batch.lines.len() as u64 + 1,
                start,
                end: batch.buf.len(),
            });
            batch.buf.push(b'\n');
            if batch.lines.len() >= self.limits.max_pages || batch.buf.len() >= self.limits.max_bytes {
                let full = std::mem::replace(&mut batch, self.new_batch());
                tx.send(full).await.map_err(drop)?;
            }
        }
        batch.clock_micros = Some(chrono::Utc::now().timestamp_micros());
        match serde_json::to_vec_pretty(&self.state) {
            Ok(contents) => {
                let checkpoint = Checkpoint { path: self.checkpoint_path.clone(), contents };
                batch.commit_point = Some(CommitPoint::State(checkpoint));
            }
            Err(e) => tracing::error!("cannot serialise the pull state (a bug in tunestream): {e}"),
        }
        tx.send(batch).await.map_err(drop)
    }

    fn new_batch(&mut self) -> PageBatch {
        self.seq += 1;
        PageBatch { seq: self.seq, keep_raw: true, ..PageBatch::default() }
    }
}
