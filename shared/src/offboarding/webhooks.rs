//! Meta's webhooks for the `application` object: the subscription handshake, then signed
//! deliveries of `business_integration_install`, `_update` and `_uninstall`.

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;

use super::offboard;
use crate::clients;
use crate::clock::Now;
use crate::datasets;
use crate::deps::Deps;
use crate::error::{Error, Result};
use crate::ids::ClientBusinessId;
use crate::secret_cache::SecretCache;
use crate::signatures::verify_hub_signature;
use crate::store::{ClientStatus, EventItem, WEBHOOK_SK, WebhookReceipt, webhook_pk};
use crate::tokens;

const RECEIPT_TTL_SECS: i64 = 7 * 24 * 3600;

/// Answers `hub.challenge` when the mode and verify token are right.
pub fn verify_subscription(
    deps: &Deps,
    mode: Option<&str>,
    verify_token: Option<&str>,
    challenge: Option<&str>,
) -> Result<String> {
    use secrecy::ExposeSecret;
    let expected = deps
        .app_secrets
        .webhook_verify_token
        .expose_secret()
        .as_bytes();
    let token_ok = verify_token.is_some_and(|t| bool::from(t.as_bytes().ct_eq(expected)));
    if mode != Some("subscribe") || !token_ok {
        return Err(Error::Unauthorized(
            "the subscription mode or verify token is wrong".into(),
        ));
    }
    challenge
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Error::InvalidRequest("hub.challenge is required".into()))
}

#[derive(Debug, PartialEq, Eq)]
pub enum WebhookOutcome {
    Handled { changes: usize },
    Duplicate,
}

#[derive(Deserialize)]
struct Delivery {
    object: String,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    id: Value,
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    field: String,
    #[serde(default)]
    value: Value,
}

/// Verifies the signature before reading anything, handles each delivery once.
pub async fn handle_delivery(
    deps: &Deps,
    cache: &SecretCache,
    body: &[u8],
    signature: Option<&str>,
) -> Result<WebhookOutcome> {
    verify_hub_signature(&deps.app_secrets.app_secret, body, signature)?;
    let hash = hex::encode(Sha256::digest(body));
    let now = Now::get();
    let receipt = WebhookReceipt {
        pk: webhook_pk(&hash),
        sk: WEBHOOK_SK.into(),
        status: "processing".into(),
        received_at: now.rfc3339(),
        expires_at_epoch: now.epoch() + RECEIPT_TTL_SECS,
    };
    if !deps.store.claim_receipt(&receipt).await? {
        tracing::info!("webhook delivery seen before: acknowledged without work");
        return Ok(WebhookOutcome::Duplicate);
    }
    match process(deps, cache, body).await {
        Ok(changes) => {
            deps.store.finish_receipt(&hash).await?;
            Ok(WebhookOutcome::Handled { changes })
        }
        Err(err) => {
            // Forget the delivery so Meta's retry is handled.
            if let Err(drop_err) = deps.store.drop_receipt(&hash).await {
                tracing::warn!(error = %drop_err, "could not forget a failed webhook delivery");
            }
            Err(err)
        }
    }
}

/// Parses a delivery; what does not parse is refused without naming its content.
pub fn parse_delivery(body: &[u8]) -> Result<Vec<(String, String, Value)>> {
    let delivery: Delivery = serde_json::from_slice(body).map_err(|e| {
        Error::InvalidRequest(format!(
            "webhook body: {}",
            crate::http::describe_json_error(&e)
        ))
    })?;
    if delivery.object != "application" {
        return Ok(vec![]);
    }
    Ok(delivery
        .entry
        .into_iter()
        .flat_map(|entry| {
            let app = match entry.id {
                Value::String(s) => s,
                other => other.to_string(),
            };
            entry
                .changes
                .into_iter()
                .map(move |c| (app.clone(), c.field, c.value))
        })
        .collect())
}

