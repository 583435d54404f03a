//! The sweep drains the `due` index, the one queue of deferred work: client health checks
//! (and refreshes), offboardings to finish and second cleanups, webhook changes not yet
//! applied, and secrets written but never recorded. Each item is claimed with a lease, so a
//! worker that dies leaves it to be taken again; one item's failure is its own.

mod pending;

use futures_util::StreamExt;
use serde::Serialize;
use std::time::{Duration, Instant};

use crate::clients;
use crate::error::{Error, Result};
use crate::model::{ChangeStatus, Client, ClientStatus, Owner, Whose};
use crate::offboarding;
use crate::partner;
use crate::ports::{DUE_SHARDS, DueEntry, DueKey, Ports};
use crate::tokens::{self, Recovery, SIXTY_DAYS};

/// How long a claimed item is left alone before another sweep may take it.
pub const LEASE_SECS: i64 = 5 * 60;
/// Items worked on at once.
const CONCURRENCY: usize = 4;
/// Tokens expiring sooner than this are refreshed.
const REFRESH_WITHIN: i64 = 7 * 24 * 3600;
/// Items read from one shard at a time.
const PAGE: usize = 50;
pub const DEFAULT_MAX_ITEMS: usize = 500;
/// A run stops taking new items after this long unless told otherwise.
const TIME_BUDGET: Duration = Duration::from_secs(60);

/// How much one run may take on: items, and time before it stops taking new ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_items: usize,
    pub time: Duration,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
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

pub async fn sweep(ports: &Ports, limits: impl Into<Limits>) -> Result<SweepReport> {
    let Limits {
        max_items,
        time: budget,
    } = limits.into();
    let started = Instant::now();
    let mut report = SweepReport::default();
    let mut taken = 0;
    'shards: for shard in 0..DUE_SHARDS {
        loop {
            if taken >= max_items || started.elapsed() > budget {
                break 'shards;
            }
            let now = ports.clock.now();
            let entries = ports
                .store
                .due(shard, now, PAGE.min(max_items - taken))
                .await?;
            if entries.is_empty() {
                break;
            }
            let mut claimed = Vec::new();
            for entry in entries {
                if ports.store.claim(&entry, now + LEASE_SECS).await? {
                    claimed.push(entry);
                }
            }
            if claimed.is_empty() {
                break;
            }
            taken += claimed.len();
            report.claimed += claimed.len() as u32;
            let outcomes: Vec<Result<Outcome>> = futures_util::stream::iter(claimed)
                .map(|entry| work(ports, entry))
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            for outcome in outcomes {
                count(&mut report, outcome);
            }
        }
    }
    tracing::info!(?report, "sweep finished");
    Ok(report)
}

fn count(report: &mut SweepReport, outcome: Result<Outcome>) {
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
        Ok(debug) => debug,
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
