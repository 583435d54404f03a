//! An in-memory vault that keeps every version and counts reads.

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::Interleaver;
use crate::error::{Error, Result};
use crate::model::TokenSecret;
use crate::ports::{StoredSecret, TokenVault};

#[derive(Default)]
pub struct MemoryVault {
    /// name -> versions, the last one current.
    secrets: Mutex<BTreeMap<String, Vec<(String, TokenSecret)>>>,
    next_version: AtomicUsize,
    reads: AtomicUsize,
    checkpoint: Option<Arc<Interleaver>>,
    /// Set: every call fails as Secrets Manager would when unreachable.
    pub down: std::sync::atomic::AtomicBool,
    /// The next this many `put_token` calls fail as when unreachable (and write nothing).
    pub failing_puts: AtomicUsize,
}

impl MemoryVault {
    pub fn with_checkpoint(checkpoint: Arc<Interleaver>) -> Self {
        Self {
            checkpoint: Some(checkpoint),
            ..Self::default()
        }
    }

    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    /// Every secret name held now.
    pub fn names(&self) -> Vec<String> {
        self.secrets.lock().unwrap().keys().cloned().collect()
    }

    /// The current token value of a secret, for assertions.
    pub fn current(&self, name: &str) -> Option<TokenSecret> {
        self.secrets
            .lock()
            .unwrap()
            .get(name)
            .and_then(|v| v.last())
            .map(|(_, s)| s.clone())
    }

    async fn enter(&self, what: &str) -> Result<()> {
        if let Some(checkpoint) = &self.checkpoint {
            checkpoint.checkpoint(what).await;
        }
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::StorageUnavailable(what.to_owned()));
        }
        Ok(())
    }
}

#[async_trait]
impl TokenVault for MemoryVault {
    async fn put_token(&self, name: &str, secret: &TokenSecret) -> Result<StoredSecret> {
        self.enter("vault.put_token").await?;
        if super::take_one(&self.failing_puts) {
            return Err(Error::StorageUnavailable("writing a secret".into()));
        }
        let version = format!("v{}", self.next_version.fetch_add(1, Ordering::SeqCst) + 1);
        self.secrets
            .lock()
            .unwrap()
            .entry(name.to_owned())
            .or_default()
            .push((version.clone(), secret.clone()));
        Ok(StoredSecret {
            name: name.to_owned(),
            version,
        })
    }

    async fn token(&self, name: &str, version: Option<&str>) -> Result<Option<TokenSecret>> {
        self.enter("vault.token").await?;
        self.reads.fetch_add(1, Ordering::SeqCst);
        let secrets = self.secrets.lock().unwrap();
        let versions = secrets.get(name);
        Ok(match version {
            None => versions.and_then(|v| v.last()).map(|(_, s)| s.clone()),
            Some(wanted) => versions
                .and_then(|v| v.iter().find(|(id, _)| id == wanted))
                .map(|(_, s)| s.clone()),
        })
    }

    async fn current_version(&self, name: &str) -> Result<Option<String>> {
        self.enter("vault.current_version").await?;
        let secrets = self.secrets.lock().unwrap();
        Ok(secrets
            .get(name)
            .and_then(|v| v.last())
            .map(|(id, _)| id.clone()))
    }

    async fn names_under(&self, prefix: &str) -> Result<Vec<String>> {
        self.enter("vault.names_under").await?;
        Ok(self
            .names()
            .into_iter()
            .filter(|n| n.starts_with(prefix))
            .collect())
    }

    async fn force_delete(&self, name: &str) -> Result<()> {
        self.enter("vault.force_delete").await?;
        self.secrets.lock().unwrap().remove(name);
        Ok(())
    }
}
