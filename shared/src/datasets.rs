//! A client business's Conversions API datasets: read from Graph (owned and shared, all
//! pages), kept in the table under the fence, and served from there while fresh.

use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

use crate::clients;
use crate::clock::rfc3339;
use crate::error::{Error, Result};
use crate::model::{
    Client, ClientBusinessId, ClientStatus, Dataset, Mode, Ownership, PartnerRef, Pixel,
    SystemUserId, Whose,
};
use crate::ports::Ports;
use crate::tokens::{self, Recovery};

/// What callers get: the datasets and where they came from.
#[derive(Serialize)]
pub struct DatasetsView {
    pub client_business_id: ClientBusinessId,
    pub datasets: Vec<Dataset>,
    pub count: usize,
    pub fetched_at: String,
    /// `cache` (the table) or `graph` (read just now).
    pub source: &'static str,
}

pub async fn lookup(
    ports: &Ports,
    id: &ClientBusinessId,
    refresh: bool,
    recovery: Recovery,
) -> Result<DatasetsView> {
    let client = clients::load_usable(ports, id).await?;
    let max_age = ports.settings.dataset_cache_max_age_secs;
    let fresh = client
        .datasets_fetched_at
        .filter(|at| ports.clock.now() - at < max_age);
    match fresh {
        Some(at) if !refresh => Ok(view(id, ports.store.datasets(id).await?, at, "cache")),
        _ => refresh_from_graph(ports, &client, recovery).await,
    }
}

async fn refresh_from_graph(
    ports: &Ports,
    client: &Client,
    recovery: Recovery,
) -> Result<DatasetsView> {
    let id = &client.client_business_id;
    let token = tokens::current(ports, client, recovery).await?.access_token;
    let read = tokio::try_join!(
        ports.graph.pixels(id, Ownership::Owned, &token),
        ports.graph.pixels(id, Ownership::Shared, &token),
    );
    let (owned, shared) = match read {
        Ok(pages) => pages,
        Err(err) => return Err(clients::graph_failure(ports, Some(id), err, Whose::Client).await),
    };

    let now = ports.clock.now();
    let mut seen = HashSet::new();
    let datasets: Vec<Dataset> = owned
        .into_iter()
        .map(|p| (p, Ownership::Owned))
        .chain(shared.into_iter().map(|p| (p, Ownership::Shared)))
        // A pixel both owned and listed as shared counts once, as owned.
        .filter(|(p, _)| seen.insert(p.id.clone()))
        .map(|(p, ownership)| dataset(p, ownership))
        .collect();
    let stored = ports.store.datasets(id).await?;
    let stale: Vec<String> = stored
        .iter()
        .filter(|old| !seen.contains(&old.id))
        .map(|old| old.id.clone())
        .collect();
    // Only what changed is written.
    let changed: Vec<Dataset> = datasets
        .iter()
        .filter(|d| !stored.contains(d))
        .cloned()
        .collect();
    // Fenced: a client that began offboarding meanwhile gets no dataset item back.
    if ports
        .store
        .write_datasets(id, &changed, &stale)
        .await?
        .is_err()
    {
        return Err(Error::ClientOffboarded);
    }
    let marked = clients::update(ports, id, |current| {
        (current.status == ClientStatus::Active).then(|| {
            let mut next = current.clone();
            next.datasets_fetched_at = Some(now);
            (next, None)
        })
    })
    .await?;
    if marked.is_none() {
        return Err(Error::ClientOffboarded);
    }
    tracing::info!(client_business_id = %id, count = datasets.len(), removed = stale.len(), "datasets refreshed");
    Ok(view(id, datasets, now, "graph"))
}

fn dataset(pixel: Pixel, ownership: Ownership) -> Dataset {
    let (owner_id, owner_name) = pixel
        .owner_business
        .map_or((None, None), |o| (o.id, o.name));
    Dataset {
        id: pixel.id,
        name: pixel.name,
        ownership,
        permitted_tasks: pixel.permitted_tasks,
        creation_time: pixel.creation_time,
        last_fired_time: pixel.last_fired_time,
        is_unavailable: pixel.is_unavailable,
        owner_business_id: owner_id,
        owner_business_name: owner_name,
        data_use_setting: pixel.data_use_setting,
    }
}

