//! The audit trail and the facts the partner's other services receive; never a token.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::ids::ClientBusinessId;

/// DESIGN's event types, the `type` of an event item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "client.onboarded")]
    ClientOnboarded,
    #[serde(rename = "client.assets_changed")]
    AssetsChanged,
    #[serde(rename = "client.needs_reconnect")]
    NeedsReconnect,
    #[serde(rename = "client.reconnected")]
    Reconnected,
    #[serde(rename = "client.offboarded")]
    Offboarded,
    #[serde(rename = "token.minted")]
    TokenMinted,
    #[serde(rename = "partner.token_rotated")]
    PartnerTokenRotated,
    #[serde(rename = "partner.token_invalid")]
    PartnerTokenInvalid,
}

/// Whom an event is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    Client(ClientBusinessId),
    Partner,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub subject: Subject,
    pub kind: EventType,
    pub at: i64,
    pub detail: BTreeMap<String, String>,
}

impl Event {
    pub fn client(
        id: &ClientBusinessId,
        kind: EventType,
        at: i64,
        detail: impl IntoIterator<Item = (&'static str, String)>,
    ) -> Self {
        Self {
            subject: Subject::Client(id.clone()),
            kind,
            at,
            detail: detail.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        }
    }
}
