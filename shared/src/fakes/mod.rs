//! In-memory ports for unit tests of every flow. Each call passes a shared checkpoint, so a
//! test can pause a flow before its Nth call (to interleave another flow, or to drop it there
//! as a crash would), and the fake Graph answers any Meta error on any call.

mod clock;
mod graph;
mod interleave;
pub mod scenario;
mod signals;
mod store;
mod vault;

pub use clock::FakeClock;
pub use graph::{Call, FakeGraph};
pub use interleave::Interleaver;
pub use signals::MemorySignals;
pub use store::MemoryStore;
pub use vault::MemoryVault;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::adapters::secret_cache::CachedVault;
use crate::ports::Ports;
use crate::settings::Settings;

/// One world of fakes, sharing a checkpoint and a clock.
#[derive(Clone)]
pub struct Fakes {
    pub store: Arc<MemoryStore>,
    pub vault: Arc<MemoryVault>,
    pub graph: Arc<FakeGraph>,
    pub clock: Arc<FakeClock>,
    pub signals: Arc<MemorySignals>,
    pub interleaver: Arc<Interleaver>,
}

/// A start time for tests: 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600;

impl Default for Fakes {
    fn default() -> Self {
        Self::new()
    }
}

impl Fakes {
    pub fn new() -> Self {
        let interleaver = Arc::new(Interleaver::default());
        let clock = Arc::new(FakeClock::new(T0));
        Self {
            store: Arc::new(MemoryStore::new(interleaver.clone())),
            vault: Arc::new(MemoryVault::with_checkpoint(interleaver.clone())),
            graph: Arc::new(FakeGraph::new(interleaver.clone(), clock.clone())),
            clock,
            signals: Arc::default(),
            interleaver,
        }
    }

    pub fn ports(&self) -> Ports {
        self.ports_with(Settings::for_tests())
    }

    /// The ports with the vault behind the secret cache, as `deps` wires the real ones.
    pub fn cached_ports(&self) -> Ports {
        Ports {
            vault: Arc::new(CachedVault::new(self.vault.clone())),
            ..self.ports()
        }
    }

    pub fn ports_with(&self, settings: Settings) -> Ports {
        Ports {
            store: self.store.clone(),
            vault: self.vault.clone(),
            graph: self.graph.clone(),
            clock: self.clock.clone(),
            signals: self.signals.clone(),
            settings: Arc::new(settings),
        }
    }
}

/// Counts down a fault knob: `true` (and one fewer left) while any is left.
fn take_one(left: &AtomicUsize) -> bool {
    left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}
