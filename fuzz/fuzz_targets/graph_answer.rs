//! Graph API answers: the real `shared::adapters::graph::GraphClient` makes one call against a
//! loopback server that answers with the scripted statuses, usage headers and bodies, so
//! success bodies (`graph_types`, paging), error envelopes (`GraphError::from_response`) and
//! `Retry-After` are read by the code that reads Meta's. The first line names the call; the
//! rest is the script (see `fuzz_support::parse_answers`).
#![no_main]

use std::sync::Arc;

use fuzz_support::{
    APP_SECRET, Answer, CountingSignals, FixedClock, LoopbackGraph, NOW, block_on, choose,
    first_line, graph_client, parse_answers,
};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;
use serde_json::Value;
use shared::adapters::graph::GraphClient;
use shared::model::{
    Asset, ClientBusinessId, GraphError, MintParams, Ownership, SystemUserId, Whose,
};
use shared::ports::Graph;
use shared::signatures::appsecret_proof;

const TOKEN: &str = "EAAFUZZTOKENFUZZTOKENFUZZTOKEN";
const ATTEMPTS: u32 = 2;
const MAX_ANSWERS: usize = 6;

const CALLS: &[&str] = &[
    "exchange_code",
    "me",
    "me_id",
    "debug_token",
    "owned_pixels",
    "client_pixels",
    "system_user_access_token",
    "refresh_token",
    "page_token",
    "pages",
    "install_app",
    "mint_system_user_token",
    "revoke",
    "add_managed_business",
    "client_system_user_token",
    "assign_asset",
    "remove_managed_business",
];

/// Makes the call; what a success returns is used as its callers use it.
async fn call(graph: &GraphClient, name: &str) -> Result<(), GraphError> {
    let token = SecretString::from(TOKEN);
    let business = ClientBusinessId::parse("42").expect("digits");
    let user = SystemUserId::parse("7").expect("digits");
    match name {
        "exchange_code" => {
            let exchanged = graph
                .exchange_code(&SecretString::from("AQcode"), None)
                .await?;
            let _ = exchanged.lifetime_secs();
        }
        "me" => {
            graph.me(&token).await?;
        }
        "me_id" => {
            graph.me_id(&token).await?;
        }
        "debug_token" => {
            let debug = graph.debug_token(&token).await?;
            let _ = (debug.expiry_epoch(), debug.granted_assets());
        }
        "owned_pixels" | "client_pixels" => {
            let ownership = if name == "owned_pixels" {
                Ownership::Owned
            } else {
                Ownership::Shared
            };
            graph.pixels(&business, ownership, &token).await?;
        }
        "system_user_access_token" => {
            let params = MintParams {
                system_user_id: "7".into(),
                scopes: vec!["ads_management".into()],
                ..MintParams::default()
            };
            graph
                .system_user_access_token(&business, &token, &params)
                .await?;
        }
        "refresh_token" => {
            let _ = graph.refresh_token(&token).await?.lifetime_secs();
        }
        "page_token" => {
            graph.page_token("99", &token).await?;
        }
        "pages" => {
            graph.pages(&token).await?;
        }
        "install_app" => graph.install_app(&user, &token).await?,
        "mint_system_user_token" => {
            graph
                .mint_system_user_token(&user, &token, &["ads_management".into()], true)
                .await?;
        }
        "revoke" => graph.revoke(&token).await?,
        "add_managed_business" => graph.add_managed_business("9", &business, &token).await?,
        "client_system_user_token" => {
            graph
                .client_system_user_token(&business, &token, &["ads_management".into()])
                .await?;
        }
        "assign_asset" => {
            let asset = Asset::new("5", "page", None).expect("a page");
            graph.assign_asset(&asset, &user, &token).await?;
        }
        _ => {
            graph
                .remove_managed_business("9", &business, &token)
                .await?
        }
    }
    Ok(())
}

