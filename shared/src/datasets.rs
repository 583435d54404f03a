//! A client business's Conversions API datasets: read from Graph (owned and shared, all pages),
//! kept in the table, and served from there while fresh.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

use crate::clients;
use crate::clock::Now;
use crate::deps::Deps;
use crate::error::Result;
use crate::graph::Auth;
use crate::ids::ClientBusinessId;
use crate::secret_cache::SecretCache;
use crate::store::{ClientItem, Dataset, DatasetItem, Ownership, client_pk, dataset_sk};
use crate::tokens;

/// Datasets asked for per page. Meta does not document the maximum; 100 is accepted widely.
const PAGE_LIMIT: &str = "100";
const OWNED_FIELDS: &str =
    "id,name,creation_time,last_fired_time,is_unavailable,owner_business{id,name},data_use_setting";
const SHARED_FIELDS: &str = "id,name,creation_time,last_fired_time,is_unavailable,owner_business{id,name},data_use_setting,permitted_tasks";

/// One pixel as Graph describes it.
#[derive(Deserialize)]
struct GraphPixel {
    id: String,
    name: Option<String>,
    creation_time: Option<String>,
    last_fired_time: Option<String>,
    is_unavailable: Option<bool>,
    owner_business: Option<OwnerBusiness>,
    data_use_setting: Option<String>,
    #[serde(default)]
    permitted_tasks: Vec<String>,
}

#[derive(Deserialize)]
struct OwnerBusiness {
    id: Option<String>,
    name: Option<String>,
}

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
    deps: &Deps,
    cache: &SecretCache,
    id: &ClientBusinessId,
    refresh: bool,
) -> Result<DatasetsView> {
    let client = clients::load_usable(deps, id).await?;
    let max_age = deps.config.dataset_cache_max_age.as_secs() as i64;
    let fresh = client
        .datasets_fetched_at
        .filter(|at| Now::get().epoch() - at < max_age);
    match fresh {
        Some(at) if !refresh => Ok(view(id, deps.store.get_datasets(id).await?, at, "cache")),
        _ => refresh_from_graph(deps, cache, &client).await,
    }
}

async fn refresh_from_graph(
    deps: &Deps,
    cache: &SecretCache,
    client: &ClientItem,
) -> Result<DatasetsView> {
    let id = &client.client_business_id;
    let token = tokens::current_bisu(deps, cache, client)
        .await?
        .access_token;
    let params = |fields: &str| {
        [
            ("fields", fields.to_owned()),
            ("limit", PAGE_LIMIT.to_owned()),
        ]
    };
    let owned_path = format!("{id}/owned_pixels");
    let shared_path = format!("{id}/client_pixels");
    let (owned_params, shared_params) = (params(OWNED_FIELDS), params(SHARED_FIELDS));
    let read = tokio::try_join!(
        deps.graph
            .get_all_pages::<GraphPixel>(&owned_path, &owned_params, Auth::Token(&token)),
        deps.graph
            .get_all_pages::<GraphPixel>(&shared_path, &shared_params, Auth::Token(&token)),
    );
    let (owned, shared) = match read {
        Ok(pages) => pages,
        Err(err) => return Err(clients::graph_failure(deps, id, err).await),
    };

    let now = Now::get().epoch();
    let mut seen = HashSet::new();
    let datasets: Vec<DatasetItem> = owned
        .into_iter()
        .map(|p| (p, Ownership::Owned))
        .chain(shared.into_iter().map(|p| (p, Ownership::Shared)))
        // A pixel both owned and listed as shared counts once, as owned.
        .filter(|(p, _)| seen.insert(p.id.clone()))
        .map(|(p, ownership)| item(id, p, ownership, now))
        .collect();
    let stale: Vec<(String, String)> = deps
        .store
        .get_datasets(id)
        .await?
        .into_iter()
        .filter(|old| !seen.contains(&old.dataset.id))
        .map(|old| (old.pk, old.sk))
        .collect();
    deps.store.write_datasets(&datasets, &stale).await?;
    clients::update(deps, id, "datasets_refreshed", |current| {
        let mut next = current.clone();
        next.datasets_fetched_at = Some(now);
        let detail = BTreeMap::from([
            ("count".to_owned(), datasets.len().to_string()),
            ("removed".to_owned(), stale.len().to_string()),
        ]);
        Some((next, detail))
    })
    .await?;
    tracing::info!(client_business_id = %id, count = datasets.len(), removed = stale.len(), "datasets refreshed");
    Ok(view(id, datasets, now, "graph"))
}

fn item(id: &ClientBusinessId, pixel: GraphPixel, ownership: Ownership, now: i64) -> DatasetItem {
    let (owner_id, owner_name) = pixel
        .owner_business
        .map_or((None, None), |o| (o.id, o.name));
    DatasetItem {
        pk: client_pk(id),
        sk: dataset_sk(&pixel.id),
        dataset: Dataset {
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
        },
        fetched_at: now,
    }
}

fn view(
    id: &ClientBusinessId,
    items: Vec<DatasetItem>,
    fetched_at: i64,
    source: &'static str,
) -> DatasetsView {
    let datasets: Vec<Dataset> = items.into_iter().map(|item| item.dataset).collect();
    DatasetsView {
        client_business_id: id.clone(),
        count: datasets.len(),
        datasets,
        fetched_at: Now::epoch_rfc3339(fetched_at),
        source,
    }
}

/// The client record as callers may see it: no token, no secret names.
#[derive(Serialize)]
pub struct ClientView {
    pub client_business_id: ClientBusinessId,
    pub status: crate::store::ClientStatus,
    pub mode: crate::ids::OnboardingMode,
    pub partner_ref: crate::ids::PartnerRef,
    pub system_user_id: crate::ids::SystemUserId,
    pub scopes: Vec<String>,
    pub granted_assets: BTreeMap<String, Vec<String>>,
    pub token_expires_at: Option<i64>,
    pub onboarded_at: String,
    pub updated_at: String,
    pub offboarded_at: Option<String>,
    pub offboard_reason: Option<String>,
    pub datasets_fetched_at: Option<String>,
}

pub async fn client_view(deps: &Deps, id: &ClientBusinessId) -> Result<ClientView> {
    let c = clients::load(deps, id).await?;
    Ok(ClientView {
        client_business_id: c.client_business_id,
        status: c.status,
        mode: c.mode,
        partner_ref: c.partner_ref,
        system_user_id: c.system_user_id,
        scopes: c.scopes,
        granted_assets: c.granted_assets,
        token_expires_at: c.token_expires_at,
        onboarded_at: c.onboarded_at,
        updated_at: c.updated_at,
        offboarded_at: c.offboarded_at,
        offboard_reason: c.offboard_reason,
        datasets_fetched_at: c.datasets_fetched_at.map(Now::epoch_rfc3339),
    })
}
