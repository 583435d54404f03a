//! A vault decorator that keeps token secrets in memory by name and version: a warm read
//! costs no Secrets Manager call, a new version is seen at once, and the cache is bounded.

use async_trait::async_trait;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::error::Result;
use crate::model::TokenSecret;
use crate::ports::{StoredSecret, TokenVault};

/// Entries kept at most; the oldest is dropped first.
pub const CAPACITY: usize = 1024;

pub struct CachedVault<V: ?Sized> {
    inner: Arc<V>,
    capacity: usize,
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_key: HashMap<(String, String), TokenSecret>,
    order: VecDeque<(String, String)>,
}

impl<V: TokenVault + ?Sized> CachedVault<V> {
    pub fn new(inner: Arc<V>) -> Self {
        Self::with_capacity(inner, CAPACITY)
    }

    pub fn with_capacity(inner: Arc<V>, capacity: usize) -> Self {
        Self {
            inner,
            capacity: capacity.max(1),
            entries: Mutex::default(),
        }
    }

    fn lookup(&self, name: &str, version: &str) -> Option<TokenSecret> {
        let entries = self.entries.lock().expect("cache lock");
        entries
            .by_key
            .get(&(name.to_owned(), version.to_owned()))
            .cloned()
    }

    fn insert(&self, name: &str, version: &str, secret: TokenSecret) {
        let mut entries = self.entries.lock().expect("cache lock");
        let key = (name.to_owned(), version.to_owned());
        if entries.by_key.insert(key.clone(), secret).is_none() {
            entries.order.push_back(key);
        }
        while entries.order.len() > self.capacity {
            if let Some(oldest) = entries.order.pop_front() {
                entries.by_key.remove(&oldest);
            }
        }
    }

    fn forget(&self, name: &str) {
        let mut entries = self.entries.lock().expect("cache lock");
        entries.by_key.retain(|(n, _), _| n != name);
        entries.order.retain(|(n, _)| n != name);
    }

    pub fn len(&self) -> usize {
        self.entries.lock().expect("cache lock").by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl<V: TokenVault + ?Sized> TokenVault for CachedVault<V> {
    async fn put_token(&self, name: &str, secret: &TokenSecret) -> Result<StoredSecret> {
        let stored = self.inner.put_token(name, secret).await?;
        self.insert(name, &stored.version, secret.clone());
        Ok(stored)
    }

    /// Only reads of a named version are cached: "the current one" can change.
    async fn token(&self, name: &str, version: Option<&str>) -> Result<Option<TokenSecret>> {
        let Some(version) = version else {
            return self.inner.token(name, None).await;
        };
        if let Some(hit) = self.lookup(name, version) {
            return Ok(Some(hit));
        }
        let secret = self.inner.token(name, Some(version)).await?;
        if let Some(found) = &secret {
            self.insert(name, version, found.clone());
        }
        Ok(secret)
    }

    async fn current_version(&self, name: &str) -> Result<Option<String>> {
        self.inner.current_version(name).await
    }

    async fn names_under(&self, prefix: &str) -> Result<Vec<String>> {
        self.inner.names_under(prefix).await
    }

    async fn force_delete(&self, name: &str) -> Result<()> {
        self.forget(name);
        self.inner.force_delete(name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::MemoryVault;
    use crate::model::SystemUserId;
    use secrecy::{ExposeSecret, SecretString};

    fn secret(token: &str) -> TokenSecret {
        TokenSecret {
            access_token: SecretString::from(token),
            system_user_id: SystemUserId::parse("1").unwrap(),
            client_business_id: None,
            scopes: vec![],
            expires_at: None,
            obtained_at: 0,
            assets: None,
        }
    }

    async fn read(vault: &impl TokenVault, version: &str) -> Option<String> {
        vault
            .token("s", Some(version))
            .await
            .unwrap()
            .map(|s| s.access_token.expose_secret().to_owned())
    }

    #[tokio::test]
    async fn a_warm_read_of_the_same_version_makes_no_vault_call() {
        let inner = MemoryVault::default();
        let v1 = inner
            .put_token("s", &secret("first"))
            .await
            .unwrap()
            .version;
        let cache = CachedVault::new(Arc::new(inner));
        assert_eq!(read(&cache, &v1).await.as_deref(), Some("first"));
        assert_eq!(read(&cache, &v1).await.as_deref(), Some("first"));
        assert_eq!(cache.inner.reads(), 1, "the second read came from memory");

        let v2 = cache
            .put_token("s", &secret("second"))
            .await
            .unwrap()
            .version;
        assert_eq!(read(&cache, &v2).await.as_deref(), Some("second"));
        assert_eq!(
            cache.inner.reads(),
            1,
            "a version this process wrote is cached"
        );
        assert_eq!(read(&cache, "gone").await, None);
        cache.force_delete("s").await.unwrap();
        assert_eq!(
            read(&cache, &v1).await,
            None,
            "a deleted secret is not served"
        );
    }

    #[tokio::test]
    async fn the_cache_is_bounded() {
        let cache = CachedVault::with_capacity(Arc::new(MemoryVault::default()), 3);
        for i in 0..10 {
            cache
                .put_token(&format!("s{i}"), &secret("t"))
                .await
                .unwrap();
        }
        assert_eq!(cache.len(), 3);
    }
}
