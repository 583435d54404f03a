//! The state store over one DynamoDB table. Every store port of `ports.rs` is implemented
//! here; SDK error text goes to the log, only a short context to the caller.

mod items;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client as Dynamo;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, DeleteRequest, Put, PutRequest, Select,
    TransactWriteItem, Update, WriteRequest,
};
use serde::Serialize;
use std::collections::HashMap;

use crate::backoff::full_jitter;
use crate::clock::rfc3339;
use crate::error::{Error, Result};
use crate::lazy::Lazy;
use crate::model::{
    Client, ClientBusinessId, ClientStatus, Dataset, Deletion, Event, MintedToken, Owner,
    PageToken, PartnerSystemUser, PendingSecret, Session, SessionState, SessionStatus,
    SystemUserId, WebhookChange,
};
use crate::ports::{
    Also, ClientItems, ClientStore, Conflict, DatasetStore, DeletionStore, DueEntry, DueQueue,
    EventStore, MintedTokenStore, PageStore, PartnerStore, PendingStore, SessionStore, Waiting,
    WebhookStore,
};
use items::*;

pub struct DynamoStore {
    client: Lazy<Dynamo>,
    table: String,
}

/// DynamoDB's limit on items in one batch write; transactions are kept as small.
const BATCH: usize = 25;
/// The pause before asking again for what a batch left unprocessed, doubling up to the max.
const UNPROCESSED_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);
const MAX_UNPROCESSED_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);
/// The name of the sparse index of deferred work.
const DUE_INDEX: &str = "due";

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}
fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}
fn status_value<T: Serialize>(status: T) -> AttributeValue {
    serde_dynamo::to_attribute_value(status).expect("statuses are strings")
}

fn conditional_failed<E: ProvideErrorMetadata>(err: &E) -> bool {
    matches!(
        err.code(),
        Some("ConditionalCheckFailedException" | "TransactionCanceledException")
    )
}

/// Whether a conditional write happened: `false` when its condition failed.
fn applied<T, E>(
    result: std::result::Result<T, SdkError<E, HttpResponse>>,
    context: &str,
) -> Result<bool>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(err) if conditional_failed(&err) => Ok(false),
        Err(err) => Err(Error::storage(context, DisplayErrorContext(err))),
    }
}

impl DynamoStore {
    pub fn new(client: Lazy<Dynamo>, table: String) -> Self {
        Self { client, table }
    }

    async fn dynamo(&self) -> Result<&Dynamo> {
        self.client.get().await
    }

