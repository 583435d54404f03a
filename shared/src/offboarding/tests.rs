//! Offboarding, webhooks and signed_request callbacks over the fakes.

use super::*;
use crate::fakes::scenario::{leftovers, onboard, system_user_of};
use crate::fakes::{Call, Fakes};
use crate::model::{ChangeOutcome, ChangeStatus, OnboardingOutcome, SystemUserId};
use crate::settings::TEST_APP_SECRET;
use crate::tokens::Recovery;
use secrecy::ExposeSecret;
use serde_json::json;

fn signed(body: &serde_json::Value) -> (Vec<u8>, String) {
    let raw = body.to_string().into_bytes();
    let signature = crate::signatures::hub_signature(TEST_APP_SECRET, &raw);
    (raw, signature)
}

/// A `signed_request` as Meta sends it for `user`.
fn signed_request(ports: &Ports, user: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, Mac};
    let payload = URL_SAFE_NO_PAD.encode(
        json!({"algorithm": "HMAC-SHA256", "issued_at": ports.clock.now(), "user_id": user})
            .to_string(),
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(TEST_APP_SECRET.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    format!(
        "{}.{payload}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn delivery(ports: &Ports, time: i64, changes: &[(&str, &str)]) -> (Vec<u8>, String) {
    let changes: Vec<_> = changes
        .iter()
        .map(
            |(field, business)| json!({"field": field, "value": {"business_manager_id": business}}),
        )
        .collect();
    let body = json!({"object": "application", "entry": [{"id": ports.settings.app_id.as_str(), "time": time, "changes": changes}]});
    signed(&body)
}

fn status(fakes: &Fakes, id: &ClientBusinessId) -> ClientStatus {
    fakes.store.read(|s| s.clients[id].status)
}

#[tokio::test]
async fn a_stale_uninstall_is_recorded_and_applied_to_nothing() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    let before = ports.clock.now() - 3600;
    let (body, signature) = delivery(&ports, before, &[("business_integration_uninstall", "100")]);
    let outcome = handle_delivery(&ports, &body, Some(&signature), Recovery::Allowed)
        .await
        .unwrap();
    assert_eq!(outcome.recorded, 1);
    assert_eq!(
        status(&fakes, &id),
        ClientStatus::Active,
        "the re-onboarded client stays"
    );
    let statuses: Vec<_> = fakes
        .store
        .read(|s| s.webhooks.values().map(|c| c.status).collect());
    assert_eq!(statuses, [ChangeStatus::Stale]);
    assert_eq!(
        fakes.signals.seen(),
        [
            Signal::Onboarding(OnboardingOutcome::Completed),
            Signal::WebhookChange(ChangeOutcome::Stale)
        ]
    );
}

#[tokio::test]
async fn a_change_in_two_deliveries_is_applied_once() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    let now = ports.clock.now() + 5;
    let (one, sig_one) = delivery(&ports, now, &[("business_integration_update", "100")]);
    let (two, sig_two) = delivery(
        &ports,
        now,
        &[
            ("business_integration_update", "100"),
            ("business_integration_update", "200"),
        ],
    );
    let first = handle_delivery(&ports, &one, Some(&sig_one), Recovery::Allowed)
        .await
        .unwrap();
    let second = handle_delivery(&ports, &two, Some(&sig_two), Recovery::Allowed)
        .await
        .unwrap();
    assert_eq!((first.recorded, first.duplicates), (1, 0));
    assert_eq!((second.recorded, second.duplicates), (1, 1));
    let counted = |outcome| {
        fakes
            .signals
            .count(|s| *s == Signal::WebhookChange(outcome))
    };
    assert_eq!(counted(ChangeOutcome::Duplicate), 1, "the replay is seen");
    assert_eq!(counted(ChangeOutcome::Applied), 2);
    assert_eq!(
        fakes.graph.count(Call::DebugToken),
        2,
        "onboarding's and one update's"
    );
    assert_eq!(status(&fakes, &id), ClientStatus::Active);
}

