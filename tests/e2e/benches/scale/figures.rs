//! The figures of a run: printed, and written to bench/scale.md with every run in
//! bench/scale-runs.csv.

use std::fmt::Write as _;
use std::time::Duration;

use crate::checks::Check;
use crate::seed::mix;
use crate::{LAG_RUNS, Outcome, Phase, RUN_EVERY_SECS, RunRecord, Settings, THROTTLE_MINUTES};

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    // Other work on the machine slows the run: the load says how much there was.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "{cpus} CPUs ({model}), {memory_gib:.0} GiB; load average at the end {}",
        load.join(" / ")
    )
}

struct Stats {
    min: f64,
    mean: f64,
    median: f64,
    max: f64,
}

fn stats(values: impl IntoIterator<Item = f64>) -> Stats {
    let mut v: Vec<f64> = values.into_iter().collect();
    if v.is_empty() {
        return Stats {
            min: 0.0,
            mean: 0.0,
            median: 0.0,
            max: 0.0,
        };
    }
    v.sort_by(f64::total_cmp);
    Stats {
        min: v[0],
        mean: v.iter().sum::<f64>() / v.len() as f64,
        median: v[v.len() / 2],
        max: v[v.len() - 1],
    }
}

fn row(name: &str, s: &Stats, digits: usize) -> String {
    format!(
        "| {name} | {:.d$} | {:.d$} | {:.d$} | {:.d$} |\n",
        s.min,
        s.median,
        s.mean,
        s.max,
        d = digits
    )
}

