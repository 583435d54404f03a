//! Configuration read once from the environment at cold start, typed, refused early.

use std::time::Duration;
use url::Url;

use crate::error::Error;
use crate::model::{AppId, is_digits};

const DEFAULT_GRAPH_BASE: &str = "https://graph.facebook.com";
const DEFAULT_GRAPH_VERSION: &str = "v25.0";
const DEFAULT_DIALOG_BASE: &str = "https://www.facebook.com";
const DEFAULT_JS_SDK: &str = "https://connect.facebook.net/en_US/sdk.js";
/// The longest provider name the pages show.
const MAX_PROVIDER_NAME: usize = 80;
const DEFAULT_OBO_SCOPES: &str =
    "business_management,ads_management,catalog_management,pages_show_list,pages_read_engagement";

/// Settings every function shares (DESIGN section 3).
#[derive(Clone, Debug)]
pub struct Config {
    pub app_id: AppId,
    pub app_secret_id: String,
    pub table_name: String,
    pub secret_prefix: String,
    pub graph_base_url: Url,
    pub graph_version: String,
    pub login_dialog_base_url: Url,
    pub js_sdk_url: Url,
    pub login_config_id: Option<String>,
    pub obo_config_id: Option<String>,
    /// Scopes given to a client's system user in On-Behalf-Of (a session may narrow them).
    pub obo_scopes: Vec<String>,
    pub redirect_uri: Option<Url>,
    /// The provider's name as a client admin reads it on the onboarding pages.
    pub provider_name: Option<String>,
    pub success_redirect_url: Option<Url>,
    pub public_base_url: Option<Url>,
    pub session_ttl: Duration,
    /// How long datasets read from Graph are served from the table.
    pub dataset_cache_max_age: Duration,
    /// The partner's Business Manager id, for On-Behalf-Of relationships.
    pub partner_business_id: Option<String>,
    /// How old a `signed_request` may be.
    pub signed_request_max_age: Duration,
    /// The customer-managed KMS key new token secrets are encrypted with.
    pub secrets_kms_key_id: Option<String>,
    /// How often each active client's token is checked.
    pub health_check_interval: Duration,
    /// How often the partner system user token is re-minted (and the old one revoked).
    pub partner_token_rotate_days: u32,
}

/// What `oauth-callback` needs on top of [`Config`].
#[derive(Clone, Debug)]
pub struct OnboardingConfig {
    pub provider_name: String,
    pub login_config_id: String,
    /// The user-token configuration with `business_management`, for On-Behalf-Of.
    pub obo_config_id: Option<String>,
    pub redirect_uri: Url,
}

impl OnboardingConfig {
    /// The Login for Business configuration a mode logs in with.
    pub fn config_id(&self, mode: crate::model::Mode) -> Result<&str, Error> {
        match mode {
            crate::model::Mode::Bisu => Ok(&self.login_config_id),
            crate::model::Mode::Obo => self
                .obo_config_id
                .as_deref()
                .ok_or_else(|| missing("OBO_CONFIG_ID")),
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required = |name: &str| get(name).ok_or_else(|| missing(name));
        let url = |name: &str, default: Option<&str>| -> Result<Option<Url>, Error> {
            get(name)
                .or(default.map(str::to_owned))
                .map(|raw| parse_url(name, &raw))
                .transpose()
        };
        // Where credentials travel: https only, except to this machine.
        let secure_url = |name: &str, default: &str| -> Result<Url, Error> {
            let url = url(name, Some(default))?.expect("defaulted");
            if url.scheme() != "https" && !is_loopback(&url) {
                return Err(invalid(
                    name,
                    "must be an https URL (http only for loopback)",
                ));
            }
            Ok(url)
        };

        let seconds = |name: &str, default: u64| -> Result<Duration, Error> {
            get(name)
                .map_or(Ok(default), |raw| {
                    raw.parse()
                        .map_err(|_| invalid(name, "must be a number of seconds"))
                })
                .map(Duration::from_secs)
        };
        let graph_version =
            get("GRAPH_API_VERSION").unwrap_or_else(|| DEFAULT_GRAPH_VERSION.into());
        if !is_graph_version(&graph_version) {
            return Err(invalid("GRAPH_API_VERSION", "must look like v25.0"));
        }
        let secret_prefix = required("SECRET_PREFIX")?.trim_end_matches('/').to_owned();
        if !secret_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c))
        {
            return Err(invalid(
                "SECRET_PREFIX",
                "may hold only letters, digits and /_+=.@-",
            ));
        }

