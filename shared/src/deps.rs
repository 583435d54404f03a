//! Wires the real adapters into `Ports`, once per cold start. Nothing here reads a file, a
//! secret or the network: the AWS configuration, each SDK client and the app secret are made
//! on first use (see `lazy`), so a cold start costs what the first request needs and no more.

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
use crate::lazy::Lazy;
use crate::ports::{Clock, Ports, Signals};
use crate::settings::Settings;

/// Reads the configuration and builds the ports over AWS as the environment describes it.
pub fn from_env() -> Result<(Config, Ports)> {
    let config = Config::from_env()?;
    let aws = Arc::new(Lazy::new(|| async { Ok(load_aws().await) }));
    let signals = Arc::new(EmfSignals::new(config.secret_prefix.clone()));
    let ports = ports_over(&config, aws, Arc::new(SystemClock), signals);
    Ok((config, ports))
}

/// The AWS SDK configuration from the environment (region, credentials, endpoint).
async fn load_aws() -> SdkConfig {
    // Fail within seconds when AWS is unreachable, so callers get a 503 and not a hang.
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(4))
        .operation_timeout(Duration::from_secs(10))
        .build();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(crate::adapters::http::aws_http_client())
        .timeout_config(timeouts)
        .load()
        .await
}

/// The ports over the real adapters for a configuration and an AWS SDK configuration.
pub fn ports(config: &Config, aws: &SdkConfig) -> Ports {
    let signals = Arc::new(EmfSignals::new(config.secret_prefix.clone()));
    ports_at(config, aws, Arc::new(SystemClock), signals)
}

/// [`ports`] on another clock and signal sink (simulated and counted, in the scale benchmark).
pub fn ports_at(
    config: &Config,
    aws: &SdkConfig,
    clock: Arc<dyn Clock>,
    signals: Arc<dyn Signals>,
) -> Ports {
    ports_over(config, Arc::new(Lazy::ready(aws.clone())), clock, signals)
}

fn ports_over(
    config: &Config,
    aws: Arc<Lazy<SdkConfig>>,
    clock: Arc<dyn Clock>,
    signals: Arc<dyn Signals>,
) -> Ports {
    let secrets = {
        let aws = aws.clone();
        Lazy::new(move || {
            let aws = aws.clone();
            async move { Ok(aws_sdk_secretsmanager::Client::new(aws.get().await?)) }
        })
    };
    let vault = SecretsManagerVault::new(Arc::new(secrets), config.secrets_kms_key_id.clone());
    let app = {
        let (vault, id) = (vault.clone(), config.app_secret_id.clone());
        Arc::new(Lazy::new(move || {
            let (vault, id) = (vault.clone(), id.clone());
            async move { vault.app_secrets(&id).await }
        }))
    };
    let graph = GraphClient::new(
        config.graph_base_url.clone(),
        config.graph_version.clone(),
        config.app_id.clone(),
        app.clone(),
        RetryPolicy::default(),
        clock.clone(),
        signals.clone(),
    );
    let dynamo = Lazy::new(move || {
        let aws = aws.clone();
        async move { Ok(aws_sdk_dynamodb::Client::new(aws.get().await?)) }
    });
    Ports {
        store: Arc::new(DynamoStore::new(dynamo, config.table_name.clone())),
        vault: Arc::new(CachedVault::new(Arc::new(vault))),
        graph: Arc::new(graph),
        clock,
        signals,
        settings: Arc::new(Settings::new(config, app)),
    }
}
