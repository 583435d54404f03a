//! The scale test of issue 11 (`make scale`, not part of `make test`): 10,000 clients seeded in
//! moto_server and the Graph emulator, some with expiring, invalid and throttled tokens and
//! pending webhook changes; the real sweep over the real adapters runs every 15 simulated
//! minutes for two health-check intervals, then once more after a simulated day without runs.
//! It checks that every client is checked exactly once per interval, none skipped, none twice,
//! that throttling and Meta's app usage are respected, and writes its figures to bench/.
//!
//! Knobs (environment): SCALE_CLIENTS (10000), SCALE_INTERVAL_SECS (86400, the default of
//! HEALTH_CHECK_INTERVAL_SECS), SCALE_INTERVALS (2), SCALE_OUTAGE (1: the day-long backlog
//! phase; 0: skip it), SCALE_OUT (bench/scale.md).

mod checks;
mod figures;
// Only its `commit`: the scale figures describe the machine with its memory and load.
#[allow(dead_code)]
#[path = "../cold/host.rs"]
mod host;
mod seed;
mod sim;
mod stack;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use local_stack::stack::{APP_ID, APP_SECRET_ID, SECRET_PREFIX, TABLE, workspace_root};
use serde_json::Value;
use shared::config::Config;
use shared::model::ChangeStatus;
use shared::ports::{DUE_SHARDS, Ports};
use shared::sweep::{self, Limits};

use seed::{Category, Seeded};
use shared::fakes::FakeClock;
use sim::{Answer, CountedSignals, Recorder};

/// The sweep's schedule (infra/template.yaml): every 15 minutes.
pub const RUN_EVERY_SECS: i64 = 15 * 60;
/// What the emulator says about a throttled business: access back in an hour.
pub const THROTTLE_MINUTES: i64 = 60;
/// Late by this many runs at most (beyond the app-usage pause): the brief's "small lag".
pub const LAG_RUNS: i64 = 2;
/// Calls a run may still make while Meta's app usage is at or over 90%: those in flight.
pub const HANDFUL: usize = 8;
/// App usage in percent: normal, near the limit (one item at a time), over the limit (stop).
const USAGE_LOW: u32 = 3;
const USAGE_SLOW: u32 = 80;
const USAGE_HIGH: u32 = 95;

/// When Meta's app usage is high, in runs of the first interval.
#[derive(Clone, Copy, Debug)]
pub struct UsagePlan {
    /// First run answered with 95%.
    pub high_from: usize,
    /// Runs at 95%.
    pub high_runs: usize,
    /// The run after them is answered with 80%, the ones after with 3%.
    pub slow_run: usize,
}

impl UsagePlan {
    fn for_interval(runs_per_interval: usize) -> Self {
        let high_from = (runs_per_interval * 2 / 5).max(2);
        let high_runs = 3;
        Self {
            high_from,
            high_runs,
            slow_run: high_from + high_runs,
        }
    }

    pub fn is_high(&self, run: usize) -> bool {
        (self.high_from..self.slow_run).contains(&run)
    }

    fn usage(&self, run: usize) -> u32 {
        if self.is_high(run) {
            USAGE_HIGH
        } else if run == self.slow_run {
            USAGE_SLOW
        } else {
            USAGE_LOW
        }
    }
}

pub struct Settings {
    pub clients: usize,
    pub interval: i64,
    pub intervals: i64,
    pub outage: bool,
    pub runs_per_interval: usize,
    pub usage: UsagePlan,
    pub limits: Limits,
    pub out: std::path::PathBuf,
}

impl Settings {
    fn from_env() -> Self {
        let number = |name: &str, default: i64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .unwrap_or(default)
        };
        let interval = number("SCALE_INTERVAL_SECS", 86400).max(RUN_EVERY_SECS);
        let runs_per_interval = (interval + RUN_EVERY_SECS - 1) / RUN_EVERY_SECS;
        Self {
            clients: number("SCALE_CLIENTS", 10_000).max(100) as usize,
            interval,
            intervals: number("SCALE_INTERVALS", 2).max(1),
            outage: number("SCALE_OUTAGE", 1) != 0,
            runs_per_interval: runs_per_interval as usize,
            usage: UsagePlan::for_interval(runs_per_interval as usize),
            limits: Limits::from(sweep::DEFAULT_MAX_ITEMS),
            out: std::env::var_os("SCALE_OUT")
                .map(Into::into)
                .unwrap_or_else(|| workspace_root().join("bench/scale.md")),
        }
    }
}