/// Meta's message as kept: at most 200 characters, nothing token-like (a run of 20 or more
/// letters, digits or `_` that is not all digits).
fn assert_redacted(message: &str) {
    assert!(message.chars().count() <= 200, "{message:?}");
    for run in message.split(|c: char| !c.is_ascii_alphanumeric() && c != '_') {
        assert!(
            run.len() < 20 || run.bytes().all(|b| b.is_ascii_digit()),
            "a token-like word kept: {run:?} in {message:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let (line, script) = first_line(data);
    let name = choose(line, CALLS);
    let server = LoopbackGraph::get();
    let answers = parse_answers(script, &server.origin(), MAX_ANSWERS);
    server.script(answers.clone());
    let clock = Arc::new(FixedClock::at(NOW));
    let signals = Arc::new(CountingSignals::default());
    let graph = graph_client(server.base().clone(), ATTEMPTS, clock, signals.clone());
    let result = block_on(call(&graph, name));
    let seen = server.seen();
    let served: Vec<Answer> = server.served();
    assert!(
        seen.len() <= answers.len() + ATTEMPTS as usize,
        "{} requests for {} answers",
        seen.len(),
        answers.len()
    );
    // The token travels in the Authorization header with its proof, never in a URL (revoke
    // names the token to revoke in its query, by Meta's design).
    let proof = appsecret_proof(&SecretString::from(APP_SECRET), &SecretString::from(TOKEN));
    // Unless an answer's `paging.next` names it (Meta's URL, kept as given).
    let echoed = served
        .iter()
        .any(|a| a.body.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()));
    for request in &seen {
        let query = request.target.split_once('?').map_or("", |(_, q)| q);
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        assert!(
            !pairs.iter().any(|(k, _)| k == "access_token"),
            "a token parameter in {}",
            request.target
        );
        assert!(pairs.iter().filter(|(k, _)| k == "appsecret_proof").count() <= 1);
        if name != "revoke" && !echoed {
            assert!(!request.target.contains(TOKEN), "{}", request.target);
        }
        let bearer = request
            .headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .map(|(_, v)| v.as_str());
        if bearer == Some(format!("Bearer {TOKEN}").as_str()) {
            let form = url::form_urlencoded::parse(&request.body).into_owned();
            let proofs: Vec<String> = pairs
                .iter()
                .cloned()
                .chain(form)
                .filter(|(k, _)| k == "appsecret_proof")
                .map(|(_, v)| v)
                .collect();
            assert_eq!(proofs, std::slice::from_ref(&proof), "{}", request.target);
        }
    }
    let last = served.last();
    match result {
        Ok(()) => {
            let last = last.expect("a success needs an answer");
            assert!(
                (200..300).contains(&last.status),
                "success on {}",
                last.status
            );
        }
        Err(err) => {
            if let Some(status) = err.http_status {
                assert_eq!(Some(status), last.map(|a| a.status));
            }
            if let Some(code) = err.code {
                // Read leniently: serde does not check the UTF-8 of members it skips.
                let body = String::from_utf8_lossy(&last.expect("an answer").body).into_owned();
                if let Ok(body) = serde_json::from_str::<Value>(&body) {
                    assert_eq!(body["error"]["code"].as_i64(), Some(code));
                }
            }
            if let Some(message) = err.message.as_deref() {
                assert_redacted(message);
            }
            if err.class() == shared::model::GraphErrorClass::Throttled {
                assert_eq!(
                    signals.0.load(std::sync::atomic::Ordering::SeqCst),
                    1,
                    "a throttled answer is signalled once"
                );
            }
            // What a caller reads never holds the token, even when Meta's message quotes it.
            for whose in [Whose::Client, Whose::Partner, Whose::App] {
                let caller = err.clone().into_error(whose);
                assert!(!caller.to_string().contains(TOKEN), "{caller}");
            }
            let exchange = err.into_exchange_error();
            assert!(!exchange.to_string().contains(TOKEN), "{exchange}");
        }
    }
});
