//! The state store over DynamoDB: sessions, clients, datasets, minted tokens and audit events.

mod items;

pub use items::*;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, Put, PutRequest, TransactWriteItem, Update, WriteRequest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::ids::ClientBusinessId;

/// What is written together with a client item, all or nothing.
pub enum Also<'a> {
    Event(&'a EventItem),
    PartnerRef(&'a PartnerRefItem),
    /// Marks a claimed session completed with its result.
    CompleteSession {
        state: &'a str,
        result: &'a OnboardingResult,
    },
}

/// Why a conditional write did not happen.
#[derive(Debug, PartialEq, Eq)]
pub enum Conflict {
    /// Someone else changed the item first: read again and retry.
    Stale,
}

/// One page of active clients, for the sweep.
pub struct ClientPage {
    pub clients: Vec<ClientItem>,
    /// Where the next page starts; `None` at the end.
    pub next: Option<ScanCursor>,
}

/// The key a table scan stopped at: any item, not only a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanCursor {
    pub pk: String,
    pub sk: String,
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
    /// Writes `client` if the stored one still has `expected_version` (`None`: there is none),
    /// together with `also`.
    async fn save_client(
        &self,
        client: &ClientItem,
        expected_version: Option<u64>,
        also: &[Also<'_>],
    ) -> Result<Result<(), Conflict>>;
    async fn get_datasets(&self, id: &ClientBusinessId) -> Result<Vec<DatasetItem>>;
    /// Writes `datasets` and deletes the dataset items named in `removed` (sort keys).
    async fn write_datasets(
        &self,
        datasets: &[DatasetItem],
        removed: &[(String, String)],
    ) -> Result<()>;
    async fn get_token(&self, id: &ClientBusinessId, token_id: &str) -> Result<Option<TokenItem>>;
    async fn put_token(&self, token: &TokenItem, event: &EventItem) -> Result<()>;
    /// Active clients, `limit` items read at a time, from `start` on.
    async fn active_clients(&self, start: Option<&ScanCursor>, limit: i32) -> Result<ClientPage>;
    /// Keys of the items under a client whose sort key starts with `prefix`.
    async fn child_keys(
        &self,
        id: &ClientBusinessId,
        prefix: &str,
    ) -> Result<Vec<(String, String)>>;
    async fn delete_keys(&self, keys: &[(String, String)]) -> Result<()>;
    async fn put_event(&self, event: &EventItem) -> Result<()>;
    /// Records a delivery as being handled; `false` when it was seen before.
    async fn claim_receipt(&self, receipt: &WebhookReceipt) -> Result<bool>;
    async fn finish_receipt(&self, body_hash: &str) -> Result<()>;
    /// Forgets a delivery whose handling failed, so Meta's retry is handled.
    async fn drop_receipt(&self, body_hash: &str) -> Result<()>;
    async fn put_deletion(&self, deletion: &DeletionItem) -> Result<()>;
    async fn get_deletion(&self, code: &str) -> Result<Option<DeletionItem>>;
    /// Clients whose business integration system user is `system_user_id`.
    async fn clients_of_system_user(&self, system_user_id: &str) -> Result<Vec<ClientItem>>;
}

pub struct DynamoStore {
    client: Client,
    table: String,
}

type Key = HashMap<String, AttributeValue>;

/// A page of items and where the next page starts, from a query or a scan.
trait PagedOutput {
    fn into_parts(self) -> (Vec<Key>, Option<Key>);
}

impl PagedOutput for aws_sdk_dynamodb::operation::query::QueryOutput {
    fn into_parts(self) -> (Vec<Key>, Option<Key>) {
        (self.items.unwrap_or_default(), self.last_evaluated_key)
    }
}

impl PagedOutput for aws_sdk_dynamodb::operation::scan::ScanOutput {
    fn into_parts(self) -> (Vec<Key>, Option<Key>) {
        (self.items.unwrap_or_default(), self.last_evaluated_key)
    }
}

/// The key attributes of an item.
#[derive(serde::Deserialize)]
struct ItemKey {
    pk: String,
    sk: String,
}

/// DynamoDB's limit on items in one batch write.
const BATCH: usize = 25;

impl DynamoStore {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    fn key(pk: String, sk: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("pk".into(), AttributeValue::S(pk)),
            ("sk".into(), AttributeValue::S(sk.into())),
        ])
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
            .set_key(Some(Self::key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Error::storage(context, e.into_service_error()))?;
        out.item.map(|item| from_item(item, context)).transpose()
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
            .set_key(Some(Self::key(session_pk(state), SESSION_SK)))
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

    fn plain_put(&self, item: HashMap<String, AttributeValue>) -> TransactWriteItem {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build();
        TransactWriteItem::builder()
            .put(put.expect("table and item are set"))
            .build()
    }

    fn complete_session(&self, state: &str, result: &OnboardingResult) -> TransactWriteItem {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(session_pk(state), SESSION_SK)))
            .update_expression("SET #status = :done, #result = :result")
            .condition_expression("#status = :claimed")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#result", "result")
            .expression_attribute_values(":done", status_value(SessionStatus::Completed))
            .expression_attribute_values(":claimed", status_value(SessionStatus::Claimed))
            .expression_attribute_values(
                ":result",
                serde_dynamo::to_attribute_value(result).expect("plain data"),
            )
            .build()
            .expect("table, key and expression are set");
        TransactWriteItem::builder().update(update).build()
    }

    /// Writes an item without a condition.
    async fn put_plain<T: Serialize + Sync>(&self, item: &T, context: &str) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(item)))
            .send()
            .await
            .map_err(|e| Error::storage(context, e.into_service_error()))?;
        Ok(())
    }

    /// Reads every page of a query or scan: `page` sends one request from a start key.
    async fn read_all<T, O, E, F, Fut>(&self, context: &str, mut page: F) -> Result<Vec<T>>
    where
        T: DeserializeOwned,
        O: PagedOutput,
        E: std::error::Error + Send + Sync + 'static,
        F: FnMut(Option<Key>) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<O, SdkError<E, HttpResponse>>>,
    {
        let mut all = Vec::new();
        let mut start = None;
        loop {
            let out = page(start)
                .await
                .map_err(|e| Error::storage(context, DisplayErrorContext(e)))?;
            let (items, next) = out.into_parts();
            for item in items {
                all.push(from_item(item, context)?);
            }
            start = next;
            if start.is_none() {
                return Ok(all);
            }
        }
    }

    /// Sends write requests in batches, retrying what DynamoDB leaves unprocessed.
    async fn batch_write(&self, requests: Vec<WriteRequest>, context: &str) -> Result<()> {
        for chunk in requests.chunks(BATCH) {
            let mut pending = HashMap::from([(self.table.clone(), chunk.to_vec())]);
            for _ in 0..5 {
                let out = self
                    .client
                    .batch_write_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await
                    .map_err(|e| Error::storage(context, e.into_service_error()))?;
                pending = out.unprocessed_items.unwrap_or_default();
                if pending.values().all(Vec::is_empty) {
                    break;
                }
            }
            if !pending.values().all(Vec::is_empty) {
                return Err(Error::StorageUnavailable(format!("{context}: throttled")));
            }
        }
        Ok(())
    }
}

