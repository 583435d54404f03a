//! Offboarding: whoever starts it, it ends with no token held, the client visibly
//! `offboarded`, and an audit trail. The client moves to `offboarding` first, which fences
//! every writer out; every path is idempotent, and a second cleanup follows 15 minutes later.

mod callbacks;
mod webhooks;

pub use callbacks::{DeletionAnswer, data_deletion, deauthorize, deletion_status};
pub use webhooks::{
    DeliveryOutcome, apply_change, handle_delivery, parse_delivery, verify_subscription,
};

use serde::Serialize;

use crate::clients;
use crate::error::{Error, Result};
use crate::model::{
    ClientBusinessId, ClientStatus, Event, EventType, MintedToken, Mode, Signal, Whose,
};
use crate::partner;
use crate::ports::Ports;

/// The second cleanup runs this long after offboarding, for writers that were in flight.
pub const SECOND_CLEANUP_SECS: i64 = 15 * 60;

/// What offboarding did, for the caller and the audit trail.
#[derive(Debug, Serialize)]
pub struct OffboardReport {
    pub client_business_id: ClientBusinessId,
    pub status: &'static str,
    pub steps: Vec<String>,
    /// Meta has no API to uninstall a Login for Business integration: the client removes the
    /// app here.
    pub remove_app_url: String,
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

/// Who asked: the partner (its granular tokens are revoked at Meta first), or the client or
/// Meta (an uninstall or deauthorization has killed them already).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Initiator {
    Partner,
    Client,
}

pub async fn offboard(
    ports: &Ports,
    id: &ClientBusinessId,
    reason: &str,
    initiator: Initiator,
) -> Result<OffboardReport> {
    let mut steps = Vec::new();
    let now = ports.clock.now();
    match ports.store.client(id).await? {
        None => steps.push("no client record: nothing was onboarded".to_owned()),
        Some(client) if client.status == ClientStatus::Offboarded => steps.push(format!(
            "already offboarded ({})",
            client
                .offboard_reason
                .as_deref()
                .unwrap_or("no reason recorded")
        )),
        Some(client) => {
            // First the fence: from here on every reader refuses and every writer loses.
            clients::update(ports, id, |current| {
                (current.status != ClientStatus::Offboarding
                    && current.status != ClientStatus::Offboarded)
                    .then(|| {
                        let mut next = current.clone();
                        next.status = ClientStatus::Offboarding;
                        next.offboard_reason = Some(reason.to_owned());
                        // A crash from here on is finished by the sweep.
                        next.next_check_at = Some(now + SECOND_CLEANUP_SECS);
                        (next, None)
                    })
            })
            .await?;
            if client.mode == Mode::Obo {
                steps.push(remove_obo_relationship(ports, id).await);
            }
        }
    }
    if initiator == Initiator::Partner {
        let minted = ports.store.minted_tokens(id).await?;
        let mut held: Vec<Held> = minted.iter().map(Held::from).collect();
        for token in &minted {
            held.extend(in_flight(ports, id, token).await?);
        }
        // Also what a mint that died before its record left in the vault.
        for name in ports
            .vault
            .names_under(&ports.settings.names.minted(id, ""))
            .await?
        {
            if !held.iter().any(|h| h.name == name) {
                held.push(Held::current(name));
            }
        }
        steps.extend(revoke_minted(ports, &held).await?);
    }
    steps.extend(remove_holdings(ports, id).await?);
    let finished = clients::update(ports, id, |current| {
        (current.status == ClientStatus::Offboarding).then(|| {
            let mut next = current.clone();
            next.status = ClientStatus::Offboarded;
            next.offboarded_at = Some(now);
            next.datasets_fetched_at = None;
            next.next_check_at = Some(now + SECOND_CLEANUP_SECS);
            let event = Event::client(
                id,
                EventType::Offboarded,
                now,
                [
                    (
                        "reason",
                        current.offboard_reason.clone().unwrap_or_default(),
                    ),
                    ("partner_ref", current.partner_ref.as_str().to_owned()),
                    ("mode", current.mode.as_str().to_owned()),
                    ("status", ClientStatus::Offboarded.as_str().to_owned()),
                ],
            );
            (next, Some(event))
        })
    })
    .await;
    match finished {
        Ok(Some(_)) => {
            ports.signals.emit(Signal::Offboarding);
            steps.push(format!("marked the client offboarded ({reason})"));
        }
        Ok(None) | Err(Error::ClientNotFound) => {}
        Err(err) => return Err(err),
    }
    tracing::info!(client_business_id = %id, reason, steps = steps.len(), "client offboarded");
    Ok(OffboardReport {
        client_business_id: id.clone(),
        status: "offboarded",
        steps,
        remove_app_url: remove_app_url(id),
    })
}

/// A granular token's secret: by its item (that version), or by its name alone (current).
struct Held {
    name: String,
    version: Option<String>,
}

impl Held {
    fn current(name: String) -> Self {
        Self {
            name,
            version: None,
        }
    }

    fn token_id(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or_default()
    }
}

impl From<&MintedToken> for Held {
    fn from(token: &MintedToken) -> Self {
        Self {
            name: token.secret.name.clone(),
            version: Some(token.secret.version.clone()),
        }
    }
}

