//! The DynamoDB items of DESIGN section 3, one struct per item kind.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::ids::{ClientBusinessId, OnboardingMode, PartnerRef, SystemUserId};

pub fn client_pk(id: &ClientBusinessId) -> String {
    format!("CLIENT#{id}")
}
pub const CLIENT_SK: &str = "CLIENT";
pub const SESSION_SK: &str = "SESSION";

pub fn session_pk(state: &str) -> String {
    format!("SESSION#{state}")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientStatus {
    Active,
    NeedsReconnect,
    Offboarded,
}

/// `CLIENT#{id}` / `CLIENT`: a client business and where its token is. Never the token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientItem {
    pub pk: String,
    pub sk: String,
    pub client_business_id: ClientBusinessId,
    pub status: ClientStatus,
    pub mode: OnboardingMode,
    pub partner_ref: PartnerRef,
    pub system_user_id: SystemUserId,
    pub scopes: Vec<String>,
    /// Scope -> asset ids, for the scopes Meta limited to some assets; other scopes apply to all.
    pub granted_assets: BTreeMap<String, Vec<String>>,
    /// Unix time; `None` means the token never expires.
    pub token_expires_at: Option<i64>,
    pub bisu_secret_name: String,
    pub bisu_secret_version: String,
    pub onboarded_at: String,
    pub updated_at: String,
    pub offboarded_at: Option<String>,
    pub offboard_reason: Option<String>,
    /// When the datasets were last read from Graph; `None` until the first read.
    #[serde(default)]
    pub datasets_fetched_at: Option<i64>,
    /// Optimistic lock: every write expects the version it read.
    pub version: u64,
}

impl ClientItem {
    /// The checks every token or dataset read makes first.
    pub fn ensure_usable(&self) -> crate::Result<()> {
        match self.status {
            ClientStatus::Active => Ok(()),
            ClientStatus::NeedsReconnect => Err(crate::Error::NeedsReconnect),
            ClientStatus::Offboarded => Err(crate::Error::ClientOffboarded),
        }
    }
}

/// Whether the client business owns a dataset or another business shared it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ownership {
    Owned,
    Shared,
}

/// One Conversions API dataset (pixel) of a client business, as callers see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    pub id: String,
    pub name: Option<String>,
    pub ownership: Ownership,
    pub permitted_tasks: Vec<String>,
    pub creation_time: Option<String>,
    pub last_fired_time: Option<String>,
    pub is_unavailable: Option<bool>,
    pub owner_business_id: Option<String>,
    pub owner_business_name: Option<String>,
    pub data_use_setting: Option<String>,
}

/// `CLIENT#{id}` / `DATASET#{pixel_id}`: a dataset and when it was read from Graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetItem {
    pub pk: String,
    pub sk: String,
    #[serde(flatten)]
    pub dataset: Dataset,
    pub fetched_at: i64,
}

pub fn dataset_sk(pixel_id: &str) -> String {
    format!("DATASET#{pixel_id}")
}

/// `CLIENT#{id}` / `TOKEN#{token_id}`: a minted granular token; its value is in its secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenItem {
    pub pk: String,
    pub sk: String,
    pub token_id: String,
    pub scopes: Vec<String>,
    pub assets: Vec<String>,
    pub expires_at: Option<i64>,
    pub secret_name: String,
    pub secret_version: String,
    pub created_at: String,
}

pub fn token_sk(token_id: &str) -> String {
    format!("TOKEN#{token_id}")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Pending,
    Claimed,
    Completed,
}

/// What an onboarding produced; kept on the session so a replay gets the same answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnboardingResult {
    pub client_business_id: ClientBusinessId,
    pub system_user_id: SystemUserId,
    pub partner_ref: PartnerRef,
    pub scopes: Vec<String>,
    pub status: ClientStatus,
}

/// `SESSION#{state}` / `SESSION`: a single-use onboarding session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionItem {
    pub pk: String,
    pub sk: String,
    pub partner_ref: PartnerRef,
    pub mode: OnboardingMode,
    pub status: SessionStatus,
    pub created_at: String,
    /// DynamoDB TTL; also checked on read, as TTL deletion lags.
    pub expires_at_epoch: i64,
    pub result: Option<OnboardingResult>,
}

/// `REF#{partner_ref}` / `CLIENT#{id}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PartnerRefItem {
    pub pk: String,
    pub sk: String,
    pub partner_ref: PartnerRef,
    pub client_business_id: ClientBusinessId,
    pub linked_at: String,
}

impl PartnerRefItem {
    pub fn new(partner_ref: &PartnerRef, client: &ClientBusinessId, at: &str) -> Self {
        Self {
            pk: format!("REF#{}", partner_ref.as_str()),
            sk: client_pk(client),
            partner_ref: partner_ref.clone(),
            client_business_id: client.clone(),
            linked_at: at.to_owned(),
        }
    }
}

/// `CLIENT#{id}` / `EVENT#{rfc3339}#{seq}`: the audit trail. Never a token value.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EventItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub at: String,
    pub detail: BTreeMap<String, String>,
}

impl EventItem {
    pub fn new(
        client: &ClientBusinessId,
        kind: &str,
        at: &str,
        detail: BTreeMap<String, String>,
    ) -> Self {
        // A random suffix keeps two events of the same instant apart.
        let seq: u32 = rand::random();
        Self {
            pk: client_pk(client),
            sk: format!("EVENT#{at}#{seq:08x}"),
            kind: kind.to_owned(),
            at: at.to_owned(),
            detail,
        }
    }
}

/// `WEBHOOK#{sha256 of body}` / `WEBHOOK`: one delivery, so a repeat does no second work.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WebhookReceipt {
    pub pk: String,
    pub sk: String,
    pub status: String,
    pub received_at: String,
    pub expires_at_epoch: i64,
}

pub fn webhook_pk(body_hash: &str) -> String {
    format!("WEBHOOK#{body_hash}")
}
pub const WEBHOOK_SK: &str = "WEBHOOK";

/// `DELETION#{confirmation_code}` / `DELETION`: a data-deletion request and how it went.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeletionItem {
    pub pk: String,
    pub sk: String,
    pub confirmation_code: String,
    pub status: String,
    pub clients: Vec<String>,
    pub requested_at: String,
    pub completed_at: Option<String>,
}

pub fn deletion_pk(code: &str) -> String {
    format!("DELETION#{code}")
}
pub const DELETION_SK: &str = "DELETION";
