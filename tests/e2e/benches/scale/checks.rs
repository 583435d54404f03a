//! What the scale test asserts, from the recorded Graph calls, the run reports and the clients'
//! items at the end. A health check is a `debug_token` call that reached Graph with the
//! client's token; the one a webhook change makes (it reads the grants again) is not counted.

use std::collections::HashMap;

use shared::model::{ChangeStatus, ClientStatus};

use crate::seed::{Category, EXPIRING_IN_SECS};
use crate::sim::{Answer, Call, Kind};
use crate::{HANDFUL, LAG_RUNS, Outcome, Phase, RUN_EVERY_SECS, Settings, THROTTLE_MINUTES};

pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

fn verdict(name: &'static str, failures: usize, of: usize, detail: String) -> Check {
    Check {
        name,
        passed: failures == 0,
        detail: if failures == 0 {
            format!("ok: {detail}")
        } else {
            format!("{failures} of {of} failed: {detail}")
        },
    }
}

/// The first examples of a failure, for the detail line.
fn examples(list: &[String]) -> String {
    let shown: Vec<&str> = list.iter().take(3).map(String::as_str).collect();
    if shown.is_empty() {
        String::new()
    } else {
        format!(" e.g. {}", shown.join("; "))
    }
}

struct Timeline<'a> {
    t0: i64,
    settings: &'a Settings,
    /// The first run of the outage phase (none: the interval runs only).
    outage_from: usize,
    last_interval_run: usize,
}

impl Timeline<'_> {
    /// The first interval run at or after `at`.
    fn run_for(&self, at: i64) -> i64 {
        (at - self.t0 + RUN_EVERY_SECS - 1).div_euclid(RUN_EVERY_SECS)
    }

    /// Runs an item due in run `expected` may be late: the small lag, plus the runs Meta's app
    /// usage held it in.
    fn allowed_delay(&self, expected: i64) -> i64 {
        let usage = self.settings.usage;
        let paused = (usage.high_from as i64..usage.slow_run as i64).contains(&expected);
        LAG_RUNS
            + if paused {
                usage.slow_run as i64 - expected
            } else {
                0
            }
    }
}

/// The health checks of one client in the interval runs: (run, time) of each.
struct Checks {
    times: Vec<(usize, i64)>,
}