fn to_item<T: Serialize>(value: &T) -> HashMap<String, AttributeValue> {
    serde_dynamo::to_item(value).expect("items are plain data")
}

fn from_item<T: DeserializeOwned>(
    item: HashMap<String, AttributeValue>,
    context: &str,
) -> Result<T> {
    serde_dynamo::from_item(item)
        .map_err(|e| Error::Internal(format!("{context}: unreadable item: {e}")))
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

    async fn save_client(
        &self,
        client: &ClientItem,
        expected_version: Option<u64>,
        also: &[Also<'_>],
    ) -> Result<Result<(), Conflict>> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(client)));
        let put = match expected_version {
            Some(version) => put
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", AttributeValue::N(version.to_string())),
            None => put.condition_expression("attribute_not_exists(pk)"),
        };
        let mut items = vec![
            TransactWriteItem::builder()
                .put(put.build().expect("table and item are set"))
                .build(),
        ];
        items.extend(also.iter().map(|write| match write {
            Also::Event(event) => self.plain_put(to_item(event)),
            Also::PartnerRef(reference) => self.plain_put(to_item(reference)),
            Also::CompleteSession { state, result } => self.complete_session(state, result),
        }));
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(Ok(())),
            Err(err) if err.code() == Some("TransactionCanceledException") => {
                tracing::info!("client write lost a race: {}", err.message().unwrap_or(""));
                Ok(Err(Conflict::Stale))
            }
            Err(err) => Err(Error::storage("writing a client", err.into_service_error())),
        }
    }

    async fn get_datasets(&self, id: &ClientBusinessId) -> Result<Vec<DatasetItem>> {
        self.read_all("reading datasets", |start| {
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", AttributeValue::S(client_pk(id)))
                .expression_attribute_values(":prefix", AttributeValue::S(dataset_sk("")))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
        })
        .await
    }

    async fn child_keys(
        &self,
        id: &ClientBusinessId,
        prefix: &str,
    ) -> Result<Vec<(String, String)>> {
        let keys: Vec<ItemKey> = self
            .read_all("listing a client's items", |start| {
                self.client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":pk", AttributeValue::S(client_pk(id)))
                    .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
                    .projection_expression("pk, sk")
                    .set_exclusive_start_key(start)
                    .send()
            })
            .await?;
        Ok(keys.into_iter().map(|k| (k.pk, k.sk)).collect())
    }

    async fn delete_keys(&self, keys: &[(String, String)]) -> Result<()> {
        self.write_datasets(&[], keys).await
    }

    async fn put_event(&self, event: &EventItem) -> Result<()> {
        self.put_plain(event, "writing an audit event").await
    }

    async fn claim_receipt(&self, receipt: &WebhookReceipt) -> Result<bool> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(receipt)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(err) => Err(Error::storage(
                "recording a webhook delivery",
                err.into_service_error(),
            )),
        }
    }

    async fn finish_receipt(&self, body_hash: &str) -> Result<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(webhook_pk(body_hash), WEBHOOK_SK)))
            .update_expression("SET #status = :done")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":done", AttributeValue::S("done".into()))
            .send()
            .await
            .map_err(|e| Error::storage("finishing a webhook delivery", e.into_service_error()))?;
        Ok(())
    }

    async fn drop_receipt(&self, body_hash: &str) -> Result<()> {
        self.delete_keys(&[(webhook_pk(body_hash), WEBHOOK_SK.to_owned())])
            .await
    }

    async fn put_deletion(&self, deletion: &DeletionItem) -> Result<()> {
        self.put_plain(deletion, "recording a deletion request")
            .await
    }

    async fn get_deletion(&self, code: &str) -> Result<Option<DeletionItem>> {
        self.get_item(deletion_pk(code), DELETION_SK, "reading a deletion request")
            .await
    }

    async fn clients_of_system_user(&self, system_user_id: &str) -> Result<Vec<ClientItem>> {
        // Rare callbacks: a filtered scan beats keeping an index for them.
        self.read_all("finding a system user's clients", |start| {
            self.client
                .scan()
                .table_name(&self.table)
                .filter_expression("sk = :client AND system_user_id = :user")
                .expression_attribute_values(":client", AttributeValue::S(CLIENT_SK.into()))
                .expression_attribute_values(":user", AttributeValue::S(system_user_id.into()))
                .set_exclusive_start_key(start)
                .send()
        })
        .await
    }

    async fn write_datasets(
        &self,
        datasets: &[DatasetItem],
        removed: &[(String, String)],
    ) -> Result<()> {
        let puts = datasets.iter().map(|d| {
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .set_item(Some(to_item(d)))
                        .build()
                        .expect("item is set"),
                )
                .build()
        });
        let deletes = removed.iter().map(|(pk, sk)| {
            WriteRequest::builder()
                .delete_request(
                    DeleteRequest::builder()
                        .set_key(Some(Self::key(pk.clone(), sk)))
                        .build()
                        .expect("key is set"),
                )
                .build()
        });
        self.batch_write(puts.chain(deletes).collect(), "writing datasets")
            .await
    }

    async fn get_token(&self, id: &ClientBusinessId, token_id: &str) -> Result<Option<TokenItem>> {
        self.get_item(client_pk(id), &token_sk(token_id), "reading a minted token")
            .await
    }

    async fn put_token(&self, token: &TokenItem, event: &EventItem) -> Result<()> {
        let items = vec![
            self.plain_put(to_item(token)),
            self.plain_put(to_item(event)),
        ];
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| Error::storage("recording a minted token", e.into_service_error()))?;
        Ok(())
    }

    async fn active_clients(&self, start: Option<&ScanCursor>, limit: i32) -> Result<ClientPage> {
        let context = "listing clients";
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("sk = :client AND #status = :active")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":client", AttributeValue::S(CLIENT_SK.into()))
            .expression_attribute_values(":active", status_value(ClientStatus::Active))
            .set_exclusive_start_key(start.map(|c| Self::key(c.pk.clone(), &c.sk)))
            .limit(limit)
            .send()
            .await
            .map_err(|e| Error::storage(context, e.into_service_error()))?;
        let clients = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| from_item(item, context))
            .collect::<Result<Vec<ClientItem>>>()?;
        let next = out.last_evaluated_key.and_then(|key| {
            Some(ScanCursor {
                pk: key.get("pk")?.as_s().ok()?.clone(),
                sk: key.get("sk")?.as_s().ok()?.clone(),
            })
        });
        Ok(ClientPage { clients, next })
    }
}
