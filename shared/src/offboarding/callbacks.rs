//! The deauthorize and data-deletion callbacks, which Meta sends as a `signed_request`. The
//! user's clients are found through the `USER#` items, without a scan.

use rand::RngCore;
use serde::Serialize;

use super::offboard;
use crate::error::{Error, Result};
use crate::model::{Deletion, SystemUserId};
use crate::ports::Ports;
use crate::signatures::{SignedRequest, parse_signed_request};

async fn verified(ports: &Ports, signed_request: &str) -> Result<SignedRequest> {
    parse_signed_request(
        &ports.settings.app().await?.app_secret,
        signed_request,
        ports.clock.now(),
        ports.settings.signed_request_max_age_secs,
    )
}

/// Offboards every client the user connected; returns their ids.
async fn offboard_user(
    ports: &Ports,
    request: &SignedRequest,
    reason: &str,
) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    if let Ok(user) = SystemUserId::parse(&request.user_id) {
        for id in ports.store.clients_of_user(&user).await? {
            offboard(ports, &id, reason, super::Initiator::Client).await?;
            ids.push(id.to_string());
        }
    }
    tracing::info!(
        clients = ids.len(),
        reason,
        "signed_request callback handled"
    );
    Ok(ids)
}

pub async fn deauthorize(ports: &Ports, signed_request: &str) -> Result<Vec<String>> {
    let request = verified(ports, signed_request).await?;
    offboard_user(ports, &request, "deauthorized").await
}

/// What Meta expects back from the data-deletion callback.
#[derive(Serialize)]
pub struct DeletionAnswer {
    pub url: String,
    pub confirmation_code: String,
}

pub async fn data_deletion(ports: &Ports, signed_request: &str) -> Result<DeletionAnswer> {
    let status_base = ports
        .settings
        .deletion_status_base
        .clone()
        .ok_or_else(|| Error::Internal("configuration: PUBLIC_BASE_URL is required".into()))?;
    let request = verified(ports, signed_request).await?;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let code = hex::encode(bytes);
    let mut deletion = Deletion {
        confirmation_code: code.clone(),
        status: "in_progress".into(),
        clients: vec![],
        requested_at: ports.clock.now(),
        completed_at: None,
    };
    ports.store.put_deletion(&deletion).await?;
    deletion.clients = offboard_user(ports, &request, "data_deletion_requested").await?;
    deletion.status = "completed".into();
    deletion.completed_at = Some(ports.clock.now());
    ports.store.put_deletion(&deletion).await?;
    Ok(DeletionAnswer {
        url: format!("{status_base}{code}"),
        confirmation_code: code,
    })
}

/// The status behind a confirmation code (32 hexadecimal characters).
pub async fn deletion_status(ports: &Ports, code: &str) -> Result<Deletion> {
    if code.len() != 32
        || !code
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(Error::InvalidRequest(
            "a confirmation code is 32 hexadecimal characters".into(),
        ));
    }
    ports
        .store
        .deletion(code)
        .await?
        .ok_or(Error::DeletionNotFound)
}