pub fn check(settings: &Settings, outcome: &Outcome) -> Vec<Check> {
    let outage_from = outcome
        .runs
        .iter()
        .find(|r| r.phase == Phase::Outage)
        .map_or(usize::MAX, |r| r.run);
    let last_interval_run = outcome
        .runs
        .iter()
        .filter(|r| r.phase == Phase::Interval)
        .map(|r| r.run)
        .max()
        .unwrap_or(0);
    let timeline = Timeline {
        t0: outcome.t0,
        settings,
        outage_from,
        last_interval_run,
    };
    let mut by_client: HashMap<&str, Vec<&Call>> = HashMap::new();
    for call in &outcome.calls {
        if let Some(client) = &call.client {
            by_client.entry(client.as_str()).or_default().push(call);
        }
    }
    let settled_run: HashMap<&str, usize> = outcome
        .seeded
        .iter()
        .filter_map(|s| {
            let (_, run) = outcome.changes.get(s.change.as_ref()?)?;
            Some((s.id.as_str(), (*run)?))
        })
        .collect();
    let none = Vec::new();
    let calls_of = |id: &str| by_client.get(id).unwrap_or(&none);

    // Health checks: debug_token calls that reached Graph and were answered, in the interval
    // runs, minus the one of a webhook change.
    let health_checks = |id: &str, phase_outage: bool| -> Checks {
        let mut skip_in = settled_run.get(id).copied();
        let mut times = Vec::new();
        for call in calls_of(id) {
            let in_outage = call.run >= timeline.outage_from;
            if call.kind != Kind::DebugToken || in_outage != phase_outage {
                continue;
            }
            if !matches!(call.answer, Answer::Ok { .. }) {
                continue;
            }
            if skip_in == Some(call.run) {
                skip_in = None;
                continue;
            }
            times.push((call.run, call.at));
        }
        Checks { times }
    };

    let mut results = Vec::new();
    let active = |c: Category| c != Category::Invalid;
    let interval = settings.interval;

    // 1-3: the schedule of every active client.
    let mut first_missing = Vec::new();
    let mut twice = Vec::new();
    let mut late = Vec::new();
    let mut checked = 0usize;
    let mut gaps = 0usize;
    let mut max_delay = 0i64;
    let mut counts: HashMap<usize, usize> = HashMap::new();
    for client in outcome.seeded.iter().filter(|s| active(s.category)) {
        let id = client.id.as_str();
        let checks = health_checks(id, false);
        counts
            .entry(checks.times.len())
            .and_modify(|n| *n += 1)
            .or_insert(1);
        // The first check: when it was due, or when access returned for a throttled business.
        let first_due = match client.category {
            Category::Throttled => match outcome.regained.get(id) {
                Some(at) => *at,
                None => {
                    first_missing.push(format!("{id}: throttled, access never returned"));
                    continue;
                }
            },
            _ => client.first_due,
        };
        let mut due = first_due;
        let mut previous: Option<i64> = None;
        for (n, (run, at)) in checks.times.iter().enumerate() {
            let expected = timeline.run_for(due);
            let delay = *run as i64 - expected;
            max_delay = max_delay.max(delay);
            if let Some(before) = previous
                && at - before < interval
            {
                twice.push(format!(
                    "{id}: checked {} s after the last check",
                    at - before
                ));
            } else if delay < 0 && n == 0 {
                twice.push(format!("{id}: first check {} runs early", -delay));
            }
            if delay > timeline.allowed_delay(expected) {
                late.push(format!("{id}: check {n} {delay} runs late"));
            }
            if n > 0 {
                gaps += 1;
            }
            previous = Some(*at);
            due = at + interval;
        }
        checked += usize::from(!checks.times.is_empty());
        // The next check still to come must not be overdue when the interval runs end.
        let expected = timeline.run_for(due);
        if expected + timeline.allowed_delay(expected) < timeline.last_interval_run as i64 {
            if checks.times.is_empty() {
                first_missing.push(format!("{id} ({}) never checked", client.category.name()));
            } else {
                late.push(format!(
                    "{id}: skipped, next check was due in run {expected}"
                ));
            }
        }
    }
    let actives = outcome.seeded.iter().filter(|s| active(s.category)).count();
    let mut distribution: Vec<_> = counts.into_iter().collect();
    distribution.sort();
    results.push(verdict(
        "every active client is checked in its first interval",
        first_missing.len(),
        actives,
        format!(
            "{checked} of {actives} active clients checked; checks per client over the runs: {}{}",
            distribution
                .iter()
                .map(|(checks, clients)| format!("{checks}: {clients}"))
                .collect::<Vec<_>>()
                .join(", "),
            examples(&first_missing)
        ),
    ));
    results.push(verdict(
        "never twice in one interval",
        twice.len(),
        gaps + actives,
        format!(
            "consecutive checks at least {interval} s apart ({gaps} gaps){}",
            examples(&twice)
        ),
    ));
    results.push(verdict(
        "none skipped: each check within its run plus a small lag",
        late.len(),
        gaps + actives,
        format!(
            "at most {LAG_RUNS} runs late ({} s), more only behind the app-usage pause; latest: {max_delay} runs{}",
            LAG_RUNS * RUN_EVERY_SECS,
            examples(&late)
        ),
    ));

    // 4: expiring tokens.
    let mut bad = Vec::new();
    let expiring: Vec<_> = outcome
        .seeded
        .iter()
        .filter(|s| s.category == Category::Expiring)
        .collect();
    for client in &expiring {
        let id = client.id.as_str();
        let refreshes = calls_of(id)
            .iter()
            .filter(|c| c.kind == Kind::Refresh && c.sent())
            .count();
        let renewed = outcome
            .finals
            .get(id)
            .and_then(|c| c.token_expires_at)
            .is_some_and(|at| at > outcome.t0 + EXPIRING_IN_SECS as i64 + 7 * 24 * 3600);
        if refreshes != 1 || !renewed {
            bad.push(format!("{id}: {refreshes} refreshes, renewed: {renewed}"));
        }
    }
    results.push(verdict(
        "expiring tokens are refreshed, once",
        bad.len(),
        expiring.len(),
        format!(
            "{} tokens expiring within 7 days each refreshed at its first check{}",
            expiring.len(),
            examples(&bad)
        ),
    ));

    // 5: invalid tokens.
    let mut bad = Vec::new();
    let invalid: Vec<_> = outcome
        .seeded
        .iter()
        .filter(|s| s.category == Category::Invalid)
        .collect();
    for client in &invalid {
        let id = client.id.as_str();
        let sent: Vec<_> = calls_of(id)
            .iter()
            .filter(|c| c.kind == Kind::DebugToken && c.sent())
            .collect();
        let status = outcome.finals.get(id).map(|c| c.status);
        let answered_invalid = sent
            .first()
            .is_some_and(|c| c.answer == Answer::Ok { valid: false });
        if sent.len() != 1 || !answered_invalid || status != Some(ClientStatus::NeedsReconnect) {
            bad.push(format!("{id}: {} checks, status {status:?}", sent.len()));
        }
    }
    results.push(verdict(
        "invalid tokens: needs_reconnect after one check, never checked again",
        bad.len(),
        invalid.len(),
        format!("{} invalidated tokens{}", invalid.len(), examples(&bad)),
    ));

    // 6-7: throttled businesses.
    let mut early = Vec::new();
    let mut never = Vec::new();
    let throttled: Vec<_> = outcome
        .seeded
        .iter()
        .filter(|s| s.category == Category::Throttled)
        .collect();
    let mut held = 0usize;
    for client in &throttled {
        let id = client.id.as_str();
        let calls = calls_of(id);
        held += calls.iter().filter(|c| !c.sent()).count();
        let sent: Vec<_> = calls.iter().filter(|c| c.sent()).collect();
        let Some(first) = sent.first() else {
            never.push(format!("{id}: never called"));
            continue;
        };
        if !matches!(
            first.answer,
            Answer::Refused {
                code: Some(80000..=80014)
            }
        ) {
            early.push(format!("{id}: the first call was not refused"));
            continue;
        }
        let regain = first.at + THROTTLE_MINUTES * 60;
        let before = sent.iter().skip(1).filter(|c| c.at < regain).count();
        if before > 0 {
            early.push(format!("{id}: {before} calls before access returned"));
        }
        let refused = outcome.refused.get(id).copied().unwrap_or(0);
        if refused != 1 {
            early.push(format!("{id}: the emulator refused {refused} calls"));
        }
        let after = sent
            .iter()
            .find(|c| c.at >= regain && matches!(c.answer, Answer::Ok { valid: true }));
        match after {
            Some(c) => {
                let delay = c.run as i64 - timeline.run_for(regain);
                if delay > timeline.allowed_delay(timeline.run_for(regain)) {
                    never.push(format!("{id}: checked {delay} runs after access returned"));
                }
            }
            None => never.push(format!("{id}: not checked after access returned")),
        }
    }
    results.push(verdict(
        "throttled businesses: no call before access returns",
        early.len(),
        throttled.len(),
        format!(
            "{} businesses answered 80004 with estimated_time_to_regain_access {THROTTLE_MINUTES} min; each refused once, then left alone ({held} calls held back by the adapter){}",
            throttled.len(),
            examples(&early)
        ),
    ));
    results.push(verdict(
        "throttled businesses: checked once access returns",
        never.len(),
        throttled.len(),
        format!(
            "checked within {LAG_RUNS} runs of regaining access{}",
            examples(&never)
        ),
    ));

    // 8: webhook changes.
    let mut bad = Vec::new();
    let webhook: Vec<_> = outcome
        .seeded
        .iter()
        .filter(|s| s.category == Category::Webhook)
        .collect();
    for client in &webhook {
        let id = client.id.as_str();
        let status = client
            .change
            .as_ref()
            .and_then(|h| outcome.changes.get(h))
            .map(|(s, _)| *s);
        let fetched = outcome
            .finals
            .get(id)
            .is_some_and(|c| c.datasets_fetched_at.is_some());
        if status != Some(ChangeStatus::Applied) || !fetched {
            bad.push(format!("{id}: change {status:?}, datasets read: {fetched}"));
        }
    }
    let settled_runs: Vec<usize> = settled_run.values().copied().collect();
    results.push(verdict(
        "pending webhook changes are applied",
        bad.len(),
        webhook.len(),
        format!(
            "{} business_integration_update changes applied by run {}{}",
            webhook.len(),
            settled_runs.iter().max().copied().unwrap_or(0),
            examples(&bad)
        ),
    ));

    // 9-10: Meta's app usage.
    let usage = settings.usage;
    let high: Vec<_> = outcome
        .runs
        .iter()
        .filter(|r| r.phase == Phase::Interval && usage.is_high(r.run))
        .collect();
    let noisy: Vec<String> = high
        .iter()
        // Stopped as throttled; or, with so few clients that the calls already in flight took
        // every item due, nothing left to stop.
        .filter(|r| {
            let stopped = r.stopped().as_deref() == Some("throttled") || r.field("left") == 0;
            r.graph_calls > HANDFUL || !stopped
        })
        .map(|r| {
            format!(
                "run {}: {} calls, stopped {:?}",
                r.run,
                r.graph_calls,
                r.stopped()
            )
        })
        .collect();
    results.push(verdict(
        "app usage at 90% or more: nothing new is started",
        noisy.len(),
        high.len(),
        format!(
            "runs {}..{} at 95%: Graph calls {:?} (at most {HANDFUL}), each stopped as throttled unless nothing was left{}",
            usage.high_from,
            usage.slow_run - 1,
            high.iter().map(|r| r.graph_calls).collect::<Vec<_>>(),
            examples(&noisy)
        ),
    ));
    let drained = outcome
        .runs
        .iter()
        .find(|r| r.phase == Phase::Interval && r.run >= usage.slow_run && r.field("left") == 0);
    let drain_runs = drained.map(|r| r.run + 1 - usage.slow_run);
    results.push(verdict(
        "after the pause the clients left are checked",
        usize::from(drain_runs.is_none_or(|n| n as i64 > LAG_RUNS + 1)),
        1,
        format!(
            "backlog drained {} (run {} at 80%: one at a time)",
            drain_runs.map_or("never".to_owned(), |n| format!("in {n} run(s)")),
            usage.slow_run
        ),
    ));

    // 11-13: limits, failures, statuses.
    let max_items = settings.limits.max_items as i64;
    let over: Vec<String> = outcome
        .runs
        .iter()
        .filter(|r| r.field("claimed") > max_items)
        .map(|r| format!("run {}: {}", r.run, r.field("claimed")))
        .collect();
    results.push(verdict(
        "no run exceeds max_items",
        over.len(),
        outcome.runs.len(),
        format!(
            "max_items {max_items}; most claimed in a run: {}{}",
            outcome
                .runs
                .iter()
                .map(|r| r.field("claimed"))
                .max()
                .unwrap_or(0),
            examples(&over)
        ),
    ));
    // A throttled answer is no failure: the item is put back until access returns.
    let failed: i64 = outcome.runs.iter().map(|r| r.field("failed")).sum();
    let deferred: i64 = outcome.runs.iter().map(|r| r.field("deferred")).sum();
    let throttled_count = throttled.len() as i64;
    results.push(verdict(
        "no failure; each throttled business's first refusal deferred",
        usize::from(failed != 0 || deferred < throttled_count),
        1,
        format!("{failed} items failed in all runs; {deferred} deferred (at least {throttled_count}, one per throttled business)"),
    ));
    let mut wrong = Vec::new();
    for client in outcome.seeded.iter().filter(|s| active(s.category)) {
        let id = client.id.as_str();
        match outcome.finals.get(id) {
            Some(c) if c.status == ClientStatus::Active && c.next_check_at.is_some() => {}
            Some(c) => wrong.push(format!(
                "{id}: {:?}, next check {:?}",
                c.status, c.next_check_at
            )),
            None => wrong.push(format!("{id}: gone")),
        }
    }
    results.push(verdict(
        "active clients stay active with a next check",
        wrong.len(),
        actives,
        format!("{actives} active at the end{}", examples(&wrong)),
    ));

    // 14: the day without runs.
    if timeline.outage_from != usize::MAX {
        let mut bad = Vec::new();
        for client in outcome.seeded.iter() {
            let id = client.id.as_str();
            let n = health_checks(id, true).times.len();
            let want = usize::from(active(client.category));
            if n != want {
                bad.push(format!("{id} ({}): {n} checks", client.category.name()));
            }
        }
        let runs = outcome
            .runs
            .iter()
            .filter(|r| r.phase == Phase::Outage)
            .count();
        let drained = outcome
            .runs
            .iter()
            .rev()
            .find(|r| r.phase == Phase::Outage)
            .is_some_and(|r| r.field("left") == 0);
        results.push(verdict(
            "after a day without runs: every active client checked exactly once",
            bad.len() + usize::from(!drained),
            outcome.seeded.len(),
            format!(
                "{runs} runs to drain the backlog of {actives} clients; drained: {drained}{}",
                examples(&bad)
            ),
        ));
    }
    results
}