        Ok(Self {
            app_id: AppId::parse(&required("META_APP_ID")?)
                .map_err(|_| invalid("META_APP_ID", "must be the numeric app id"))?,
            app_secret_id: required("APP_SECRET_ID")?,
            table_name: required("TABLE_NAME")?,
            secret_prefix,
            graph_base_url: secure_url("GRAPH_API_BASE_URL", DEFAULT_GRAPH_BASE)?,
            graph_version,
            login_dialog_base_url: secure_url("LOGIN_DIALOG_BASE_URL", DEFAULT_DIALOG_BASE)?,
            js_sdk_url: secure_url("JS_SDK_URL", DEFAULT_JS_SDK)?,
            login_config_id: get("LOGIN_CONFIG_ID"),
            obo_config_id: get("OBO_CONFIG_ID")
                .map(|id| {
                    is_digits(&id, 32)
                        .then_some(id)
                        .ok_or_else(|| invalid("OBO_CONFIG_ID", "must be numeric"))
                })
                .transpose()?,
            obo_scopes: get("OBO_SCOPES")
                .unwrap_or_else(|| DEFAULT_OBO_SCOPES.into())
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            redirect_uri: url("REDIRECT_URI", None)?,
            provider_name: get("PROVIDER_NAME")
                .map(|name| {
                    (name.chars().count() <= MAX_PROVIDER_NAME
                        && !name.chars().any(char::is_control))
                    .then_some(name)
                    .ok_or_else(|| {
                        invalid("PROVIDER_NAME", "must be at most 80 printable characters")
                    })
                })
                .transpose()?,
            success_redirect_url: url("SUCCESS_REDIRECT_URL", None)?,
            public_base_url: url("PUBLIC_BASE_URL", None)?,
            session_ttl: Duration::from_secs(15 * 60),
            dataset_cache_max_age: seconds("DATASET_CACHE_MAX_AGE_SECS", 3600)?,
            partner_business_id: get("PARTNER_BUSINESS_ID"),
            signed_request_max_age: seconds("SIGNED_REQUEST_MAX_AGE_SECS", 86400)?,
            secrets_kms_key_id: get("SECRETS_KMS_KEY_ID"),
            partner_token_rotate_days: match get("PARTNER_TOKEN_ROTATE_DAYS") {
                None => 30,
                Some(raw) => raw
                    .parse()
                    .ok()
                    .filter(|days| (1..=59).contains(days))
                    .ok_or_else(|| invalid("PARTNER_TOKEN_ROTATE_DAYS", "must be 1 to 59 days"))?,
            },
            health_check_interval: seconds("HEALTH_CHECK_INTERVAL_SECS", 86400).and_then(|d| {
                (d.as_secs() >= 60)
                    .then_some(d)
                    .ok_or_else(|| invalid("HEALTH_CHECK_INTERVAL_SECS", "must be at least 60"))
            })?,
        })
    }

    /// Where the data-deletion status pages live; required by offboarding.
    pub fn deletion_status_base(&self) -> Result<String, Error> {
        let base = self
            .public_base_url
            .as_ref()
            .ok_or_else(|| missing("PUBLIC_BASE_URL"))?;
        Ok(format!(
            "{}/meta/data-deletion/",
            base.as_str().trim_end_matches('/')
        ))
    }

    /// The settings onboarding cannot run without.
    pub fn onboarding(&self) -> Result<OnboardingConfig, Error> {
        Ok(OnboardingConfig {
            provider_name: self
                .provider_name
                .clone()
                .ok_or_else(|| missing("PROVIDER_NAME"))?,
            login_config_id: self
                .login_config_id
                .clone()
                .filter(|id| is_digits(id, 32))
                .ok_or_else(|| invalid("LOGIN_CONFIG_ID", "is required and must be numeric"))?,
            obo_config_id: self.obo_config_id.clone(),
            redirect_uri: self
                .redirect_uri
                .clone()
                .ok_or_else(|| missing("REDIRECT_URI"))?,
        })
    }
}

