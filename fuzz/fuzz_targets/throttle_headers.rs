//! Meta's throttle headers (`X-App-Usage`, `X-Business-Use-Case-Usage`, `Retry-After`) as the
//! real `GraphClient` reads them (`adapters/graph/throttle.rs` and `regain_access_secs`): a
//! run of calls about business 42, one second apart, each answered with the next scripted
//! answer (see `fuzz_support::parse_answers`). Checks that no call goes out while Meta said to
//! wait, that the gate and `pace` agree, and that high usage stops the work.
#![no_main]

use std::sync::Arc;

use fuzz_support::{
    CountingSignals, FixedClock, LoopbackGraph, NOW, block_on, graph_client, parse_answers,
};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;
use serde_json::Value;
use shared::model::{ClientBusinessId, GraphError};
use shared::ports::{Graph, Pace};

const MAX_ANSWERS: usize = 6;
const BUSINESS: &str = "42";
/// Usage (percent) from which the sweep takes one item at a time, and from which it starts
/// nothing new (`adapters/graph/throttle.rs`).
const SLOW_AT: u64 = 75;
const STOP_AT: u64 = 90;

/// The highest usage percentage one usage object reports, as Meta defines the fields.
fn percent(usage: &Value) -> Option<u64> {
    ["call_count", "total_time", "total_cputime"]
        .iter()
        .filter_map(|key| usage.get(key)?.as_u64())
        .max()
}

fn header(answer: &fuzz_support::Answer, name: &str) -> Option<Value> {
    serde_json::from_slice(answer.header(name)?).ok()
}

/// Whether Meta's answer says the next call about the business (a second later) must wait.
fn must_wait(err: &GraphError, business_header: Option<&Value>) -> bool {
    let wait = err.retry_after_secs.unwrap_or(60);
    match err.code {
        Some(4 | 17 | 32 | 613) => wait >= 2,
        Some(80000..=80014) => {
            let named: Vec<&String> = business_header
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter(|(_, entries)| {
                    entries.as_array().is_some_and(|entries| {
                        entries.iter().any(|e| {
                            e.get("estimated_time_to_regain_access")
                                .and_then(Value::as_i64)
                                .is_some_and(|minutes| minutes > 0)
                        })
                    })
                })
                .map(|(business, _)| business)
                .collect();
            if named.is_empty() {
                wait >= 2
            } else {
                named.iter().any(|b| *b == BUSINESS)
            }
        }
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let server = LoopbackGraph::get();
    let answers = parse_answers(data, &server.origin(), MAX_ANSWERS);
    server.script(answers.clone());
    let clock = Arc::new(FixedClock::at(NOW));
    let graph = graph_client(
        server.base().clone(),
        1,
        clock.clone(),
        Arc::new(CountingSignals::default()),
    );
    let token = SecretString::from("EAAFUZZ");
    let business = ClientBusinessId::parse(BUSINESS).expect("digits");
    let client = ClientBusinessId::parse("5").expect("digits");
    let mut blocked_until_next = false;
    // One call per answer, and one more after the script (answered 503 if it goes out).
    for step in 0..=answers.len() as i64 {
        let now = NOW + step;
        clock.set(now);
        let pace = graph.pace(Some(&business), now);
        if let Pace::Stop { until } = pace {
            assert!(until > now, "stopped until the past: {until} at {now}");
        }
        let before = server.seen().len();
        // `POST /42/managed_businesses`: a call about business 42.
        let result = block_on(graph.add_managed_business(BUSINESS, &client, &token));
        let went_out = server.seen().len() > before;
        if blocked_until_next {
            assert!(
                !went_out,
                "a call went out while Meta said to wait (step {step})"
            );
        }
        if !went_out {
            let err = result.expect_err("a call held back fails");
            let wait = err.retry_after_secs.expect("a held call says how long");
            assert!(wait > 0);
            assert_eq!(err.code, Some(4));
            assert_eq!(
                pace,
                Pace::Stop {
                    until: now.saturating_add(wait as i64)
                },
                "the gate and the pace disagree"
            );
            blocked_until_next = false;
            continue;
        }
        let answer = server
            .served()
            .last()
            .cloned()
            .expect("an answer was served");
        let business_usage = header(&answer, "x-business-use-case-usage");
        // High usage stops (or slows) the work it concerns.
        if let Some(app) = header(&answer, "x-app-usage").as_ref().and_then(percent) {
            let pace = graph.pace(None, now);
            if app >= STOP_AT {
                assert!(matches!(pace, Pace::Stop { .. }), "app at {app}%: {pace:?}");
            } else if app >= SLOW_AT {
                assert_ne!(pace, Pace::Go, "app at {app}%");
            }
        }
        for (id, entries) in business_usage
            .as_ref()
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let (Ok(id), Some(entries)) = (ClientBusinessId::parse(id), entries.as_array()) else {
                continue;
            };
            if let Some(busiest) = entries.iter().filter_map(percent).max()
                && busiest >= STOP_AT
            {
                let pace = graph.pace(Some(&id), now);
                assert!(matches!(pace, Pace::Stop { .. }), "{id} at {busiest}%");
            }
        }
        blocked_until_next = result
            .as_ref()
            .err()
            .is_some_and(|err| must_wait(err, business_usage.as_ref()));
    }
});
