//! Instances of one function, each under its own Runtime API: a request takes an idle one and
//! gives it back, as Lambda hands an invocation to an idle execution environment, so at most
//! as many invocations run at once as there are instances.

use std::ops::Deref;
use std::path::Path;
use std::sync::Mutex;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::instance::{Instance, Launch};

pub struct Pool {
    pub name: &'static str,
    instances: Vec<Instance>,
    idle: Mutex<Vec<usize>>,
    permits: Semaphore,
}

impl Pool {
    /// Starts `count` instances of `launch`, one after the other, their output in `log`.
    pub async fn start(launch: &Launch, count: usize, log: &Path) -> Result<Self, String> {
        let mut instances = Vec::with_capacity(count);
        for _ in 0..count {
            instances.push(Instance::start(launch, log).await?);
        }
        Ok(Self {
            name: launch.name,
            instances,
            idle: Mutex::new((0..count).rev().collect()),
            permits: Semaphore::new(count),
        })
    }

    /// An idle instance, once there is one.
    pub async fn take(&self) -> Lease<'_> {
        let permit = self
            .permits
            .acquire()
            .await
            .expect("the pool is never closed");
        let index = self
            .idle
            .lock()
            .unwrap()
            .pop()
            .expect("a permit means an idle instance");
        Lease {
            pool: self,
            index,
            _permit: permit,
        }
    }

    /// Each instance's peak memory (VmHWM, KiB); `None` for one whose process is gone.
    pub fn peak_rss_kib(&self) -> Vec<Option<u64>> {
        self.instances.iter().map(Instance::peak_rss_kib).collect()
    }
}

/// An instance taken from its pool; it is idle again when the lease is dropped.
pub struct Lease<'a> {
    pool: &'a Pool,
    index: usize,
    _permit: SemaphorePermit<'a>,
}

impl Deref for Lease<'_> {
    type Target = Instance;

    fn deref(&self) -> &Instance {
        &self.pool.instances[self.index]
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        // Back in the list before the permit (a later field) is released.
        self.pool.idle.lock().unwrap().push(self.index);
    }
}