/// What a mint of `token` under way (or dead) holds besides the recorded version: the version
/// it wrote and did not record yet, and the one it replaced and did not revoke yet.
async fn in_flight(ports: &Ports, id: &ClientBusinessId, token: &MintedToken) -> Result<Vec<Held>> {
    let name = &token.secret.name;
    let owner = crate::model::Owner::Client(id.clone());
    let Some(marker) = ports.store.pending(&owner, name).await? else {
        return Ok(vec![]);
    };
    let recorded = &token.secret.version;
    let unrecorded = ports
        .vault
        .current_version(name)
        .await?
        .filter(|current| current != recorded);
    let replaced = marker.replaced(recorded).map(str::to_owned);
    Ok([unrecorded, replaced]
        .into_iter()
        .flatten()
        .map(|version| Held {
            name: name.clone(),
            version: Some(version),
        })
        .collect())
}

/// Revokes granular tokens at Meta before their secrets go, as Meta's Conversions API guide
/// asks; what Meta refused is reported, and offboarding goes on.
async fn revoke_minted(ports: &Ports, held: &[Held]) -> Result<Vec<String>> {
    if held.is_empty() {
        return Ok(vec![]);
    }
    let mut refused = Vec::new();
    for token in held {
        let Some(secret) = ports
            .vault
            .token(&token.name, token.version.as_deref())
            .await?
        else {
            continue;
        };
        if let Err(err) = crate::custody::revoke(ports, &secret.access_token).await {
            let token_id = token.token_id();
            tracing::warn!(%token_id, graph_code = err.code, "Meta did not revoke a granular token");
            refused.push(format!(
                "{token_id} (code {})",
                err.code.unwrap_or_default()
            ));
        }
    }
    let mut steps = vec![format!(
        "revoked {} of {} granular token(s) at Meta",
        held.len() - refused.len(),
        held.len()
    )];
    if !refused.is_empty() {
        steps.push(format!("Meta did not revoke: {}", refused.join(", ")));
    }
    Ok(steps)
}

/// Offboards one dataset: the granular tokens that reach it are revoked and deleted and its
/// item removed; the client stays active.
pub async fn offboard_dataset(
    ports: &Ports,
    id: &ClientBusinessId,
    dataset_id: &str,
    reason: &str,
) -> Result<OffboardReport> {
    clients::load_usable(ports, id).await?;
    let reaching: Vec<MintedToken> = ports
        .store
        .minted_tokens(id)
        .await?
        .into_iter()
        .filter(|t| t.assets.iter().any(|a| a == dataset_id))
        .collect();
    let held: Vec<Held> = reaching.iter().map(Held::from).collect();
    let mut steps = revoke_minted(ports, &held).await?;
    for token in &reaching {
        ports.vault.force_delete(&token.secret.name).await?;
        ports.store.delete_minted_token(id, &token.token_id).await?;
    }
    if !reaching.is_empty() {
        steps.push(format!("deleted {} granular token(s)", reaching.len()));
    }
    if ports
        .store
        .write_datasets(id, &[], &[dataset_id.to_owned()])
        .await?
        .is_err()
    {
        return Err(Error::ClientOffboarded);
    }
    steps.push(format!("removed the dataset {dataset_id} ({reason})"));
    tracing::info!(client_business_id = %id, dataset_id, reason, "dataset offboarded");
    Ok(OffboardReport {
        client_business_id: id.clone(),
        status: "active",
        steps,
        remove_app_url: remove_app_url(id),
    })
}

fn remove_app_url(id: &ClientBusinessId) -> String {
    format!("https://business.facebook.com/latest/settings/connected_apps/?business_id={id}")
}

/// Deletes every secret and item a client holds; the steps it took. Run at offboarding and
/// again by the second cleanup.
pub async fn remove_holdings(ports: &Ports, id: &ClientBusinessId) -> Result<Vec<String>> {
    let mut steps = Vec::new();
    let names = ports
        .vault
        .names_under(&ports.settings.names.client_prefix(id))
        .await?;
    for name in &names {
        ports.vault.force_delete(name).await?;
    }
    if !names.is_empty() {
        steps.push(format!("deleted {} token secret(s)", names.len()));
    }
    let removed = ports.store.delete_client_items(id).await?;
    if removed > 0 {
        steps.push(format!(
            "removed {removed} dataset, page and minted-token item(s)"
        ));
    }
    Ok(steps)
}

/// Ends an On-Behalf-Of relationship with the partner's system user token; where Meta refuses,
/// the step says where the client can do it.
async fn remove_obo_relationship(ports: &Ports, id: &ClientBusinessId) -> String {
    let manual = "the client can remove the partner under Business Settings > Partners";
    let Some(partner_bm) = ports.settings.partner_business_id.as_deref() else {
        return format!("PARTNER_BUSINESS_ID is not set: {manual}");
    };
    let token = match partner::system_user_token(ports).await {
        Ok(token) => token,
        Err(err) => return format!("{err}: {manual}"),
    };
    match ports
        .graph
        .remove_managed_business(partner_bm, id, &token)
        .await
    {
        Ok(()) => "removed the On-Behalf-Of relationship".to_owned(),
        Err(err) => {
            let err = clients::graph_failure(ports, None, err, Whose::Partner).await;
            format!("Meta did not remove the On-Behalf-Of relationship ({err}): {manual}")
        }
    }
}

#[cfg(test)]
mod tests;
