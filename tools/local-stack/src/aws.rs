//! AWS clients pointed straight at the local endpoint, and the resources the stack needs.

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};

pub const REGION: &str = "us-east-1";
/// moto accepts any credentials; these are the documented fake ones.
pub const ACCESS_KEY: &str = "testing";
pub const SECRET_KEY: &str = "testing";

/// A secret as listing shows it: its name, the version `AWSCURRENT` points at, and whether
/// its deletion is scheduled.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecretVersion {
    pub name: String,
    pub current_version: Option<String>,
    pub deletion_scheduled: bool,
}

pub struct Aws {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

/// An SDK configuration for the local endpoint with the fake credentials.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            ACCESS_KEY,
            SECRET_KEY,
            None,
            None,
            "local-stack",
        ))
        .load()
        .await
}

impl Aws {
    pub async fn new(endpoint: &str) -> Self {
        let config = sdk_config(endpoint).await;
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
            secrets: aws_sdk_secretsmanager::Client::new(&config),
        }
    }

    /// The table of DESIGN section 3: `pk`/`sk`, TTL on `expires_at_epoch`, stream on (new
    /// images), and the sparse index `due` (`due_pk`/`due_at`, keys only).
    pub async fn create_table(&self, name: &str) -> Result<(), String> {
        let key = |n: &str, t| {
            KeySchemaElement::builder()
                .attribute_name(n)
                .key_type(t)
                .build()
                .expect("complete")
        };
        let attr = |n: &str, t| {
            AttributeDefinition::builder()
                .attribute_name(n)
                .attribute_type(t)
                .build()
                .expect("complete")
        };
        let due = GlobalSecondaryIndex::builder()
            .index_name("due")
            .key_schema(key("due_pk", KeyType::Hash))
            .key_schema(key("due_at", KeyType::Range))
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::KeysOnly)
                    .build(),
            )
            .build()
            .expect("complete");
        self.dynamodb
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .attribute_definitions(attr("pk", ScalarAttributeType::S))
            .attribute_definitions(attr("sk", ScalarAttributeType::S))
            .attribute_definitions(attr("due_pk", ScalarAttributeType::S))
            .attribute_definitions(attr("due_at", ScalarAttributeType::N))
            .global_secondary_indexes(due)
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewImage)
                    .build()
                    .expect("complete"),
            )
            .send()
            .await
            .map_err(|e| format!("create table: {}", e.into_service_error()))?;
        self.dynamodb
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name("expires_at_epoch")
                    .enabled(true)
                    .build()
                    .expect("complete"),
            )
            .send()
            .await
            .map_err(|e| format!("enable TTL: {}", e.into_service_error()))?;
        Ok(())
    }

    pub async fn put_secret(&self, name: &str, value: &str) -> Result<(), String> {
        self.secrets
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .map_err(|e| format!("create secret {name}: {}", e.into_service_error()))?;
        Ok(())
    }

    /// Every item of the table, as JSON-like maps.
    pub async fn scan(
        &self,
        table: &str,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .dynamodb
                .scan()
                .table_name(table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan the local table");
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }

    pub async fn secret_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .secrets
                .list_secrets()
                .set_next_token(token)
                .send()
                .await
                .expect("list the local secrets");
            names.extend(
                out.secret_list
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|s| s.name),
            );
            token = out.next_token;
            if token.is_none() {
                return names;
            }
        }
    }

    /// Every secret, also those scheduled for deletion, with its `AWSCURRENT` version id.
    pub async fn secret_versions(&self) -> Vec<SecretVersion> {
        let mut secrets = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .secrets
                .list_secrets()
                .include_planned_deletion(true)
                .set_next_token(token)
                .send()
                .await
                .expect("list the local secrets");
            for entry in out.secret_list.unwrap_or_default() {
                let current = entry
                    .secret_versions_to_stages
                    .unwrap_or_default()
                    .into_iter()
                    .find(|(_, stages)| stages.iter().any(|s| s == "AWSCURRENT"))
                    .map(|(version, _)| version);
                secrets.push(SecretVersion {
                    name: entry.name.unwrap_or_default(),
                    current_version: current,
                    deletion_scheduled: entry.deleted_date.is_some(),
                });
            }
            token = out.next_token;
            if token.is_none() {
                return secrets;
            }
        }
    }

    /// The current version of a secret.
    pub async fn secret_value(&self, name: &str) -> Option<String> {
        self.secret_value_of(name, None).await
    }

    /// One version of a secret, current or not.
    pub async fn secret_value_at(&self, name: &str, version: &str) -> Option<String> {
        self.secret_value_of(name, Some(version)).await
    }

    async fn secret_value_of(&self, name: &str, version: Option<&str>) -> Option<String> {
        self.secrets
            .get_secret_value()
            .secret_id(name)
            .set_version_id(version.map(str::to_owned))
            .send()
            .await
            .ok()
            .and_then(|o| o.secret_string)
    }
}
