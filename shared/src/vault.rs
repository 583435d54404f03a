//! The token vault: every token this service holds lives in Secrets Manager, nowhere else.

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::app_secrets::AppSecrets;
use crate::error::{Error, Result};
use crate::ids::{ClientBusinessId, SystemUserId};

/// A token secret's JSON: the BISU secret of DESIGN section 3, and for minted granular tokens
/// the same fields plus `assets`.
#[derive(Clone, Deserialize)]
pub struct TokenSecret {
    pub access_token: SecretString,
    pub system_user_id: SystemUserId,
    pub client_business_id: ClientBusinessId,
    pub scopes: Vec<String>,
    /// Unix time; `None` when the token never expires.
    pub expires_at: Option<i64>,
    pub obtained_at: i64,
    #[serde(default)]
    pub assets: Option<Vec<String>>,
}

/// The same fields borrowed for writing: the token is exposed only inside the vault.
#[derive(Serialize)]
struct TokenSecretJson<'a> {
    access_token: &'a str,
    system_user_id: &'a SystemUserId,
    client_business_id: &'a ClientBusinessId,
    scopes: &'a [String],
    expires_at: Option<i64>,
    obtained_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    assets: Option<&'a [String]>,
}

/// Where a secret value was stored: the version lets readers cache by version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSecret {
    pub name: String,
    pub version_id: String,
}

/// Secret names under `SECRET_PREFIX`.
#[derive(Clone, Debug)]
pub struct SecretNames {
    prefix: String,
}

impl SecretNames {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }
    pub fn client_prefix(&self, client: &ClientBusinessId) -> String {
        format!("{}/clients/{client}/", self.prefix)
    }
    pub fn bisu(&self, client: &ClientBusinessId) -> String {
        format!("{}bisu", self.client_prefix(client))
    }
    pub fn minted(&self, client: &ClientBusinessId, token_id: &str) -> String {
        format!("{}tokens/{token_id}", self.client_prefix(client))
    }
}

#[async_trait]
pub trait TokenVault: Send + Sync {
    async fn read_app_secrets(&self, secret_id: &str) -> Result<AppSecrets>;
    /// Creates the secret, or puts a new version when it exists already.
    async fn put_token(&self, name: &str, secret: &TokenSecret) -> Result<StoredSecret>;
    /// One version of a token secret (the current one when `version` is `None`);
    /// `None` when the secret or that version does not exist.
    async fn get_token(&self, name: &str, version: Option<&str>) -> Result<Option<TokenSecret>>;
    /// Names of the secrets that start with `prefix`.
    async fn names_under(&self, prefix: &str) -> Result<Vec<String>>;
    /// Deletes a secret at once, without a recovery window; a missing one is fine.
    async fn force_delete(&self, name: &str) -> Result<()>;
}

pub struct SecretsManagerVault {
    client: Client,
    /// The customer-managed key new secrets are encrypted with; `None`: the account default.
    kms_key_id: Option<String>,
}

impl SecretsManagerVault {
    pub fn new(client: Client, kms_key_id: Option<String>) -> Self {
        Self { client, kms_key_id }
    }

    async fn put_string(&self, name: &str, value: String) -> Result<StoredSecret> {
        let created = self
            .client
            .create_secret()
            .name(name)
            .set_kms_key_id(self.kms_key_id.clone())
            .secret_string(value.clone())
            .send()
            .await;
        let version = match created {
            Ok(out) => out.version_id,
            Err(err) if err.code() == Some("ResourceExistsException") => {
                self.put_version(name, value).await?
            }
            // A secret still being deleted (re-onboarding right after offboarding): bring it back.
            Err(err) if err.code() == Some("InvalidRequestException") => {
                self.client
                    .restore_secret()
                    .secret_id(name)
                    .send()
                    .await
                    .map_err(|e| {
                        Error::storage("restoring a token secret", e.into_service_error())
                    })?;
                self.put_version(name, value).await?
            }
            Err(err) => return Err(Error::storage("storing a token", err.into_service_error())),
        };
        Ok(StoredSecret {
            name: name.to_owned(),
            version_id: version.unwrap_or_default(),
        })
    }

    async fn put_version(&self, name: &str, value: String) -> Result<Option<String>> {
        Ok(self
            .client
            .put_secret_value()
            .secret_id(name)
            .secret_string(value)
            .send()
            .await
            .map_err(|e| Error::storage("storing a token", e.into_service_error()))?
            .version_id)
    }

    async fn get_string(
        &self,
        name: &str,
        version: Option<&str>,
        context: &str,
    ) -> Result<Option<SecretString>> {
        let request = self
            .client
            .get_secret_value()
            .secret_id(name)
            .set_version_id(version.map(str::to_owned));
        match request.send().await {
            Ok(out) => Ok(out.secret_string.map(SecretString::from)),
            Err(err) if err.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(err) => Err(Error::storage(context, err.into_service_error())),
        }
    }
}

#[async_trait]
impl TokenVault for SecretsManagerVault {
    async fn read_app_secrets(&self, secret_id: &str) -> Result<AppSecrets> {
        let raw = self
            .get_string(secret_id, None, "reading the app secret")
            .await?
            .ok_or_else(|| {
                Error::Internal("the app secret (APP_SECRET_ID) does not exist".into())
            })?;
        serde_json::from_str(raw.expose_secret()).map_err(|_| {
            Error::Internal(
                "the app secret is not the JSON {\"app_secret\", \"webhook_verify_token\", \"partner_system_user_token\"?}"
                    .into(),
            )
        })
    }

    async fn put_token(&self, name: &str, secret: &TokenSecret) -> Result<StoredSecret> {
        self.put_string(name, token_json(secret)).await
    }

    async fn names_under(&self, prefix: &str) -> Result<Vec<String>> {
        self.list_names(prefix).await
    }

    async fn force_delete(&self, name: &str) -> Result<()> {
        let deleted = self
            .client
            .delete_secret()
            .secret_id(name)
            .force_delete_without_recovery(true)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(err) if err.code() == Some("ResourceNotFoundException") => Ok(()),
            Err(err) => Err(Error::storage(
                "deleting a token secret",
                err.into_service_error(),
            )),
        }
    }

    async fn get_token(&self, name: &str, version: Option<&str>) -> Result<Option<TokenSecret>> {
        self.get_string(name, version, "reading a token")
            .await?
            .map(|raw| {
                serde_json::from_str(raw.expose_secret())
                    .map_err(|_| Error::Internal(format!("secret {name} is not a token secret")))
            })
            .transpose()
    }
}

impl SecretsManagerVault {
    async fn list_names(&self, prefix: &str) -> Result<Vec<String>> {
        use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
        let filter = Filter::builder()
            .key(FilterNameStringType::Name)
            .values(prefix)
            .build();
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_secrets()
                .filters(filter.clone())
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| Error::storage("listing secrets", e.into_service_error()))?;
            // The name filter matches prefixes of words too: keep exact prefixes only.
            names.extend(
                out.secret_list
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|s| s.name)
                    .filter(|n| n.starts_with(prefix)),
            );
            token = out.next_token;
            if token.is_none() {
                return Ok(names);
            }
        }
    }
}

fn token_json(secret: &TokenSecret) -> String {
    serde_json::to_string(&TokenSecretJson {
        access_token: secret.access_token.expose_secret(),
        system_user_id: &secret.system_user_id,
        client_business_id: &secret.client_business_id,
        scopes: &secret.scopes,
        expires_at: secret.expires_at,
        obtained_at: secret.obtained_at,
        assets: secret.assets.as_deref(),
    })
    .expect("plain data serializes")
}