fn is_graph_version(v: &str) -> bool {
    v.strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| {
            [major, minor]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
}

fn parse_url(name: &str, raw: &str) -> Result<Url, Error> {
    let url = Url::parse(raw).map_err(|_| invalid(name, "must be an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(name, "must be an http or https URL"));
    }
    Ok(url)
}

/// Whether a URL points at this machine (where plain http and non-`Secure` cookies are fine).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn missing(name: &str) -> Error {
    Error::Internal(format!("configuration: {name} is required"))
}

fn invalid(name: &str, why: &str) -> Error {
    Error::Internal(format!("configuration: {name} {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const BASE: &[(&str, &str)] = &[
        ("META_APP_ID", "1234567890"),
        ("APP_SECRET_ID", "meta-login/dev/app"),
        ("TABLE_NAME", "meta-login"),
        ("SECRET_PREFIX", "meta-login/dev/"),
    ];

    #[test]
    fn defaults_follow_design() {
        let config = Config::from_lookup(env(BASE)).unwrap();
        assert_eq!(config.graph_version, "v25.0");
        assert_eq!(
            config.graph_base_url.as_str(),
            "https://graph.facebook.com/"
        );
        assert_eq!(config.secret_prefix, "meta-login/dev");
        assert_eq!(config.signed_request_max_age.as_secs(), 86400);
        assert_eq!(config.health_check_interval.as_secs(), 86400);
        assert_eq!(config.partner_token_rotate_days, 30);
        assert!(
            config.onboarding().is_err(),
            "onboarding settings are required"
        );
    }

    #[test]
    fn refuses_bad_values_early() {
        for (name, value) in [
            ("META_APP_ID", "abc"),
            ("GRAPH_API_VERSION", "25"),
            ("GRAPH_API_BASE_URL", "ftp://x"),
            ("GRAPH_API_BASE_URL", "http://graph.example.com"),
            ("LOGIN_DIALOG_BASE_URL", "http://www.example.com"),
            ("HEALTH_CHECK_INTERVAL_SECS", "5"),
            ("PARTNER_TOKEN_ROTATE_DAYS", "90"),
            ("REDIRECT_URI", "not a url"),
            ("SECRET_PREFIX", "has space"),
            ("PROVIDER_NAME", "Line\nbreak"),
        ] {
            let mut pairs = BASE.to_vec();
            pairs.retain(|(k, _)| *k != name);
            pairs.push((name, value));
            assert!(
                Config::from_lookup(env(&pairs)).is_err(),
                "{name}={value} accepted"
            );
        }
        let mut pairs = BASE.to_vec();
        pairs.retain(|(k, _)| *k != "TABLE_NAME");
        assert!(Config::from_lookup(env(&pairs)).is_err());
    }

    #[test]
    fn onboarding_settings_parse() {
        let mut pairs = BASE.to_vec();
        pairs.push(("LOGIN_CONFIG_ID", "555"));
        pairs.push(("REDIRECT_URI", "https://example.com/oauth/callback"));
        let config = Config::from_lookup(env(&pairs)).unwrap();
        assert!(config.onboarding().is_err(), "the pages cannot name nobody");
        pairs.push(("PROVIDER_NAME", " Acme Ads "));
        let config = Config::from_lookup(env(&pairs)).unwrap();
        assert_eq!(config.onboarding().unwrap().login_config_id, "555");
        assert_eq!(config.onboarding().unwrap().provider_name, "Acme Ads");
        pairs.push(("GRAPH_API_BASE_URL", "http://127.0.0.1:9100"));
        assert!(
            Config::from_lookup(env(&pairs)).is_ok(),
            "http is fine on loopback"
        );
    }
}
