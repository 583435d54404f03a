//! The checkpoint every fake call passes: a test arms it to pause a flow before its Nth call.

use std::future::Future;
use std::sync::Mutex;
use tokio::sync::Notify;

#[derive(Default)]
pub struct Interleaver {
    state: Mutex<State>,
    reached: Notify,
    resume: Notify,
}

#[derive(Default)]
struct State {
    /// Pause at this call (1-based) of the calls counted since arming.
    armed_at: Option<usize>,
    counted: usize,
    /// What the paused call was, for messages.
    paused_at: Option<String>,
    /// Every call that passed since `record_calls`, in order (`None`: not recording).
    passed: Option<Vec<String>>,
}

impl Interleaver {
    /// Called by every fake before it does anything.
    pub async fn checkpoint(&self, what: &str) {
        let pause = {
            let mut state = self.state.lock().expect("interleaver lock");
            if let Some(passed) = &mut state.passed {
                passed.push(what.to_owned());
            }
            match state.armed_at {
                Some(at) => {
                    state.counted += 1;
                    let hit = state.counted == at;
                    if hit {
                        state.armed_at = None;
                        state.paused_at = Some(what.to_owned());
                    }
                    hit
                }
                None => false,
            }
        };
        if pause {
            self.reached.notify_one();
            self.resume.notified().await;
        }
    }

    /// From now on, note every call that passes (see `take_calls`).
    pub fn record_calls(&self) {
        self.state.lock().expect("interleaver lock").passed = Some(Vec::new());
    }

    /// The calls that passed since `record_calls` or the last `take_calls`, in order.
    pub fn take_calls(&self) -> Vec<String> {
        let mut state = self.state.lock().expect("interleaver lock");
        state
            .passed
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Runs `flow` until just before its `at`th call, then runs `between` to the end, then lets
    /// `flow` go on. Returns the flow's output and, when it paused, the name of the call it
    /// paused before (`None`: the flow made fewer calls and ended on its own).
    pub async fn interleave<T, B: Future>(
        &self,
        at: usize,
        flow: impl Future<Output = T>,
        between: impl FnOnce() -> B,
    ) -> (T, Option<String>) {
        self.arm(at);
        let mut flow = std::pin::pin!(flow);
        tokio::select! {
            biased;
            out = &mut flow => { self.disarm(); return (out, None) }
            _ = self.reached.notified() => {}
        }
        between().await;
        let paused = self
            .state
            .lock()
            .expect("interleaver lock")
            .paused_at
            .take();
        self.resume.notify_one();
        (flow.await, paused)
    }

    /// Runs `flow` until just before its `at`th call and drops it there, as a crash would.
    /// Returns the call it died before, `None` when it finished first.
    pub async fn crash_before<T>(
        &self,
        at: usize,
        flow: impl Future<Output = T>,
    ) -> Option<String> {
        self.arm(at);
        let mut flow = std::pin::pin!(flow);
        tokio::select! {
            biased;
            _ = &mut flow => { self.disarm(); None }
            _ = self.reached.notified() => {
                self.state.lock().expect("interleaver lock").paused_at.take()
            }
        }
    }

    fn arm(&self, at: usize) {
        let mut state = self.state.lock().expect("interleaver lock");
        *state = State {
            armed_at: Some(at),
            ..State::default()
        };
    }

    fn disarm(&self) {
        self.state.lock().expect("interleaver lock").armed_at = None;
    }
}