    async fn get(&self, pk: String, sk: &str, context: &str) -> Result<Option<Attrs>> {
        let out = self
            .dynamo()
            .await?
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Error::storage(context, DisplayErrorContext(e)))?;
        Ok(out.item)
    }

    async fn put(&self, item: Attrs, condition: Option<&str>, context: &str) -> Result<bool> {
        let result = self
            .dynamo()
            .await?
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .send()
            .await;
        applied(result, context)
    }

    /// Every item of a partition whose sort key starts with `prefix`, all pages.
    async fn query_prefix(&self, pk: String, prefix: &str, context: &str) -> Result<Vec<Attrs>> {
        let mut all = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .dynamo()
                .await?
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":prefix", s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| Error::storage(context, DisplayErrorContext(e)))?;
            all.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(all);
            }
        }
    }

    fn put_write(&self, item: Attrs) -> TransactWriteItem {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .expect("table and item are set");
        TransactWriteItem::builder().put(put).build()
    }

    /// The optimistic lock: the item is written only over the version read (`None`: only
    /// where there is none).
    fn versioned_put(&self, attrs: Attrs, expected_version: Option<u64>) -> TransactWriteItem {
        let put = Put::builder().table_name(&self.table).set_item(Some(attrs));
        let put = match expected_version {
            Some(version) => put
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", n(version)),
            None => put.condition_expression("attribute_not_exists(pk)"),
        };
        TransactWriteItem::builder()
            .put(put.build().expect("table and item are set"))
            .build()
    }

    fn delete_write(&self, pk: String, sk: &str) -> TransactWriteItem {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .build()
            .expect("table and key are set");
        TransactWriteItem::builder().delete(delete).build()
    }

    /// The fence: the transaction happens only while the client is `active`.
    fn client_is_active(&self, id: &ClientBusinessId) -> TransactWriteItem {
        self.client_status_in(id, &[ClientStatus::Active])
    }

    /// The fence for what an On-Behalf-Of onboarding adds before it completes: `active` or
    /// `incomplete`, never a client that is leaving.
    fn client_status_in(
        &self,
        id: &ClientBusinessId,
        statuses: &[ClientStatus],
    ) -> TransactWriteItem {
        let names: Vec<String> = (0..statuses.len()).map(|i| format!(":s{i}")).collect();
        let mut check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(client_pk(id), CLIENT_SK)))
            .condition_expression(format!("#status IN ({})", names.join(", ")))
            .expression_attribute_names("#status", "status");
        for (name, status) in names.iter().zip(statuses) {
            check = check.expression_attribute_values(name, status_value(status));
        }
        let check = check.build().expect("table, key and condition are set");
        TransactWriteItem::builder().condition_check(check).build()
    }

    fn complete_session(
        &self,
        state: &SessionState,
        result: &crate::model::OnboardingResult,
    ) -> TransactWriteItem {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(session_pk(state), SESSION_SK)))
            .update_expression("SET #status = :done, #result = :result REMOVE claimed_until")
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

    /// Runs a transaction; `Conflict::Stale` when a condition failed.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        context: &str,
    ) -> Result<Result<(), Conflict>> {
        match self
            .dynamo()
            .await?
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(Ok(())),
            Err(err) if err.code() == Some("TransactionCanceledException") => {
                tracing::info!(
                    "{context}: a condition failed ({})",
                    err.message().unwrap_or("")
                );
                Ok(Err(Conflict::Stale))
            }
            Err(err) => Err(Error::storage(context, DisplayErrorContext(err))),
        }
    }

    async fn delete_one(&self, pk: String, sk: String, context: &str) -> Result<()> {
        self.delete_all(vec![(pk, sk)], context).await
    }

    /// Deletes items in batches, retrying what DynamoDB leaves unprocessed.
    async fn delete_all(&self, keys: Vec<(String, String)>, context: &str) -> Result<()> {
        let requests = keys.iter().map(|(pk, sk)| delete_request(pk, sk)).collect();
        self.batch(requests, context).await
    }

    /// Sends write requests in batches, retrying what DynamoDB leaves unprocessed.
    async fn batch(&self, requests: Vec<WriteRequest>, context: &str) -> Result<()> {
        for chunk in requests.chunks(BATCH) {
            let mut pending = HashMap::from([(self.table.clone(), chunk.to_vec())]);
            for attempt in 0..5 {
                if attempt > 0 {
                    // What DynamoDB left unprocessed was throttled: wait before asking again.
                    tokio::time::sleep(full_jitter(
                        UNPROCESSED_PAUSE,
                        MAX_UNPROCESSED_PAUSE,
                        attempt - 1,
                    ))
                    .await;
                }
                let out = self
                    .dynamo()
                    .await?
                    .batch_write_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await
                    .map_err(|e| Error::storage(context, DisplayErrorContext(e)))?;
                pending = out.unprocessed_items.unwrap_or_default();
                if pending.values().all(Vec::is_empty) {
                    break;
                }
            }
            if !pending.values().all(Vec::is_empty) {
                return Err(Error::StorageUnavailable(context.to_owned()));
            }
        }
        Ok(())
    }

    fn also_writes(&self, client: &Client, also: &[Also<'_>]) -> Vec<TransactWriteItem> {
        let id = &client.client_business_id;
        let link = || {
            Item::new(
                String::new(),
                "",
                Link {
                    client_business_id: id.clone(),
                    linked_at: rfc3339(client.updated_at),
                },
            )
        };
        let mut writes = Vec::new();
        for write in also {
            match write {
                Also::Event(event) => writes.push(self.put_write(event_item(event))),
                Also::PartnerRef {
                    partner_ref,
                    previous,
                } => {
                    let mut item = link();
                    (item.pk, item.sk) = (ref_pk(partner_ref), client_pk(id));
                    writes.push(self.put_write(item.attrs()));
                    if let Some(previous) = previous.filter(|p| p != partner_ref) {
                        writes.push(self.delete_write(ref_pk(previous), &client_pk(id)));
                    }
                }
                Also::UserIndex(user) => {
                    let mut item = link();
                    (item.pk, item.sk) = (user_pk(user), client_pk(id));
                    writes.push(self.put_write(item.attrs()));
                }
                Also::CompleteSession { state, result } => {
                    writes.push(self.complete_session(state, result));
                }
                Also::ClearPending(pending) => writes.push(
                    self.delete_write(owner_pk(&pending.owner), &pending_sk(&pending.secret_name)),
                ),
            }
        }
        writes
    }
}