#[tokio::test]
async fn an_uninstall_offboards_and_a_batch_survives_an_unknown_business_and_a_failure() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let gone = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    let updated = onboard(&fakes, &ports, "200", &["ads_management"]).await;
    fakes.graph.set_pixels("200", &["1"], &[]);
    let mut changes = vec![
        ("business_integration_uninstall", "100"),
        ("business_integration_update", "200"),
    ];
    let unknown: Vec<String> = (0..48).map(|i| format!("{}", 900 + i)).collect();
    changes.extend(
        unknown
            .iter()
            .map(|b| ("business_integration_update", b.as_str())),
    );
    // The update's datasets read fails: that change alone is left for the sweep.
    fakes
        .graph
        .fail(Call::Pixels, crate::model::GraphError::meta(500, 2, None));
    let (body, signature) = delivery(&ports, ports.clock.now() + 5, &changes);
    let outcome = handle_delivery(&ports, &body, Some(&signature), Recovery::Allowed)
        .await
        .unwrap();
    assert_eq!(outcome.recorded, 50);
    assert_eq!((outcome.applied, outcome.deferred), (49, 1));
    assert_eq!(status(&fakes, &gone), ClientStatus::Offboarded);
    assert_eq!(leftovers(&fakes, &ports, &gone), (vec![], 0));
    // The sweep applies what was left once it is due again.
    fakes.clock.advance(3600);
    let report = crate::sweep::sweep(&ports, 100).await.unwrap();
    assert!(report.changes_applied >= 1, "{report:?}");
    let received = fakes.store.read(|s| {
        s.webhooks
            .values()
            .filter(|c| c.status == ChangeStatus::Received)
            .count()
    });
    assert_eq!(received, 0);
    assert_eq!(fakes.store.read(|s| s.datasets.len()), 1);
    assert_eq!(status(&fakes, &updated), ClientStatus::Active);
}

#[tokio::test]
async fn a_change_without_values_is_recorded_and_nothing_else() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    let body = json!({"object": "application", "entry": [{"id": ports.settings.app_id.as_str(),
        "time": ports.clock.now() + 5, "changed_fields": ["business_integration_uninstall"]}]});
    let (raw, signature) = signed(&body);
    let outcome = handle_delivery(&ports, &raw, Some(&signature), Recovery::Allowed)
        .await
        .unwrap();
    assert_eq!((outcome.recorded, outcome.applied), (1, 1));
    assert_eq!(status(&fakes, &id), ClientStatus::Active);
}

#[tokio::test]
async fn a_forged_delivery_changes_nothing() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    onboard(&fakes, &ports, "100", &["ads_management"]).await;
    let (body, _) = delivery(
        &ports,
        ports.clock.now(),
        &[("business_integration_uninstall", "100")],
    );
    let err = handle_delivery(&ports, &body, Some("sha256=00"), Recovery::Allowed)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidRequest");
    assert!(fakes.store.read(|s| s.webhooks.is_empty()));
}

#[tokio::test]
async fn a_delivery_refused_for_its_second_change_records_not_its_first() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    let (body, signature) = delivery(
        &ports,
        ports.clock.now(),
        &[
            ("business_integration_uninstall", "100"),
            ("business_integration_update", "../../etc/passwd"),
        ],
    );
    let err = handle_delivery(&ports, &body, Some(&signature), Recovery::Allowed)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidRequest");
    assert!(fakes.store.read(|s| s.webhooks.is_empty()));
    assert_eq!(status(&fakes, &id), ClientStatus::Active);
}

#[tokio::test]
async fn deauthorize_finds_the_users_clients_without_a_scan() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    let other = onboard(&fakes, &ports, "200", &["ads_management"]).await;
    let user = SystemUserId::parse(&system_user_of("100")).unwrap();
    assert_eq!(
        ports.store.clients_of_user(&user).await.unwrap(),
        vec![id.clone()]
    );
    let signed_request = signed_request(&ports, user.as_str());
    let offboarded = deauthorize(&ports, &signed_request).await.unwrap();
    assert_eq!(offboarded, vec!["100".to_owned()]);
    assert_eq!(status(&fakes, &id), ClientStatus::Offboarded);
    assert_eq!(status(&fakes, &other), ClientStatus::Active);
}

#[tokio::test]
async fn offboarding_twice_gives_the_same_state_and_one_event() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    offboard(
        &ports,
        &id,
        "partner_request",
        crate::offboarding::Initiator::Partner,
    )
    .await
    .unwrap();
    let again = offboard(
        &ports,
        &id,
        "partner_request",
        crate::offboarding::Initiator::Partner,
    )
    .await
    .unwrap();
    assert!(again.steps[0].starts_with("already offboarded"));
    let events = fakes.store.read(|s| {
        s.events
            .iter()
            .filter(|e| e.kind == EventType::Offboarded)
            .count()
    });
    assert_eq!(events, 1);
    assert_eq!(fakes.signals.count(|s| *s == Signal::Offboarding), 1);
    assert_eq!(leftovers(&fakes, &ports, &id), (vec![], 0));
}

