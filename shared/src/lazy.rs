//! A value made on first use, so a cold start does only what every invocation needs: the AWS
//! SDK's configuration and clients, and the app secret, wait for the first request that uses
//! them.

use futures_util::future::BoxFuture;
use std::future::Future;
use tokio::sync::OnceCell;

use crate::error::Result;

type Make<T> = Box<dyn Fn() -> BoxFuture<'static, Result<T>> + Send + Sync>;

pub struct Lazy<T> {
    cell: OnceCell<T>,
    make: Make<T>,
}

impl<T: Send + Sync + 'static> Lazy<T> {
    /// Made by `make` on the first [`get`](Self::get); a failure is not kept, the next call
    /// tries again.
    pub fn new<F, Fut>(make: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T>> + Send + 'static,
    {
        Self {
            cell: OnceCell::new(),
            make: Box::new(move || Box::pin(make())),
        }
    }

    /// A value there is already (tests, and callers that hold a client).
    pub fn ready(value: T) -> Self {
        Self {
            cell: OnceCell::new_with(Some(value)),
            make: Box::new(|| {
                Box::pin(async { unreachable!("a ready value is never made again") })
            }),
        }
    }

    /// The value, made now if this is the first call; concurrent first calls make it once.
    pub async fn get(&self) -> Result<&T> {
        self.cell.get_or_try_init(|| (self.make)()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn made_once_on_first_use_and_retried_after_a_failure() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let lazy = Lazy::new(move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    Err(Error::UpstreamUnavailable("not yet".into()))
                } else {
                    Ok(n)
                }
            }
        });
        assert_eq!(
            calls.load(Ordering::SeqCst),
            0,
            "nothing is made before use"
        );
        assert!(lazy.get().await.is_err());
        let (a, b) = tokio::join!(lazy.get(), lazy.get());
        assert_eq!((*a.unwrap(), *b.unwrap()), (1, 1));
        assert_eq!(*lazy.get().await.unwrap(), 1);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "one failure, then made once"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_first_calls_on_threads_make_it_once() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let lazy = Arc::new(Lazy::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async {
                // Long enough that every caller arrives while it is being made.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                Ok(42)
            }
        }));
        let callers: Vec<_> = (0..8)
            .map(|_| {
                let lazy = lazy.clone();
                tokio::spawn(async move { *lazy.get().await.unwrap() })
            })
            .collect();
        for caller in callers {
            assert_eq!(caller.await.unwrap(), 42);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_ready_value_is_served_as_is() {
        assert_eq!(*Lazy::ready(7).get().await.unwrap(), 7);
    }
}