fn delete_request(pk: &str, sk: &str) -> WriteRequest {
    let delete = DeleteRequest::builder()
        .set_key(Some(key(pk.to_owned(), sk)))
        .build()
        .expect("key is set");
    WriteRequest::builder().delete_request(delete).build()
}

fn client_item(client: &Client) -> Attrs {
    Item::new(client_pk(&client.client_business_id), CLIENT_SK, client)
        .due(client.next_check_at)
        .attrs()
}

#[async_trait]
impl SessionStore for DynamoStore {
    async fn create_session(&self, state: &SessionState, session: &Session) -> Result<()> {
        let item = Item::new(session_pk(state), SESSION_SK, session)
            .ttl(session.expires_at)
            .attrs();
        self.put(
            item,
            Some("attribute_not_exists(pk)"),
            "creating an onboarding session",
        )
        .await?
        .then_some(())
        .ok_or_else(|| Error::Internal("an onboarding session state repeated".into()))
    }

    async fn session(&self, state: &SessionState) -> Result<Option<Session>> {
        self.get(
            session_pk(state),
            SESSION_SK,
            "reading an onboarding session",
        )
        .await?
        .map(|attrs| body_of(attrs, "session"))
        .transpose()
    }

    async fn bind_browser(&self, state: &SessionState, browser: &str) -> Result<bool> {
        let result = self
            .dynamo().await?
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(session_pk(state), SESSION_SK)))
            .update_expression("SET browser = :b")
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(browser) OR browser = :b OR browser = :null)")
            .expression_attribute_values(":b", s(browser))
            .expression_attribute_values(":null", AttributeValue::Null(true))
            .send()
            .await;
        applied(result, "binding an onboarding session")
    }

    async fn claim_session(
        &self,
        state: &SessionState,
        now: i64,
        lease_until: i64,
    ) -> Result<bool> {
        let result = self
            .dynamo().await?
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(session_pk(state), SESSION_SK)))
            .update_expression("SET #status = :claimed, claimed_until = :lease")
            .condition_expression(
                "(#status = :pending AND expires_at_epoch > :now) OR (#status = :claimed AND claimed_until < :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":claimed", status_value(SessionStatus::Claimed))
            .expression_attribute_values(":pending", status_value(SessionStatus::Pending))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":lease", n(lease_until))
            .send()
            .await;
        applied(result, "claiming an onboarding session")
    }

    async fn release_session(&self, state: &SessionState) -> Result<()> {
        let result = self
            .dynamo()
            .await?
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(session_pk(state), SESSION_SK)))
            .update_expression("SET #status = :pending REMOVE claimed_until")
            .condition_expression("#status = :claimed")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":claimed", status_value(SessionStatus::Claimed))
            .expression_attribute_values(":pending", status_value(SessionStatus::Pending))
            .send()
            .await;
        // Not claimed (any more): nothing to release.
        applied(result, "releasing an onboarding session").map(drop)
    }
}

#[async_trait]
impl ClientStore for DynamoStore {
    async fn client(&self, id: &ClientBusinessId) -> Result<Option<Client>> {
        self.get(client_pk(id), CLIENT_SK, "reading a client")
            .await?
            .map(|attrs| body_of(attrs, "client"))
            .transpose()
    }

