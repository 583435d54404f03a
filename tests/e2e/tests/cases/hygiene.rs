//! What must hold over the whole run: proofs on token calls, no token in URLs or logs.

use e2e::Stack;
use e2e::stack::{APP_SECRET, WEBHOOK_VERIFY_TOKEN};

use super::onboarding::onboard_with_sdk;

pub async fn every_token_call_carries_a_correct_appsecret_proof(stack: &Stack) {
    let business = stack.new_business().await;
    onboard_with_sdk(stack, &business, "acct-proof").await;
    let requests = stack.graph_requests().await;
    let token_calls: Vec<_> = requests
        .iter()
        .filter(|r| {
            matches!(
                r["token_kind"].as_str(),
                Some("SystemUser" | "User" | "Partner" | "unknown")
            )
        })
        .collect();
    assert!(token_calls.len() >= 2, "the run made token calls");
    for call in token_calls {
        let proof = call["appsecret_proof"].as_str().unwrap_or_default();
        assert!(call["proof_valid"] == true, "bad or missing proof: {call}");
        assert!(
            proof.len() == 64
                && proof
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }
}

fn without_param(url: &str, name: &str) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let kept: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(url::form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k != name))
        .finish();
    format!("{path}?{kept}")
}

pub async fn no_token_or_code_in_any_requested_url(stack: &Stack) {
    let mut secrets = stack.issued_secrets().await;
    secrets.push(APP_SECRET.to_owned());
    let requests = stack.graph_requests().await;
    assert!(!requests.is_empty() && secrets.len() > 2);
    for request in &requests {
        let raw = request["url"].as_str().unwrap();
        // Meta documents revocation as a GET naming the token to revoke: that one parameter
        // is allowed there, and nothing else.
        let url = match request["path"].as_str() {
            Some(path) if path.ends_with("/oauth/revoke") => without_param(raw, "revoke_token"),
            _ => raw.to_owned(),
        };
        for secret in &secrets {
            assert!(
                !url.contains(secret.as_str()),
                "a secret value sits in {}",
                request["path"]
            );
        }
    }
}

/// Every value that must never be shown: what Meta issued (tokens, codes, `signed_request`s),
/// the states, cookies and `signed_request`s the run handled, and the app's own secrets.
async fn secret_values(stack: &Stack) -> Vec<(&'static str, String)> {
    let mut values = stack.issued().await;
    let states = stack.states.lock().unwrap().clone();
    values.extend(states.into_iter().map(|v| ("state", v)));
    let credentials = stack.credentials.lock().unwrap().clone();
    values.extend(
        credentials
            .into_iter()
            .map(|v| ("cookie or signed_request", v)),
    );
    values.push(("app secret", APP_SECRET.to_owned()));
    values.push(("webhook verify token", WEBHOOK_VERIFY_TOKEN.to_owned()));
    values
}

