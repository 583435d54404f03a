//! The two phases: complete onboardings through oauth-callback, then token-fetch invocations
//! spread over the onboarded clients, each at bounded concurrency.

use e2e::emulator::Emulator;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Instant;

use crate::pool::Pool;
use crate::tally::{Failure, Phase, Tally, bounded};
use crate::workloads;

pub const FLOW: &str = "onboarding: whole flow";
pub const PREPARE: &str =
    "onboarding: new business, POST /onboarding/sessions, GET /onboarding/start, emulator code";
pub const CODE_POST: &str = "onboarding: POST /oauth/code";

/// What the onboardings produced: each new client's id, in no particular order.
pub struct Onboarded {
    pub phase: Phase,
    pub clients: Vec<String>,
}

/// `count` onboardings of new businesses, `concurrency` at a time: the flow of
/// `workloads::onboard` (the browser's session and cookie, the code `FB.login` hands over),
/// its code POST timed on its own.
pub async fn onboardings(
    pool: &Pool,
    emulator: &Emulator,
    count: usize,
    concurrency: usize,
) -> Onboarded {
    let tally = Tally::default();
    let clients = Mutex::new(Vec::with_capacity(count));
    let wall = bounded("onboardings", count, concurrency, |_| async {
        match onboard(pool, emulator, &tally).await {
            Ok(id) => clients.lock().unwrap().push(id),
            Err((row, failure)) => tally.fail(row, failure),
        }
    })
    .await;
    Onboarded {
        phase: tally.finish("onboarding", wall, &[FLOW, PREPARE, CODE_POST]),
        clients: clients.into_inner().unwrap(),
    }
}

async fn onboard(
    pool: &Pool,
    emulator: &Emulator,
    tally: &Tally,
) -> Result<String, (&'static str, Failure)> {
    let started = Instant::now();
    let instance = pool.take().await;
    let event = workloads::code_post(&instance, emulator)
        .await
        .map_err(|e| (PREPARE, Failure::from_invoke(e)))?;
    tally.ok(PREPARE, started.elapsed());
    let (bytes, took) = instance
        .invoke(&event)
        .await
        .map_err(|e| (CODE_POST, Failure::from_invoke(e)))?;
    let answer =
        workloads::http_answer(&bytes).map_err(|e| (CODE_POST, Failure::WrongAnswer(e)))?;
    if answer.status != 200 {
        let failure = format!("expected 200, got {}: {}", answer.status, answer.body);
        return Err((CODE_POST, Failure::Status(failure)));
    }
    let id = workloads::onboarded_id(&answer).map_err(|e| (CODE_POST, Failure::WrongAnswer(e)))?;
    tally.ok(CODE_POST, took);
    tally.ok(FLOW, started.elapsed());
    Ok(id)
}

/// The token-fetch requests of the mix, and their shares in percent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// `{client_business_id}`: the client's token, from the instance's cache once it holds
    /// the current version.
    Client,
    /// `{client_business_id, force_refresh: true}`: the current version read again.
    ForceRefresh,
    /// `{client_business_id, scope: [ads_read]}`: a granular token, minted at the first
    /// request and served from its secret afterwards.
    Granular,
    /// The same with `force_refresh`: minted again every time.
    Remint,
}

/// The granted scope the granular requests ask for (the demo login configuration grants it
/// for every asset).
pub const GRANULAR_SCOPE: &str = "ads_read";

impl Request {
    pub const MIX: [(Request, u32); 4] = [
        (Request::Client, 75),
        (Request::ForceRefresh, 10),
        (Request::Granular, 12),
        (Request::Remint, 3),
    ];