    async fn save_client(
        &self,
        client: &Client,
        expected_version: Option<u64>,
        also: &[Also<'_>],
    ) -> Result<Result<(), Conflict>> {
        let mut writes = vec![self.versioned_put(client_item(client), expected_version)];
        writes.extend(self.also_writes(client, also));
        self.transact(writes, "writing a client").await
    }

    async fn clients_of_user(&self, user: &SystemUserId) -> Result<Vec<ClientBusinessId>> {
        let links = self
            .query_prefix(user_pk(user), "CLIENT#", "finding a user's clients")
            .await?;
        links
            .into_iter()
            .map(|attrs| body_of::<Link>(attrs, "user index").map(|l| l.client_business_id))
            .collect()
    }
}

#[async_trait]
impl DatasetStore for DynamoStore {
    async fn datasets(&self, id: &ClientBusinessId) -> Result<Vec<Dataset>> {
        self.query_prefix(client_pk(id), DATASET, "reading datasets")
            .await?
            .into_iter()
            .map(|attrs| body_of(attrs, "dataset"))
            .collect()
    }

    async fn write_datasets(
        &self,
        id: &ClientBusinessId,
        datasets: &[Dataset],
        removed: &[String],
    ) -> Result<Result<(), Conflict>> {
        // A client may hold hundreds of datasets: they go in batches, and the fence is checked
        // after the write (a consistent read). Offboarding marks the client before it lists
        // what to delete, so either its listing sees these items or this check sees it leaving
        // and takes them back; the second cleanup covers a crash in between.
        let pk = client_pk(id);
        let written: Vec<String> = datasets
            .iter()
            .map(|d| format!("{DATASET}{}", d.id))
            .collect();
        let puts = datasets.iter().zip(&written).map(|(d, sk)| {
            let put = PutRequest::builder()
                .set_item(Some(Item::new(pk.clone(), sk, d).attrs()))
                .build()
                .expect("item is set");
            WriteRequest::builder().put_request(put).build()
        });
        let deletes = removed
            .iter()
            .map(|pixel| delete_request(&pk, &format!("{DATASET}{pixel}")));
        self.batch(puts.chain(deletes).collect(), "writing datasets")
            .await?;
        let active = self
            .client(id)
            .await?
            .is_some_and(|c| c.status == ClientStatus::Active);
        if active {
            return Ok(Ok(()));
        }
        let taken_back = written.into_iter().map(|sk| (pk.clone(), sk)).collect();
        self.delete_all(taken_back, "taking back datasets").await?;
        Ok(Err(Conflict::Stale))
    }
}

#[async_trait]
impl MintedTokenStore for DynamoStore {
    async fn minted_token(
        &self,
        id: &ClientBusinessId,
        token_id: &str,
    ) -> Result<Option<MintedToken>> {
        self.get(
            client_pk(id),
            &format!("{TOKEN}{token_id}"),
            "reading a minted token",
        )
        .await?
        .map(|attrs| body_of(attrs, "minted token"))
        .transpose()
    }

    async fn put_minted_token(
        &self,
        id: &ClientBusinessId,
        token: &MintedToken,
        event: &Event,
        clear: Option<&PendingSecret>,
    ) -> Result<Result<(), Conflict>> {
        let item = Item::new(client_pk(id), &format!("{TOKEN}{}", token.token_id), token);
        let mut writes = vec![
            self.client_is_active(id),
            self.put_write(item.attrs()),
            self.put_write(event_item(event)),
        ];
        writes.extend(clear.map(|pending| {
            self.delete_write(owner_pk(&pending.owner), &pending_sk(&pending.secret_name))
        }));
        self.transact(writes, "recording a minted token").await
    }

    async fn minted_tokens(&self, id: &ClientBusinessId) -> Result<Vec<MintedToken>> {
        self.query_prefix(client_pk(id), TOKEN, "reading minted tokens")
            .await?
            .into_iter()
            .map(|attrs| body_of(attrs, "minted token"))
            .collect()
    }

    async fn delete_minted_token(&self, id: &ClientBusinessId, token_id: &str) -> Result<()> {
        self.delete_one(
            client_pk(id),
            format!("{TOKEN}{token_id}"),
            "forgetting a minted token",
        )
        .await
    }
}

#[async_trait]
impl PartnerStore for DynamoStore {
    async fn partner_system_user(&self) -> Result<Option<PartnerSystemUser>> {
        self.get(
            PARTNER_PK.into(),
            SYSTEM_USER_SK,
            "reading the partner system user",
        )
        .await?
        .map(|attrs| body_of(attrs, "partner system user"))
        .transpose()
    }

