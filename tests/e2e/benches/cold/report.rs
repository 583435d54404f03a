//! What the benchmark measured, the table it prints and writes, and the targets it checks.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use crate::host;
use crate::stats::{Sample, ms};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Floor,
    OauthCallback,
    DatasetLookup,
    TokenFetch,
    Offboarding,
    Python,
}

impl Role {
    pub const FUNCTIONS: [Role; 4] = [
        Role::OauthCallback,
        Role::DatasetLookup,
        Role::TokenFetch,
        Role::Offboarding,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::Floor => "floor-echo",
            Role::OauthCallback => "oauth-callback",
            Role::DatasetLookup => "dataset-lookup",
            Role::TokenFetch => "token-fetch",
            Role::Offboarding => "offboarding",
            Role::Python => "python-token-fetch",
        }
    }

    pub fn workloads(self) -> &'static [Workload] {
        match self {
            Role::Floor => &[Workload::Echo],
            Role::OauthCallback => &[Workload::CodePost],
            Role::DatasetLookup => &[Workload::DatasetsCached],
            Role::TokenFetch | Role::Python => &[Workload::CacheHit, Workload::CacheMiss],
            Role::Offboarding => &[Workload::WebhookDelivery],
        }
    }

    /// Whose init instructions are counted: ours and the floor.
    pub fn callgrind(self) -> bool {
        self != Role::Python
    }

    /// The most init may cost, in multiples of the floor's.
    fn init_target(self) -> Option<f64> {
        match self {
            Role::TokenFetch => Some(2.0),
            Role::OauthCallback | Role::DatasetLookup | Role::Offboarding => Some(3.0),
            Role::Floor | Role::Python => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Workload {
    Echo,
    CacheHit,
    CacheMiss,
    DatasetsCached,
    CodePost,
    WebhookDelivery,
}

impl Workload {
    pub fn describe(self) -> &'static str {
        match self {
            Workload::Echo => "echo",
            Workload::CacheHit => "token, cache hit",
            Workload::CacheMiss => "token, cache miss (force_refresh)",
            Workload::DatasetsCached => "GET /clients/{id}/datasets, cached",
            Workload::CodePost => "POST /oauth/code (exchange with the emulator)",
            Workload::WebhookDelivery => "signed webhook delivery (business_integration_update)",
        }
    }

    /// The criterion benchmark of its own time over the fakes, if there is one.
    fn own_time_bench(self) -> Option<&'static str> {
        match self {
            Workload::Echo => None,
            Workload::CacheHit => Some("token_fetch_cache_hit"),
            Workload::CacheMiss => Some("token_fetch_cache_miss"),
            Workload::DatasetsCached => Some("dataset_lookup_cached"),
            Workload::CodePost => Some("code_post"),
            Workload::WebhookDelivery => Some("webhook_delivery"),
        }
    }
}

/// Where the certificate store is: this machine's directory, or one bundle file as on Lambda.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layout {
    SystemDirectory,
    SingleBundle,
}

impl Layout {
    pub const ALL: [Layout; 2] = [Layout::SystemDirectory, Layout::SingleBundle];

    fn describe(self) -> &'static str {
        match self {
            Layout::SystemDirectory => "certificate directory (this machine)",
            Layout::SingleBundle => "single bundle file (as on Lambda)",
        }
    }

    /// The environment that selects it (`SSL_CERT_FILE`/`SSL_CERT_DIR`, as OpenSSL reads them).
    pub fn env(self, empty_dir: &Path) -> Vec<(String, String)> {
        match self {
            Layout::SystemDirectory => vec![],
            Layout::SingleBundle => vec![
                (
                    "SSL_CERT_FILE".into(),
                    "/etc/ssl/certs/ca-certificates.crt".into(),
                ),
                ("SSL_CERT_DIR".into(), empty_dir.display().to_string()),
            ],
        }
    }
}

