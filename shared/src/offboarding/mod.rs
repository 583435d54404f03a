//! Offboarding: whoever starts it, it ends with no token held, the client visibly `offboarded`,
//! and an audit trail. Every path is idempotent.

mod callbacks;
mod webhooks;

pub use callbacks::{DeletionAnswer, data_deletion, deauthorize, deletion_status};
pub use webhooks::{WebhookOutcome, handle_delivery, parse_delivery, verify_subscription};

use serde::Serialize;
use std::collections::BTreeMap;

use crate::clients;
use crate::clock::Now;
use crate::deps::Deps;
use crate::error::{Error, Result};
use crate::ids::{ClientBusinessId, OnboardingMode};
use crate::store::ClientStatus;

/// What offboarding did, for the caller and the audit trail.
#[derive(Debug, Serialize)]
pub struct OffboardReport {
    pub client_business_id: ClientBusinessId,
    pub status: &'static str,
    pub steps: Vec<String>,
    /// Meta has no API to uninstall a Login for Business integration: the client removes the
    /// app here.
    pub connected_apps_url: String,
}

/// Checks an offboarding reason: a short word or phrase, never free text with secrets.
pub fn parse_reason(reason: &str) -> Result<String> {
    let ok = !reason.is_empty()
        && reason.len() <= 64
        && reason
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_- .".contains(&b));
    ok.then(|| reason.to_owned()).ok_or_else(|| {
        Error::InvalidRequest("reason must be 1 to 64 letters, digits, spaces or _ - .".into())
    })
}

pub async fn offboard(deps: &Deps, id: &ClientBusinessId, reason: &str) -> Result<OffboardReport> {
    let mut steps = Vec::new();
    // First the status, so every reader refuses from now on (and nothing "recovers" a token
    // while its secret is being deleted); then what it held.
    match deps.store.get_client(id).await? {
        None => steps.push("no client record: nothing was onboarded".to_owned()),
        Some(client) if client.status == ClientStatus::Offboarded => {
            steps.push(format!(
                "already offboarded ({})",
                client
                    .offboard_reason
                    .as_deref()
                    .unwrap_or("no reason recorded")
            ));
        }
        Some(client) => {
            if client.mode == OnboardingMode::Obo {
                steps.push(remove_obo_relationship(deps, id).await?);
            }
            mark_offboarded(deps, id, reason).await?;
            steps.push(format!("marked the client offboarded ({reason})"));
        }
    }
    let names = deps
        .vault
        .names_under(&deps.names.client_prefix(id))
        .await?;
    for name in &names {
        deps.vault.force_delete(name).await?;
    }
    if !names.is_empty() {
        steps.push(format!("deleted {} token secret(s)", names.len()));
    }
    let mut keys = deps.store.child_keys(id, "DATASET#").await?;
    keys.extend(deps.store.child_keys(id, "TOKEN#").await?);
    if !keys.is_empty() {
        deps.store.delete_keys(&keys).await?;
        steps.push(format!(
            "removed {} dataset and minted-token item(s)",
            keys.len()
        ));
    }
    tracing::info!(client_business_id = %id, reason, steps = steps.len(), "client offboarded");
    Ok(OffboardReport {
        client_business_id: id.clone(),
        status: "offboarded",
        steps,
        connected_apps_url: format!(
            "https://business.facebook.com/latest/settings/connected_apps/?business_id={id}"
        ),
    })
}

async fn mark_offboarded(deps: &Deps, id: &ClientBusinessId, reason: &str) -> Result<()> {
    clients::update(deps, id, "offboarded", |current| {
        (current.status != ClientStatus::Offboarded).then(|| {
            let mut next = current.clone();
            next.status = ClientStatus::Offboarded;
            next.offboarded_at = Some(Now::get().rfc3339());
            next.offboard_reason = Some(reason.to_owned());
            next.datasets_fetched_at = None;
            (
                next,
                BTreeMap::from([("reason".to_owned(), reason.to_owned())]),
            )
        })
    })
    .await
    .map(drop)
}

/// Ends an On-Behalf-Of relationship with the partner's system user token.
async fn remove_obo_relationship(deps: &Deps, id: &ClientBusinessId) -> Result<String> {
    let (Some(partner), Some(token)) = (
        deps.config.partner_business_id.as_deref(),
        deps.app_secrets.partner_system_user_token.as_ref(),
    ) else {
        return Err(Error::Internal(
            "an On-Behalf-Of client needs PARTNER_BUSINESS_ID and partner_system_user_token to offboard".into(),
        ));
    };
    deps.graph
        .remove_managed_business(partner, id, token)
        .await?;
    Ok("removed the On-Behalf-Of relationship".to_owned())
}