#[tokio::test(start_paused = true)]
async fn an_offboarding_gets_its_fence_in_while_other_writers_keep_winning_the_client() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    // Dataset refreshes and token writes racing for the client item win all but the last try.
    let attempts = crate::optimistic::ATTEMPTS as usize;
    fakes.store.rival_client_writes(attempts - 1);
    let report = offboard(&ports, &id, "contract_ended", Initiator::Partner)
        .await
        .unwrap();
    assert_eq!(report.status, "offboarded");
    assert_eq!(status(&fakes, &id), ClientStatus::Offboarded);
    assert_eq!(leftovers(&fakes, &ports, &id), (vec![], 0));
}

#[tokio::test(start_paused = true)]
async fn an_offboarding_that_loses_every_race_changes_nothing_and_a_retry_finishes_it() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    let before = leftovers(&fakes, &ports, &id);
    fakes
        .store
        .rival_client_writes(crate::optimistic::ATTEMPTS as usize);
    let err = offboard(&ports, &id, "contract_ended", Initiator::Partner)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Internal(_)), "{err:?}");
    // Lost before its fence: nothing was taken away from a client still in use.
    assert_eq!(status(&fakes, &id), ClientStatus::Active);
    assert_eq!(leftovers(&fakes, &ports, &id), before);
    offboard(&ports, &id, "contract_ended", Initiator::Partner)
        .await
        .unwrap();
    assert_eq!(status(&fakes, &id), ClientStatus::Offboarded);
    assert_eq!(leftovers(&fakes, &ports, &id), (vec![], 0));
}

#[tokio::test]
async fn data_deletion_offboards_the_users_clients_and_keeps_a_status() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    let user = system_user_of("100");
    let signed = signed_request(&ports, &user);
    let answer = data_deletion(&ports, &signed).await.unwrap();
    assert!(answer.url.ends_with(&answer.confirmation_code));
    let status = deletion_status(&ports, &answer.confirmation_code)
        .await
        .unwrap();
    assert_eq!(status.status, "completed");
    assert_eq!(status.clients, vec!["100".to_owned()]);
    assert_eq!(
        fakes.store.read(|s| s.clients[&id].status),
        ClientStatus::Offboarded
    );
    assert!(deletion_status(&ports, "nothex").await.is_err());
}

#[tokio::test]
async fn a_crash_at_any_point_of_a_delivery_loses_no_uninstall() {
    let mut at = 1;
    loop {
        let fakes = Fakes::new();
        let ports = fakes.ports();
        let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
        let (body, signature) = delivery(
            &ports,
            ports.clock.now() + 5,
            &[("business_integration_uninstall", "100")],
        );
        let crashed = fakes
            .interleaver
            .crash_before(
                at,
                handle_delivery(&ports, &body, Some(&signature), Recovery::Allowed),
            )
            .await;
        // No 200 reached Meta: it delivers again; then the sweep runs.
        if crashed.is_some() {
            handle_delivery(&ports, &body, Some(&signature), Recovery::Allowed)
                .await
                .unwrap();
        }
        fakes
            .clock
            .advance(crate::sweep::LEASE_SECS + SECOND_CLEANUP_SECS + 1);
        crate::sweep::sweep(&ports, 100).await.unwrap();
        assert_eq!(
            status(&fakes, &id),
            ClientStatus::Offboarded,
            "a crash before call {at} ({crashed:?})"
        );
        let offboarded = fakes.store.read(|s| {
            s.events
                .iter()
                .filter(|e| e.kind == EventType::Offboarded)
                .count()
        });
        assert_eq!(offboarded, 1, "a crash before call {at}");
        assert_eq!(leftovers(&fakes, &ports, &id), (vec![], 0));
        if crashed.is_none() {
            break;
        }
        at += 1;
    }
    assert!(at > 5);
}

async fn mint(ports: &Ports, id: &ClientBusinessId, assets: &[&str]) -> String {
    let request = crate::tokens::MintRequest::new(
        vec!["ads_management".into()],
        assets.iter().map(|a| a.to_string()).collect(),
        false,
        false,
    )
    .unwrap();
    crate::tokens::granular(ports, id, request)
        .await
        .unwrap()
        .access_token
        .expose_secret()
        .to_owned()
}