fn view(
    id: &ClientBusinessId,
    mut datasets: Vec<Dataset>,
    fetched_at: i64,
    source: &'static str,
) -> DatasetsView {
    datasets.sort_by(|a, b| a.id.cmp(&b.id));
    DatasetsView {
        client_business_id: id.clone(),
        count: datasets.len(),
        datasets,
        fetched_at: rfc3339(fetched_at),
        source,
    }
}

/// The client record as callers may see it: no token, no secret names.
#[derive(Serialize)]
pub struct ClientView {
    pub client_business_id: ClientBusinessId,
    pub status: ClientStatus,
    pub mode: Mode,
    pub partner_ref: PartnerRef,
    pub system_user_id: SystemUserId,
    pub scopes: Vec<String>,
    pub granted_assets: BTreeMap<String, Vec<String>>,
    pub token_expires_at: Option<i64>,
    pub onboarded_at: String,
    pub updated_at: String,
    pub offboarded_at: Option<String>,
    pub offboard_reason: Option<String>,
    pub datasets_fetched_at: Option<String>,
}

pub async fn client_view(ports: &Ports, id: &ClientBusinessId) -> Result<ClientView> {
    let c = clients::load(ports, id).await?;
    Ok(ClientView {
        client_business_id: c.client_business_id,
        status: c.status,
        mode: c.mode,
        partner_ref: c.partner_ref,
        system_user_id: c.system_user_id,
        scopes: c.scopes,
        granted_assets: c.granted_assets,
        token_expires_at: c.token_expires_at,
        onboarded_at: rfc3339(c.onboarded_at),
        updated_at: rfc3339(c.updated_at),
        offboarded_at: c.offboarded_at.map(rfc3339),
        offboard_reason: c.offboard_reason,
        datasets_fetched_at: c.datasets_fetched_at.map(rfc3339),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::scenario::onboard;
    use crate::fakes::{Call, Fakes};

    #[tokio::test]
    async fn datasets_are_read_once_then_served_and_a_refresh_drops_a_removed_pixel() {
        let fakes = Fakes::new();
        let ports = fakes.ports();
        let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
        fakes.graph.set_pixels("100", &["1", "2"], &["2", "3"]);
        let first = lookup(&ports, &id, false, Recovery::NotHere).await.unwrap();
        assert_eq!(
            (first.count, first.source),
            (3, "graph"),
            "2 counts once, as owned"
        );
        let cached = lookup(&ports, &id, false, Recovery::NotHere).await.unwrap();
        assert_eq!((cached.count, cached.source), (3, "cache"));
        assert_eq!(fakes.graph.count(Call::Pixels), 2, "one read of each list");
        fakes.graph.set_pixels("100", &["1"], &[]);
        let refreshed = lookup(&ports, &id, true, Recovery::NotHere).await.unwrap();
        assert_eq!(refreshed.count, 1);
        assert_eq!(fakes.store.read(|s| s.datasets.len()), 1);
    }

    #[tokio::test]
    async fn a_missing_secret_is_left_to_token_fetch_where_recovery_is_not_allowed() {
        let fakes = Fakes::new();
        let ports = fakes.ports();
        let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
        ports
            .vault
            .force_delete(&ports.settings.names.bisu(&id))
            .await
            .unwrap();
        let err = lookup(&ports, &id, true, Recovery::NotHere)
            .await
            .err()
            .unwrap();
        assert_eq!(err.error_type(), "UpstreamUnavailable");
        assert_eq!(fakes.graph.count(Call::Mint), 0, "no fetch_only here");
        assert_eq!(
            fakes.store.read(|s| s.clients[&id].status),
            ClientStatus::Active,
            "a missing secret is not the client's fault"
        );
    }
}
