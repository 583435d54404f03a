//! Meta's webhooks for the `application` object: the subscription handshake, then signed
//! deliveries. Each change is recorded on its own (de-duplicated by its own hash), the
//! delivery is answered once the records are written, changes are applied inline within a
//! budget, and what is left is applied by the sweep.

use serde::Deserialize;
use serde_json::Value;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

use super::offboard;
use crate::clients;
use crate::datasets;
use crate::error::{Error, Result};
use crate::model::{
    ChangeOutcome, ChangeStatus, ClientBusinessId, ClientStatus, Event, EventType, Signal,
    WebhookChange, Whose,
};
use crate::ports::Ports;
use crate::signatures::{hub_signature_digest, verify_hub_signature};
use crate::tokens::{self, Recovery};

const CHANGE_TTL_SECS: i64 = 7 * 24 * 3600;
/// Changes are applied inline for at most this long; the sweep applies the rest.
const INLINE_BUDGET: Duration = Duration::from_secs(8);
/// A change that keeps failing is given up after this many attempts.
const MAX_ATTEMPTS: u32 = 8;
const UNINSTALL: &str = "business_integration_uninstall";
const UPDATE: &str = "business_integration_update";
const INSTALL: &str = "business_integration_install";

/// Answers `hub.challenge` when the mode and verify token are right.
pub async fn verify_subscription(
    ports: &Ports,
    mode: Option<&str>,
    verify_token: Option<&str>,
    challenge: Option<&str>,
) -> Result<String> {
    use secrecy::ExposeSecret;
    let app = ports.settings.app().await?;
    let expected = app.webhook_verify_token.expose_secret().as_bytes();
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

#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryOutcome {
    /// Changes recorded now.
    pub recorded: usize,
    /// Changes recorded before (a retried delivery, or the same change in another one).
    pub duplicates: usize,
    /// Changes applied (or found stale) inline.
    pub applied: usize,
    /// Changes left for the sweep.
    pub deferred: usize,
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
    time: i64,
    #[serde(default)]
    changes: Vec<ChangeJson>,
    /// "Include values" off: only the field names.
    #[serde(default)]
    changed_fields: Vec<String>,
}

#[derive(Deserialize)]
struct ChangeJson {
    field: String,
    #[serde(default)]
    value: Value,
}

/// One change as delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    pub app_id: String,
    pub time: i64,
    pub field: String,
    pub value: Option<Value>,
}

/// Parses a delivery; what does not parse is refused without naming its content.
pub fn parse_delivery(body: &[u8]) -> Result<Vec<Delivered>> {
    let delivery: Delivery = serde_json::from_slice(body).map_err(|e| {
        Error::InvalidRequest(format!(
            "webhook body: {}",
            crate::lambda::http::describe_json_error(&e)
        ))
    })?;
    if delivery.object != "application" {
        return Ok(vec![]);
    }
    let mut all = Vec::new();
    for entry in delivery.entry {
        let app_id = match entry.id {
            Value::String(s) => s,
            other => other.to_string(),
        };
        for change in entry.changes {
            all.push(Delivered {
                app_id: app_id.clone(),
                time: entry.time,
                field: change.field,
                value: Some(change.value),
            });
        }
        for field in entry.changed_fields {
            all.push(Delivered {
                app_id: app_id.clone(),
                time: entry.time,
                field,
                value: None,
            });
        }
    }
    Ok(all)
}

/// The business a change is about, if its value names one.
fn business_of(value: Option<&Value>) -> Result<Option<ClientBusinessId>> {
    let Some(raw) = value.and_then(|v| v.get("business_manager_id")) else {
        return Ok(None);
    };
    let text = raw
        .as_str()
        .map(str::to_owned)
        .or_else(|| raw.as_u64().map(|n| n.to_string()))
        .ok_or_else(|| Error::InvalidRequest("business_manager_id is not an id".into()))?;
    ClientBusinessId::parse(&text).map(Some)
}

/// Verifies the signature before reading anything, records each change, applies what the
/// budget allows.
pub async fn handle_delivery(
    ports: &Ports,
    body: &[u8],
    signature: Option<&str>,
    recovery: Recovery,
) -> Result<DeliveryOutcome> {
    // A request without a well-formed signature costs no Secrets Manager read.
    hub_signature_digest(signature)?;
    verify_hub_signature(&ports.settings.app().await?.app_secret, body, signature)?;
    let now = ports.clock.now();
    let mut outcome = DeliveryOutcome::default();
    // Every change is read before any is recorded: a delivery refused for one of them
    // leaves nothing behind.
    let mut changes = Vec::new();
    for delivered in parse_delivery(body)? {
        if delivered.app_id != ports.settings.app_id.as_str() {
            tracing::warn!(field = %delivered.field, "webhook entry for another app ignored");
            continue;
        }
        let value_text = delivered
            .value
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_default();
        changes.push(WebhookChange {
            hash: WebhookChange::hash_of(
                &delivered.app_id,
                delivered.time,
                &delivered.field,
                &value_text,
            ),
            field: delivered.field.chars().take(64).collect(),
            entry_time: delivered.time,
            business: business_of(delivered.value.as_ref())?,
            status: ChangeStatus::Received,
            attempts: 0,
            received_at: now,
            next_attempt_at: Some(now),
            expires_at: now + CHANGE_TTL_SECS,
        });
    }
    let mut fresh = Vec::new();
    for change in changes {
        if ports.store.record_change(&change).await? {
            outcome.recorded += 1;
            fresh.push(change);
        } else {
            ports
                .signals
                .emit(Signal::WebhookChange(ChangeOutcome::Duplicate));
            outcome.duplicates += 1;
        }
    }
    let started = Instant::now();
    for change in fresh {
        if started.elapsed() > INLINE_BUDGET {
            ports
                .signals
                .emit(Signal::WebhookChange(ChangeOutcome::Left));
            outcome.deferred += 1;
            continue;
        }
        match apply_change(ports, change, recovery).await? {
            ChangeStatus::Received | ChangeStatus::Failed => outcome.deferred += 1,
            ChangeStatus::Applied | ChangeStatus::Stale => outcome.applied += 1,
        }
    }
    tracing::info!(?outcome, "webhook delivery handled");
    Ok(outcome)
}