async fn process(deps: &Deps, cache: &SecretCache, body: &[u8]) -> Result<usize> {
    let changes = parse_delivery(body)?;
    for (app_id, field, value) in &changes {
        if app_id != deps.config.app_id.as_str() {
            tracing::warn!(field = %field, "webhook entry for another app ignored");
            continue;
        }
        let business = value.get("business_manager_id").and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| v.as_u64().map(|n| n.to_string()))
        });
        let id = match (field.as_str(), business) {
            (
                "business_integration_install"
                | "business_integration_update"
                | "business_integration_uninstall",
                Some(b),
            ) => ClientBusinessId::parse(&b)?,
            (
                "business_integration_install"
                | "business_integration_update"
                | "business_integration_uninstall",
                None,
            ) => {
                return Err(Error::InvalidRequest(format!(
                    "{field} without business_manager_id"
                )));
            }
            _ => {
                tracing::info!(field = %field, "webhook field acknowledged and ignored");
                continue;
            }
        };
        match field.as_str() {
            "business_integration_uninstall" => {
                offboard(deps, &id, "client_uninstalled").await?;
            }
            "business_integration_update" => refresh_grants(deps, cache, &id).await?,
            _ => record_install(deps, &id, value).await?,
        }
    }
    Ok(changes.len())
}

/// Assets were added or removed: read the grants again, then the datasets.
async fn refresh_grants(deps: &Deps, cache: &SecretCache, id: &ClientBusinessId) -> Result<()> {
    let Some(client) = deps.store.get_client(id).await? else {
        tracing::info!(client_business_id = %id, "update for a business that is not a client");
        return Ok(());
    };
    if client.status != ClientStatus::Active {
        tracing::info!(client_business_id = %id, "update for a client that is not active");
        return Ok(());
    }
    let token = tokens::current_bisu(deps, cache, &client)
        .await?
        .access_token;
    let debug = deps.graph.debug_token(&token).await?;
    if !debug.is_valid {
        clients::mark_needs_reconnect(
            deps,
            id,
            "debug_token reports the token invalid after an update",
        )
        .await?;
        return Ok(());
    }
    clients::update(deps, id, "grants_updated", |current| {
        let mut next = current.clone();
        next.scopes = debug.scopes.clone();
        next.granted_assets = debug.granted_assets();
        let detail = BTreeMap::from([("scopes".to_owned(), debug.scopes.join(","))]);
        Some((next, detail))
    })
    .await?;
    datasets::lookup(deps, cache, id, true).await?;
    tracing::info!(client_business_id = %id, "grants and datasets refreshed after an update");
    Ok(())
}

/// Meta says the app was installed: confirm a known client, or note it for one to come.
async fn record_install(deps: &Deps, id: &ClientBusinessId, value: &Value) -> Result<()> {
    let known = deps.store.get_client(id).await?.is_some();
    let kind = if known {
        "install_confirmed"
    } else {
        "install_notified"
    };
    let mut detail = BTreeMap::new();
    if let Some(config) = value.get("tp_config_id").and_then(Value::as_str) {
        detail.insert("tp_config_id".to_owned(), config.chars().take(32).collect());
    }
    deps.store
        .put_event(&EventItem::new(id, kind, &Now::get().rfc3339(), detail))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_parse_change_by_change() {
        let body = br#"{"object":"application","entry":[{"id":"1","time":1,"changes":[
            {"field":"business_integration_update","value":{"business_manager_id":"9"}},
            {"field":"something_new","value":{}}]},{"id":2,"changes":[]}]}"#;
        let changes = parse_delivery(body).unwrap();
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].1, "business_integration_update");
        assert!(
            parse_delivery(br#"{"object":"page","entry":[]}"#)
                .unwrap()
                .is_empty()
        );
        assert!(parse_delivery(b"[]").is_err());
        assert!(parse_delivery(b"{\"entry\":[]}").is_err());
    }
}
