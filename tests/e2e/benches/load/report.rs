//! The run's figures as markdown: printed, and written to bench/load.md.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::Options;
use crate::checks::Check;
use crate::host;
use crate::logs::Logged;
use crate::phases::Request;
use crate::stats::ms;
use crate::tally::Phase;

pub struct Run<'a> {
    pub options: &'a Options,
    pub phases: &'a [Phase],
    pub checks: &'a [Check],
    /// Per function: its instances' peak memory (`None`: the process was gone).
    pub memory: Vec<(&'static str, Vec<Option<u64>>)>,
    pub logged: BTreeMap<String, Logged>,
    pub wall: Duration,
}

impl Run<'_> {
    pub fn errors(&self) -> usize {
        self.phases.iter().map(Phase::error_count).sum()
    }

    pub fn passed(&self) -> bool {
        self.errors() == 0 && self.checks.iter().all(|c| c.passed)
    }
}

pub fn render(run: &Run) -> String {
    let o = run.options;
    let mut out = String::new();
    let _ = writeln!(out, "# Load test (`make load`)\n");
    let _ = writeln!(
        out,
        "Result: **{}**: {} errors, {} of {} checks passed.\n",
        if run.passed() { "passed" } else { "FAILED" },
        run.errors(),
        run.checks.iter().filter(|c| c.passed).count(),
        run.checks.len()
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let mix: Vec<String> = Request::MIX
        .iter()
        .map(|(request, share)| {
            format!(
                "{share}% {}",
                request.row().trim_start_matches("token-fetch: ")
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "- date: {}\n- machine: {} (Linux x86_64); load average at the end {}\n- commit: {}\n\
         - parameters: LOAD_ONBOARDINGS={}, LOAD_TOKEN_FETCHES={}, LOAD_CONCURRENCY={}, \
         LOAD_INSTANCES={} (per function)\n- token-fetch mix (clients drawn at random, fixed \
         seed): {}\n- whole run: {:.0} s wall, starting the stack and the checks included\n",
        shared::clock::rfc3339(now),
        host::machine(),
        load.join(" / "),
        host::commit(),
        o.onboardings,
        o.token_fetches,
        o.concurrency,
        o.instances,
        mix.join(", "),
        run.wall.as_secs_f64(),
    );
    let _ = writeln!(
        out,
        "Release x86_64 binaries of oauth-callback and token-fetch, {} instances of each, every \
         instance under its own local Lambda Runtime API (one invocation at a time, as in \
         Lambda), so at most {} invocations run at once; moto_server (through \
         tools/local-stack/moto_fast.py) and the Graph emulator on loopback, all on this machine. \
         An onboarding is the flow of the e2e suite: a new business in the emulator, \
         `POST /onboarding/sessions`, `GET /onboarding/start` (the browser's cookie), a code \
         from the emulator, `POST /oauth/code`. Latency of an invocation: hand-over to the \
         Runtime API until the answer; of the whole flow: from asking for an idle instance to \
         the code POST's answer. Only successes are in the percentiles; every failure is an \
         error below.\n",
        o.instances,
        o.instances.min(o.concurrency),
    );
    let _ = writeln!(out, "## Latency and throughput\n");
    let _ = writeln!(
        out,
        "| phase | request | count | median | p90 | p99 | max | per second |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|");
    for phase in run.phases {
        let secs = phase.wall.as_secs_f64().max(1e-9);
        for row in &phase.rows {
            let sample = &row.sample;
            let _ = writeln!(
                out,
                "| {} ({:.1} s) | {} | {} | {} | {} | {} | {} | {:.1} |",
                phase.name,
                secs,
                row.name,
                row.count,
                ms(sample.median()),
                ms(sample.percentile(90.0)),
                ms(sample.percentile(99.0)),
                ms(sample.percentile(100.0)),
                row.count as f64 / secs,
            );
        }
    }
    let _ = writeln!(
        out,
        "\n## CPU time per phase\n\nFrom /proc: this harness, the processes it started, and \
         the rest of the machine's busy time (other work running meanwhile). Cores: CPU seconds \
         over the phase's wall time ({} available).\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let _ = writeln!(
        out,
        "| phase | process | CPU seconds | cores |\n|---|---|---:|---:|"
    );
    for phase in run.phases {
        let secs = phase.wall.as_secs_f64().max(1e-9);
        for (process, used) in &phase.cpu {
            let _ = writeln!(
                out,
                "| {} | {process} | {used:.1} | {:.2} |",
                phase.name,
                used / secs
            );
        }
    }
    let _ = writeln!(out, "\n## Errors\n");
    if run.errors() == 0 {
        let _ = writeln!(
            out,
            "None: no HTTP answer other than the route's success, no function error, no \
             timeout, no wrong answer.\n"
        );
    } else {
        let _ = writeln!(out, "| phase | kind | count |\n|---|---|---:|");
        for phase in run.phases {
            for (kind, count) in &phase.errors {
                let _ = writeln!(out, "| {} | {kind} | {count} |", phase.name);
            }
        }
        let _ = writeln!(out, "\nThe first of them:\n");
        for phase in run.phases {
            for example in &phase.examples {
                let _ = writeln!(out, "- {}: `{}`", phase.name, example.replace('`', "'"));
            }
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "## Checks afterwards (table and Secrets Manager, through the AWS SDK)\n"
    );
    let _ = writeln!(out, "| check | result | detail |\n|---|---|---|");
    for c in run.checks {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            c.name,
            if c.passed { "passed" } else { "FAILED" },
            c.detail.replace('|', "/")
        );
    }
    let _ = writeln!(out, "\n## Function logs above INFO during the run\n");
    if run.logged.is_empty() {
        let _ = writeln!(out, "None.");
    } else {
        let _ = writeln!(
            out,
            "| level, message (error type) | lines | the first |\n|---|---:|---|"
        );
        for (key, logged) in &run.logged {
            let first: String = logged.first.chars().take(600).collect();
            let _ = writeln!(
                out,
                "| {key} | {} | `{}` |",
                logged.count,
                first.replace('|', "/").replace('`', "'")
            );
        }
    }
    let _ = writeln!(out, "\n## Memory\n");
    let _ = writeln!(
        out,
        "| function | instances alive at the end | largest peak RSS |\n|---|---:|---:|"
    );
    for (name, peaks) in &run.memory {
        let alive = peaks.iter().flatten().count();
        let peak = peaks.iter().flatten().max().copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "| {name} | {alive} of {} | {:.1} MiB |",
            peaks.len(),
            peak as f64 / 1024.0
        );
    }
    let _ = writeln!(
        out,
        "\nReproduce: `make load`; a short run: `LOAD_ONBOARDINGS=100 LOAD_TOKEN_FETCHES=500 \
         LOAD_OUT=/tmp/load.md make load`."
    );
    out
}
