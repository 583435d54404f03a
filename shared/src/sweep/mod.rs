//! The sweep drains the `due` index, the one queue of deferred work: client health checks
//! (and refreshes), offboardings to finish and second cleanups, webhook changes not yet
//! applied, and secrets written but never recorded. Each item is claimed with a lease, so a
//! worker that dies leaves it to be taken again; one item's failure is its own.

mod pending;

pub(crate) use pending::adopt_or_delete;

use futures_util::StreamExt;
use serde::Serialize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::clients;
use crate::error::{Error, Result};
use crate::model::{ChangeStatus, Client, ClientStatus, Owner, Signal, SweepFigures, Whose};
use crate::offboarding;
use crate::partner;
use crate::ports::{DUE_SHARDS, DueEntry, DueKey, Pace, Ports};
use crate::tokens::{self, Recovery, SIXTY_DAYS};

/// How long a claimed item is left alone before another sweep may take it.
pub const LEASE_SECS: i64 = 5 * 60;
/// Items worked on at once.
const CONCURRENCY: usize = 4;
/// Tokens expiring sooner than this are refreshed.
const REFRESH_WITHIN: i64 = 7 * 24 * 3600;
/// Items read from one shard in a round.
const PAGE: usize = 50;
/// High enough that the function's time is what limits a scheduled run.
pub const DEFAULT_MAX_ITEMS: usize = 10_000;
/// A run stops taking new items after this long unless told otherwise.
const TIME_BUDGET: Duration = Duration::from_secs(60);
/// 2001-09-09 in epoch ms: an earlier deadline is not a time.
const NOT_BEFORE_MS: u64 = 1_000_000_000_000;
/// Left for the items in flight when a run stops taking new ones: a Graph call's retries and
/// the writes after it.
const FINISH_MARGIN: Duration = Duration::from_secs(45);

/// How much one run may take on: items, and time before it stops taking new ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_items: usize,
    pub time: Duration,
}

/// The time a run may take new items in, before the invocation's deadline (epoch ms).
pub fn time_before(deadline_ms: u64) -> Duration {
    // Not an epoch time (`cargo lambda watch` passes its timeout here): no deadline known.
    if deadline_ms < NOT_BEFORE_MS {
        return TIME_BUDGET;
    }
    let deadline = UNIX_EPOCH + Duration::from_millis(deadline_ms);
    let left = deadline
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    left.saturating_sub(FINISH_MARGIN)
}

impl From<usize> for Limits {
    fn from(max_items: usize) -> Self {
        Self {
            max_items,
            time: TIME_BUDGET,
        }
    }
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct SweepReport {
    pub claimed: u32,
    pub healthy: u32,
    pub refreshed: u32,
    pub marked_needs_reconnect: u32,
    pub offboardings_finished: u32,
    pub cleaned: u32,
    pub changes_applied: u32,
    pub secrets_adopted: u32,
    pub secrets_deleted: u32,
    pub partner_checked: u32,
    pub failed: u32,
    /// Clients whose business Meta throttles, put back until access returns.
    pub deferred: u32,
    /// Items due now that wait for the next run.
    pub left: u32,
    /// Seconds since the oldest item still waiting fell due.
    pub oldest_due_age_secs: i64,
    /// Why the run stopped taking items before the queue was empty.
    pub stopped: Option<Stop>,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    MaxItems,
    Time,
    /// Meta's app-level usage is at the limit, or the app is throttled.
    Throttled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Healthy,
    Refreshed,
    NeedsReconnect,
    OffboardingFinished,
    Cleaned,
    ChangeApplied,
    Adopted,
    Deleted,
    PartnerChecked,
    Nothing,
}

/// What became of one entry read from the queue.
enum Taken {
    Worked(Result<Outcome>),
    /// Its business is throttled: put back until access returns.
    Deferred,
    /// Another worker claimed it first.
    Lost,
    /// The run stopped before it; it stays due.
    Left,
}

/// One run's limits and shared state, read by every item before it starts.
struct Run<'a> {
    ports: &'a Ports,
    max_items: usize,
    deadline: Instant,
    taken: AtomicUsize,
    stopped: Mutex<Option<Stop>>,
    /// Held by each item while Meta's usage is near the limit: one at a time.
    one_at_a_time: tokio::sync::Mutex<()>,
}

