//! A stateful stand-in for Meta's Graph API and login dialog, for local runs and tests.
//! Usage: graph-emulator [--port N] [--seed FILE]; prints `listening on 127.0.0.1:PORT`.

mod control;
mod dialog;
mod edges;
mod graph;
mod signals;
mod world;

use axum::Router;
use axum::routing::{get, post};
use std::sync::Arc;
use tokio::sync::Mutex;

pub type Shared = Arc<Mutex<world::World>>;

const DEFAULT_SEED: &str = include_str!("../seed.json");

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut port = 0u16;
    let mut seed_text = DEFAULT_SEED.to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--port", Some(v)) => port = v.parse()?,
            ("--seed", Some(path)) => seed_text = std::fs::read_to_string(path)?,
            _ => {
                return Err(
                    format!("usage: graph-emulator [--port N] [--seed FILE] (got {arg})").into(),
                );
            }
        }
    }
    let seed: world::Seed = serde_json::from_str(&seed_text)?;
    let shared: Shared = Arc::new(Mutex::new(world::World::new(seed)));
    let app = Router::new()
        .route("/{version}/dialog/oauth", get(dialog::consent_page))
        .route("/_emulator/dialog/decide", post(dialog::decide))
        .route("/sdk.js", get(dialog::sdk_js))
        .route(
            "/_emulator/sdk/login",
            post(dialog::sdk_login).options(dialog::sdk_login_preflight),
        )
        .route("/_emulator/health", get(|| async { "ok" }))
        .route("/_emulator/codes", post(control::issue_code))
        .route("/_emulator/businesses", post(control::add_business))
        .route(
            "/_emulator/faults",
            post(control::add_fault).delete(control::clear_faults),
        )
        .route("/_emulator/tokens/invalidate", post(control::invalidate))
        .route("/_emulator/tokens/expire", post(control::expire))
        .route("/_emulator/partner-token", post(control::partner_token))
        .route(
            "/_emulator/businesses/{business}/pixels/{pixel}",
            axum::routing::delete(control::remove_pixel),
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
        .fallback(graph::dispatch)
        .with_state(shared);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
