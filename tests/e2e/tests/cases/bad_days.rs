//! Custody when Meta has a bad day: each Graph call of each flow (`custody::Flow`) answered
//! with a 5xx, a call slower than the service waits, a throttle with
//! `X-Business-Use-Case-Usage`, code 1, broken JSON or a redirect. Each time the caller gets a
//! typed error, never an internal one, and after a retry and the sweep custody holds
//! (`custody::assert_custody`).

use e2e::Stack;
use serde_json::{Value, json};

use super::custody::{Flow, assert_custody, assert_typed, sweep_with_pending_due};

/// Meta on a bad day, as emulator faults on the (skip + 1)th Graph call from now.
#[derive(Clone, Copy, Debug)]
enum BadDay {
    ServerError,
    Timeout,
    Throttled,
    Code1,
    BrokenJson,
    Redirect,
}

impl BadDay {
    const ALL: [BadDay; 6] = [
        BadDay::ServerError,
        BadDay::Timeout,
        BadDay::Throttled,
        BadDay::Code1,
        BadDay::BrokenJson,
        BadDay::Redirect,
    ];

    fn fault(self, skip: usize) -> Value {
        let mut fault = match self {
            // Three answers: every attempt of the call.
            BadDay::ServerError => json!({"status": 500, "count": 3,
                "error": {"code": 2, "is_transient": true}}),
            // Longer than the service waits for one call (10 s), once.
            BadDay::Timeout => json!({"delay_ms": 10_500}),
            // Access is back at once (`Retry-After: 0`), so a retry can go ahead and the
            // functions hold no pause that later cases would meet.
            BadDay::Throttled => json!({"status": 400, "error": {"code": 80004},
                "headers": {"retry-after": "0", "x-business-use-case-usage": r#"{"0":[{"type":"ads_management","call_count":100,"total_cputime":100,"total_time":100,"estimated_time_to_regain_access":0}]}"#}}),
            BadDay::Code1 => json!({"status": 500, "count": 3, "error": {"code": 1}}),
            BadDay::BrokenJson => json!({"raw_body": r#"{"access_token":"EAAbroken"#}),
            BadDay::Redirect => json!({"status": 302,
                "headers": {"location": "https://graph.example.test/elsewhere"}}),
        };
        fault["path"] = json!("*");
        fault["skip"] = json!(skip);
        fault
    }
}

async fn each_graph_call_of(stack: &Stack, flow: Flow) {
    let baseline = flow.prepare(stack).await;
    let before = stack.graph_requests().await.len();
    assert_eq!(
        flow.act(stack, &baseline).await,
        Ok(()),
        "{flow:?} without faults"
    );
    let calls = stack.graph_requests().await.len() - before;
    assert!(calls >= 1, "{flow:?} calls Graph");
    let mut cases = 0;
    for call in 0..calls {
        for bad in BadDay::ALL {
            let what = format!("{flow:?}, {bad:?} at Graph call {}", call + 1);
            let prepared = flow.prepare(stack).await;
            stack.inject_fault(bad.fault(call)).await;
            let outcome = flow.act(stack, &prepared).await;
            stack.clear_faults().await;
            assert_typed(&what, &outcome);
            if outcome.is_err() {
                flow.retry(stack, &prepared).await;
            }
            sweep_with_pending_due(stack, &prepared.business).await;
            assert_custody(stack, &what, &prepared.business).await;
            cases += 1;
        }
    }
    println!("custody: {flow:?} held through {cases} bad answers over its {calls} Graph calls");
}

pub async fn bisu_onboarding_keeps_custody_when_graph_fails_at_each_call(stack: &Stack) {
    each_graph_call_of(stack, Flow::Bisu).await;
}

pub async fn obo_onboarding_keeps_custody_when_graph_fails_at_each_call(stack: &Stack) {
    each_graph_call_of(stack, Flow::Obo).await;
}

pub async fn minting_keeps_custody_when_graph_fails_at_each_call(stack: &Stack) {
    each_graph_call_of(stack, Flow::Mint).await;
}

pub async fn page_tokens_keep_custody_when_graph_fails_at_each_call(stack: &Stack) {
    each_graph_call_of(stack, Flow::Page).await;
}

pub async fn offboarding_completes_when_graph_fails_at_each_call(stack: &Stack) {
    each_graph_call_of(stack, Flow::Offboard).await;
}
