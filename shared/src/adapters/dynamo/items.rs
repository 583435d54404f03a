//! The DynamoDB items of DESIGN section 3: keys, the `due` index attributes and TTLs are built
//! here, and only here, from domain values.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

use crate::clock::rfc3339;
use crate::error::{Error, Result};
use crate::model::{
    ClientBusinessId, Event, EventType, Owner, PartnerRef, PendingSecret, SessionState, Subject,
    SystemUserId,
};
use crate::ports::{DUE_SHARDS, DueKey};

pub type Attrs = HashMap<String, AttributeValue>;

pub const CLIENT_SK: &str = "CLIENT";
pub const SESSION_SK: &str = "SESSION";
pub const WEBHOOK_SK: &str = "WEBHOOK";
pub const DELETION_SK: &str = "DELETION";
pub const DATASET: &str = "DATASET#";
pub const TOKEN: &str = "TOKEN#";
pub const PAGE: &str = "PAGE#";
pub const PENDING: &str = "PENDING#";
/// Event items expire after 400 days.
const EVENT_TTL_SECS: i64 = 400 * 24 * 3600;

pub fn client_pk(id: &ClientBusinessId) -> String {
    format!("CLIENT#{id}")
}
/// The partition of what a client or the partner holds.
pub fn owner_pk(owner: &Owner) -> String {
    match owner {
        Owner::Client(id) => client_pk(id),
        Owner::Partner => PARTNER_PK.to_owned(),
    }
}
pub const PARTNER_PK: &str = "PARTNER";
pub const SYSTEM_USER_SK: &str = "SYSTEM_USER";
pub fn session_pk(state: &SessionState) -> String {
    format!("SESSION#{}", state.expose())
}
pub fn webhook_pk(hash: &str) -> String {
    format!("WEBHOOK#{hash}")
}
pub fn deletion_pk(code: &str) -> String {
    format!("DELETION#{code}")
}
pub fn ref_pk(partner_ref: &PartnerRef) -> String {
    format!("REF#{}", partner_ref.as_str())
}
pub fn user_pk(user: &SystemUserId) -> String {
    format!("USER#{user}")
}
pub fn pending_sk(secret_name: &str) -> String {
    format!("{PENDING}{secret_name}")
}

/// The `due` shard of an item: a stable hash of its pk.
pub fn due_shard(pk: &str) -> String {
    let shard = Sha256::digest(pk.as_bytes())[0] % DUE_SHARDS;
    format!("DUE#{shard}")
}

/// The key of what waits in `due`.
pub fn due_item_key(key: &DueKey) -> (String, String) {
    match key {
        DueKey::Client(id) => (client_pk(id), CLIENT_SK.into()),
        DueKey::Webhook(hash) => (webhook_pk(hash), WEBHOOK_SK.into()),
        DueKey::Pending { owner, secret_name } => (owner_pk(owner), pending_sk(secret_name)),
        DueKey::Partner => (PARTNER_PK.into(), SYSTEM_USER_SK.into()),
    }
}

/// The other way round; `None` for an item that should not be in `due`.
pub fn due_key_of(pk: &str, sk: &str) -> Option<DueKey> {
    if let Some(hash) = pk.strip_prefix("WEBHOOK#") {
        return (sk == WEBHOOK_SK).then(|| DueKey::Webhook(hash.to_owned()));
    }
    if pk == PARTNER_PK && sk == SYSTEM_USER_SK {
        return Some(DueKey::Partner);
    }
    let owner = match pk {
        PARTNER_PK => Owner::Partner,
        _ => Owner::Client(ClientBusinessId::parse(pk.strip_prefix("CLIENT#")?).ok()?),
    };
    if sk == CLIENT_SK {
        return match owner {
            Owner::Client(id) => Some(DueKey::Client(id)),
            Owner::Partner => None,
        };
    }
    sk.strip_prefix(PENDING).map(|name| DueKey::Pending {
        owner,
        secret_name: name.to_owned(),
    })
}

pub fn key(pk: String, sk: &str) -> Attrs {
    HashMap::from([
        ("pk".into(), AttributeValue::S(pk)),
        ("sk".into(), AttributeValue::S(sk.into())),
    ])
}

/// An item: its keys, its place in `due`, its TTL, and the domain value.
#[derive(Serialize, Deserialize)]
pub struct Item<T> {
    pub pk: String,
    pub sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_epoch: Option<i64>,
    #[serde(flatten)]
    pub body: T,
}