#[tokio::test]
async fn partner_offboarding_revokes_the_granular_tokens_first_and_reports_refusals() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    let first = mint(&ports, &id, &["10"]).await;
    let second = mint(&ports, &id, &["11"]).await;
    fakes
        .graph
        .fail(Call::Revoke, crate::model::GraphError::meta(500, 2, None));
    let report = offboard(&ports, &id, "contract_ended", Initiator::Partner)
        .await
        .unwrap();
    assert!(
        report
            .steps
            .iter()
            .any(|s| s == "revoked 1 of 2 granular token(s) at Meta"),
        "{:?}",
        report.steps
    );
    assert!(
        report
            .steps
            .iter()
            .any(|s| s.starts_with("Meta did not revoke"))
    );
    let dead = [first, second]
        .iter()
        .filter(|t| !fakes.graph.is_valid(t))
        .count();
    assert_eq!(dead, 1, "the one Meta accepted is dead");
    assert_eq!(leftovers(&fakes, &ports, &id), (vec![], 0));
    assert!(report.remove_app_url.ends_with("business_id=100"));
}

#[tokio::test]
async fn a_client_initiated_offboarding_revokes_nothing() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    mint(&ports, &id, &[]).await;
    offboard(&ports, &id, "client_uninstalled", Initiator::Client)
        .await
        .unwrap();
    assert_eq!(fakes.graph.count(Call::Revoke), 0);
    assert_eq!(leftovers(&fakes, &ports, &id), (vec![], 0));
}

#[tokio::test]
async fn offboarding_one_dataset_revokes_its_tokens_and_keeps_the_client() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    fakes.graph.set_pixels("100", &["10", "11"], &[]);
    crate::datasets::lookup(&ports, &id, false, crate::tokens::Recovery::NotHere)
        .await
        .unwrap();
    let reaching = mint(&ports, &id, &["10"]).await;
    let other = mint(&ports, &id, &["11"]).await;
    let report = offboard_dataset(&ports, &id, "10", "pixel_retired")
        .await
        .unwrap();
    assert_eq!(report.status, "active");
    assert!(!fakes.graph.is_valid(&reaching));
    assert!(fakes.graph.is_valid(&other));
    let (datasets, minted) = fakes.store.read(|s| {
        (
            s.datasets
                .keys()
                .map(|(_, d)| d.clone())
                .collect::<Vec<_>>(),
            s.minted.len(),
        )
    });
    assert_eq!(datasets, vec!["11".to_owned()]);
    assert_eq!(minted, 1);
    assert_eq!(status(&fakes, &id), ClientStatus::Active);
    assert_eq!(
        fakes.vault.names().len(),
        2,
        "the client's own and the other token's"
    );
}

#[tokio::test]
async fn without_a_usable_app_secret_deliveries_are_refused_and_unsigned_ones_read_nothing() {
    use crate::error::Error;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let reads = Arc::new(AtomicUsize::new(0));
    let counted = reads.clone();
    let missing = crate::lazy::Lazy::new(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async {
            Err(Error::PartnerCredentials(
                "the app secret does not exist".into(),
            ))
        }
    });
    let fakes = Fakes::new();
    let ports = fakes.ports_with(crate::settings::Settings::for_tests().with_app(missing));
    let (body, signature) = signed(&json!({"object": "application", "entry": []}));
    for unsigned in [
        None,
        Some("sha1=00"),
        Some("sha256=zz"),
        Some("sha256=00ff"),
    ] {
        let refused = handle_delivery(&ports, &body, unsigned, Recovery::Allowed).await;
        assert!(
            matches!(refused, Err(Error::Unauthorized(_))),
            "{unsigned:?}"
        );
    }
    assert_eq!(
        reads.load(Ordering::SeqCst),
        0,
        "no secret read for an unsigned delivery"
    );
    let refused = handle_delivery(&ports, &body, Some(&signature), Recovery::Allowed).await;
    assert!(matches!(refused, Err(Error::PartnerCredentials(_))));
    let handshake = verify_subscription(&ports, Some("subscribe"), Some("x"), Some("1")).await;
    assert!(matches!(handshake, Err(Error::PartnerCredentials(_))));
    assert_eq!(
        reads.load(Ordering::SeqCst),
        2,
        "each request tries the secret again"
    );
}