    async fn save_partner_system_user(
        &self,
        item: &PartnerSystemUser,
        expected_version: Option<u64>,
        event: Option<&Event>,
        pending: Option<&PendingSecret>,
    ) -> Result<Result<(), Conflict>> {
        let attrs = Item::new(PARTNER_PK.into(), SYSTEM_USER_SK, item)
            .due(item.next_check_at)
            .attrs();
        let mut writes = vec![self.versioned_put(attrs, expected_version)];
        writes.extend(event.map(|e| self.put_write(event_item(e))));
        writes.extend(
            pending.map(|p| self.delete_write(owner_pk(&p.owner), &pending_sk(&p.secret_name))),
        );
        self.transact(writes, "writing the partner system user")
            .await
    }
}

#[async_trait]
impl PageStore for DynamoStore {
    async fn page(&self, owner: &Owner, page_id: &str) -> Result<Option<PageToken>> {
        self.get(
            owner_pk(owner),
            &format!("{PAGE}{page_id}"),
            "reading a page token",
        )
        .await?
        .map(|attrs| body_of(attrs, "page token"))
        .transpose()
    }

    async fn pages(&self, owner: &Owner) -> Result<Vec<PageToken>> {
        self.query_prefix(owner_pk(owner), PAGE, "reading page tokens")
            .await?
            .into_iter()
            .map(|attrs| body_of(attrs, "page token"))
            .collect()
    }

    async fn put_page(
        &self,
        owner: &Owner,
        page: &PageToken,
        pending: &PendingSecret,
    ) -> Result<Result<(), Conflict>> {
        let item = Item::new(owner_pk(owner), &format!("{PAGE}{}", page.page_id), page);
        let mut writes = vec![
            self.put_write(item.attrs()),
            self.delete_write(owner_pk(&pending.owner), &pending_sk(&pending.secret_name)),
        ];
        if let Owner::Client(id) = owner {
            writes
                .push(self.client_status_in(id, &[ClientStatus::Active, ClientStatus::Incomplete]));
        }
        self.transact(writes, "recording a page token").await
    }

    async fn delete_page(&self, owner: &Owner, page_id: &str) -> Result<()> {
        self.delete_one(
            owner_pk(owner),
            format!("{PAGE}{page_id}"),
            "forgetting a page token",
        )
        .await
    }
}

#[async_trait]
impl PendingStore for DynamoStore {
    async fn put_pending(&self, pending: &PendingSecret) -> Result<()> {
        self.put(pending_item(pending), None, "marking a secret pending")
            .await
            .map(drop)
    }

    async fn claim_pending(&self, pending: &PendingSecret) -> Result<bool> {
        self.put(
            pending_item(pending),
            Some("attribute_not_exists(pk)"),
            "claiming a secret",
        )
        .await
    }

    async fn pending(&self, owner: &Owner, secret_name: &str) -> Result<Option<PendingSecret>> {
        self.get(
            owner_pk(owner),
            &pending_sk(secret_name),
            "reading a pending secret",
        )
        .await?
        .map(|attrs| body_of(attrs, "pending secret"))
        .transpose()
    }

    async fn delete_pending(&self, pending: &PendingSecret) -> Result<()> {
        self.delete_one(
            owner_pk(&pending.owner),
            pending_sk(&pending.secret_name),
            "clearing a pending secret",
        )
        .await
    }
}

#[async_trait]
impl ClientItems for DynamoStore {
    async fn delete_client_items(&self, id: &ClientBusinessId) -> Result<usize> {
        let mut keys = Vec::new();
        for prefix in [DATASET, TOKEN, PAGE, PENDING] {
            for attrs in self
                .query_prefix(client_pk(id), prefix, "listing a client's items")
                .await?
            {
                if let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) =
                    (attrs.get("pk"), attrs.get("sk"))
                {
                    keys.push((pk.clone(), sk.clone()));
                }
            }
        }
        let count = keys.len();
        self.delete_all(keys, "removing a client's items").await?;
        Ok(count)
    }
}