/// Applies one recorded change and records how it went: applied, stale, or left for the
/// sweep to try again (given up after `MAX_ATTEMPTS`). One change's failure is its own.
/// `recovery` says whether this function may recover a lost BISU (the sweep may; the
/// offboarding function leaves such a change to it).
pub async fn apply_change(
    ports: &Ports,
    mut change: WebhookChange,
    recovery: Recovery,
) -> Result<ChangeStatus> {
    let result = apply(ports, &change, recovery).await;
    let now = ports.clock.now();
    change.attempts += 1;
    change.status = match result {
        Ok(status) => status,
        Err(err) => {
            tracing::warn!(field = %change.field, attempts = change.attempts, error = %err, "a webhook change could not be applied");
            if change.attempts >= MAX_ATTEMPTS {
                ChangeStatus::Failed
            } else {
                ChangeStatus::Received
            }
        }
    };
    ports
        .signals
        .emit(Signal::WebhookChange(match change.status {
            ChangeStatus::Applied => ChangeOutcome::Applied,
            ChangeStatus::Stale => ChangeOutcome::Stale,
            ChangeStatus::Received => ChangeOutcome::Left,
            ChangeStatus::Failed => ChangeOutcome::Failed,
        }));
    change.next_attempt_at = (change.status == ChangeStatus::Received)
        .then(|| now + 60 * i64::from(1u32 << change.attempts.min(10)));
    ports.store.save_change(&change).await?;
    Ok(change.status)
}

async fn apply(ports: &Ports, change: &WebhookChange, recovery: Recovery) -> Result<ChangeStatus> {
    let Some(id) = &change.business else {
        // A change without values names no business: recorded, nothing else to do.
        return Ok(ChangeStatus::Applied);
    };
    let Some(client) = ports.store.client(id).await? else {
        tracing::info!(client_business_id = %id, field = %change.field, "change for a business that is not a client");
        return Ok(ChangeStatus::Applied);
    };
    match change.field.as_str() {
        // A delivery without a time cannot be judged stale: an uninstall is applied.
        UNINSTALL if change.entry_time > 0 && change.entry_time < client.onboarded_at => {
            tracing::info!(client_business_id = %id, "an uninstall older than the latest onboarding: stale");
            Ok(ChangeStatus::Stale)
        }
        UNINSTALL => {
            offboard(ports, id, "client_uninstalled", super::Initiator::Client).await?;
            Ok(ChangeStatus::Applied)
        }
        UPDATE if client.status == ClientStatus::Active => {
            refresh_grants(ports, id, recovery).await?;
            Ok(ChangeStatus::Applied)
        }
        INSTALL => {
            tracing::info!(client_business_id = %id, "Meta confirmed an install");
            Ok(ChangeStatus::Applied)
        }
        _ => Ok(ChangeStatus::Applied),
    }
}

/// Assets were added or removed: read the grants again, then the datasets.
async fn refresh_grants(ports: &Ports, id: &ClientBusinessId, recovery: Recovery) -> Result<()> {
    let client = clients::load_usable(ports, id).await?;
    let token = tokens::current(ports, &client, recovery)
        .await?
        .access_token;
    let debug = match ports.graph.debug_token(&token).await {
        Ok(debug) => debug,
        Err(err) => return Err(clients::graph_failure(ports, Some(id), err, Whose::App).await),
    };
    if !debug.is_valid {
        return clients::mark_needs_reconnect(
            ports,
            id,
            "debug_token reports the token invalid after an update",
        )
        .await;
    }
    let now = ports.clock.now();
    clients::update(ports, id, |current| {
        (current.status == ClientStatus::Active).then(|| {
            let mut next = current.clone();
            next.scopes = debug.scopes.clone();
            next.granted_assets = debug.granted_assets();
            let assets: Vec<String> = next
                .granted_assets
                .iter()
                .map(|(scope, ids)| format!("{scope}={}", ids.join("+")))
                .collect();
            let event = Event::client(
                id,
                EventType::AssetsChanged,
                now,
                [
                    ("scopes", debug.scopes.join(",")),
                    ("assets", assets.join(";")),
                    ("partner_ref", current.partner_ref.as_str().to_owned()),
                ],
            );
            (next, Some(event))
        })
    })
    .await?;
    datasets::lookup(ports, id, true, recovery).await?;
    tracing::info!(client_business_id = %id, "grants and datasets refreshed after an update");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_parse_change_by_change() {
        let body = br#"{"object":"application","entry":[{"id":"1","time":5,"changes":[
            {"field":"business_integration_update","value":{"business_manager_id":"9"}},
            {"field":"something_new","value":{}}]},{"id":2,"time":6,"changed_fields":["business_integration_uninstall"]}]}"#;
        let changes = parse_delivery(body).unwrap();
        assert_eq!(changes.len(), 3);
        assert_eq!(changes[0].field, "business_integration_update");
        assert_eq!(changes[0].time, 5);
        assert_eq!(changes[2].value, None);
        assert_eq!(changes[2].app_id, "2");
        assert!(
            parse_delivery(br#"{"object":"page","entry":[]}"#)
                .unwrap()
                .is_empty()
        );
        assert!(parse_delivery(b"[]").is_err());
        assert!(parse_delivery(b"{\"entry\":[]}").is_err());
    }
}