#[derive(Default)]
pub struct Measured {
    cold_starts: usize,
    warm_count: usize,
    init: BTreeMap<(Layout, Role), Vec<Duration>>,
    first: BTreeMap<(Layout, Role), Vec<Duration>>,
    warm: BTreeMap<(Role, Workload), Sample>,
    rss_kib: BTreeMap<Role, u64>,
    /// Every count of each init under callgrind (they should agree to within a few hundred).
    instructions: BTreeMap<(Layout, Role), Vec<u64>>,
    zipped: BTreeMap<Role, u64>,
    own: BTreeMap<Workload, Duration>,
}

const MIB: f64 = 1024.0 * 1024.0;

impl Measured {
    pub fn new(cold_starts: usize, warm_count: usize) -> Self {
        Self {
            cold_starts,
            warm_count,
            ..Self::default()
        }
    }

    pub fn cold(&mut self, layout: Layout, role: Role, init: Duration, first: Duration) {
        self.init.entry((layout, role)).or_default().push(init);
        self.first.entry((layout, role)).or_default().push(first);
    }

    pub fn warm(&mut self, role: Role, workload: Workload, sample: Sample) {
        self.warm.insert((role, workload), sample);
    }

    pub fn peak_rss(&mut self, role: Role, kib: Option<u64>) {
        if let Some(kib) = kib {
            self.rss_kib.insert(role, kib);
        }
    }

    pub fn instructions(&mut self, layout: Layout, role: Role, count: u64) {
        self.instructions
            .entry((layout, role))
            .or_default()
            .push(count);
    }

    /// The fewest instructions of an init's runs.
    fn instruction_count(&self, layout: Layout, role: Role) -> Option<u64> {
        self.instructions
            .get(&(layout, role))?
            .iter()
            .min()
            .copied()
    }

    /// The largest difference between two runs of one init, relative to its count.
    fn instruction_spread(&self) -> f64 {
        self.instructions
            .values()
            .filter_map(|runs| {
                let (min, max) = (runs.iter().min()?, runs.iter().max()?);
                Some((max - min) as f64 / *min as f64)
            })
            .fold(0.0, f64::max)
    }

    /// The zipped arm64 bootstraps `cargo lambda build --arm64 --output-format zip` left.
    pub fn sizes(&mut self, lambda_dir: &Path) {
        for role in [Role::Floor].into_iter().chain(Role::FUNCTIONS) {
            if let Ok(meta) = std::fs::metadata(lambda_dir.join(role.name()).join("bootstrap.zip"))
            {
                self.zipped.insert(role, meta.len());
            }
        }
    }

    /// Criterion's median estimates of the own-time benchmarks, where they ran.
    pub fn own_times(&mut self, criterion_dir: &Path) {
        let workloads = [
            Workload::CacheHit,
            Workload::CacheMiss,
            Workload::DatasetsCached,
            Workload::CodePost,
            Workload::WebhookDelivery,
        ];
        for workload in workloads {
            let Some(bench) = workload.own_time_bench() else {
                continue;
            };
            let path = criterion_dir.join(bench).join("new/estimates.json");
            let median = std::fs::read(&path)
                .ok()
                .and_then(|raw| serde_json::from_slice::<serde_json::Value>(&raw).ok())
                .and_then(|e| e["median"]["point_estimate"].as_f64());
            if let Some(ns) = median {
                self.own.insert(workload, Duration::from_nanos(ns as u64));
            }
        }
    }

    fn init_median(&self, layout: Layout, role: Role) -> Option<Duration> {
        let times = self.init.get(&(layout, role))?;
        Some(Sample::new(times.clone()).median())
    }

    fn init_ratio(&self, layout: Layout, role: Role) -> Option<f64> {
        let floor = self.init_median(layout, Role::Floor)?;
        Some(self.init_median(layout, role)?.as_secs_f64() / floor.as_secs_f64())
    }

