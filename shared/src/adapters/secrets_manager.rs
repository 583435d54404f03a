//! The token vault over Secrets Manager: JSON secrets, KMS-encrypted, tagged with their client
//! and kind. Error text from the SDK goes to the log, never to a caller.

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use aws_sdk_secretsmanager::types::Tag;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

use crate::app_secrets::AppSecrets;
use crate::error::{Error, Result};
use crate::lazy::Lazy;
use crate::model::TokenSecret;
use crate::ports::{StoredSecret, TokenVault};

/// Rounds of put, create or restore before a secret that keeps changing is given up on.
const PUT_ROUNDS: usize = 4;

fn stored(name: &str, version: Option<String>) -> StoredSecret {
    StoredSecret {
        name: name.to_owned(),
        version: version.unwrap_or_default(),
    }
}

/// Cheap to clone: the clones share one client, made on first use.
#[derive(Clone)]
pub struct SecretsManagerVault {
    client: Arc<Lazy<Client>>,
    /// The customer-managed key new secrets are encrypted with; `None`: the account default.
    kms_key_id: Option<String>,
}

/// The `kind` tag of a secret, from its name.
fn kind_of(name: &str) -> &'static str {
    if name.contains("/tokens/") {
        "granular"
    } else if name.contains("/pages/") {
        "page"
    } else if name.contains("/partner/") {
        "partner"
    } else {
        "client"
    }
}

impl SecretsManagerVault {
    pub fn new(client: Arc<Lazy<Client>>, kms_key_id: Option<String>) -> Self {
        Self { client, kms_key_id }
    }

    async fn client(&self) -> Result<&Client> {
        self.client.get().await
    }

    /// The app secret JSON `{"app_secret", "webhook_verify_token"}`.
    pub async fn app_secrets(&self, secret_id: &str) -> Result<AppSecrets> {
        let raw = self
            .get_string(secret_id, None, "reading the app secret")
            .await
            .map_err(|err| match err {
                Error::Internal(why) => Error::PartnerCredentials(why),
                other => other,
            })?
            .ok_or_else(|| {
                Error::PartnerCredentials("the app secret (APP_SECRET_ID) does not exist".into())
            })?
            .1;
        serde_json::from_str(raw.expose_secret()).map_err(|_| {
            Error::PartnerCredentials(
                "the app secret is not the JSON {\"app_secret\", \"webhook_verify_token\"}".into(),
            )
        })
    }

    /// A new version of an existing secret (the common case: one call, and all a role needs
    /// for a secret the stack created), else the secret created, or restored if it is being
    /// deleted. A secret created or deleted by another writer meanwhile (an offboarding's
    /// force-delete between two of these calls) makes it go round again.
    async fn put_string(&self, name: &str, value: String, tags: Vec<Tag>) -> Result<StoredSecret> {
        for _ in 0..PUT_ROUNDS {
            let put = self
                .client()
                .await?
                .put_secret_value()
                .secret_id(name)
                .secret_string(value.clone())
                .send()
                .await;
            let err = match put {
                Ok(out) => return Ok(stored(name, out.version_id)),
                Err(err) => err,
            };
            match err.code() {
                Some("ResourceNotFoundException") => {
                    if let Some(created) = self.create(name, &value, &tags).await? {
                        return Ok(created);
                    }
                }
                Some("InvalidRequestException") => self.restore(name).await?,
                _ => return Err(Error::storage("storing a token", err.into_service_error())),
            }
        }
        Err(Error::StorageUnavailable(
            "storing a token (its secret kept being created and deleted)".into(),
        ))
    }

    /// Creates the secret; `None` when it must go round again (another writer created it
    /// meanwhile, or it was being deleted and is restored now).
    async fn create(&self, name: &str, value: &str, tags: &[Tag]) -> Result<Option<StoredSecret>> {
        let created = self
            .client()
            .await?
            .create_secret()
            .name(name)
            .set_kms_key_id(self.kms_key_id.clone())
            .set_tags(Some(tags.to_vec()))
            .secret_string(value)
            .send()
            .await;
        match created {
            Ok(out) => Ok(Some(stored(name, out.version_id))),
            Err(err) if err.code() == Some("ResourceExistsException") => Ok(None),
            Err(err) if err.code() == Some("InvalidRequestException") => {
                self.restore(name).await.map(|()| None)
            }
            Err(err) => Err(Error::storage("storing a token", err.into_service_error())),
        }
    }

    /// A secret still being deleted (re-onboarding right after offboarding): bring it back.
    /// One that is gone by now needs no restoring.
    async fn restore(&self, name: &str) -> Result<()> {
        match self
            .client()
            .await?
            .restore_secret()
            .secret_id(name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if err.code() == Some("ResourceNotFoundException") => Ok(()),
            Err(err) => Err(Error::storage(
                "restoring a token secret",
                err.into_service_error(),
            )),
        }
    }

    /// The version id and value, `None` when the secret or version does not exist.
    async fn get_string(
        &self,
        name: &str,
        version: Option<&str>,
        context: &str,
    ) -> Result<Option<(String, SecretString)>> {
        let request = self
            .client()
            .await?
            .get_secret_value()
            .secret_id(name)
            .set_version_id(version.map(str::to_owned));
        match request.send().await {
            Ok(out) => Ok(out
                .secret_string
                .map(|s| (out.version_id.unwrap_or_default(), SecretString::from(s)))),
            Err(err) if err.code() == Some("ResourceNotFoundException") => Ok(None),
            // A secret scheduled for deletion cannot be read: it is gone for us.
            Err(err)
                if err.code() == Some("InvalidRequestException")
                    && err.message().is_some_and(|m| m.contains("deleted")) =>
            {
                Ok(None)
            }
            // The role or the key policy does not allow it: the operator's to fix, not a retry.
            Err(err)
                if matches!(
                    err.code(),
                    Some("AccessDeniedException" | "DecryptionFailure")
                ) =>
            {
                Err(Error::Internal(format!(
                    "{context}: not allowed ({}): check the function's role and the KMS key policy",
                    err.code().unwrap_or_default()
                )))
            }
            Err(err) => Err(Error::storage(context, err.into_service_error())),
        }
    }
}

#[async_trait]
impl TokenVault for SecretsManagerVault {
    async fn put_token(&self, name: &str, secret: &TokenSecret) -> Result<StoredSecret> {
        let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
        let mut tags = vec![tag("kind", kind_of(name))];
        if let Some(id) = &secret.client_business_id {
            tags.push(tag("client_business_id", id.as_str()));
        }
        self.put_string(name, secret.to_json(), tags).await
    }

    async fn token(&self, name: &str, version: Option<&str>) -> Result<Option<TokenSecret>> {
        self.get_string(name, version, "reading a token")
            .await?
            .map(|(_, raw)| {
                serde_json::from_str(raw.expose_secret()).map_err(|_| {
                    Error::Internal(format!("the secret {name} is not a token secret"))
                })
            })
            .transpose()
    }

    async fn current_version(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .get_string(name, None, "reading a token")
            .await?
            .map(|(version, _)| version))
    }

    async fn names_under(&self, prefix: &str) -> Result<Vec<String>> {
        use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
        let filter = Filter::builder()
            .key(FilterNameStringType::Name)
            .values(prefix)
            .build();
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client()
                .await?
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

    async fn force_delete(&self, name: &str) -> Result<()> {
        let deleted = self
            .client()
            .await?
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
}
