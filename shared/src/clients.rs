//! Reading and changing client records: every change under the optimistic version check, and
//! Graph failures judged by whose token failed.

use crate::error::{Error, Result};
use crate::model::{
    Client, ClientBusinessId, ClientStatus, Event, EventType, GraphError, GraphErrorClass, Signal,
    Subject, Whose,
};
use crate::optimistic::Races;
use crate::ports::{Also, Ports};

pub async fn load(ports: &Ports, id: &ClientBusinessId) -> Result<Client> {
    ports.store.client(id).await?.ok_or(Error::ClientNotFound)
}

/// The client, refused unless it is active (no token and no Graph call otherwise).
pub async fn load_usable(ports: &Ports, id: &ClientBusinessId) -> Result<Client> {
    let client = load(ports, id).await?;
    client.ensure_usable()?;
    Ok(client)
}

/// Applies `change` to the current client item and writes it (with the event it returns),
/// re-reading after a lost race. `change` returns `None` when there is nothing to do; then
/// `Ok(None)`.
pub async fn update(
    ports: &Ports,
    id: &ClientBusinessId,
    change: impl Fn(&Client) -> Option<(Client, Option<Event>)>,
) -> Result<Option<Client>> {
    update_with(ports, id, &[], change).await
}

/// [`update`], with more writes in the same transaction.
pub async fn update_with(
    ports: &Ports,
    id: &ClientBusinessId,
    with: &[Also<'_>],
    change: impl Fn(&Client) -> Option<(Client, Option<Event>)>,
) -> Result<Option<Client>> {
    let mut races = Races::new("client");
    loop {
        races.attempt().await?;
        let current = load(ports, id).await?;
        let Some((mut next, event)) = change(&current) else {
            return Ok(None);
        };
        next.version = current.version + 1;
        next.updated_at = ports.clock.now();
        let mut also: Vec<Also> = event.iter().map(Also::Event).collect();
        also.extend(with.iter().map(Also::copy));
        if ports
            .store
            .save_client(&next, Some(current.version), &also)
            .await?
            .is_ok()
        {
            return Ok(Some(next));
        }
    }
}

/// Records that the client's token no longer works, with a `client.needs_reconnect` event.
pub async fn mark_needs_reconnect(ports: &Ports, id: &ClientBusinessId, why: &str) -> Result<()> {
    let now = ports.clock.now();
    let changed = update(ports, id, |client| {
        (client.status == ClientStatus::Active).then(|| {
            let mut next = client.clone();
            next.status = ClientStatus::NeedsReconnect;
            next.next_check_at = None;
            let event = Event::client(
                id,
                EventType::NeedsReconnect,
                now,
                [
                    ("reason", why.to_owned()),
                    ("mode", client.mode.as_str().into()),
                ],
            );
            (next, Some(event))
        })
    })
    .await?;
    if changed.is_some() {
        ports.signals.emit(Signal::ReconnectNeeded);
        tracing::warn!(client_business_id = %id, reason = why, "client needs to reconnect");
    }
    Ok(())
}

/// The service error for a Graph failure; an invalid token marks who must act: the client
/// (`needs_reconnect`) or the operator (a `partner.token_invalid` event), never the client for
/// the partner's or the app's credentials.
pub async fn graph_failure(
    ports: &Ports,
    id: Option<&ClientBusinessId>,
    err: GraphError,
    whose: Whose,
) -> Error {
    // Not Meta's answer: no call was made. Reading the app secret signalled it already.
    if err.no_app_secret {
        return err.into_error(whose);
    }
    let why = format!(
        "Graph code {} subcode {}",
        err.code.unwrap_or_default(),
        err.subcode.unwrap_or_default()
    );
    let class = err.class();
    let recorded = match (class, whose, id) {
        (GraphErrorClass::InvalidToken, Whose::Client, Some(id)) => {
            mark_needs_reconnect(ports, id, &why).await
        }
        (
            GraphErrorClass::InvalidToken | GraphErrorClass::AppCredentials,
            Whose::Partner | Whose::App,
            _,
        ) => partner_credentials_invalid(ports, whose, &why).await,
        _ => Ok(()),
    };
    match recorded {
        Ok(()) => err.into_error(whose),
        Err(store_err) => store_err,
    }
}

async fn partner_credentials_invalid(ports: &Ports, whose: Whose, why: &str) -> Result<()> {
    let which = match whose {
        Whose::Partner => "partner_system_user_token",
        _ => "app_credentials",
    };
    ports.signals.emit(Signal::PartnerTokenInvalid);
    tracing::error!(
        credential = which,
        reason = why,
        "Meta refused the partner's credentials"
    );
    ports
        .store
        .put_event(&Event {
            subject: Subject::Partner,
            kind: EventType::PartnerTokenInvalid,
            at: ports.clock.now(),
            detail: [
                ("credential".to_owned(), which.to_owned()),
                ("reason".to_owned(), why.to_owned()),
            ]
            .into(),
        })
        .await
}