    fn instruction_ratio(&self, layout: Layout, role: Role) -> Option<f64> {
        let floor = self.instruction_count(layout, Role::Floor)?;
        Some(self.instruction_count(layout, role)? as f64 / floor as f64)
    }

    /// Init and first request of each cold start, added up: what a cold caller waits for in all.
    fn cold_total(&self, layout: Layout, role: Role) -> Sample {
        let (init, first) = (
            self.init.get(&(layout, role)),
            self.first.get(&(layout, role)),
        );
        let totals = init
            .zip(first)
            .map(|(i, f)| i.iter().zip(f).map(|(i, f)| *i + *f).collect())
            .unwrap_or_default();
        Sample::new(totals)
    }

    /// Python's token-fetch init and first request over ours.
    fn python_total_ratio(&self, layout: Layout) -> f64 {
        let ours = self.cold_total(layout, Role::TokenFetch).median();
        self.cold_total(layout, Role::Python).median().as_secs_f64() / ours.as_secs_f64()
    }

    /// Python's token-fetch init over ours.
    fn python_ratio(&self, layout: Layout) -> Option<f64> {
        let python = self.init_median(layout, Role::Python)?;
        Some(python.as_secs_f64() / self.init_median(layout, Role::TokenFetch)?.as_secs_f64())
    }
}

/// The targets of issue 13 that this run missed, in words.
pub fn missed_targets(m: &Measured) -> Vec<String> {
    let mut missed = Vec::new();
    for layout in Layout::ALL {
        for role in Role::FUNCTIONS {
            let target = role.init_target().expect("functions have targets");
            for (what, ratio) in [
                ("init time", m.init_ratio(layout, role)),
                ("init instructions", m.instruction_ratio(layout, role)),
            ] {
                match ratio {
                    Some(r) if r <= target => {}
                    Some(r) => missed.push(format!(
                        "{}: {what} {r:.2}x the floor, target {target}x ({})",
                        role.name(),
                        layout.describe()
                    )),
                    None => missed.push(format!("{}: no {what} measured", role.name())),
                }
            }
        }
        match m.python_ratio(layout) {
            Some(r) if r >= 30.0 => {}
            r => missed.push(format!(
                "Python token-fetch init is {r:.1?}x ours, target at least 30x ({})",
                layout.describe()
            )),
        }
    }
    match m.own.get(&Workload::CacheHit) {
        Some(d) if *d < Duration::from_micros(100) => {}
        d => missed.push(format!(
            "token-fetch cache hit own time {d:?}, target under 100 µs"
        )),
    }
    for role in [Role::Floor].into_iter().chain(Role::FUNCTIONS) {
        match m.rss_kib.get(&role) {
            Some(kib) if (*kib as f64) * 1024.0 < 32.0 * MIB => {}
            kib => missed.push(format!(
                "{}: peak RSS {kib:?} KiB, target under 32 MiB",
                role.name()
            )),
        }
        if role == Role::Floor {
            continue;
        }
        match m.zipped.get(&role) {
            Some(bytes) if (*bytes as f64) < 8.0 * MIB => {}
            bytes => missed.push(format!(
                "{}: zipped arm64 bootstrap {bytes:?} bytes, target under 8 MiB",
                role.name()
            )),
        }
    }
    missed
}

fn ratio(r: Option<f64>) -> String {
    r.map(|r| format!("{r:.2}x")).unwrap_or_else(|| "-".into())
}

