//! The emulator's routes: login dialog, SDK stand-in, `/_emulator` control API, Graph for the rest.

use axum::Router;
use axum::routing::{delete, get, post};

use crate::{Shared, control, dialog, graph, readouts, scale, signals};

pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/{version}/dialog/oauth", get(dialog::consent_page))
        .route("/_emulator/dialog/decide", post(dialog::decide))
        .route("/sdk.js", get(dialog::sdk_js))
        .route(dialog::SDK_DONE_PATH, get(dialog::sdk_done))
        .route(
            "/_emulator/sdk/login",
            post(dialog::sdk_login).options(dialog::sdk_login_preflight),
        )
        .route("/_emulator/health", get(|| async { "ok" }))
        .route("/_emulator/codes", post(control::issue_code))
        .route("/_emulator/tokens", post(control::issue_token))
        .route("/_emulator/businesses", post(control::add_business))
        .route(
            "/_emulator/faults",
            post(control::add_fault)
                .get(control::list_faults)
                .delete(control::clear_faults),
        )
        .route("/_emulator/tokens/invalidate", post(control::invalidate))
        .route("/_emulator/tokens/expire", post(control::expire))
        .route("/_emulator/partner-token", post(control::partner_token))
        .route(
            "/_emulator/businesses/{business}/pixels/{pixel}",
            delete(control::remove_pixel),
        )
        .route("/_emulator/requests", get(control::requests))
        .route("/_emulator/issued", get(control::issued))
        .route("/_emulator/settings", post(control::settings))
        .route("/_emulator/webhooks", post(signals::webhook))
        .route("/_emulator/signed-request", post(signals::signed_request))
        .route(
            "/_emulator/businesses/{business}/remove-app",
            post(signals::remove_app),
        )
        .route(
            "/_emulator/businesses/{business}/grants",
            post(signals::change_grants),
        )
        .route("/_emulator/state", get(readouts::state))
        .route("/_emulator/revoked", get(readouts::revoked))
        .route("/_emulator/tokens/inspect", post(readouts::inspect))
        .route("/_emulator/user-token", post(readouts::user_token))
        .route(
            "/_emulator/businesses/{business}/settings",
            post(readouts::business_settings),
        )
        .route(
            "/_emulator/businesses/{business}/system-users/{system_user}",
            delete(readouts::delete_system_user),
        )
        .route("/_emulator/assets/{asset}/assign", post(readouts::assign))
        .route(
            "/_emulator/assets/{asset}/unassign",
            post(readouts::unassign),
        )
        .route("/_emulator/logins", post(scale::logins))
        .route(
            "/_emulator/throttles",
            post(scale::throttle)
                .get(scale::throttles)
                .delete(scale::lift),
        )
        .fallback(graph::dispatch)
        .with_state(shared)
}
