//! The cases, in the order they run; the log scan comes last so it sees every other case's logs.

mod bad_days;
mod browser;
mod core;
mod custody;
mod datasets;
mod events;
mod faults;
mod hostile;
mod hygiene;
mod malformed;
mod obo;
mod offboarding;
mod onboarding;
mod partner;
mod races;
mod tokens;

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
        custody::bisu_onboarding_keeps_custody_when_aws_fails_at_each_write,
        custody::obo_onboarding_keeps_custody_when_aws_fails_at_each_write,
        custody::minting_keeps_custody_when_aws_fails_at_each_write,
        custody::page_tokens_keep_custody_when_aws_fails_at_each_write,
        custody::offboarding_completes_when_aws_fails_at_each_write,
        bad_days::bisu_onboarding_keeps_custody_when_graph_fails_at_each_call,
        bad_days::obo_onboarding_keeps_custody_when_graph_fails_at_each_call,
        bad_days::minting_keeps_custody_when_graph_fails_at_each_call,
        bad_days::page_tokens_keep_custody_when_graph_fails_at_each_call,
        bad_days::offboarding_completes_when_graph_fails_at_each_call,
        races::fifty_concurrent_callbacks_for_one_state_exchange_the_code_once,
        races::offboarding_racing_fetch_mint_pages_and_refresh_leaves_nothing,
        races::twenty_concurrent_sweeps_claim_each_due_client_once,
        datasets::all_pages_of_both_lists_are_read_once_then_served_from_the_table,
        datasets::refresh_rereads_graph_and_drops_a_removed_pixel,
        datasets::an_invalidated_token_marks_the_client_for_reconnection,
        datasets::throttling_answers_429_with_retry_after,
        datasets::unknown_and_offboarded_clients_are_refused,
        tokens::token_fetch_hands_out_the_onboarded_token_until_offboarded,
        tokens::granular_tokens_are_minted_with_the_right_parameters_and_reused,
        tokens::requests_beyond_the_grants_are_refused_without_calling_graph,
        tokens::a_deleted_bisu_secret_is_recovered_with_fetch_only,
        tokens::the_sweep_marks_dead_tokens_refreshes_expiring_ones_and_survives_failures,
        offboarding::partner_offboarding_removes_everything_and_is_idempotent,
        offboarding::the_uninstall_webhook_offboards_the_client,
        offboarding::the_update_webhook_refreshes_granted_assets_and_datasets,
        offboarding::deauthorize_offboards_the_users_clients,
        offboarding::data_deletion_answers_a_working_status_url,
        offboarding::forged_and_stale_signals_are_refused_and_change_nothing,
        offboarding::concurrent_uninstall_deliveries_offboard_once,
        offboarding::an_offboarded_business_can_onboard_again,
        offboarding::offboarding_an_on_behalf_of_client_removes_the_relationship,
        core::the_fence_holds_under_dynamodb_conditions,
        core::a_webhook_batch_of_50_changes_with_an_unknown_business,
        core::a_session_completes_only_in_the_browser_that_opened_it,
        obo::a_full_obo_onboarding_with_two_pages_and_a_catalog,
        partner::a_page_token_is_stored_then_served_without_graph,
        partner::partner_offboarding_revokes_its_granular_tokens_and_one_dataset_can_go,
        partner::the_partner_system_user_is_provisioned_and_rotated,
        events::events_of_every_type_come_with_their_change_and_only_they_pass_the_pipe_filter,
        events::failed_changes_leave_no_events,
        browser::browser_connects_through_the_pop_up,
        browser::browser_cancel_in_the_pop_up_stores_nothing,
        browser::browser_manual_dialog_link_ends_on_the_result_page,
        browser::browser_a_used_link_shows_already_connected,
        browser::browser_the_obo_page_lists_its_assets_and_connects,
        browser::browser_keyboard_alone_opens_the_pop_up,
        browser::browser_without_javascript_the_dialog_link_still_works,
        browser::browser_every_state_passes_axe_at_a_and_aa,
        browser::browser_html_answers_carry_the_security_headers,
        malformed::malformed_requests_get_4xx_and_change_nothing,
        malformed::malformed_invocations_are_refused_and_change_nothing,
        hostile::hostile_inputs_get_4xx_or_invalid_request_and_change_nothing,
        hygiene::every_token_call_carries_a_correct_appsecret_proof,
        hygiene::no_token_or_code_in_any_requested_url,
        hygiene::logs_hold_no_token_code_secret_or_state,
        hygiene::refusals_are_not_logged_as_errors,
        hygiene::signals_are_emf_lines_with_their_dimensions,
    ]
}
