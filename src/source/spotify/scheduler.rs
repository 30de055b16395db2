//! The scheduler: runs each job at its interval, turns its pages into micro-batches, and
//! marks the source state each pull completes as a commit point, so it commits with the data.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::CHECKPOINT_FILE;
use super::client::{Client, PullError};
use super::jobs::JobConfig;
use super::journal::{Journal, JournaledPage, JournaledPull};
use super::pulls::{Page, PullState, pull};
use super::state::{StateDir, StateError};
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
    state_dir: StateDir,
    journal: Journal,
    /// Pulls journaled before a restart that no checkpoint covers: sent first.
    unsent: Vec<JournaledPull>,
    limits: BatchLimits,
    seq: u64,
}

/// Why the scheduler stops before it is cancelled.
enum Stop {
    /// The pipeline stopped taking batches: it is reporting why.
    Downstream,
    /// The journal cannot be written: the user must fix the state directory.
    State(StateError),
}

impl From<StateError> for Stop {
    fn from(e: StateError) -> Self {
        Self::State(e)
    }
}

impl Scheduler {
    /// A scheduler resuming from the checkpoint in `state_dir`, after the journaled pulls it
    /// does not cover.
    pub fn new(
        client: Arc<Client>,
        jobs: Vec<JobConfig>,
        state_dir: StateDir,
        limits: BatchLimits,
    ) -> Result<Self, StateError> {
        let committed: PullState = state_dir.read(CHECKPOINT_FILE)?;
        let (journal, unsent) = Journal::open(&state_dir, &committed)?;
        let state = unsent.last().map_or(committed, |pull| pull.state.clone());
        let now = Instant::now();
        let jobs =
            jobs.into_iter().map(|job| Scheduled { label: job.label(), job, next_due: now, blocked: None }).collect();
        Ok(Self { client, jobs, state, state_dir, journal, unsent, limits, seq: 0 })
    }

    fn counters(&self) -> &SourceCounters {
        &self.client.counters
    }

    /// Pulls until `cancel` fires, sending micro-batches to `tx`; stops early only when the
    /// journal cannot be written.
    pub async fn run(mut self, tx: mpsc::Sender<PageBatch>, cancel: CancellationToken) -> Result<(), StateError> {
        match self.pull_until(&tx, &cancel).await {
            Err(Stop::State(e)) => Err(e),
            // A last checkpoint-only batch, so the sink commits the state of everything sent.
            _ => {
                let _ = self.send(&tx, Vec::new(), "shutdown").await;
                Ok(())
            }
        }
    }

    async fn pull_until(&mut self, tx: &mpsc::Sender<PageBatch>, cancel: &CancellationToken) -> Result<(), Stop> {
        let unsent = std::mem::take(&mut self.unsent);
        if !unsent.is_empty() {
            tracing::info!(pulls = unsent.len(), "sending the journaled pulls no checkpoint covers again");
        }
        for pull in unsent {
            self.send_pull(tx, pull).await?;
        }
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
                self.send(tx, Vec::new(), "idle").await?;
                continue;
            };
            let pages = self.run_job(i).await;
            let label = self.jobs[i].label.clone();
            self.send(tx, pages, &label).await?;
        }
        Ok(())
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
                SourceCounters::add(&self.counters().set_aside, report.set_aside.len() as u64);
                SourceCounters::add(&self.counters().metadata_only_playlists, report.metadata_only.len() as u64);
                SourceCounters::add(&self.counters().failed_targets, report.failed.len() as u64);
                let set_aside =
                    report.set_aside.into_iter().map(|page| format!("set aside in the rejected output: {page}"));
                let problems: Vec<String> = report.skipped.into_iter().chain(report.failed).chain(set_aside).collect();
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
    /// A pull with pages is journaled first. Between pulls the state is whole, so an idle
    /// heartbeat carries it too.
    async fn send(&mut self, tx: &mpsc::Sender<PageBatch>, pages: Vec<Page>, label: &str) -> Result<(), Stop> {
        let has_pages = !pages.is_empty();
        let (mut batches, mut current) = (Vec::new(), Vec::new());
        let mut bytes = 0;
        for page in pages {
            let line = page.to_line();
            bytes += line.len() + 1;
            current.push(JournaledPage { fetched_micros: page.fetched_at.timestamp_micros(), line });
            if current.len() >= self.limits.max_pages || bytes >= self.limits.max_bytes {
                batches.push(std::mem::take(&mut current));
                bytes = 0;
            }
        }
        // The last batch carries the commit point, even when empty.
        batches.push(current);
        if has_pages {
            self.state.journaled += 1;
        }
        let clock_micros = chrono::Utc::now().timestamp_micros();
        let pull = JournaledPull { label: label.to_owned(), batches, clock_micros, state: self.state.clone() };
        if has_pages {
            self.journal.append(&pull)?;
            self.journal.prune_committed(&self.state_dir)?;
        }
        self.send_pull(tx, pull).await
    }

    /// Sends the micro-batches of `pull`, the last with its clock and state as commit point.
    async fn send_pull(&mut self, tx: &mpsc::Sender<PageBatch>, pull: JournaledPull) -> Result<(), Stop> {
        let last = pull.batches.len().saturating_sub(1);
        for (i, pages) in pull.batches.into_iter().enumerate() {
            let mut batch = self.new_batch();
            for page in pages {
                let source = Arc::new(SourceFile {
                    path: PathBuf::from(format!("spotify/{}", pull.label)),
                    modified_micros: page.fetched_micros,
                    kind: None,
                });
                let start = batch.buf.len();
                batch.buf.extend_from_slice(page.line.as_bytes());
                let line_no = batch.lines.len() as u64 + 1;
                batch.lines.push(LineRef { file: source, line_no, start, end: batch.buf.len(), too_long: None });
                batch.buf.push(b'\n');
            }
            if i == last {
                batch.clock_micros = Some(pull.clock_micros);
                match serde_json::to_vec_pretty(&pull.state) {
                    Ok(contents) => {
                        let checkpoint = Checkpoint { path: self.state_dir.path(CHECKPOINT_FILE), contents };
                        batch.commit_point = Some(CommitPoint::State(checkpoint));
                    }
                    Err(e) => tracing::error!("cannot serialise the pull state (a bug in tunestream): {e}"),
                }
            }
            tx.send(batch).await.map_err(|_| Stop::Downstream)?;
        }
        Ok(())
    }

    fn new_batch(&mut self) -> PageBatch {
        self.seq += 1;
        PageBatch { seq: self.seq, keep_raw: true, ..PageBatch::default() }
    }
}
