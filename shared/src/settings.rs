//! What the flows read besides the ports: the app's credentials, secret names and limits.

#[cfg(any(test, feature = "fakes"))]
use secrecy::SecretString;
use std::sync::Arc;
use url::Url;

use crate::app_secrets::AppSecrets;
use crate::config::Config;
use crate::error::Result;
use crate::lazy::Lazy;
use crate::model::{AppId, ClientBusinessId, Owner};

/// Secret names under `SECRET_PREFIX` (DESIGN section 3).
#[derive(Clone, Debug)]
pub struct SecretNames {
    prefix: String,
}

impl SecretNames {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.trim_end_matches('/').to_owned(),
        }
    }
    pub fn client_prefix(&self, client: &ClientBusinessId) -> String {
        format!("{}/clients/{client}/", self.prefix)
    }
    pub fn bisu(&self, client: &ClientBusinessId) -> String {
        format!("{}bisu", self.client_prefix(client))
    }
    /// The client system user's token of an On-Behalf-Of client.
    pub fn obo(&self, client: &ClientBusinessId) -> String {
        format!("{}obo", self.client_prefix(client))
    }
    pub fn minted(&self, client: &ClientBusinessId, token_id: &str) -> String {
        format!("{}tokens/{token_id}", self.client_prefix(client))
    }
    /// A stable page token's secret.
    pub fn page(&self, owner: &Owner, page_id: &str) -> String {
        match owner {
            Owner::Client(id) => format!("{}pages/{page_id}", self.client_prefix(id)),
            Owner::Partner => format!("{}/partner/pages/{page_id}", self.prefix),
        }
    }
    pub fn partner_system_user(&self) -> String {
        format!("{}/partner/system-user", self.prefix)
    }
}

/// The app secret of [`Settings::for_tests`], to sign what tests send.
#[cfg(any(test, feature = "fakes"))]
pub const TEST_APP_SECRET: &str = "test-app-secret-not-real";

pub struct Settings {
    pub app_id: AppId,
    /// The app secret and webhook verify token: read on the first path that needs them.
    app: Arc<Lazy<AppSecrets>>,
    pub names: SecretNames,
    pub partner_business_id: Option<String>,
    /// On-Behalf-Of is configured (`OBO_CONFIG_ID`), with these scopes at most.
    pub obo_enabled: bool,
    pub obo_scopes: Vec<String>,
    /// The redirect URI of the manual login dialog (oauth-callback only).
    pub redirect_uri: Option<Url>,
    pub session_ttl_secs: i64,
    pub dataset_cache_max_age_secs: i64,
    pub signed_request_max_age_secs: i64,
    pub health_check_interval_secs: i64,
    pub partner_token_rotate_secs: i64,
    /// Where data-deletion status pages live (offboarding only).
    pub deletion_status_base: Option<String>,
}

impl Settings {
    /// The app's own credentials, read from Secrets Manager on first use.
    pub async fn app(&self) -> Result<&AppSecrets> {
        self.app.get().await
    }

    pub fn new(config: &Config, app: Arc<Lazy<AppSecrets>>) -> Self {
        Self {
            app_id: config.app_id.clone(),
            app,
            names: SecretNames::new(&config.secret_prefix),
            partner_business_id: config.partner_business_id.clone(),
            obo_enabled: config.obo_config_id.is_some(),
            obo_scopes: config.obo_scopes.clone(),
            redirect_uri: config.redirect_uri.clone(),
            session_ttl_secs: 15 * 60,
            dataset_cache_max_age_secs: config.dataset_cache_max_age.as_secs() as i64,
            signed_request_max_age_secs: config.signed_request_max_age.as_secs() as i64,
            health_check_interval_secs: config.health_check_interval.as_secs() as i64,
            partner_token_rotate_secs: i64::from(config.partner_token_rotate_days) * 86400,
            deletion_status_base: config.deletion_status_base().ok(),
        }
    }

    /// These settings over another app secret source (one that fails, in tests).
    #[cfg(any(test, feature = "fakes"))]
    pub fn with_app(self, app: Lazy<AppSecrets>) -> Self {
        Self {
            app: Arc::new(app),
            ..self
        }
    }

    /// Settings for unit tests: obviously fake values.
    #[cfg(any(test, feature = "fakes"))]
    pub fn for_tests() -> Self {
        Self {
            app_id: AppId::parse("1000000000000001").expect("digits"),
            app: Arc::new(Lazy::ready(AppSecrets {
                app_secret: SecretString::from(TEST_APP_SECRET),
                webhook_verify_token: SecretString::from("test-verify-token"),
            })),
            names: SecretNames::new("meta-login/test"),
            partner_business_id: Some("7000000000000001".into()),
            obo_enabled: true,
            obo_scopes: vec![
                "business_management".into(),
                "ads_management".into(),
                "pages_show_list".into(),
            ],
            redirect_uri: Some(Url::parse("https://example.test/oauth/callback").expect("url")),
            session_ttl_secs: 15 * 60,
            dataset_cache_max_age_secs: 3600,
            signed_request_max_age_secs: 86400,
            health_check_interval_secs: 86400,
            partner_token_rotate_secs: 30 * 86400,
            deletion_status_base: Some("https://example.test/meta/data-deletion/".into()),
        }
    }
}
