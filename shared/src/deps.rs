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
use crate::error::{Error, Result};
use crate::lazy::Lazy;
use crate::model::Signal;
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

/// With provisioned concurrency, init runs ahead of any request: there, make what the first
/// request would (the AWS configuration, the HTTP client, the app secret) so no caller waits
/// for it. A failure is only logged; the first request that needs the secret tries again.
pub async fn prepare_if_provisioned(ports: &Ports) {
    let kind = std::env::var("AWS_LAMBDA_INITIALIZATION_TYPE").ok();
    prepare(ports, kind.as_deref()).await;
}

async fn prepare(ports: &Ports, initialization_type: Option<&str>) {
    if initialization_type == Some("provisioned-concurrency")
        && let Err(err) = ports.settings.app().await
    {
        tracing::warn!(error = %err, "preparing the instance: the app secret was not read");
    }
}

/// The AWS SDK configuration from the environment (region, credentials, endpoint).
async fn load_aws() -> SdkConfig {
    // Fail within seconds when AWS is unreachable, so callers get a 503 and not a hang. (The
    // connect timeout is the HTTP client's own: `adapters::http`.)
    let timeouts = TimeoutConfig::builder()
        .operation_attempt_timeout(Duration::from_secs(4))
        .operation_timeout(Duration::from_secs(10))
        .build();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(crate::adapters::http::aws_http_client())
        .timeout_config(timeouts)
        .load()
        .await
}

/// The ports over the real adapters for an AWS SDK configuration there is already, on a clock
/// and signal sink of the caller's (simulated and counted, in the scale benchmark).
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
        let (vault, id, signals) = (vault.clone(), config.app_secret_id.clone(), signals.clone());
        Arc::new(Lazy::new(move || {
            let (vault, id, signals) = (vault.clone(), id.clone(), signals.clone());
            async move {
                let read = vault.app_secrets(&id).await;
                if let Err(err @ Error::PartnerCredentials(_)) = &read {
                    // The partner-credentials alarm tells the operator; each request retries.
                    signals.emit(Signal::PartnerTokenInvalid);
                    tracing::error!(error = %err, "the app secret cannot be used");
                }
                read
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::Fakes;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn only_a_provisioned_instance_reads_the_app_secret_at_init() {
        let reads = Arc::new(AtomicUsize::new(0));
        let counted = reads.clone();
        let app = Lazy::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Err(Error::PartnerCredentials("not there".into())) }
        });
        let ports = Fakes::new().ports_with(Settings::for_tests().with_app(app));
        for kind in [None, Some("on-demand"), Some("snap-start")] {
            prepare(&ports, kind).await;
        }
        assert_eq!(reads.load(Ordering::SeqCst), 0);
        prepare(&ports, Some("provisioned-concurrency")).await;
        assert_eq!(
            reads.load(Ordering::SeqCst),
            1,
            "tried, and a failure only logged"
        );
    }
}
