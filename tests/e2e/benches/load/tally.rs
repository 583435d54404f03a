//! What a phase counts: the latency of each kind of request that succeeded, every failure by
//! kind, and the phase's wall time; and the driver that keeps a bounded number in flight.

use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::stats::Sample;

/// What went wrong with one request. Every failure is an error of the run.
#[derive(Debug)]
pub enum Failure {
    /// An HTTP answer with another status than the route's success (any non-2xx among them).
    Status(String),
    /// The function reported an error to the Runtime API; its `errorType` and message.
    Function { error_type: String, message: String },
    /// No answer within the harness's limit.
    Timeout(String),
    /// A success whose content is not what the request should get.
    WrongAnswer(String),
    /// The harness or the emulator's control routes failed.
    Harness(String),
}

impl Failure {
    /// An error of `Instance::invoke` or `workloads::call`: the body the function posted to
    /// the Runtime API's error route, a timeout, or a status other than the one expected.
    pub fn from_invoke(err: String) -> Self {
        if let Ok(body) = serde_json::from_str::<Value>(&err)
            && let Some(error_type) = body["errorType"].as_str()
        {
            return Self::Function {
                error_type: error_type.to_owned(),
                message: body["errorMessage"].as_str().unwrap_or_default().to_owned(),
            };
        }
        if err.starts_with("no answer within") {
            Self::Timeout(err)
        } else if err.starts_with("expected ") && err.contains(", got ") {
            Self::Status(err)
        } else {
            Self::Harness(err)
        }
    }

    /// The kind it is counted under.
    pub fn kind(&self) -> String {
        match self {
            Self::Status(_) => "unexpected HTTP status".into(),
            Self::Function { error_type, .. } => format!("function error {error_type}"),
            Self::Timeout(_) => "timeout".into(),
            Self::WrongAnswer(_) => "wrong answer".into(),
            Self::Harness(_) => "harness or emulator".into(),
        }
    }

    fn detail(&self) -> &str {
        match self {
            Self::Status(s) | Self::Timeout(s) | Self::WrongAnswer(s) | Self::Harness(s) => s,
            Self::Function { message, .. } => message,
        }
    }
}

/// The failures kept word for word in the report.
const EXAMPLES: usize = 20;

#[derive(Default)]
pub struct Tally {
    latencies: Mutex<BTreeMap<&'static str, Vec<Duration>>>,
    errors: Mutex<BTreeMap<String, usize>>,
    examples: Mutex<Vec<String>>,
}

impl Tally {
    /// A request of kind `row` succeeded in `took`.
    pub fn ok(&self, row: &'static str, took: Duration) {
        self.latencies
            .lock()
            .unwrap()
            .entry(row)
            .or_default()
            .push(took);
    }

    /// A request of kind `row` failed; printed at once, as the run goes on.
    pub fn fail(&self, row: &'static str, failure: Failure) {
        let kind = failure.kind();
        *self.errors.lock().unwrap().entry(kind.clone()).or_default() += 1;
        let line = format!("{row}: {kind}: {}", failure.detail());
        eprintln!("load: error: {line}");
        let mut examples = self.examples.lock().unwrap();
        if examples.len() < EXAMPLES {
            examples.push(line);
        }
    }

    /// The phase as measured, its rows in the order of `rows`.
    pub fn finish(self, name: &'static str, wall: Duration, rows: &[&'static str]) -> Phase {
        let mut latencies = self.latencies.into_inner().unwrap();
        Phase {
            name,
            wall,
            rows: rows
                .iter()
                .filter_map(|row| latencies.remove_entry(row))
                .map(|(row, times)| Row {
                    name: row,
                    count: times.len(),
                    sample: Sample::new(times),
                })
                .collect(),
            errors: self.errors.into_inner().unwrap(),
            examples: self.examples.into_inner().unwrap(),
            cpu: Vec::new(),
        }
    }
}

/// A phase as measured.
pub struct Phase {
    pub name: &'static str,
    pub wall: Duration,
    pub rows: Vec<Row>,
    pub errors: BTreeMap<String, usize>,
    pub examples: Vec<String>,
    /// CPU seconds by process during the phase (`cpu::used`).
    pub cpu: Vec<(String, f64)>,
}

/// One kind of request: how many succeeded, and their latencies.
pub struct Row {
    pub name: &'static str,
    pub count: usize,
    pub sample: Sample,
}

impl Phase {
    pub fn error_count(&self) -> usize {
        self.errors.values().sum()
    }
}

/// Runs `job(0)` to `job(count - 1)` with at most `concurrency` in flight, printing progress
/// under `name`; answers the wall time.
pub async fn bounded<F, Fut>(name: &str, count: usize, concurrency: usize, job: F) -> Duration
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let step = (count / 10).max(1);
    let worker = || async {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= count {
                return;
            }
            job(i).await;
            let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
            if finished.is_multiple_of(step) || finished == count {
                println!(
                    "load: {name}: {finished}/{count} after {:.1} s",
                    started.elapsed().as_secs_f64()
                );
            }
        }
    };
    futures_util::future::join_all((0..concurrency.max(1)).map(|_| worker())).await;
    started.elapsed()
}
