//! One mint of a granular token at a time: its pending marker, written only where there is
//! none, is the claim. Identical calls meanwhile wait and are served its token, and the mint
//! knows for sure which stored token it replaces.

use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;
use tokio::time::Instant;

use super::MintRequest;
use super::granular::{servable, stored};
use crate::backoff::full_jitter;
use crate::clients;
use crate::custody;
use crate::error::{Error, Result};
use crate::model::{ClientBusinessId, PendingPurpose, PendingSecret, TokenAnswer, Whose};
use crate::ports::Ports;

/// A claim older than this was left by a mint that died: every step of a mint gives up well
/// before (one Graph call, a few AWS writes, one revocation).
pub const LEASE_SECS: i64 = 120;
/// How long a call waits for another call's mint of the same token.
const MAX_WAIT: Duration = Duration::from_secs(10);
/// Between two looks: this, plus a random part up to as much again.
const POLL: Duration = Duration::from_millis(100);

pub enum Claim {
    /// This call mints; the marker names the token it replaces.
    Mint(PendingSecret),
    /// Another call minted meanwhile: its token is the answer.
    Served(TokenAnswer),
}

/// A random id for a claim.
pub fn new_id() -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Takes the claim on `marker`'s token, or is served by the call holding it. `seen` is the
/// version stored when this call began. A claim past its lease is resolved as the sweep would
/// (what its mint wrote is recorded or discarded), then taken.
pub async fn take(
    ports: &Ports,
    id: &ClientBusinessId,
    request: &MintRequest,
    mut marker: PendingSecret,
    seen: Option<&str>,
) -> Result<Claim> {
    let token_id = request.token_id();
    let deadline = Instant::now() + MAX_WAIT;
    loop {
        let won = ports.store.claim_pending(&marker).await?;
        let held = match won {
            true => None,
            false => {
                ports
                    .store
                    .pending(&marker.owner, &marker.secret_name)
                    .await?
            }
        };
        // A claim whose write landed but whose answer was lost is this call's own.
        let claimed = won || held.as_ref().is_some_and(|held| same_claim(held, &marker));
        // Under the claim no one else records this token: what is stored now is what goes.
        let current = ports.store.minted_token(id, &token_id).await?;
        let now = ports.clock.now();
        if let Some(item) = &current
            && servable(item, request, now, seen)
            && let Some(answer) = stored(ports, id, item).await?
        {
            if claimed {
                ports.store.delete_pending(&marker).await?;
            }
            return Ok(Claim::Served(answer));
        }
        if claimed {
            // The client may have begun leaving while this call waited.
            if let Err(err) = clients::load_usable(ports, id).await {
                ports.store.delete_pending(&marker).await?;
                return Err(err);
            }
            if let Some(old) = current {
                if let PendingPurpose::Minted { replaces, .. } = &mut marker.purpose {
                    *replaces = Some(old.secret.version);
                }
                ports.store.put_pending(&marker).await?;
            }
            return Ok(Claim::Mint(marker));
        }
        if let Some(held) = held
            && held.created_at + LEASE_SECS < now
        {
            tracing::info!(client_business_id = %id, "taking over the claim of a mint that died");
            crate::sweep::adopt_or_delete(ports, &held).await?;
        }
        if Instant::now() >= deadline {
            return Err(Error::UpstreamUnavailable(
                "another call is minting this granular token: retry in a few seconds".into(),
            ));
        }
        tokio::time::sleep(POLL + full_jitter(POLL, POLL, 0)).await;
    }
}

/// Whether two markers are the same call's claim.
fn same_claim(held: &PendingSecret, mine: &PendingSecret) -> bool {
    let id = |marker: &PendingSecret| match &marker.purpose {
        PendingPurpose::Minted { claim, .. } => claim.clone(),
        _ => None,
    };
    id(held).is_some() && id(held) == id(mine)
}

/// After a mint failed under its claim: the claim is resolved as the sweep would (what
/// reached the vault is recorded, or discarded if the client left), and a token Meta gave
/// (`obtained`) that is not what the vault now holds is revoked, since no one holds it.
/// What cannot be done now (AWS down) is left to the sweep.
pub async fn release(ports: &Ports, marker: &PendingSecret, obtained: Option<&SecretString>) {
    let released = async {
        crate::sweep::adopt_or_delete(ports, marker).await?;
        if let Some(token) = obtained {
            let kept = ports.vault.token(&marker.secret_name, None).await?;
            if kept.is_none_or(|kept| kept.access_token.expose_secret() != token.expose_secret()) {
                custody::revoke(ports, token)
                    .await
                    .map_err(|err| err.into_error(Whose::Client))?;
            }
        }
        Ok::<(), Error>(())
    };
    if let Err(err) = released.await {
        tracing::warn!(error = %err, error_type = err.error_type(), "a failed mint's claim is left for the sweep");
    }
}