#[async_trait]
impl EventStore for DynamoStore {
    async fn put_event(&self, event: &Event) -> Result<()> {
        self.put(event_item(event), None, "writing an event")
            .await
            .map(drop)
    }
}

fn webhook_item(change: &WebhookChange) -> Attrs {
    Item::new(webhook_pk(&change.hash), WEBHOOK_SK, change)
        .due(change.next_attempt_at)
        .ttl(change.expires_at)
        .attrs()
}

#[async_trait]
impl WebhookStore for DynamoStore {
    async fn record_change(&self, change: &WebhookChange) -> Result<bool> {
        self.put(
            webhook_item(change),
            Some("attribute_not_exists(pk)"),
            "recording a webhook change",
        )
        .await
    }

    async fn change(&self, hash: &str) -> Result<Option<WebhookChange>> {
        self.get(webhook_pk(hash), WEBHOOK_SK, "reading a webhook change")
            .await?
            .map(|attrs| body_of(attrs, "webhook change"))
            .transpose()
    }

    async fn save_change(&self, change: &WebhookChange) -> Result<()> {
        self.put(webhook_item(change), None, "updating a webhook change")
            .await
            .map(drop)
    }
}

#[async_trait]
impl DeletionStore for DynamoStore {
    async fn put_deletion(&self, deletion: &Deletion) -> Result<()> {
        let item = Item::new(
            deletion_pk(&deletion.confirmation_code),
            DELETION_SK,
            deletion,
        );
        self.put(item.attrs(), None, "recording a deletion request")
            .await
            .map(drop)
    }

    async fn deletion(&self, code: &str) -> Result<Option<Deletion>> {
        self.get(deletion_pk(code), DELETION_SK, "reading a deletion request")
            .await?
            .map(|attrs| body_of(attrs, "deletion"))
            .transpose()
    }
}

impl DynamoStore {
    /// The query of one shard's entries due at `now`, oldest first.
    async fn due_query(&self, shard: u8, now: i64) -> Result<QueryFluentBuilder> {
        Ok(self
            .dynamo()
            .await?
            .query()
            .table_name(&self.table)
            .index_name(DUE_INDEX)
            .key_condition_expression("due_pk = :shard AND due_at <= :now")
            .expression_attribute_values(":shard", s(format!("DUE#{shard}")))
            .expression_attribute_values(":now", n(now)))
    }
}

#[async_trait]
impl DueQueue for DynamoStore {
    async fn due(&self, shard: u8, now: i64, limit: usize) -> Result<Vec<DueEntry>> {
        let out = self
            .due_query(shard, now)
            .await?
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(|e| Error::storage("reading the due index", DisplayErrorContext(e)))?;
        Ok(out
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|attrs| {
                let text = |name: &str| attrs.get(name)?.as_s().ok().cloned();
                let due_at = attrs.get("due_at")?.as_n().ok()?.parse().ok()?;
                let key = due_key_of(&text("pk")?, &text("sk")?)?;
                Some(DueEntry { key, due_at })
            })
            .collect())
    }

    async fn waiting(&self, shard: u8, now: i64) -> Result<Waiting> {
        let oldest_due_at = self.due(shard, now, 1).await?.first().map(|e| e.due_at);
        let mut count = 0;
        let mut start = None;
        loop {
            let out = self
                .due_query(shard, now)
                .await?
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| Error::storage("counting the due index", DisplayErrorContext(e)))?;
            count += out.count.max(0) as u32;
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(Waiting {
                    count,
                    oldest_due_at,
                });
            }
        }
    }

    async fn claim(&self, entry: &DueEntry, lease_until: i64) -> Result<bool> {
        let (pk, sk) = due_item_key(&entry.key);
        let result = self
            .dynamo()
            .await?
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, &sk)))
            .update_expression("SET due_at = :lease")
            .condition_expression("due_at = :read")
            .expression_attribute_values(":lease", n(lease_until))
            .expression_attribute_values(":read", n(entry.due_at))
            .send()
            .await;
        applied(result, "claiming deferred work")
    }
}
