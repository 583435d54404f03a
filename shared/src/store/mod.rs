//! The state store over DynamoDB: sessions, clients, partner references and audit events.

mod items;

pub use items::*;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::ids::ClientBusinessId;

/// Everything one completed onboarding writes, as one all-or-nothing transaction.
pub struct OnboardingWrite<'a> {
    pub state: &'a str,
    pub client: &'a ClientItem,
    /// The version the client item had when read; `None` when there was none.
    pub expected_version: Option<u64>,
    pub partner_ref: &'a PartnerRefItem,
    pub event: &'a EventItem,
    pub result: &'a OnboardingResult,
}

/// Why a conditional write did not happen.
#[derive(Debug, PartialEq, Eq)]
pub enum Conflict {
    /// Someone else changed the item first: read again and retry.
    Stale,
}

#[async_trait]
pub trait StateStore: Send + Sync {
    async fn put_session(&self, session: &SessionItem) -> Result<()>;
    async fn get_session(&self, state: &str) -> Result<Option<SessionItem>>;
    /// Moves a pending, unexpired session to `claimed`; `false` when it was not pending.
    async fn claim_session(&self, state: &str, now_epoch: i64) -> Result<bool>;
    /// Returns a claimed session to `pending` after a failure that stored nothing.
    async fn release_session(&self, state: &str) -> Result<()>;
    async fn get_client(&self, id: &ClientBusinessId) -> Result<Option<ClientItem>>;
    async fn record_onboarding(&self, write: OnboardingWrite<'_>) -> Result<Result<(), Conflict>>;
}

pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    async fn get_item<T: DeserializeOwned>(
        &self,
        pk: String,
        sk: &str,
        context: &str,
    ) -> Result<Option<T>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Error::storage(context, e.into_service_error()))?;
        out.item
            .map(|item| {
                serde_dynamo::from_item(item)
                    .map_err(|e| Error::Internal(format!("{context}: unreadable item: {e}")))
            })
            .transpose()
    }

    async fn update_session_status(
        &self,
        state: &str,
        condition: &str,
        values: HashMap<String, AttributeValue>,
        context: &str,
    ) -> Result<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(session_pk(state)))
            .key("sk", AttributeValue::S(SESSION_SK.into()))
            .update_expression("SET #status = :to")
            .condition_expression(condition)
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(err) => Err(Error::storage(context, err.into_service_error())),
        }
    }
}

fn to_item<T: Serialize>(value: &T) -> HashMap<String, AttributeValue> {
    serde_dynamo::to_item(value).expect("items are plain data")
}

fn status_value<T: Serialize>(status: T) -> AttributeValue {
    serde_dynamo::to_attribute_value(status).expect("statuses are strings")
}

#[async_trait]
impl StateStore for DynamoStore {
    async fn put_session(&self, session: &SessionItem) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(session)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| {
                Error::storage("creating an onboarding session", e.into_service_error())
            })?;
        Ok(())
    }

    async fn get_session(&self, state: &str) -> Result<Option<SessionItem>> {
        self.get_item(
            session_pk(state),
            SESSION_SK,
            "reading an onboarding session",
        )
        .await
    }

    async fn claim_session(&self, state: &str, now_epoch: i64) -> Result<bool> {
        let values = HashMap::from([
            (":to".into(), status_value(SessionStatus::Claimed)),
            (":from".into(), status_value(SessionStatus::Pending)),
            (":now".into(), AttributeValue::N(now_epoch.to_string())),
        ]);
        self.update_session_status(
            state,
            "#status = :from AND expires_at_epoch > :now",
            values,
            "claiming an onboarding session",
        )
        .await
    }

    async fn release_session(&self, state: &str) -> Result<()> {
        let values = HashMap::from([
            (":to".into(), status_value(SessionStatus::Pending)),
            (":from".into(), status_value(SessionStatus::Claimed)),
        ]);
        self.update_session_status(
            state,
            "#status = :from",
            values,
            "releasing an onboarding session",
        )
        .await
        .map(drop)
    }

    async fn get_client(&self, id: &ClientBusinessId) -> Result<Option<ClientItem>> {
        self.get_item(client_pk(id), CLIENT_SK, "reading a client")
            .await
    }

    async fn record_onboarding(&self, write: OnboardingWrite<'_>) -> Result<Result<(), Conflict>> {
        let mut client_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(write.client)));
        client_put = match write.expected_version {
            Some(version) => client_put
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", AttributeValue::N(version.to_string())),
            None => client_put.condition_expression("attribute_not_exists(pk)"),
        };
        let session_done = Update::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(session_pk(write.state)))
            .key("sk", AttributeValue::S(SESSION_SK.into()))
            .update_expression("SET #status = :done, #result = :result")
            .condition_expression("#status = :claimed")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#result", "result")
            .expression_attribute_values(":done", status_value(SessionStatus::Completed))
            .expression_attribute_values(":claimed", status_value(SessionStatus::Claimed))
            .expression_attribute_values(
                ":result",
                serde_dynamo::to_attribute_value(write.result).expect("plain data"),
            );
        let plain_put = |item: HashMap<String, AttributeValue>| {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .build()
        };
        let items = vec![
            TransactWriteItem::builder()
                .put(client_put.build().expect("table and item are set"))
                .build(),
            TransactWriteItem::builder()
                .put(plain_put(to_item(write.partner_ref)).expect("table and item are set"))
                .build(),
            TransactWriteItem::builder()
                .put(plain_put(to_item(write.event)).expect("table and item are set"))
                .build(),
            TransactWriteItem::builder()
                .update(
                    session_done
                        .build()
                        .expect("table, key and expression are set"),
                )
                .build(),
        ];
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(Ok(())),
            Err(err) if err.code() == Some("TransactionCanceledException") => {
                tracing::info!(
                    "onboarding write lost a race: {}",
                    err.message().unwrap_or("")
                );
                Ok(Err(Conflict::Stale))
            }
            Err(err) => Err(Error::storage(
                "recording the onboarding",
                err.into_service_error(),
            )),
        }
    }
}
