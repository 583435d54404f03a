//! Wires the real adapters into `Ports`, once per cold start.

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use std::sync::Arc;
use std::time::Duration;

use crate::adapters::dynamo::DynamoStore;
use crate::adapters::emf::EmfSignals;
use crate::adapters::graph::{GraphClient, RetryPolicy};
use crate::adapters::secret_cache::CachedVault;
use crate::adapters::secrets_manager::SecretsManagerVault;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::error::Result;
use crate::ports::{Clock, Ports, Signals};
use crate::settings::Settings;

/// Reads the configuration and the app secret, and builds the ports.
pub async fn from_env() -> Result<(Config, Ports)> {
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
    let ports = ports(&config, &aws).await?;
    Ok((config, ports))
}

/// The ports over the real adapters for a configuration and an AWS SDK configuration.
pub async fn ports(config: &Config, aws: &SdkConfig) -> Result<Ports> {
    let signals = Arc::new(EmfSignals::new(config.secret_prefix.clone()));
    ports_at(config, aws, Arc::new(SystemClock), signals).await
}

/// [`ports`] on another clock and signal sink (simulated and counted, in the scale benchmark).
pub async fn ports_at(
    config: &Config,
    aws: &SdkConfig,
    clock: Arc<dyn Clock>,
    signals: Arc<dyn Signals>,
) -> Result<Ports> {
    let vault = SecretsManagerVault::new(
        aws_sdk_secretsmanager::Client::new(aws),
        config.secrets_kms_key_id.clone(),
    );
    let app = vault.app_secrets(&config.app_secret_id).await?;
    let graph = GraphClient::new(
        config.graph_base_url.clone(),
        config.graph_version.clone(),
        config.app_id.clone(),
        app.app_secret.clone(),
        RetryPolicy::default(),
        clock.clone(),
        signals.clone(),
    );
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(aws),
        config.table_name.clone(),
    );
    Ok(Ports {
        store: Arc::new(store),
        vault: Arc::new(CachedVault::new(vault)),
        graph: Arc::new(graph),
        clock,
        signals,
        settings: Arc::new(Settings::new(config, app)),
    })
}