/// Drains the `due` index: each round reads every shard that may hold more and works the
/// entries oldest first, so no shard waits behind another; a run stops taking new items at its
/// limits or when Meta's usage says so, and what it leaves stays due for the next run.
pub async fn sweep(ports: &Ports, limits: impl Into<Limits>) -> Result<SweepReport> {
    let limits = limits.into();
    let run = Run {
        ports,
        max_items: limits.max_items,
        deadline: Instant::now() + limits.time,
        taken: AtomicUsize::new(0),
        stopped: Mutex::new(None),
        one_at_a_time: tokio::sync::Mutex::new(()),
    };
    let mut report = SweepReport::default();
    let mut open: Vec<u8> = (0..DUE_SHARDS).collect();
    while !open.is_empty() && run.stop_reason().is_none() {
        let now = ports.clock.now();
        let mut entries = Vec::new();
        let mut more = Vec::new();
        for shard in open {
            let page = ports.store.due(shard, now, PAGE).await?;
            if page.len() == PAGE {
                more.push(shard);
            }
            entries.extend(page);
        }
        open = more;
        entries.sort_by_key(|e| e.due_at);
        let taken: Vec<Taken> = futures_util::stream::iter(entries)
            .map(|entry| run.take(entry))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for item in taken {
            count(&mut report, item);
        }
    }
    report.stopped = run.stop_reason();
    let now = ports.clock.now();
    let mut oldest: Option<i64> = None;
    for shard in 0..DUE_SHARDS {
        let waiting = ports.store.waiting(shard, now).await?;
        report.left += waiting.count;
        oldest = oldest.into_iter().chain(waiting.oldest_due_at).min();
    }
    report.oldest_due_age_secs = oldest.map_or(0, |at| (now - at).max(0));
    ports.signals.emit(Signal::SweepRun(SweepFigures {
        done: report.claimed - report.failed,
        failed: report.failed,
        left: report.left,
        oldest_due_age_secs: report.oldest_due_age_secs,
    }));
    tracing::info!(?report, "sweep finished");
    Ok(report)
}

impl Run<'_> {
    fn stop_reason(&self) -> Option<Stop> {
        *self.stopped.lock().expect("stop lock")
    }

    fn stop(&self, why: Stop) -> Taken {
        self.stopped.lock().expect("stop lock").get_or_insert(why);
        Taken::Left
    }

    async fn take(&self, entry: DueEntry) -> Taken {
        if self.stop_reason().is_some() {
            return Taken::Left;
        }
        if Instant::now() >= self.deadline {
            return self.stop(Stop::Time);
        }
        let ports = self.ports;
        let now = ports.clock.now();
        let slow = match ports.graph.pace(None, now) {
            Pace::Stop { .. } => return self.stop(Stop::Throttled),
            Pace::Slow => true,
            Pace::Go => false,
        };
        if let DueKey::Client(id) = &entry.key
            && let Pace::Stop { until } = ports.graph.pace(Some(id), now)
        {
            return match ports.store.claim(&entry, until.max(now + LEASE_SECS)).await {
                Ok(true) => Taken::Deferred,
                Ok(false) => Taken::Lost,
                Err(err) => Taken::Worked(Err(err)),
            };
        }
        if self.taken.fetch_add(1, Ordering::SeqCst) >= self.max_items {
            return self.stop(Stop::MaxItems);
        }
        let lease = now + LEASE_SECS;
        match ports.store.claim(&entry, lease).await {
            Ok(true) => {}
            Ok(false) => {
                self.taken.fetch_sub(1, Ordering::SeqCst);
                return Taken::Lost;
            }
            Err(err) => return Taken::Worked(Err(err)),
        }
        let _lane = if slow {
            Some(self.one_at_a_time.lock().await)
        } else {
            None
        };
        let key = entry.key.clone();
        match work(ports, entry).await {
            // Meta throttled this item's scope: not a failure; it waits until access returns.
            Err(Error::Throttled { retry_after_secs }) => {
                let now = ports.clock.now();
                let until = now + retry_after_secs.map_or(LEASE_SECS, |s| s as i64);
                let leased = DueEntry { key, due_at: lease };
                match ports.store.claim(&leased, until.max(lease)).await {
                    Ok(_) => Taken::Deferred,
                    Err(err) => Taken::Worked(Err(err)),
                }
            }
            other => Taken::Worked(other),
        }
    }
}

fn count(report: &mut SweepReport, taken: Taken) {
    let outcome = match taken {
        Taken::Worked(outcome) => outcome,
        Taken::Deferred => {
            report.deferred += 1;
            return;
        }
        Taken::Lost | Taken::Left => return,
    };
    report.claimed += 1;
    match outcome {
        Ok(Outcome::Healthy) => report.healthy += 1,
        Ok(Outcome::Refreshed) => report.refreshed += 1,
        Ok(Outcome::NeedsReconnect) => report.marked_needs_reconnect += 1,
        Ok(Outcome::OffboardingFinished) => report.offboardings_finished += 1,
        Ok(Outcome::Cleaned) => report.cleaned += 1,
        Ok(Outcome::ChangeApplied) => report.changes_applied += 1,
        Ok(Outcome::Adopted) => report.secrets_adopted += 1,
        Ok(Outcome::Deleted) => report.secrets_deleted += 1,
        Ok(Outcome::PartnerChecked) => report.partner_checked += 1,
        Ok(Outcome::Nothing) => {}
        Err(err) => {
            tracing::warn!(error = %err, error_type = err.error_type(), "the sweep could not finish an item; it is taken again after its lease");
            report.failed += 1;
        }
    }
}