/// The whole suite runs with the functions at `RUST_LOG=trace` (tests/e2e.rs): their logs, and
/// the body of every refusal they answered, hold no token, code, app secret, state, cookie or
/// `signed_request` of the run. Registered last, so it sees the whole run.
pub async fn logs_hold_no_token_code_secret_or_state(stack: &Stack) {
    let logs = std::fs::read_to_string(&stack.functions_log).expect("the functions' log");
    assert!(
        logs.contains("client onboarded"),
        "the log holds the run's function logs"
    );
    assert!(
        logs.contains(r#""level":"DEBUG""#),
        "the functions logged at their most verbose"
    );
    let values = secret_values(stack).await;
    let count = |kind: &str| values.iter().filter(|(k, _)| *k == kind).count();
    let counts = [
        count("token"),
        count("code"),
        count("signed_request"),
        count("state"),
        count("cookie or signed_request"),
    ];
    assert!(
        counts[0] > 100 && counts[1] > 100 && counts[2] > 5 && counts[3] > 20 && counts[4] >= 2,
        "the run handled secrets of every kind: {counts:?}"
    );
    // Shorter values could match by chance and would be weak secrets anyway.
    assert!(values.iter().all(|(_, v)| v.len() >= 16));
    let finder = aho_corasick::AhoCorasick::new(values.iter().map(|(_, v)| v)).unwrap();
    let refusals = stack.refusals.lock().unwrap().clone();
    assert!(
        refusals.len() > 1000,
        "the refusals of the hostile corpus were kept"
    );
    let outputs = std::iter::once(("the functions' log", logs.as_str()))
        .chain(refusals.iter().map(|body| ("a refusal", body.as_str())));
    let mut leaks = std::collections::BTreeSet::new();
    for (output, text) in outputs {
        for found in finder.find_iter(text) {
            let (kind, value) = &values[found.pattern().as_usize()];
            // An error page's "Try again" links back to its session, in the browser that
            // opened it: the one place a state may be shown.
            let retry_link = text[..found.start()].ends_with("/onboarding?session=");
            if *kind == "state" && output == "a refusal" && retry_link {
                continue;
            }
            leaks.insert(format!("{kind} {}... in {output}", &value[..8]));
        }
    }
    assert!(leaks.is_empty(), "secrets shown: {leaks:#?}");
}

/// Refusals of bad input are logged at INFO, never as errors or as panics: the malformed
/// cases above sent hundreds of them.
pub async fn refusals_are_not_logged_as_errors(stack: &Stack) {
    let logs = std::fs::read_to_string(&stack.functions_log).expect("the functions' log");
    assert!(
        logs.contains("\"error_type\":\"InvalidRequest\""),
        "refusals were logged"
    );
    let wrong: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("\"level\":\"ERROR\""))
        .filter(|line| {
            ["InvalidRequest", "ClientNotFound", "ClientOffboarded"]
                .iter()
                .any(|t| line.contains(&format!("\"error_type\":\"{t}\"")))
                || line.contains("lambda_runtime::layers::panic")
                || line.contains("DeserializeError")
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "refusals logged as errors:\n{}",
        wrong.join("\n")
    );
}

/// The operator's signals leave as CloudWatch EMF lines: each a JSON object whose `_aws`
/// declares the namespace, the `Deployment` dimension and the metrics it carries.
pub async fn signals_are_emf_lines_with_their_dimensions(stack: &Stack) {
    let logs = std::fs::read_to_string(&stack.functions_log).expect("the functions' log");
    let mut seen = std::collections::BTreeSet::new();
    for line in logs.lines().filter(|l| l.contains("\"_aws\"")) {
        let line: serde_json::Value = serde_json::from_str(line).expect("an EMF line is JSON");
        let declared = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], "MetaLoginTokenService");
        assert_eq!(line["Deployment"], "meta-login/local");
        for dimensions in declared["Dimensions"].as_array().expect("dimension sets") {
            for name in dimensions.as_array().expect("a dimension set") {
                let name = name.as_str().expect("a dimension name");
                assert!(line[name].is_string(), "{name} has its value: {line}");
            }
        }
        for metric in declared["Metrics"].as_array().expect("metrics") {
            let name = metric["Name"].as_str().expect("a metric name");
            assert!(line[name].is_number(), "{name} has its value: {line}");
            let result = line["Result"].as_str().or(line["Kind"].as_str());
            seen.insert(format!(
                "{name}{}",
                result.map(|r| format!("/{r}")).unwrap_or_default()
            ));
        }
    }
    // What the suite's own runs must have produced by now.
    for expected in [
        "Onboardings/completed",
        "TokensServed/bisu",
        "TokensServed/granular",
        "Offboardings",
        "ReconnectsNeeded",
        "WebhookChanges/applied",
        "SweepRuns",
        "OldestDueAgeSeconds",
    ] {
        assert!(
            seen.contains(expected),
            "no {expected} signal among {seen:?}"
        );
    }
}