    pub fn row(self) -> &'static str {
        match self {
            Request::Client => "token-fetch: client token",
            Request::ForceRefresh => "token-fetch: client token, force_refresh",
            Request::Granular => "token-fetch: granular token (ads_read)",
            Request::Remint => "token-fetch: granular token, force_refresh (a new mint)",
        }
    }

    fn payload(self, client: &str) -> Value {
        match self {
            Request::Client => json!({"client_business_id": client}),
            Request::ForceRefresh => json!({"client_business_id": client, "force_refresh": true}),
            Request::Granular => json!({"client_business_id": client, "scope": [GRANULAR_SCOPE]}),
            Request::Remint => json!({"client_business_id": client, "scope": [GRANULAR_SCOPE],
                "force_refresh": true}),
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Request::Client | Request::ForceRefresh => "bisu",
            Request::Granular | Request::Remint => "granular",
        }
    }

    fn is_granular(self) -> bool {
        self.kind() == "granular"
    }
}

pub const ALL_FETCHES: &str = "token-fetch: every invocation";

/// What the token fetches left behind: the clients that were given a granular token.
pub struct Fetched {
    pub phase: Phase,
    pub granular_clients: BTreeSet<String>,
}

/// `count` token-fetch invocations, `concurrency` at a time, each for a client drawn at random
/// (fixed seed) from `clients` with a request drawn from [`Request::MIX`].
pub async fn token_fetches(
    pool: &Pool,
    clients: &[String],
    count: usize,
    concurrency: usize,
) -> Fetched {
    let plan = plan(clients, count);
    let granular_clients = plan
        .iter()
        .filter(|(_, request)| request.is_granular())
        .map(|(client, _)| client.to_string())
        .collect();
    let tally = Tally::default();
    let wall = bounded("token fetches", plan.len(), concurrency, |i| {
        let (client, request) = plan[i];
        let tally = &tally;
        async move {
            let instance = pool.take().await;
            let payload = request.payload(client).to_string().into_bytes();
            let outcome = match instance.invoke(&payload).await {
                Ok((answer, took)) => check_token(&answer, client, request).map(|()| took),
                Err(err) => Err(Failure::from_invoke(err)),
            };
            match outcome {
                Ok(took) => {
                    tally.ok(request.row(), took);
                    tally.ok(ALL_FETCHES, took);
                }
                Err(failure) => tally.fail(request.row(), failure),
            }
        }
    })
    .await;
    Fetched {
        phase: tally.finish(
            "token fetch",
            wall,
            &[
                ALL_FETCHES,
                Request::Client.row(),
                Request::ForceRefresh.row(),
                Request::Granular.row(),
                Request::Remint.row(),
            ],
        ),
        granular_clients,
    }
}

fn plan(clients: &[String], count: usize) -> Vec<(&str, Request)> {
    if clients.is_empty() {
        return Vec::new();
    }
    let mut rng = StdRng::seed_from_u64(14);
    let total: u32 = Request::MIX.iter().map(|(_, share)| share).sum();
    (0..count)
        .map(|_| {
            let client = clients[rng.random_range(0..clients.len())].as_str();
            let mut pick = rng.random_range(0..total);
            let request = Request::MIX
                .iter()
                .find(|(_, share)| {
                    let hit = pick < *share;
                    pick = pick.saturating_sub(*share);
                    hit
                })
                .map(|(request, _)| *request)
                .expect("the shares add up to the total");
            (client, request)
        })
        .collect()
}

/// A token answer for this client, of the kind the request asks for, with a token in it.
fn check_token(answer: &[u8], client: &str, request: Request) -> Result<(), Failure> {
    let Ok(mut body) = serde_json::from_slice::<Value>(answer) else {
        let text = String::from_utf8_lossy(answer).into_owned();
        return Err(Failure::WrongAnswer(format!("not JSON: {text}")));
    };
    let has_token = body["access_token"].as_str().is_some_and(|t| !t.is_empty());
    let fits = has_token
        && body["client_business_id"] == json!(client)
        && body["kind"] == json!(request.kind())
        && (!request.is_granular() || body["scopes"] == json!([GRANULAR_SCOPE]));
    if fits {
        return Ok(());
    }
    // Reported without the token.
    if has_token {
        body["access_token"] = json!("(a token)");
    }
    Err(Failure::WrongAnswer(format!(
        "for {client} ({:?}): {body}",
        request
    )))
}