async fn work(ports: &Ports, entry: DueEntry) -> Result<Outcome> {
    match &entry.key {
        DueKey::Client(id) => {
            let Some(client) = ports.store.client(id).await? else {
                return Ok(Outcome::Nothing);
            };
            client_work(ports, client).await
        }
        DueKey::Webhook(hash) => match ports.store.change(hash).await? {
            Some(change) if change.status == ChangeStatus::Received => {
                match offboarding::apply_change(ports, change, Recovery::Allowed).await? {
                    ChangeStatus::Applied | ChangeStatus::Stale => Ok(Outcome::ChangeApplied),
                    _ => Err(Error::UpstreamUnavailable(
                        "a webhook change is left for a later sweep".into(),
                    )),
                }
            }
            _ => Ok(Outcome::Nothing),
        },
        DueKey::Partner => Ok(if partner::scheduled(ports).await? {
            Outcome::PartnerChecked
        } else {
            Outcome::Nothing
        }),
        DueKey::Pending { owner, secret_name } => {
            match ports.store.pending(owner, secret_name).await? {
                Some(marker) => pending::adopt_or_delete(ports, &marker).await,
                None => Ok(Outcome::Nothing),
            }
        }
    }
}

async fn client_work(ports: &Ports, client: Client) -> Result<Outcome> {
    let id = &client.client_business_id;
    let outcome = match client.status {
        ClientStatus::Active => health_check(ports, &client).await?,
        ClientStatus::Offboarding => {
            let reason = client
                .offboard_reason
                .clone()
                .unwrap_or_else(|| "offboarding_resumed".into());
            offboarding::offboard(ports, id, &reason, offboarding::Initiator::Partner).await?;
            return Ok(Outcome::OffboardingFinished);
        }
        ClientStatus::Offboarded => {
            offboarding::remove_holdings(ports, id).await?;
            Outcome::Cleaned
        }
        ClientStatus::NeedsReconnect | ClientStatus::Incomplete => Outcome::Nothing,
    };
    // The next visit: the next health check for an active client, none otherwise.
    let now = ports.clock.now();
    let interval = ports.settings.health_check_interval_secs;
    clients::update(ports, id, |current| {
        let next_check = (current.status == ClientStatus::Active).then_some(now + interval);
        (current.status != ClientStatus::Offboarding && current.next_check_at != next_check).then(
            || {
                let mut next = current.clone();
                next.next_check_at = next_check;
                (next, None)
            },
        )
    })
    .await?;
    Ok(outcome)
}

async fn health_check(ports: &Ports, client: &Client) -> Result<Outcome> {
    let id = &client.client_business_id;
    let secret = tokens::current(ports, client, Recovery::Allowed).await?;
    let debug = match ports.graph.debug_token(&secret.access_token).await {
        Ok(debug) => {
            ports.signals.emit(Signal::HealthCheck);
            debug
        }
        Err(err) => return Err(clients::graph_failure(ports, Some(id), err, Whose::App).await),
    };
    if !debug.is_valid {
        clients::mark_needs_reconnect(ports, id, "debug_token reports the token invalid").await?;
        return Ok(Outcome::NeedsReconnect);
    }
    tokens::check_pages(ports, &Owner::Client(id.clone())).await?;
    let now = ports.clock.now();
    let expires = debug.expiry_epoch().or(secret.expires_at);
    if expires.is_none_or(|at| at - now >= REFRESH_WITHIN) {
        return Ok(Outcome::Healthy);
    }
    let refreshed = match ports.graph.refresh_token(&secret.access_token).await {
        Ok(refreshed) => refreshed,
        Err(err) => return Err(clients::graph_failure(ports, Some(id), err, Whose::Client).await),
    };
    let expires_at = Some(
        now + refreshed
            .lifetime_secs()
            .map_or(SIXTY_DAYS, |secs| secs as i64),
    );
    let renewed = crate::model::TokenSecret {
        access_token: refreshed.access_token,
        expires_at,
        obtained_at: now,
        ..secret
    };
    tokens::replace_client_secret(ports, client, &renewed).await?;
    tracing::info!(client_business_id = %id, "token refreshed");
    Ok(Outcome::Refreshed)
}

#[cfg(test)]
mod tests;
