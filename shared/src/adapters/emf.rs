//! Signals as CloudWatch Embedded Metric Format: one JSON line on stdout per signal, which
//! CloudWatch Logs turns into metrics. No SDK and no call at run time. Every metric carries
//! the `Deployment` dimension (the secret prefix, one per stack), so two stacks in one
//! account never share an alarm.

use serde_json::{Map, Value, json};
use std::io::Write;

use crate::model::{Signal, SweepFigures};
use crate::ports::Signals;

/// The metrics' namespace; infra/template.yaml's alarms and dashboard read it.
pub const NAMESPACE: &str = "MetaLoginTokenService";
const DEPLOYMENT: &str = "Deployment";

pub struct EmfSignals {
    deployment: String,
}

impl EmfSignals {
    pub fn new(deployment: impl Into<String>) -> Self {
        Self {
            deployment: deployment.into(),
        }
    }
}

impl Signals for EmfSignals {
    fn emit(&self, signal: Signal) {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let line = render(&signal, &self.deployment, now_ms);
        // One write of one line: concurrent lines never interleave within it.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

/// A metric's name, unit and value.
type Measure = (&'static str, &'static str, i64);
/// A dimension's name and value.
type Dimension = (&'static str, &'static str);

/// The metrics of one signal, and the dimension it adds to `Deployment`, if any.
fn measures(signal: &Signal) -> (Vec<Measure>, Option<Dimension>) {
    let one = |name| vec![(name, "Count", 1)];
    match *signal {
        Signal::Onboarding(outcome) => (one("Onboardings"), Some(("Result", outcome.as_str()))),
        Signal::TokenServed(kind) => (one("TokensServed"), Some(("Kind", kind))),
        Signal::ReconnectNeeded => (one("ReconnectsNeeded"), None),
        Signal::Offboarding => (one("Offboardings"), None),
        Signal::WebhookChange(outcome) => {
            (one("WebhookChanges"), Some(("Result", outcome.as_str())))
        }
        Signal::HealthCheck => (one("HealthChecks"), None),
        Signal::GraphThrottled => (one("GraphThrottled"), None),
        Signal::PartnerTokenInvalid => (one("PartnerTokenInvalid"), None),
        Signal::SweepRun(SweepFigures {
            done,
            failed,
            left,
            oldest_due_age_secs,
        }) => (
            vec![
                ("SweepRuns", "Count", 1),
                ("SweepItemsDone", "Count", done.into()),
                ("SweepItemsFailed", "Count", failed.into()),
                ("SweepItemsLeft", "Count", left.into()),
                ("OldestDueAgeSeconds", "Seconds", oldest_due_age_secs.max(0)),
            ],
            None,
        ),
    }
}

/// The EMF line of one signal.
pub fn render(signal: &Signal, deployment: &str, timestamp_ms: i64) -> String {
    let (metrics, dimension) = measures(signal);
    let mut dimensions = vec![json!([DEPLOYMENT])];
    let mut line = Map::new();
    line.insert(DEPLOYMENT.into(), deployment.into());
    if let Some((name, value)) = dimension {
        dimensions.push(json!([DEPLOYMENT, name]));
        line.insert(name.into(), value.into());
    }
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
        .collect();
    for (name, _, value) in &metrics {
        line.insert((*name).into(), (*value).into());
    }
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": dimensions,
                "Metrics": definitions,
            }],
        }),
    );
    Value::Object(line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ChangeOutcome, OnboardingOutcome};

    fn parsed(signal: Signal) -> Value {
        serde_json::from_str(&render(&signal, "meta-login/dev", 1_700_000_000_000)).unwrap()
    }

    #[test]
    fn a_signal_with_a_result_is_counted_per_deployment_and_per_result() {
        let line = parsed(Signal::Onboarding(OnboardingOutcome::Failed));
        let definition = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(definition["Namespace"], NAMESPACE);
        assert_eq!(
            definition["Dimensions"],
            json!([["Deployment"], ["Deployment", "Result"]])
        );
        assert_eq!(
            definition["Metrics"],
            json!([{"Name": "Onboardings", "Unit": "Count"}])
        );
        assert_eq!(line["Onboardings"], 1);
        assert_eq!(line["Result"], "failed");
        assert_eq!(line["Deployment"], "meta-login/dev");
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        let change = parsed(Signal::WebhookChange(ChangeOutcome::Stale));
        assert_eq!(change["Result"], "stale");
        assert_eq!(change["WebhookChanges"], 1);
    }

    #[test]
    fn a_sweep_run_reports_its_heartbeat_and_figures_in_one_line() {
        let line = parsed(Signal::SweepRun(SweepFigures {
            done: 7,
            failed: 1,
            left: 30,
            oldest_due_age_secs: 95,
        }));
        assert_eq!(line["SweepRuns"], 1);
        assert_eq!(line["SweepItemsDone"], 7);
        assert_eq!(line["SweepItemsFailed"], 1);
        assert_eq!(line["SweepItemsLeft"], 30);
        assert_eq!(line["OldestDueAgeSeconds"], 95);
        let definition = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(definition["Dimensions"], json!([["Deployment"]]));
        assert_eq!(
            definition["Metrics"][4],
            json!({"Name": "OldestDueAgeSeconds", "Unit": "Seconds"})
        );
    }
}
