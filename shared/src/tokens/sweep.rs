//! The scheduled sweep: checks every active client's token, marks the dead ones, refreshes
//! the ones about to expire, and keeps going past a single client's failure.

use futures_util::future::join_all;
use serde::Serialize;

use super::{SIXTY_DAYS, current_bisu, point_client_at};
use crate::clients;
use crate::clock::Now;
use crate::deps::Deps;
use crate::error::{Error, Result};
use crate::secret_cache::SecretCache;
use crate::store::ClientItem;
use crate::vault::TokenSecret;

/// Items read from the table per page.
const PAGE: i32 = 100;
/// Clients checked at once.
const CONCURRENCY: usize = 4;
/// Tokens expiring sooner than this are refreshed.
const REFRESH_WITHIN: i64 = 7 * 24 * 3600;

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct SweepReport {
    pub checked: u32,
    pub healthy: u32,
    pub marked_needs_reconnect: u32,
    pub refreshed: u32,
    pub failed: u32,
}

enum Outcome {
    Healthy,
    NeedsReconnect,
    Refreshed,
    Failed,
}

pub async fn sweep(deps: &Deps, cache: &SecretCache) -> Result<SweepReport> {
    let mut report = SweepReport::default();
    let mut cursor = None;
    loop {
        let page = deps.store.active_clients(cursor.as_ref(), PAGE).await?;
        for batch in page.clients.chunks(CONCURRENCY) {
            for outcome in join_all(batch.iter().map(|c| check(deps, cache, c))).await {
                report.checked += 1;
                match outcome {
                    Outcome::Healthy => report.healthy += 1,
                    Outcome::NeedsReconnect => report.marked_needs_reconnect += 1,
                    Outcome::Refreshed => report.refreshed += 1,
                    Outcome::Failed => report.failed += 1,
                }
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    tracing::info!(?report, "sweep finished");
    Ok(report)
}

async fn check(deps: &Deps, cache: &SecretCache, client: &ClientItem) -> Outcome {
    match check_one(deps, cache, client).await {
        Ok(outcome) => outcome,
        Err(Error::NeedsReconnect) => Outcome::NeedsReconnect,
        Err(err) => {
            tracing::warn!(client_business_id = %client.client_business_id, error = %err, "sweep could not check a client");
            Outcome::Failed
        }
    }
}

async fn check_one(deps: &Deps, cache: &SecretCache, client: &ClientItem) -> Result<Outcome> {
    let id = &client.client_business_id;
    let secret = current_bisu(deps, cache, client).await?;
    let debug = deps.graph.debug_token(&secret.access_token).await?;
    if !debug.is_valid {
        clients::mark_needs_reconnect(deps, id, "debug_token reports the token invalid").await?;
        return Ok(Outcome::NeedsReconnect);
    }
    let now = Now::get().epoch();
    let expires = debug.expiry_epoch().or(secret.expires_at);
    if expires.is_none_or(|at| at - now >= REFRESH_WITHIN) {
        return Ok(Outcome::Healthy);
    }
    let refreshed = match deps.graph.refresh_token(&secret.access_token).await {
        Ok(refreshed) => refreshed,
        Err(err) => return Err(clients::graph_failure(deps, id, err).await),
    };
    let expires_at = Some(
        now + refreshed
            .lifetime_secs()
            .map_or(SIXTY_DAYS, |secs| secs as i64),
    );
    let renewed = TokenSecret {
        access_token: refreshed.access_token,
        expires_at,
        obtained_at: now,
        ..secret
    };
    let stored = deps
        .vault
        .put_token(&client.bisu_secret_name, &renewed)
        .await?;
    point_client_at(deps, id, &stored.version_id, expires_at, "token_refreshed").await?;
    cache.insert(&stored.name, &stored.version_id, renewed);
    tracing::info!(client_business_id = %id, "token refreshed");
    Ok(Outcome::Refreshed)
}
