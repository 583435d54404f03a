//! Token secrets cached in memory by secret name and version id: a warm read costs no
//! Secrets Manager call, and a new version (or none) is seen at the next read.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::Result;
use crate::vault::{TokenSecret, TokenVault};

#[derive(Default)]
pub struct SecretCache {
    entries: Mutex<HashMap<String, (String, TokenSecret)>>,
}

impl SecretCache {
    /// The secret at `version`, from memory when that version was read before.
    pub async fn get(
        &self,
        vault: &dyn TokenVault,
        name: &str,
        version: &str,
    ) -> Result<Option<TokenSecret>> {
        if let Some(hit) = self.lookup(name, version) {
            return Ok(Some(hit));
        }
        let secret = vault.get_token(name, Some(version)).await?;
        match &secret {
            Some(found) => self.insert(name, version, found.clone()),
            None => self.forget(name),
        }
        Ok(secret)
    }

    pub fn insert(&self, name: &str, version: &str, secret: TokenSecret) {
        self.entries
            .lock()
            .expect("cache lock")
            .insert(name.to_owned(), (version.to_owned(), secret));
    }

    pub fn forget(&self, name: &str) {
        self.entries.lock().expect("cache lock").remove(name);
    }

    fn lookup(&self, name: &str, version: &str) -> Option<TokenSecret> {
        let entries = self.entries.lock().expect("cache lock");
        entries
            .get(name)
            .filter(|(v, _)| v == version)
            .map(|(_, s)| s.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app_secrets::AppSecrets;
    use crate::ids::{ClientBusinessId, SystemUserId};
    use crate::vault::StoredSecret;
    use async_trait::async_trait;
    use secrecy::{ExposeSecret, SecretString};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An in-memory vault that counts reads and keeps every version.
    #[derive(Default)]
    struct CountingVault {
        versions: Mutex<HashMap<(String, String), String>>,
        reads: AtomicUsize,
    }

    #[async_trait]
    impl TokenVault for CountingVault {
        async fn read_app_secrets(&self, _: &str) -> Result<AppSecrets> {
            unreachable!("not used by the cache")
        }
        async fn put_token(&self, name: &str, secret: &TokenSecret) -> Result<StoredSecret> {
            let mut versions = self.versions.lock().unwrap();
            let version = format!("v{}", versions.len() + 1);
            versions.insert(
                (name.into(), version.clone()),
                secret.access_token.expose_secret().into(),
            );
            Ok(StoredSecret {
                name: name.into(),
                version_id: version,
            })
        }
        async fn names_under(&self, _: &str) -> Result<Vec<String>> {
            unreachable!("not used by the cache")
        }
        async fn force_delete(&self, _: &str) -> Result<()> {
            unreachable!("not used by the cache")
        }
        async fn get_token(
            &self,
            name: &str,
            version: Option<&str>,
        ) -> Result<Option<TokenSecret>> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let versions = self.versions.lock().unwrap();
            Ok(versions
                .get(&(name.into(), version.unwrap().into()))
                .map(|token| secret(token)))
        }
    }

    fn secret(token: &str) -> TokenSecret {
        TokenSecret {
            access_token: SecretString::from(token),
            system_user_id: SystemUserId::parse("1").unwrap(),
            client_business_id: ClientBusinessId::parse("2").unwrap(),
            scopes: vec![],
            expires_at: None,
            obtained_at: 0,
            assets: None,
        }
    }

    #[tokio::test]
    async fn a_warm_read_of_the_same_version_makes_no_vault_call() {
        let vault = CountingVault::default();
        let cache = SecretCache::default();
        let v1 = vault
            .put_token("s", &secret("first"))
            .await
            .unwrap()
            .version_id;
        let read = |version: String| {
            let (vault, cache) = (&vault, &cache);
            async move {
                cache
                    .get(vault, "s", &version)
                    .await
                    .unwrap()
                    .map(|s| s.access_token.expose_secret().to_owned())
            }
        };
        assert_eq!(read(v1.clone()).await.as_deref(), Some("first"));
        assert_eq!(read(v1.clone()).await.as_deref(), Some("first"));
        assert_eq!(
            vault.reads.load(Ordering::SeqCst),
            1,
            "the second read came from memory"
        );

        let v2 = vault
            .put_token("s", &secret("second"))
            .await
            .unwrap()
            .version_id;
        assert_eq!(
            read(v2).await.as_deref(),
            Some("second"),
            "a new version is read at once"
        );
        assert_eq!(vault.reads.load(Ordering::SeqCst), 2);
        assert_eq!(read("gone".into()).await, None);
        assert_eq!(vault.reads.load(Ordering::SeqCst), 3);
    }
}
