//! Seeds the clients as onboarding leaves them: a BISU login in the emulator, the token secret
//! in Secrets Manager (the vault port), the client item with its partner ref, user index and
//! `client.onboarded` event (the store port), its first health check spread over the interval;
//! then the mix: invalid tokens, throttled businesses, pending webhook changes.

use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::collections::BTreeMap;

use shared::model::{
    ChangeStatus, Client, ClientBusinessId, ClientStatus, Event, EventType, Mode, PartnerRef,
    SecretRef, SystemUserId, TokenSecret, WebhookChange,
};
use shared::ports::{Also, Ports};

use crate::sim::Recorder;
use crate::stack::Emulator;

/// The scopes of the emulator's BISU configuration, and those limited to assets.
const SCOPES: [&str; 4] = [
    "business_management",
    "ads_management",
    "ads_read",
    "pages_show_list",
];
const TARGETED: [&str; 2] = ["ads_management", "ads_read"];
/// An expiring token has this long left when seeded: within the sweep's 7-day refresh window.
pub const EXPIRING_IN_SECS: u64 = 3 * 24 * 3600;
/// Writes at once while seeding.
const SEED_CONCURRENCY: usize = 16;
pub const UPDATE: &str = "business_integration_update";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    Healthy,
    /// Its token expires within 7 days: the sweep refreshes it.
    Expiring,
    /// Its token was invalidated at Meta: the sweep marks it `needs_reconnect`.
    Invalid,
    /// Meta throttles its business until the benchmark lifts it.
    Throttled,
    /// A `business_integration_update` change about it waits in the queue.
    Webhook,
}

impl Category {
    pub fn name(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Expiring => "expiring",
            Self::Invalid => "invalid",
            Self::Throttled => "throttled",
            Self::Webhook => "webhook change",
        }
    }
}

pub struct Seeded {
    pub id: ClientBusinessId,
    pub category: Category,
    /// Its first health check.
    pub first_due: i64,
    /// The hash of its pending webhook change.
    pub change: Option<String>,
}

/// How many of `clients` fall in each category: 2% expiring, 2% invalid, 1% throttled, 1%
/// with a webhook change, at least one of each.
pub fn mix(clients: usize) -> Vec<(Category, usize)> {
    let share = |percent: usize| (clients * percent / 100).max(1);
    let special = [
        (Category::Expiring, share(2)),
        (Category::Invalid, share(2)),
        (Category::Throttled, share(1)),
        (Category::Webhook, share(1)),
    ];
    let healthy = clients - special.iter().map(|(_, n)| n).sum::<usize>();
    let mut all = vec![(Category::Healthy, healthy)];
    all.extend(special);
    all
}

struct Login {
    id: ClientBusinessId,
    system_user_id: SystemUserId,
    token: String,
    expires_at: Option<i64>,
}

async fn logins(
    emulator: &Emulator,
    count: usize,
    expires_in: Option<u64>,
) -> Result<Vec<Login>, String> {
    let mut request = json!({ "count": count });
    if let Some(secs) = expires_in {
        request["expires_in_secs"] = json!(secs);
    }
    let answer = emulator.post("/_emulator/logins", request).await?;
    let text = |login: &Value, name: &str| {
        login[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("logins: no {name}"))
    };
    answer["logins"]
        .as_array()
        .ok_or("logins: no list")?
        .iter()
        .map(|login| {
            Ok(Login {
                id: ClientBusinessId::parse(&text(login, "business_id")?)
                    .map_err(|e| e.to_string())?,
                system_user_id: SystemUserId::parse(&text(login, "system_user_id")?)
                    .map_err(|e| e.to_string())?,
                token: text(login, "access_token")?,
                expires_at: login["expires_at"].as_i64(),
            })
        })
        .collect()
}

