//! Signals kept in memory, so a test can see what the operator would.

use std::sync::Mutex;

use crate::model::Signal;
use crate::ports::Signals;

#[derive(Default)]
pub struct MemorySignals {
    seen: Mutex<Vec<Signal>>,
}

impl MemorySignals {
    pub fn seen(&self) -> Vec<Signal> {
        self.seen.lock().expect("signals lock").clone()
    }

    /// How many of the signals seen `matches` picks.
    pub fn count(&self, matches: impl Fn(&Signal) -> bool) -> usize {
        self.seen().iter().filter(|s| matches(s)).count()
    }
}

impl Signals for MemorySignals {
    fn emit(&self, signal: Signal) {
        self.seen.lock().expect("signals lock").push(signal);
    }
}
