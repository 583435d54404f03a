//! The deauthorize and data-deletion callbacks, which Meta sends as a `signed_request`.

use rand::RngCore;
use serde::Serialize;

use super::offboard;
use crate::clock::Now;
use crate::deps::Deps;
use crate::error::{Error, Result};
use crate::signatures::{SignedRequest, parse_signed_request};
use crate::store::{DELETION_SK, DeletionItem, deletion_pk};

fn verified(deps: &Deps, signed_request: &str) -> Result<SignedRequest> {
    let max_age = deps.config.signed_request_max_age.as_secs() as i64;
    parse_signed_request(
        &deps.app_secrets.app_secret,
        signed_request,
        Now::get().epoch(),
        max_age,
    )
}

/// Offboards every client whose integration belongs to the user id; returns their ids.
async fn offboard_user(deps: &Deps, request: &SignedRequest, reason: &str) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for client in deps.store.clients_of_system_user(&request.user_id).await? {
        offboard(deps, &client.client_business_id, reason).await?;
        ids.push(client.client_business_id.to_string());
    }
    tracing::info!(
        clients = ids.len(),
        reason,
        "signed_request callback handled"
    );
    Ok(ids)
}

pub async fn deauthorize(deps: &Deps, signed_request: &str) -> Result<Vec<String>> {
    let request = verified(deps, signed_request)?;
    offboard_user(deps, &request, "deauthorized").await
}

/// What Meta expects back from the data-deletion callback.
#[derive(Serialize)]
pub struct DeletionAnswer {
    pub url: String,
    pub confirmation_code: String,
}

pub async fn data_deletion(deps: &Deps, signed_request: &str) -> Result<DeletionAnswer> {
    let status_base = deps.config.deletion_status_base()?;
    let request = verified(deps, signed_request)?;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let code = hex::encode(bytes);
    let mut deletion = DeletionItem {
        pk: deletion_pk(&code),
        sk: DELETION_SK.into(),
        confirmation_code: code.clone(),
        status: "in_progress".into(),
        clients: vec![],
        requested_at: Now::get().rfc3339(),
        completed_at: None,
    };
    deps.store.put_deletion(&deletion).await?;
    deletion.clients = offboard_user(deps, &request, "data_deletion_requested").await?;
    deletion.status = "completed".into();
    deletion.completed_at = Some(Now::get().rfc3339());
    deps.store.put_deletion(&deletion).await?;
    Ok(DeletionAnswer {
        url: format!("{status_base}{code}"),
        confirmation_code: code,
    })
}

/// The status behind a confirmation code (32 hexadecimal characters).
pub async fn deletion_status(deps: &Deps, code: &str) -> Result<DeletionItem> {
    if code.len() != 32
        || !code
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(Error::InvalidRequest(
            "a confirmation code is 32 hexadecimal characters".into(),
        ));
    }
    deps.store
        .get_deletion(code)
        .await?
        .ok_or(Error::DeletionNotFound)
}