/// One client as onboarding writes it: marker-free (nothing is pending), secret first, then
/// the item with its links and event in one transaction.
async fn onboard(ports: &Ports, login: &Login, at: i64, due: i64, n: usize) -> Result<(), String> {
    let id = &login.id;
    let name = ports.settings.names.bisu(id);
    let secret = TokenSecret {
        access_token: SecretString::from(login.token.clone()),
        system_user_id: login.system_user_id.clone(),
        client_business_id: Some(id.clone()),
        scopes: SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        expires_at: login.expires_at,
        obtained_at: at,
        assets: None,
    };
    let stored = ports
        .vault
        .put_token(&name, &secret)
        .await
        .map_err(|e| format!("secret of {id}: {e}"))?;
    let partner_ref = PartnerRef::parse(&format!("scale-account-{}", n % 2000)).expect("valid");
    let client = Client {
        client_business_id: id.clone(),
        status: ClientStatus::Active,
        mode: Mode::Bisu,
        partner_ref: partner_ref.clone(),
        system_user_id: login.system_user_id.clone(),
        scopes: secret.scopes.clone(),
        granted_assets: TARGETED
            .iter()
            .map(|s| ((*s).to_owned(), vec![]))
            .collect::<BTreeMap<_, _>>(),
        token_expires_at: login.expires_at,
        secret: SecretRef {
            name: stored.name,
            version: stored.version,
        },
        onboarded_at: at,
        updated_at: at,
        offboarded_at: None,
        offboard_reason: None,
        datasets_fetched_at: None,
        next_check_at: Some(due),
        obo: None,
        version: 1,
    };
    let event = Event::client(
        id,
        EventType::ClientOnboarded,
        at,
        [
            ("partner_ref", partner_ref.as_str().to_owned()),
            ("mode", "bisu".to_owned()),
            ("system_user_id", login.system_user_id.to_string()),
            ("scopes", secret.scopes.join(",")),
            ("status", "active".to_owned()),
        ],
    );
    let also = [
        Also::PartnerRef {
            partner_ref: &partner_ref,
            previous: None,
        },
        Also::UserIndex(&login.system_user_id),
        Also::Event(&event),
    ];
    ports
        .store
        .save_client(&client, None, &also)
        .await
        .map_err(|e| format!("client {id}: {e}"))?
        .map_err(|_| format!("client {id} existed already"))
}

/// Seeds `clients` clients onboarded at `t0`, first checks uniform over `(t0, t0 + interval]`.
pub async fn seed(
    ports: &Ports,
    emulator: &Emulator,
    recorder: &Recorder,
    clients: usize,
    t0: i64,
    interval: i64,
) -> Result<Vec<Seeded>, String> {
    let mix = mix(clients);
    let expiring = mix
        .iter()
        .find(|(c, _)| *c == Category::Expiring)
        .map_or(0, |(_, n)| *n);
    let mut all = logins(emulator, expiring, Some(EXPIRING_IN_SECS)).await?;
    all.extend(logins(emulator, clients - expiring, None).await?);
    // Expiring first, then the others in the order of `mix`.
    let mut categories = vec![Category::Expiring; expiring];
    for (category, n) in &mix {
        if *category != Category::Expiring && *category != Category::Healthy {
            categories.extend(std::iter::repeat_n(*category, *n));
        }
    }
    categories.resize(clients, Category::Healthy);

    let mut rng = StdRng::seed_from_u64(11);
    let dues: Vec<i64> = (0..clients)
        .map(|_| t0 + rng.random_range(1..=interval))
        .collect();
    for login in &all {
        recorder.own(&login.token, login.id.as_str());
    }
    let results: Vec<Result<(), String>> = futures_util::stream::iter(all.iter().enumerate())
        .map(|(n, login)| onboard(ports, login, t0, dues[n], n))
        .buffer_unordered(SEED_CONCURRENCY)
        .collect()
        .await;
    if let Some(err) = results.into_iter().find_map(Result::err) {
        return Err(err);
    }

    let mut seeded: Vec<Seeded> = all
        .iter()
        .zip(&categories)
        .zip(&dues)
        .map(|((login, category), due)| Seeded {
            id: login.id.clone(),
            category: *category,
            first_due: *due,
            change: None,
        })
        .collect();
    let of = |category| {
        seeded
            .iter()
            .filter(move |s: &&Seeded| s.category == category)
            .map(|s| s.id.to_string())
    };
    for business in of(Category::Invalid) {
        emulator
            .post(
                "/_emulator/tokens/invalidate",
                json!({ "business_id": business }),
            )
            .await?;
    }
    let throttled: Vec<String> = of(Category::Throttled).collect();
    emulator
        .post(
            "/_emulator/throttles",
            json!({"business_ids": throttled, "minutes": crate::THROTTLE_MINUTES}),
        )
        .await?;
    // Webhook deliveries whose changes were recorded but not applied inline: all due now.
    let app_id = ports.settings.app_id.as_str().to_owned();
    for client in seeded
        .iter_mut()
        .filter(|s| s.category == Category::Webhook)
    {
        let value = json!({ "business_manager_id": client.id.as_str() }).to_string();
        let entry_time = t0 - 60;
        let change = WebhookChange {
            hash: WebhookChange::hash_of(&app_id, entry_time, UPDATE, &value),
            field: UPDATE.to_owned(),
            entry_time,
            business: Some(client.id.clone()),
            status: ChangeStatus::Received,
            attempts: 0,
            received_at: t0 - 30,
            next_attempt_at: Some(t0 - 30),
            expires_at: t0 - 30 + 7 * 24 * 3600,
        };
        let recorded = ports
            .store
            .record_change(&change)
            .await
            .map_err(|e| format!("webhook change: {e}"))?;
        if !recorded {
            return Err("a webhook change was recorded twice".into());
        }
        client.change = Some(change.hash);
    }
    Ok(seeded)
}
