//! The cases, in the order they run; the log scan comes last so it sees every other case's logs.

mod faults;
mod hygiene;
mod malformed;
mod onboarding;

use e2e::Stack;
use std::future::Future;
use std::pin::Pin;

pub type Case = for<'a> fn(&'a Stack) -> Pin<Box<dyn Future<Output = ()> + 'a>>;

macro_rules! cases {
    ($($module:ident :: $name:ident),* $(,)?) => {
        vec![$((stringify!($name), (|stack| Box::pin($module::$name(stack))) as Case)),*]
    };
}

pub fn all() -> Vec<(&'static str, Case)> {
    cases![
        onboarding::dialog_flow_stores_client_and_secret,
        onboarding::js_sdk_flow_stores_client_without_redirect_uri,
        onboarding::replayed_state_answers_the_same_without_second_exchange,
        onboarding::denied_consent_stores_nothing,
        onboarding::unknown_and_expired_states_are_refused,
        onboarding::reonboarding_the_same_business_updates_the_client,
        faults::expired_code_is_refused_and_session_stays_usable,
        faults::redirect_uri_mismatch_is_refused,
        faults::used_code_is_refused,
        faults::graph_5xx_on_me_is_retried,
        faults::graph_unreachable_answers_503_and_stores_nothing,
        faults::aws_unreachable_answers_503_then_a_new_session_succeeds,
        malformed::malformed_requests_get_4xx_and_change_nothing,
        hygiene::every_token_call_carries_a_correct_appsecret_proof,
        hygiene::no_token_or_code_in_any_requested_url,
        hygiene::logs_hold_no_token_code_secret_or_state,
    ]
}