impl<T: Serialize> Item<T> {
    pub fn new(pk: String, sk: &str, body: T) -> Self {
        Self {
            pk,
            sk: sk.to_owned(),
            due_pk: None,
            due_at: None,
            expires_at_epoch: None,
            body,
        }
    }

    /// In `due` at `at`, or out of it.
    pub fn due(mut self, at: Option<i64>) -> Self {
        self.due_pk = at.map(|_| due_shard(&self.pk));
        self.due_at = at;
        self
    }

    pub fn ttl(mut self, at: i64) -> Self {
        self.expires_at_epoch = Some(at);
        self
    }

    pub fn attrs(&self) -> Attrs {
        serde_dynamo::to_item(self).expect("items are plain data")
    }
}

pub fn body_of<T: DeserializeOwned>(attrs: Attrs, what: &str) -> Result<T> {
    // Read from the whole item, not through `Item<T>`: a body field that shares a name with
    // an item field (a pending marker's `due_at`) would go to the item and be missing here.
    serde_dynamo::from_item::<_, T>(attrs)
        .map_err(|e| Error::internal(&format!("an unreadable {what} item"), e))
}

/// `REF#{partner_ref}` / `CLIENT#{id}` and `USER#{user}` / `CLIENT#{id}`.
#[derive(Serialize, Deserialize)]
pub struct Link {
    pub client_business_id: ClientBusinessId,
    pub linked_at: String,
}

/// `CLIENT#{id}` or `PARTNER` / `EVENT#{rfc3339}#{seq}`.
#[derive(Serialize)]
struct EventBody<'a> {
    #[serde(rename = "type")]
    kind: EventType,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_business_id: Option<&'a ClientBusinessId>,
    at: String,
    detail: &'a BTreeMap<String, String>,
}

/// A pending marker, in `due` at its own time.
pub fn pending_item(pending: &PendingSecret) -> Attrs {
    Item::new(
        owner_pk(&pending.owner),
        &pending_sk(&pending.secret_name),
        pending,
    )
    .due(Some(pending.due_at))
    .attrs()
}

pub fn event_item(event: &Event) -> Attrs {
    let (pk, client) = match &event.subject {
        Subject::Client(id) => (client_pk(id), Some(id)),
        Subject::Partner => (PARTNER_PK.to_owned(), None),
    };
    let at = rfc3339(event.at);
    // A random suffix keeps two events of the same instant apart.
    let seq: u32 = rand::random();
    let sk = format!("EVENT#{at}#{seq:08x}");
    let body = EventBody {
        kind: event.kind,
        client_business_id: client,
        at,
        detail: &event.detail,
    };
    Item::new(pk, &sk, body)
        .ttl(event.at + EVENT_TTL_SECS)
        .attrs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_keys_round_trip_and_shards_are_stable() {
        let id = ClientBusinessId::parse("123").unwrap();
        for key in [
            DueKey::Client(id.clone()),
            DueKey::Webhook("abc".into()),
            DueKey::Pending {
                owner: Owner::Client(id),
                secret_name: "p/clients/123/bisu".into(),
            },
            DueKey::Pending {
                owner: Owner::Partner,
                secret_name: "p/partner/pages/9".into(),
            },
            DueKey::Partner,
        ] {
            let (pk, sk) = due_item_key(&key);
            assert_eq!(due_key_of(&pk, &sk), Some(key));
            assert_eq!(due_shard(&pk), due_shard(&pk));
            assert!(due_shard(&pk).starts_with("DUE#"));
        }
        assert_eq!(due_key_of("SESSION#x", SESSION_SK), None);
    }

    #[test]
    fn a_pending_marker_of_each_purpose_reads_back_from_its_item() {
        use crate::model::PendingPurpose;
        let id = ClientBusinessId::parse("123").unwrap();
        for purpose in [
            PendingPurpose::Client,
            PendingPurpose::Partner,
            PendingPurpose::Page {
                page_id: "9".into(),
                name: Some("Page".into()),
                tasks: vec!["ADVERTISE".into()],
            },
            PendingPurpose::Minted {
                token_id: "ab12".into(),
                scopes: vec!["ads_management".into()],
                assets: vec!["1".into()],
                expires_at: None,
                replaces: Some("v1".into()),
                claim: Some("c0ffee".into()),
            },
        ] {
            let marker = PendingSecret {
                owner: Owner::Client(id.clone()),
                secret_name: "p/clients/123/tokens/ab12".into(),
                purpose,
                created_at: 1_700_000_000,
                due_at: 1_700_000_900,
            };
            let read: PendingSecret = body_of(pending_item(&marker), "pending secret").unwrap();
            assert_eq!(read, marker);
        }
    }
}
