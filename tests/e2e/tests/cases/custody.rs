//! Custody when AWS fails. For each flow that stores a token (onboarding in both modes,
//! minting, page tokens) and for offboarding, the local AWS endpoint goes down just before, then
//! just after, each write the flow makes (`Cut`). Each time the caller gets a typed 503; then a
//! retry and the next sweep leave every token recorded and pointed to, or deleted: no pending
//! marker, no secret that no item points at, no item pointing at a missing secret, and an
//! active client's token works. The flows and that check serve `bad_days` too.

use e2e::Stack;
use e2e::client::{Answer, Business};
use local_stack::proxy::Cut;
use serde_json::{Value, json};
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug)]
pub(super) enum Flow {
    Bisu,
    Obo,
    Mint,
    Page,
    Offboard,
}

/// What a flow needs before the measured step: a client, and what the step asks for.
pub(super) struct Prepared {
    pub(super) business: Business,
    /// The token-fetch request (mint, page), or the OBO session request.
    request: Value,
    /// A session and its code, ready to post (BISU).
    pending_code: Option<(String, String)>,
    /// Where Meta's dialog sends the admin back to (OBO).
    back: Option<url::Url>,
}

fn business(id: &str) -> Business {
    Business {
        id: id.to_owned(),
        system_user_id: String::new(),
    }
}

/// Success, or the error type an HTTP answer of the functions names (JSON, or an error page's
/// `data-error-type`); `HTTP {status}` when it names none.
fn http_outcome(answer: &Answer) -> Result<(), String> {
    if answer.status == 200 {
        return Ok(());
    }
    let named = if answer.body.starts_with('{') {
        answer.json()["error"]["type"].as_str().map(str::to_owned)
    } else {
        answer
            .body
            .split_once(r#"data-error-type=""#)
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(kind, _)| kind.to_owned())
    };
    Err(named.unwrap_or_else(|| format!("HTTP {}", answer.status)))
}

/// A failure the caller can act on: a named type, and not an internal error or a crash.
pub(super) fn assert_typed(what: &str, outcome: &Result<(), String>) {
    if let Err(kind) = outcome {
        assert!(
            !kind.is_empty()
                && kind != "Internal"
                && !kind.starts_with("HTTP ")
                && !kind.starts_with("Runtime.")
                && !kind.starts_with("Unhandled"),
            "{what}: answered {kind}, not a typed error"
        );
    }
}

impl Flow {
    pub(super) async fn prepare(self, stack: &Stack) -> Prepared {
        let mut prepared = match self {
            Flow::Bisu => {
                let business = stack.new_business().await;
                let session = stack.create_session("acct-custody").await;
                let code = stack.issue_code(&business, None).await;
                Prepared {
                    business,
                    request: Value::Null,
                    pending_code: Some((session.state, code)),
                    back: None,
                }
            }
            Flow::Obo => {
                let created = stack
                    .emulator_json("/_emulator/businesses", &json!({"pages": 1}))
                    .await;
                let id = created["id"].as_str().unwrap();
                let page = created["pages"][0]["id"].as_str().unwrap();
                let request = json!({"partner_ref": "acct-custody-obo", "mode": "obo",
                    "client_business_id": id, "assets": [{"id": page, "type": "page"}]});
                Prepared {
                    business: business(id),
                    request,
                    pending_code: None,
                    back: None,
                }
            }
            Flow::Mint | Flow::Offboard => {
                let business = stack.new_business_with_pixels(1, 0, false).await;
                stack.onboard(&business, "acct-custody").await;
                let datasets = stack
                    .get(&format!("/clients/{}/datasets", business.id))
                    .await
                    .json();
                let pixel = datasets["datasets"][0]["id"].as_str().unwrap().to_owned();
                let request = json!({"client_business_id": business.id,
                    "scope": ["ads_management"], "assets": [pixel]});
                if matches!(self, Flow::Offboard) {
                    // Something to remove besides the BISU token.
                    stack.invoke("token-fetch", &request).await.unwrap();
                }
                Prepared {
                    business,
                    request,
                    pending_code: None,
                    back: None,
                }
            }
            Flow::Page => {
                let created = stack
                    .emulator_json("/_emulator/businesses", &json!({"pages": 1}))
                    .await;
                let business = business(created["id"].as_str().unwrap());
                stack.onboard(&business, "acct-custody").await;
                let request = json!({"client_business_id": business.id,
                    "page_id": created["pages"][0]["id"]});
                Prepared {
                    business,
                    request,
                    pending_code: None,
                    back: None,
                }
            }
        };
        if let Flow::Obo = self {
            prepared.back = Some(obo_until_callback(stack, &prepared).await);
        }
        prepared
    }

    /// The measured step: the one that stores (or, offboarding, deletes) tokens.
    pub(super) async fn act(self, stack: &Stack, prepared: &Prepared) -> Result<(), String> {
        let id = &prepared.business.id;
        match self {
            Flow::Bisu => {
                let (state, code) = prepared.pending_code.as_ref().unwrap();
                http_outcome(&stack.post_code(code, state).await)
            }
            Flow::Obo => {
                let back = prepared.back.as_ref().unwrap();
                http_outcome(&stack.follow_redirects(back).await.0)
            }
            Flow::Mint | Flow::Page => stack
                .invoke("token-fetch", &prepared.request)
                .await
                .map(drop),
            Flow::Offboard => stack
                .invoke(
                    "offboarding",
                    &json!({"client_business_id": id, "reason": "contract_ended"}),
                )
                .await
                .map(drop),
        }
    }