/// Least squares of wall time against items claimed: (seconds a run, seconds an item).
fn fit(runs: &[&RunRecord]) -> Option<(f64, f64)> {
    let points: Vec<(f64, f64)> = runs
        .iter()
        .map(|r| (r.field("claimed") as f64, secs(r.wall)))
        .collect();
    let n = points.len() as f64;
    if points.len() < 3 {
        return None;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let var: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let cov: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    (var > 0.0 && cov > 0.0).then(|| {
        let slope = cov / var;
        (mean_y - slope * mean_x, slope)
    })
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn phase_figures(out: &mut String, runs: &[&RunRecord]) {
    let claimed: i64 = runs.iter().map(|r| r.field("claimed")).sum();
    let wall: f64 = runs.iter().map(|r| secs(r.wall)).sum();
    let _ = writeln!(
        out,
        "- {} runs, {claimed} items claimed in {wall:.1} s of sweep time: **{:.1} items/s overall**",
        runs.len(),
        if wall > 0.0 {
            claimed as f64 / wall
        } else {
            0.0
        }
    );
    out.push_str("\n| per run | min | median | mean | max |\n|---|---|---|---|---|\n");
    out.push_str(&row(
        "items claimed",
        &stats(runs.iter().map(|r| r.field("claimed") as f64)),
        0,
    ));
    out.push_str(&row(
        "wall time (s)",
        &stats(runs.iter().map(|r| secs(r.wall))),
        2,
    ));
    out.push_str(&row(
        "items per second (wall)",
        &stats(
            runs.iter()
                .filter(|r| r.field("claimed") > 0)
                .map(|r| r.field("claimed") as f64 / secs(r.wall).max(1e-6)),
        ),
        1,
    ));
    out.push_str(&row(
        "Graph calls",
        &stats(runs.iter().map(|r| r.graph_calls as f64)),
        0,
    ));
    out.push_str(&row(
        "debug_token calls",
        &stats(runs.iter().map(|r| r.debug_tokens as f64)),
        0,
    ));
    out.push_str(&row(
        "oldest due item when the run starts (s)",
        &stats(runs.iter().map(|r| r.oldest_before as f64)),
        0,
    ));
    out.push_str(&row(
        "oldest due item left after the run (s, report)",
        &stats(runs.iter().map(|r| r.field("oldest_due_age_secs") as f64)),
        0,
    ));
    out.push_str(&row(
        "items left due after the run (report)",
        &stats(runs.iter().map(|r| r.field("left") as f64)),
        0,
    ));
    out.push('\n');
}

pub fn render(settings: &Settings, outcome: &Outcome, checks: &[Check]) -> String {
    let mut out = String::new();
    let passed = checks.iter().all(|c| c.passed);
    let _ = writeln!(
        out,
        "# Scale test: the sweep over {} clients\n",
        settings.clients
    );
    let _ = writeln!(
        out,
        "Written by `make scale` (tests/e2e/benches/scale). Result: **{}**.\n",
        if passed {
            "every check passed"
        } else {
            "CHECKS FAILED"
        }
    );
    let _ = writeln!(
        out,
        "- date: {}\n- machine: {}\n- commit: {}\n- whole run: {:.0} s wall (seeding {:.0} s)",
        shared::clock::rfc3339(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        ),
        machine(),
        super::host::commit(),
        secs(outcome.total_wall),
        secs(outcome.seed_wall),
    );
    let _ = writeln!(
        out,
        "- clients: {} ({}); first health checks spread uniformly over the first interval",
        settings.clients,
        mix(settings.clients)
            .iter()
            .map(|(c, n)| format!("{n} {}", c.name()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        out,
        "- seeding: {:.0} clients/s through the ports (secret, then the client item with its links and event in one transaction)",
        settings.clients as f64 / secs(outcome.seed_wall).max(1e-6)
    );
    let _ = writeln!(
        out,
        "- schedule: a run every {RUN_EVERY_SECS} s of simulated time; HEALTH_CHECK_INTERVAL_SECS {} ({} runs an interval), {} interval(s); limits per run: max_items {}, {} s",
        settings.interval,
        settings.runs_per_interval,
        settings.intervals,
        settings.limits.max_items,
        settings.limits.time.as_secs()
    );
    let _ = writeln!(
        out,
        "- Meta's app usage (X-App-Usage call_count): 3%, but 95% in runs {}..{} and 80% in run {}; throttled businesses regain access {THROTTLE_MINUTES} min after their first refusal\n",
        settings.usage.high_from,
        settings.usage.slow_run - 1,
        settings.usage.slow_run
    );

    out.push_str("## Checks\n\n| check | result |\n|---|---|\n");
    for check in checks {
        let _ = writeln!(
            out,
            "| {} | {} {} |",
            check.name,
            if check.passed { "PASS" } else { "**FAIL**" },
            check.detail.replace('|', "/")
        );
    }
    out.push('\n');

    let interval: Vec<&RunRecord> = outcome
        .runs
        .iter()
        .filter(|r| r.phase == Phase::Interval)
        .collect();
    let steady: Vec<&RunRecord> = interval
        .iter()
        .copied()
        .filter(|r| {
            let usage = settings.usage;
            r.run > 0 && !(usage.high_from..=usage.slow_run + LAG_RUNS as usize).contains(&r.run)
        })
        .collect();
    out.push_str("## Cost of a run\n\n");
    let fitted: Vec<&RunRecord> = outcome
        .runs
        .iter()
        .filter(|r| {
            let usage = settings.usage;
            r.phase == Phase::Outage || !(usage.high_from..=usage.slow_run).contains(&r.run)
        })
        .collect();
    match fit(&fitted) {
        Some((fixed, per_item)) => {
            let _ = writeln!(
                out,
                "Wall time of a run against the items it claimed, least squares over {} runs (the \
app-usage pause left out): **{fixed:.2} s a run plus {:.1} ms an item**, i.e. {:.0} items/s once \
a run is under way. The fixed part is mostly moto answering the `due` index queries (the rounds, \
and the report's count of what is left), each a pass over the whole table in Python.\n",
                fitted.len(),
                per_item * 1000.0,
                1.0 / per_item
            );
        }
        None => out.push_str("Too few runs to fit.\n\n"),
    }
    out.push_str("## Steady state (interval runs, without run 0 and the app-usage pause)\n\n");
    phase_figures(&mut out, &steady);
    out.push_str("## All interval runs\n\n");
    phase_figures(&mut out, &interval);

    let usage = settings.usage;
    let around: Vec<&RunRecord> = interval
        .iter()
        .copied()
        .filter(|r| (usage.high_from.saturating_sub(1)..=usage.slow_run + 2).contains(&r.run))
        .collect();
    out.push_str("## The app-usage pause\n\n| run | usage | claimed | Graph calls | left after | oldest due after (s) | stopped | wall (s) |\n|---|---|---|---|---|---|---|---|\n");
    for r in &around {
        let _ = writeln!(
            out,
            "| {} | {}% | {} | {} | {} | {} | {} | {:.2} |",
            r.run,
            r.app_usage,
            r.field("claimed"),
            r.graph_calls,
            r.field("left"),
            r.field("oldest_due_age_secs"),
            r.stopped().unwrap_or_else(|| "-".into()),
            secs(r.wall)
        );
    }
    let backlog = around
        .iter()
        .filter(|r| usage.is_high(r.run))
        .map(|r| r.field("left"))
        .max()
        .unwrap_or(0);
    let drained = interval
        .iter()
        .find(|r| r.run >= usage.slow_run && r.field("left") == 0)
        .map(|r| r.run + 1 - usage.slow_run);
    let _ = writeln!(
        out,
        "\nBacklog after the pause: {backlog} items; runs needed to drain it once usage fell: {}.\n",
        drained.map_or("not drained".to_owned(), |n| n.to_string())
    );

    let outage: Vec<&RunRecord> = outcome
        .runs
        .iter()
        .filter(|r| r.phase == Phase::Outage)
        .collect();
    if !outage.is_empty() {
        let _ = writeln!(
            out,
            "## A day without runs, then the backlog\n\nThe clock jumps one interval ({} s) past the last run: every active client is due at once. Runs needed to drain: **{}**.\n",
            settings.interval,
            outage.len()
        );
        out.push_str("| run | claimed | wall (s) | items/s | left after | oldest due before (s) | oldest due after (s) | stopped |\n|---|---|---|---|---|---|---|---|\n");
        for r in &outage {
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} | {:.1} | {} | {} | {} | {} |",
                r.run,
                r.field("claimed"),
                secs(r.wall),
                r.field("claimed") as f64 / secs(r.wall).max(1e-6),
                r.field("left"),
                r.oldest_before,
                r.field("oldest_due_age_secs"),
                r.stopped().unwrap_or_else(|| "-".into())
            );
        }
        out.push('\n');
        phase_figures(&mut out, &outage);
    }

    out.push_str("## Signals counted\n\n");
    for (name, count) in &outcome.signals {
        let _ = writeln!(out, "- {name}: {count}");
    }
    out.push_str(
        "\n## Caveats\n\n\
- AWS is moto_server on this machine, started through tools/local-stack/moto_fast.py: moto's \
transact_write_items deep-copies the whole table (and its stream records) before every \
transaction, about a second per write at 10,000 clients, so the launcher copies only the \
items a transaction names; table and index queries start from the matching partition instead \
of listing and sorting the whole table; Secrets Manager finds a secret by its name at once. \
Answers are unchanged. moto is still one Python process sharing two CPUs with the emulator and \
the sweep, so items per second here is a floor for moto, not a figure for DynamoDB.\n\
- Time is simulated: each run happens at its scheduled time on the sweep's clock (and the Graph \
adapter's), while wall time is only what the work takes. The emulator keeps wall time for token \
expiry; the throttled businesses are lifted by the benchmark when their estimated time to \
regain access has passed in simulated time.\n\
- A health check is a `debug_token` call that reached the emulator with the client's token; \
calls the adapter held back (throttled scope) are counted apart.\n\
- The clock stands still during a run and the interval is a whole number of runs, so after its \
first check every client falls due exactly on a run: the oldest due item when a run starts is \
up to 899 s old in the first interval (first checks spread uniformly) and 0 s afterwards. On \
AWS a run's own duration spreads the checks a little.\n",
    );
    out
}

pub fn write(settings: &Settings, outcome: &Outcome, text: &str) -> std::io::Result<()> {
    if let Some(dir) = settings.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&settings.out, text)?;
    let mut csv = String::from(
        "run,phase,sim_secs,app_usage,wall_ms,claimed,healthy,refreshed,marked_needs_reconnect,changes_applied,deferred,failed,left,oldest_due_before_secs,oldest_due_after_secs,stopped,graph_calls,debug_token_calls\n",
    );
    for r in &outcome.runs {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.run,
            match r.phase {
                Phase::Interval => "interval",
                Phase::Outage => "outage",
            },
            r.at - outcome.t0,
            r.app_usage,
            r.wall.as_millis(),
            r.field("claimed"),
            r.field("healthy"),
            r.field("refreshed"),
            r.field("marked_needs_reconnect"),
            r.field("changes_applied"),
            r.field("deferred"),
            r.field("failed"),
            r.field("left"),
            r.oldest_before,
            r.field("oldest_due_age_secs"),
            r.stopped().unwrap_or_default(),
            r.graph_calls,
            r.debug_tokens
        );
    }
    std::fs::write(settings.out.with_file_name("scale-runs.csv"), csv)
}
