//! Reading and changing client records: every change under the optimistic version check.

use std::collections::BTreeMap;

use crate::clock::Now;
use crate::deps::Deps;
use crate::error::{Error, Result};
use crate::graph::{GraphError, GraphErrorClass};
use crate::ids::ClientBusinessId;
use crate::store::{Also, ClientItem, ClientStatus, Conflict, EventItem};

/// Times a lost race on the client item is retried.
const ATTEMPTS: usize = 3;

pub async fn load(deps: &Deps, id: &ClientBusinessId) -> Result<ClientItem> {
    deps.store
        .get_client(id)
        .await?
        .ok_or(Error::ClientNotFound)
}

/// The client, refused unless it is active (offboarded and reconnect-needed clients get no
/// token and no Graph call).
pub async fn load_usable(deps: &Deps, id: &ClientBusinessId) -> Result<ClientItem> {
    let client = load(deps, id).await?;
    client.ensure_usable()?;
    Ok(client)
}

/// Applies `change` to the current client item and writes it with an audit event, re-reading
/// after a lost race. `change` returns `None` when there is nothing to do.
pub async fn update(
    deps: &Deps,
    id: &ClientBusinessId,
    event_kind: &str,
    change: impl Fn(&ClientItem) -> Option<(ClientItem, BTreeMap<String, String>)>,
) -> Result<ClientItem> {
    for _ in 0..ATTEMPTS {
        let current = load(deps, id).await?;
        let Some((mut next, detail)) = change(&current) else {
            return Ok(current);
        };
        let now = Now::get();
        next.version = current.version + 1;
        next.updated_at = now.rfc3339();
        let event = EventItem::new(id, event_kind, &now.rfc3339(), detail);
        match deps
            .store
            .save_client(&next, Some(current.version), &[Also::Event(&event)])
            .await?
        {
            Ok(()) => return Ok(next),
            Err(Conflict::Stale) => continue,
        }
    }
    Err(Error::Internal("the client record kept changing".into()))
}

/// Records that the client's token no longer works, with an audit event.
pub async fn mark_needs_reconnect(deps: &Deps, id: &ClientBusinessId, why: &str) -> Result<()> {
    update(deps, id, "reconnect_needed", |client| {
        (client.status == ClientStatus::Active).then(|| {
            let mut next = client.clone();
            next.status = ClientStatus::NeedsReconnect;
            (
                next,
                BTreeMap::from([("reason".to_owned(), why.to_owned())]),
            )
        })
    })
    .await?;
    tracing::warn!(client_business_id = %id, reason = why, "client needs to reconnect");
    Ok(())
}

/// The service error for a Graph failure on a client's behalf; an invalid token also marks
/// the client `needs_reconnect`.
pub async fn graph_failure(deps: &Deps, id: &ClientBusinessId, err: GraphError) -> Error {
    if err.class() == GraphErrorClass::InvalidToken {
        let why = format!(
            "Graph code {} subcode {}",
            err.code.unwrap_or_default(),
            err.subcode.unwrap_or_default()
        );
        if let Err(store_err) = mark_needs_reconnect(deps, id, &why).await {
            return store_err;
        }
    }
    err.into_service_error()
}
