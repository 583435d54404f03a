//! Everything a function needs, built once per cold start and borrowed by every request.

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use std::sync::Arc;
use std::time::Duration;

use crate::app_secrets::AppSecrets;
use crate::config::Config;
use crate::error::Result;
use crate::graph::{GraphClient, RetryPolicy};
use crate::store::{DynamoStore, StateStore};
use crate::vault::{SecretNames, SecretsManagerVault, TokenVault};

pub struct Deps {
    pub config: Config,
    pub app_secrets: AppSecrets,
    pub graph: GraphClient,
    pub vault: Arc<dyn TokenVault>,
    pub store: Arc<dyn StateStore>,
    pub names: SecretNames,
}

impl Deps {
    /// Reads the configuration, builds the AWS and Graph clients and reads the app secret.
    pub async fn from_env() -> Result<Self> {
        let config = Config::from_env()?;
        // Fail within seconds when AWS is unreachable, so callers get a 503 and not a hang.
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(2))
            .operation_attempt_timeout(Duration::from_secs(4))
            .operation_timeout(Duration::from_secs(10))
            .build();
        let aws = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(timeouts)
            .load()
            .await;
        Self::new(config, &aws).await
    }

    /// Builds everything from a configuration and an AWS SDK configuration.
    pub async fn new(config: Config, aws: &SdkConfig) -> Result<Self> {
        let vault = SecretsManagerVault::new(
            aws_sdk_secretsmanager::Client::new(aws),
            config.secrets_kms_key_id.clone(),
        );
        let app_secrets = vault.read_app_secrets(&config.app_secret_id).await?;
        let graph = GraphClient::new(
            config.graph_base_url.clone(),
            config.graph_version.clone(),
            config.app_id.clone(),
            app_secrets.app_secret.clone(),
            RetryPolicy::default(),
        )?;
        let store = DynamoStore::new(
            aws_sdk_dynamodb::Client::new(aws),
            config.table_name.clone(),
        );
        Ok(Self {
            names: SecretNames::new(&config.secret_prefix),
            config,
            app_secrets,
            graph,
            vault: Arc::new(vault),
            store: Arc::new(store),
        })
    }
}