/// One sweep run, as measured.
#[derive(Clone, Debug)]
pub struct RunRecord {
    pub run: usize,
    pub phase: Phase,
    pub at: i64,
    pub app_usage: u32,
    pub wall: Duration,
    pub report: Value,
    /// Seconds since the oldest due item fell due, when the run started.
    pub oldest_before: i64,
    pub graph_calls: usize,
    pub debug_tokens: usize,
}

impl RunRecord {
    pub fn field(&self, name: &str) -> i64 {
        self.report.get(name).and_then(Value::as_i64).unwrap_or(0)
    }
    pub fn stopped(&self) -> Option<String> {
        self.report
            .get("stopped")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Interval,
    Outage,
}

/// What the checks read besides the runs.
pub struct Outcome {
    pub t0: i64,
    pub seeded: Vec<Seeded>,
    pub runs: Vec<RunRecord>,
    pub calls: Vec<sim::Call>,
    /// Each client's item at the end.
    pub finals: HashMap<String, shared::model::Client>,
    /// Each webhook change's status at the end, and the run that settled it.
    pub changes: HashMap<String, (ChangeStatus, Option<usize>)>,
    /// Calls the emulator refused per throttled business (read before each lift).
    pub refused: HashMap<String, u64>,
    /// When each throttled business regained access (the benchmark lifted it then).
    pub regained: HashMap<String, i64>,
    pub seed_wall: Duration,
    pub total_wall: Duration,
    pub signals: BTreeMap<String, u64>,
}

fn main() {
    let settings = Settings::from_env();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let outcome = match runtime.block_on(run(&settings)) {
        Ok(outcome) => outcome,
        Err(err) => {
            eprintln!("scale: could not run: {err}");
            std::process::exit(2);
        }
    };
    let results = checks::check(&settings, &outcome);
    let text = figures::render(&settings, &outcome, &results);
    println!("{text}");
    if let Err(err) = figures::write(&settings, &outcome, &text) {
        eprintln!("scale: could not write the figures: {err}");
        std::process::exit(2);
    }
    let failed: Vec<_> = results.iter().filter(|c| !c.passed).collect();
    if !failed.is_empty() {
        eprintln!("scale: {} check(s) FAILED:", failed.len());
        for check in failed {
            eprintln!("  - {}: {}", check.name, check.detail);
        }
        std::process::exit(1);
    }
    println!(
        "scale: every check passed; figures in {}",
        settings.out.display()
    );
}

async fn run(settings: &Settings) -> Result<Outcome, String> {
    let started = Instant::now();
    let log_dir = workspace_root().join(".stack/scale");
    let stack = stack::Stack::start(&log_dir).await?;
    println!(
        "scale: moto_server (moto_fast.py) at {}, emulator at {}; logs in {}",
        stack.moto_url,
        stack.emulator.url,
        log_dir.display()
    );

    let wall_now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    // The simulation starts on a run of the schedule.
    let t0 = wall_now - wall_now % RUN_EVERY_SECS;
    let clock = Arc::new(FakeClock::new(t0));
    let (ports, recorder, signals) = ports(settings, &stack, clock.clone()).await?;

    let seeding = Instant::now();
    let seeded = seed::seed(
        &ports,
        &stack.emulator,
        &recorder,
        settings.clients,
        t0,
        settings.interval,
    )
    .await?;
    let seed_wall = seeding.elapsed();
    println!(
        "scale: seeded {} clients in {:.1} s ({})",
        seeded.len(),
        seed_wall.as_secs_f64(),
        seed::mix(settings.clients)
            .iter()
            .map(|(c, n)| format!("{n} {}", c.name()))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let mut state = Runner {
        settings,
        ports: &ports,
        recorder: &recorder,
        emulator: &stack.emulator,
        clock: &clock,
        t0,
        runs: Vec::new(),
        throttled: seeded
            .iter()
            .filter(|s| s.category == Category::Throttled)
            .map(|s| s.id.to_string())
            .collect(),
        first_refusal: HashMap::new(),
        regained: HashMap::new(),
        refused: HashMap::new(),
        changes: seeded
            .iter()
            .filter_map(|s| s.change.clone())
            .map(|hash| (hash, (ChangeStatus::Received, None)))
            .collect(),
    };

    // The intervals, then runs until nothing due is left.
    let planned = settings.runs_per_interval * settings.intervals as usize;
    let mut k = 0;
    loop {
        let record = state.run(k, Phase::Interval).await?;
        let drained = record.field("left") == 0 && record.stopped().is_none();
        k += 1;
        if k >= planned && (drained || k >= planned + 16) {
            break;
        }
    }

    // A day without runs: everything active is due at once.
    if settings.outage {
        let first = k;
        let last_at = state.runs.last().map_or(t0, |r| r.at);
        let skip = settings.runs_per_interval;
        println!(
            "scale: outage: no run for {} s, then runs until the backlog is drained",
            settings.interval
        );
        loop {
            let record = state
                .run_at(
                    k,
                    last_at + (k - first + skip) as i64 * RUN_EVERY_SECS,
                    Phase::Outage,
                )
                .await?;
            k += 1;
            if (record.field("left") == 0 && record.stopped().is_none()) || k - first >= 40 {
                break;
            }
        }
    }

    let finals = finals(&ports, &seeded).await?;
    let calls = recorder.calls();
    let signal_counts = [
        "HealthCheck",
        "GraphThrottled",
        "ReconnectNeeded",
        "WebhookChange",
        "SweepRun",
    ]
    .into_iter()
    .map(|name| (name.to_owned(), signals.count(name)))
    .collect();
    Ok(Outcome {
        t0,
        seeded,
        runs: state.runs,
        calls,
        finals,
        changes: state.changes,
        refused: state.refused,
        regained: state.regained,
        seed_wall,
        total_wall: started.elapsed(),
        signals: signal_counts,
    })
}

/// The real ports on the simulated clock, with the Graph adapter recorded and signals counted.
async fn ports(
    settings: &Settings,
    stack: &stack::Stack,
    clock: Arc<FakeClock>,
) -> Result<(Ports, Arc<Recorder>, Arc<CountedSignals>), String> {
    let values = [
        ("META_APP_ID", APP_ID.to_owned()),
        ("APP_SECRET_ID", APP_SECRET_ID.to_owned()),
        ("TABLE_NAME", TABLE.to_owned()),
        ("SECRET_PREFIX", SECRET_PREFIX.to_owned()),
        ("GRAPH_API_BASE_URL", stack.emulator.url.clone()),
        ("HEALTH_CHECK_INTERVAL_SECS", settings.interval.to_string()),
    ];
    let config = Config::from_lookup(|name| {
        values
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .map_err(|e| format!("configuration: {e}"))?;
    let aws = local_stack::aws::sdk_config(&stack.moto_url).await;
    // Signals counted here rather than printed.
    let signals = Arc::new(CountedSignals::default());
    let mut ports = shared::deps::ports_at(&config, &aws, clock.clone(), signals.clone());
    let recorder = Arc::new(Recorder::new(ports.graph.clone(), clock));
    ports.graph = recorder.clone();
    Ok((ports, recorder, signals))
}

struct Runner<'a> {
    settings: &'a Settings,
    ports: &'a Ports,
    recorder: &'a Recorder,
    emulator: &'a stack::Emulator,
    clock: &'a FakeClock,
    t0: i64,
    runs: Vec<RunRecord>,
    /// Businesses the emulator still throttles.
    throttled: HashSet<String>,
    /// When Meta first refused a call about each throttled business.
    first_refusal: HashMap<String, i64>,
    regained: HashMap<String, i64>,
    refused: HashMap<String, u64>,
    /// Each webhook change's status, and the run that settled it.
    changes: HashMap<String, (ChangeStatus, Option<usize>)>,
}

impl Runner<'_> {
    async fn run(&mut self, k: usize, phase: Phase) -> Result<RunRecord, String> {
        self.run_at(k, self.t0 + k as i64 * RUN_EVERY_SECS, phase)
            .await
    }

    async fn run_at(&mut self, k: usize, at: i64, phase: Phase) -> Result<RunRecord, String> {
        self.clock.set(at);
        self.recorder.set_run(k);
        self.lift_throttles(at).await?;
        let usage = match phase {
            Phase::Interval => self.settings.usage.usage(k),
            Phase::Outage => USAGE_LOW,
        };
        let previous = self.runs.last().map(|r| r.app_usage);
        if previous != Some(usage) {
            self.emulator.set_app_usage(usage).await?;
        }
        let oldest_before = oldest_due_age(self.ports, at).await?;
        let calls_before = self.recorder.len();
        let started = Instant::now();
        let report = sweep::sweep(self.ports, self.settings.limits)
            .await
            .map_err(|e| format!("run {k}: the sweep failed: {e}"))?;
        let wall = started.elapsed();
        let this_run = self.recorder.calls_since(calls_before);
        for call in &this_run {
            if let (
                Answer::Refused {
                    code: Some(80000..=80014),
                },
                Some(client),
            ) = (&call.answer, &call.client)
                && self.throttled.contains(client)
            {
                self.first_refusal.entry(client.clone()).or_insert(call.at);
            }
        }
        let record = RunRecord {
            run: k,
            phase,
            at,
            app_usage: usage,
            wall,
            report: serde_json::to_value(&report).expect("the report serializes"),
            oldest_before,
            graph_calls: this_run.iter().filter(|c| c.sent()).count(),
            debug_tokens: this_run
                .iter()
                .filter(|c| c.sent() && c.kind == sim::Kind::DebugToken)
                .count(),
        };
        self.settle_changes(k).await?;
        if k.is_multiple_of(8) || phase == Phase::Outage || record.stopped().is_some() {
            println!(
                "scale: run {k:>3} (+{:>6.2} h, usage {usage:>2}%): claimed {:>5} in {:>6.2} s, {} Graph calls, left {}, oldest due {} s{}",
                (at - self.t0) as f64 / 3600.0,
                record.field("claimed"),
                wall.as_secs_f64(),
                record.graph_calls,
                record.field("left"),
                record.field("oldest_due_age_secs"),
                record
                    .stopped()
                    .map(|s| format!(", stopped: {s}"))
                    .unwrap_or_default()
            );
        }
        self.runs.push(record.clone());
        Ok(record)
    }

    /// Lifts, in the emulator, the throttle of every business whose access has returned by
    /// `now`: an hour after Meta first refused it, as its header said.
    async fn lift_throttles(&mut self, now: i64) -> Result<(), String> {
        if self.throttled.is_empty() {
            return Ok(());
        }
        let due: Vec<String> = self
            .first_refusal
            .iter()
            .filter(|(id, at)| self.throttled.contains(*id) && **at + THROTTLE_MINUTES * 60 <= now)
            .map(|(id, _)| id.clone())
            .collect();
        if due.is_empty() {
            return Ok(());
        }
        let listed = self.emulator.get("/_emulator/throttles").await?;
        for entry in listed["throttles"].as_array().into_iter().flatten() {
            if let (Some(id), Some(n)) = (entry["business_id"].as_str(), entry["refused"].as_u64())
                && due.iter().any(|d| d == id)
            {
                self.refused.insert(id.to_owned(), n);
            }
        }
        self.emulator
            .delete(
                "/_emulator/throttles",
                serde_json::json!({ "business_ids": due }),
            )
            .await?;
        for id in due {
            let at = self.first_refusal[&id] + THROTTLE_MINUTES * 60;
            self.throttled.remove(&id);
            self.regained.insert(id, at);
        }
        Ok(())
    }

    /// Reads the webhook changes not settled yet; notes run `k` for those settled now.
    async fn settle_changes(&mut self, k: usize) -> Result<(), String> {
        for (hash, (status, settled)) in self.changes.iter_mut() {
            if settled.is_some() {
                continue;
            }
            let change = self
                .ports
                .store
                .change(hash)
                .await
                .map_err(|e| format!("reading a webhook change: {e}"))?
                .ok_or("a webhook change disappeared")?;
            *status = change.status;
            if change.status != ChangeStatus::Received {
                *settled = Some(k);
            }
        }
        Ok(())
    }
}

/// Seconds since the oldest entry of the `due` index fell due, at `now` (0: none is due).
async fn oldest_due_age(ports: &Ports, now: i64) -> Result<i64, String> {
    let mut oldest: Option<i64> = None;
    for shard in 0..DUE_SHARDS {
        let entries = ports
            .store
            .due(shard, now, 1)
            .await
            .map_err(|e| format!("reading the due index: {e}"))?;
        oldest = oldest
            .into_iter()
            .chain(entries.first().map(|e| e.due_at))
            .min();
    }
    Ok(oldest.map_or(0, |at| (now - at).max(0)))
}

/// Every seeded client's item at the end.
async fn finals(
    ports: &Ports,
    seeded: &[Seeded],
) -> Result<HashMap<String, shared::model::Client>, String> {
    use futures_util::StreamExt;
    let read: Vec<Result<Option<shared::model::Client>, String>> =
        futures_util::stream::iter(seeded)
            .map(|s| async move {
                ports
                    .store
                    .client(&s.id)
                    .await
                    .map_err(|e| format!("reading client {}: {e}", s.id))
            })
            .buffer_unordered(16)
            .collect()
            .await;
    let mut finals = HashMap::new();
    for client in read {
        if let Some(client) = client? {
            finals.insert(client.client_business_id.to_string(), client);
        }
    }
    Ok(finals)
}