    /// What the caller does after a failure: the same again (onboarding: a new session).
    pub(super) async fn retry(self, stack: &Stack, prepared: &Prepared) {
        let again = match self {
            Flow::Bisu => {
                stack.onboard(&prepared.business, "acct-custody").await;
                Ok(())
            }
            Flow::Obo => {
                let back = obo_until_callback(stack, prepared).await;
                http_outcome(&stack.follow_redirects(&back).await.0)
            }
            Flow::Mint => {
                // A mint cut while AWS was down could not release its claim: identical calls
                // wait for it until the sweep resolves it (or its lease passes).
                sweep_with_pending_due(stack, &prepared.business).await;
                self.act(stack, prepared).await
            }
            _ => self.act(stack, prepared).await,
        };
        assert_eq!(again, Ok(()), "{self:?}: the retry completes");
    }
}

/// An OBO session opened and consented to, up to the callback its admin is sent back to.
async fn obo_until_callback(stack: &Stack, prepared: &Prepared) -> url::Url {
    let mut session = stack.new_session_with(&prepared.request).await.unwrap();
    stack.states.lock().unwrap().push(session.state.clone());
    let start = stack.follow(&session.login_url).await;
    assert_eq!(start.status, 302, "{}", start.body);
    session.login_url = start.location().parse().unwrap();
    stack.consent(&session, &prepared.business, true).await
}

/// The sweep run as if the pending markers' grace had passed.
pub(super) async fn sweep_with_pending_due(stack: &Stack, business: &Business) {
    stack
        .make_pending_due(&format!("CLIENT#{}", business.id))
        .await;
    stack
        .invoke("token-fetch", &json!({"action": "sweep"}))
        .await
        .expect("the sweep runs");
}

/// No pending marker; every secret of the client pointed at by an item and every item's
/// secret there; an active client's token is served and Meta takes it; a client offboarded,
/// or never recorded, keeps no secret.
pub(super) async fn assert_custody(stack: &Stack, what: &str, business: &Business) {
    let items = stack.items_under(&format!("CLIENT#{}", business.id)).await;
    let sk = |item: &Value| item["sk"].as_str().unwrap_or_default().to_owned();
    assert!(
        !items.iter().any(|i| sk(i).starts_with("PENDING#")),
        "{what}: a pending marker outlived the sweep"
    );
    let secrets: BTreeSet<String> = stack.client_secrets(business).await.into_iter().collect();
    let client = items.iter().find(|i| sk(i) == "CLIENT");
    if client.is_none_or(|c| c["status"] == "offboarded") {
        assert!(
            secrets.is_empty(),
            "{what}: secrets with no client behind them: {secrets:?}"
        );
        return;
    }
    let pointed: BTreeSet<String> = items
        .iter()
        .filter_map(|i| i["secret"]["name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        secrets, pointed,
        "{what}: the secrets held are those the items point at"
    );
    for item in items.iter().filter(|i| i["secret"]["name"].is_string()) {
        let name = item["secret"]["name"].as_str().unwrap();
        let version = item["secret"]["version"].as_str().unwrap_or_default();
        assert!(
            stack.aws.secret_value_at(name, version).await.is_some(),
            "{what}: {} points at a version that is not there",
            sk(item)
        );
    }
    if client.is_some_and(|c| c["status"] == "active") {
        let served = stack
            .invoke("token-fetch", &json!({"client_business_id": business.id}))
            .await
            .unwrap_or_else(|e| panic!("{what}: the client's token is not served: {e}"));
        let token = served["access_token"].as_str().unwrap();
        let inspected = stack
            .emulator_json("/_emulator/tokens/inspect", &json!({"access_token": token}))
            .await;
        assert_eq!(inspected["valid"], true, "{what}: Meta takes the token");
    }
}

async fn each_write_of(stack: &Stack, flow: Flow) {
    let baseline = flow.prepare(stack).await;
    stack.aws_proxy.arm(None);
    assert_eq!(
        flow.act(stack, &baseline).await,
        Ok(()),
        "{flow:?} without faults"
    );
    let writes = stack.aws_proxy.writes();
    assert!(writes >= 2, "{flow:?} writes {writes} times");
    for at in 1..=writes {
        for cut in [Cut::BeforeWrite(at), Cut::AfterWrite(at)] {
            let prepared = flow.prepare(stack).await;
            stack.aws_proxy.arm(Some(cut));
            let outcome = flow.act(stack, &prepared).await;
            let went_down = !stack.aws_proxy.is_up();
            stack.aws_proxy.arm(None);
            stack.aws_proxy.set_up(true);
            let what = format!("{flow:?}, AWS down {cut:?}");
            assert!(went_down, "{what}: the cut was reached");
            match outcome {
                Ok(()) => {}
                Err(kind) if kind == "UpstreamUnavailable" => flow.retry(stack, &prepared).await,
                Err(other) => panic!("{what}: answered {other}, not a typed 503"),
            }
            sweep_with_pending_due(stack, &prepared.business).await;
            assert_custody(stack, &what, &prepared.business).await;
        }
    }
    println!("custody: {flow:?} held at each of its {writes} writes, cut before and after");
}

pub async fn bisu_onboarding_keeps_custody_when_aws_fails_at_each_write(stack: &Stack) {
    each_write_of(stack, Flow::Bisu).await;
}

pub async fn obo_onboarding_keeps_custody_when_aws_fails_at_each_write(stack: &Stack) {
    each_write_of(stack, Flow::Obo).await;
}

pub async fn minting_keeps_custody_when_aws_fails_at_each_write(stack: &Stack) {
    each_write_of(stack, Flow::Mint).await;
}

pub async fn page_tokens_keep_custody_when_aws_fails_at_each_write(stack: &Stack) {
    each_write_of(stack, Flow::Page).await;
}

pub async fn offboarding_completes_when_aws_fails_at_each_write(stack: &Stack) {
    each_write_of(stack, Flow::Offboard).await;
}
