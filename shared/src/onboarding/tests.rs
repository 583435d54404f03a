//! Onboarding over the fakes: the browser binding, replays, re-onboarding, Meta's errors.

use super::bind_browser;
use crate::fakes::scenario::{
    BROWSER, bound_session, complete, onboard, session_and_code, system_user_of,
};
use crate::fakes::{Call, Fakes};
use crate::model::{ClientBusinessId, EventType, GraphError, OnboardingOutcome, Signal};

const OTHER_BROWSER: &str = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";

#[tokio::test]
async fn a_leaked_state_cannot_complete_from_another_browser() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let (state, code) = session_and_code(&fakes, &ports, "100").await;
    for browser in [None, Some(OTHER_BROWSER)] {
        let err = complete(&ports, &state, browser, &code).await.unwrap_err();
        assert!(matches!(err, crate::Error::SessionOtherBrowser), "{err}");
    }
    let err = bind_browser(&ports, &state, Some(OTHER_BROWSER))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, crate::Error::SessionOtherBrowser));
    assert_eq!(
        fakes.graph.count(Call::ExchangeCode),
        0,
        "no exchange for a stranger"
    );
    let done = complete(&ports, &state, Some(BROWSER), &code)
        .await
        .unwrap();
    assert!(!done.replayed);
}

#[tokio::test]
async fn a_replayed_callback_answers_the_same_without_a_second_exchange() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let (state, code) = session_and_code(&fakes, &ports, "100").await;
    let first = complete(&ports, &state, Some(BROWSER), &code)
        .await
        .unwrap();
    let again = complete(&ports, &state, Some(BROWSER), &code)
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(first.result, again.result);
    assert_eq!(fakes.graph.count(Call::ExchangeCode), 1);
    assert_eq!(
        fakes.signals.seen(),
        [Signal::Onboarding(OnboardingOutcome::Completed)],
        "a replay is not a second onboarding"
    );
}

#[tokio::test]
async fn re_onboarding_under_another_ref_moves_the_ref_and_records_it() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    let state = bound_session(&ports, "acct-2").await;
    let code = fakes
        .graph
        .issue_code("100", &system_user_of("100"), &["ads_management"], &[]);
    complete(&ports, &state, Some(BROWSER), &code)
        .await
        .unwrap();
    let (refs, onboarded) = fakes.store.read(|s| {
        (
            s.refs.iter().cloned().collect::<Vec<_>>(),
            s.events
                .iter()
                .filter(|e| e.kind == EventType::ClientOnboarded)
                .cloned()
                .collect::<Vec<_>>(),
        )
    });
    assert_eq!(
        refs,
        vec![("acct-2".to_owned(), id)],
        "moved, not duplicated"
    );
    assert_eq!(onboarded.len(), 2);
    assert_eq!(
        onboarded[1]
            .detail
            .get("previous_partner_ref")
            .map(String::as_str),
        Some("acct-1"),
        "the move is recorded"
    );
}

#[tokio::test]
async fn meta_errors_at_onboarding_store_nothing_and_leave_the_session_usable() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let (state, code) = session_and_code(&fakes, &ports, "100").await;
    let mut bad_secret = GraphError::meta(400, 1, None);
    bad_secret.oauth_endpoint = true;
    fakes.graph.fail(Call::ExchangeCode, bad_secret);
    let err = complete(&ports, &state, Some(BROWSER), &code)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "PartnerCredentials");
    fakes
        .graph
        .fail(Call::DebugToken, GraphError::meta(400, 190, None));
    let err = complete(&ports, &state, Some(BROWSER), &code)
        .await
        .unwrap_err();
    assert_eq!(
        err.error_type(),
        "PartnerCredentials",
        "the app token, not the client"
    );
    let code = fakes
        .graph
        .issue_code("100", &system_user_of("100"), &["ads_management"], &[]);
    fakes
        .graph
        .fail(Call::DebugToken, GraphError::meta(400, 100, None));
    let err = complete(&ports, &state, Some(BROWSER), &code)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("a different app"),
        "debug_token of another app's token: {err}"
    );
    assert!(fakes.vault.names().is_empty());
    assert!(fakes.store.read(|s| s.clients.is_empty()));
    let code = fakes
        .graph
        .issue_code("100", &system_user_of("100"), &["ads_management"], &[]);
    complete(&ports, &state, Some(BROWSER), &code)
        .await
        .unwrap();
    assert!(fakes.store.read(|s| {
        s.clients
            .contains_key(&ClientBusinessId::parse("100").unwrap())
    }));
    let ended = |outcome| fakes.signals.count(|s| *s == Signal::Onboarding(outcome));
    assert_eq!(ended(OnboardingOutcome::Failed), 3);
    assert_eq!(ended(OnboardingOutcome::Completed), 1);
    assert_eq!(
        fakes.signals.count(|s| *s == Signal::PartnerTokenInvalid),
        2,
        "the app credentials refused twice"
    );
}

#[tokio::test]
async fn a_client_write_whose_answer_was_lost_completes_the_onboarding() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    onboard(&fakes, &ports, "100", &["ads_management"]).await;
    let writes = fakes.store.client_writes();
    assert!(writes >= 1, "the flow writes its client");
    for lost in 1..=writes {
        let fakes = Fakes::new();
        let ports = fakes.ports();
        let (state, code) = session_and_code(&fakes, &ports, "100").await;
        fakes.store.lose_client_answer_at(lost);
        let done = complete(&ports, &state, Some(BROWSER), &code)
            .await
            .unwrap_or_else(|e| panic!("the answer of client write {lost} lost: {e}"));
        assert_eq!(done.result.client_business_id.as_str(), "100");
        let id = ClientBusinessId::parse("100").unwrap();
        let client = fakes.store.read(|s| s.clients[&id].clone());
        assert_eq!(client.status, crate::model::ClientStatus::Active);
        assert_eq!(fakes.graph.count(Call::ExchangeCode), 1, "one exchange");
    }
}