/// The results as Markdown: the machine and date, then one table per measure.
pub fn render(m: &Measured) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Cold start and warm cost (`make bench`)\n");
    let _ = writeln!(out, "{}\n", machine());
    let _ = writeln!(
        out,
        "Release x86_64 binaries, each started cold {} times per certificate layout, interleaved \
         with the others, under a local Lambda Runtime API; moto_server and the Graph emulator on \
         loopback (plain HTTP: no TLS handshake is in these figures). Init: process start to the \
         first request for an event. Ratios are to the floor (a minimal `lambda_runtime` echo \
         with the same release profile). The functions make their AWS clients and read the app \
         secret on first use, so that work is in the first request, not in init.\n",
        m.cold_starts
    );
    for layout in Layout::ALL {
        let _ = writeln!(out, "## Init, {}\n", layout.describe());
        let _ = writeln!(
            out,
            "| binary | init median | init p95 | x floor | instructions | x floor | first request median | first request p95 | init + first request median |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for role in [
            Role::Floor,
            Role::OauthCallback,
            Role::DatasetLookup,
            Role::TokenFetch,
            Role::Offboarding,
            Role::Python,
        ] {
            let init = Sample::new(m.init.get(&(layout, role)).cloned().unwrap_or_default());
            let first = Sample::new(m.first.get(&(layout, role)).cloned().unwrap_or_default());
            let instructions = m
                .instruction_count(layout, role)
                .map(|n| format!("{n}"))
                .unwrap_or_else(|| "-".into());
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                role.name(),
                ms(init.median()),
                ms(init.percentile(95.0)),
                ratio(m.init_ratio(layout, role)),
                instructions,
                ratio(m.instruction_ratio(layout, role)),
                ms(first.median()),
                ms(first.percentile(95.0)),
                ms(m.cold_total(layout, role).median()),
            );
        }
        let _ = writeln!(
            out,
            "\nPython token-fetch / Rust token-fetch: init {}, init + first request {:.1}x\n",
            ratio(m.python_ratio(layout)),
            m.python_total_ratio(layout)
        );
    }
    let _ = writeln!(
        out,
        "Instructions: `valgrind --tool=callgrind`, process start to the first request for an \
         event, the fewest of {} runs; runs of one init differed by at most {:.3}%.\n",
        m.instructions.values().map(Vec::len).max().unwrap_or(0),
        m.instruction_spread() * 100.0
    );
    let _ = writeln!(
        out,
        "## Warm requests ({} each, after 10 to warm up)\n",
        m.warm_count
    );
    let _ = writeln!(
        out,
        "| binary | event | median | p99 | own time over the fakes (median) |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|");
    for ((role, workload), sample) in &m.warm {
        let own = m
            .own
            .get(workload)
            .filter(|_| *role != Role::Python)
            .map(|d| format!("{:.1} µs", d.as_secs_f64() * 1e6))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {own} |",
            role.name(),
            workload.describe(),
            ms(sample.median()),
            ms(sample.percentile(99.0)),
        );
    }
    let _ = writeln!(out, "\n## Memory and size\n");
    let _ = writeln!(
        out,
        "| binary | peak RSS after the warm requests | zipped arm64 bootstrap |"
    );
    let _ = writeln!(out, "|---|---:|---:|");
    for role in [Role::Floor]
        .into_iter()
        .chain(Role::FUNCTIONS)
        .chain([Role::Python])
    {
        let rss = m
            .rss_kib
            .get(&role)
            .map(|k| format!("{:.1} MiB", *k as f64 / 1024.0))
            .unwrap_or_else(|| "-".into());
        let zipped = m
            .zipped
            .get(&role)
            .map(|b| format!("{:.2} MiB", *b as f64 / MIB))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(out, "| {} | {rss} | {zipped} |", role.name());
    }
    let missed = missed_targets(m);
    let _ = writeln!(out, "\n## Targets\n");
    if missed.is_empty() {
        let _ = writeln!(
            out,
            "All met: token-fetch init at most 2x the floor and the others at most 3x (time and \
             instructions, both layouts); Python at least 30x ours; the cache hit's own time under \
             100 µs; peak RSS under 32 MiB; zipped arm64 binaries under 8 MiB."
        );
    }
    for miss in missed {
        let _ = writeln!(out, "- missed: {miss}");
    }
    out
}

/// The machine, the date and the commit, for the table's heading.
fn machine() -> String {
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!(
        "Measured {date} on {} (Linux x86_64), commit {}.",
        host::machine(),
        host::commit()
    )
}
