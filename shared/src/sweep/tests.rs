//! The sweep over the fakes: crashes after each write step repaired, leases, health checks.

use super::*;
use crate::fakes::scenario::{BROWSER, complete, leftovers, onboard, session_and_code};
use crate::fakes::{Call, Fakes};
use crate::model::ClientBusinessId;
use crate::ports::Clock;
use crate::tokens::{MintRequest, granular};

/// Every secret is named by an item that points at it, and no marker is left.
fn consistent(fakes: &Fakes) -> Result<(), String> {
    let (clients, minted, pending) = fakes.store.read(|s| {
        (
            s.clients.values().cloned().collect::<Vec<_>>(),
            s.minted.values().cloned().collect::<Vec<_>>(),
            s.pending.len(),
        )
    });
    if pending > 0 {
        return Err(format!("{pending} pending marker(s) left"));
    }
    for name in fakes.vault.names() {
        if name.ends_with("/partner/system-user") {
            continue;
        }
        let current = fakes.vault.current(&name).is_some();
        let named = clients
            .iter()
            .any(|c| c.secret.name == name && c.status == ClientStatus::Active)
            || minted.iter().any(|m| m.secret.name == name);
        if current && !named {
            return Err(format!("the secret {name} is known to nobody"));
        }
    }
    for client in clients.iter().filter(|c| c.status == ClientStatus::Active) {
        let version = fakes.vault.current(&client.secret.name);
        if version.is_none() {
            return Err("an active client points at no secret".into());
        }
    }
    Ok(())
}

async fn sweep_after_grace(fakes: &Fakes, ports: &Ports) -> SweepReport {
    fakes
        .clock
        .advance(crate::custody::PENDING_GRACE_SECS + LEASE_SECS + 1);
    sweep(ports, 1000).await.unwrap()
}

#[tokio::test]
async fn a_crash_after_each_write_step_of_onboarding_is_repaired_by_the_sweep() {
    let mut at = 1;
    loop {
        let fakes = Fakes::new();
        let ports = fakes.ports();
        let (state, code) = session_and_code(&fakes, &ports, "100").await;
        let crashed = fakes
            .interleaver
            .crash_before(at, complete(&ports, &state, Some(BROWSER), &code))
            .await;
        sweep_after_grace(&fakes, &ports).await;
        if let Err(problem) = consistent(&fakes) {
            panic!("a crash before call {at} ({crashed:?}): {problem}");
        }
        if crashed.is_none() {
            break;
        }
        at += 1;
    }
    assert!(at > 5, "onboarding made several calls");
}

#[tokio::test]
async fn a_crash_after_each_write_step_of_a_mint_is_repaired_by_the_sweep() {
    let mut at = 1;
    let mut adopted = 0;
    loop {
        let fakes = Fakes::new();
        let ports = fakes.ports();
        let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
        let request =
            MintRequest::new(vec!["ads_management".into()], vec![], false, false).unwrap();
        let crashed = fakes
            .interleaver
            .crash_before(at, granular(&ports, &id, request))
            .await;
        let report = sweep_after_grace(&fakes, &ports).await;
        adopted += report.secrets_adopted;
        if let Err(problem) = consistent(&fakes) {
            panic!("a crash before call {at} ({crashed:?}): {problem}");
        }
        if crashed.is_none() {
            break;
        }
        at += 1;
    }
    assert!(
        adopted >= 1,
        "a minted secret written but not recorded is adopted"
    );
}

#[tokio::test]
async fn a_claimed_item_whose_worker_died_is_taken_again_after_its_lease() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    fakes
        .clock
        .advance(ports.settings.health_check_interval_secs + 1);
    // The first sweep claims the client and dies before its health check's Graph call.
    let calls_before_check = 3; // due, claim, client
    let died = fakes
        .interleaver
        .crash_before(calls_before_check + 1, sweep(&ports, 10))
        .await;
    assert!(died.is_some());
    assert_eq!(fakes.graph.count(Call::DebugToken), 1, "only onboarding's");
    let again = sweep(&ports, 10).await.unwrap();
    assert_eq!(again.claimed, 0, "the lease holds");
    fakes.clock.advance(LEASE_SECS + 1);
    let again = sweep(&ports, 10).await.unwrap();
    assert_eq!(again.claimed, 1);
    assert_eq!(again.healthy, 1);
    let next = fakes.store.read(|s| s.clients[&id].next_check_at).unwrap();
    assert!(next > fakes.clock.now(), "the next check is scheduled");
}

#[tokio::test]
async fn the_sweep_marks_dead_tokens_refreshes_expiring_ones_and_cleans_offboarded_clients() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let dead = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    let expiring = onboard(&fakes, &ports, "200", &["ads_management"]).await;
    let gone = onboard(&fakes, &ports, "300", &["ads_management"]).await;
    let secret =
        |id: &ClientBusinessId| fakes.vault.current(&ports.settings.names.bisu(id)).unwrap();
    use secrecy::ExposeSecret;
    fakes
        .graph
        .invalidate(secret(&dead).access_token.expose_secret());
    let now = fakes.clock.now() + ports.settings.health_check_interval_secs + 1;
    fakes
        .graph
        .expire_at(secret(&expiring).access_token.expose_secret(), now + 3600);
    crate::offboarding::offboard(
        &ports,
        &gone,
        "done",
        crate::offboarding::Initiator::Partner,
    )
    .await
    .unwrap();
    // A writer in flight wrote a secret after the offboarding ended.
    ports
        .vault
        .put_token(
            &ports.settings.names.minted(&gone, "late"),
            &secret(&expiring),
        )
        .await
        .unwrap();
    fakes
        .clock
        .advance(ports.settings.health_check_interval_secs + 1);
    let report = sweep(&ports, 100).await.unwrap();
    assert_eq!(report.marked_needs_reconnect, 1);
    assert_eq!(report.refreshed, 1);
    assert_eq!(report.cleaned, 1);
    assert_eq!(
        fakes.store.read(|s| s.clients[&dead].status),
        ClientStatus::NeedsReconnect
    );
    assert!(
        secret(&expiring)
            .expires_at
            .is_some_and(|at| at > now + 30 * 86400)
    );
    assert_eq!(
        leftovers(&fakes, &ports, &gone),
        (vec![], 0),
        "the second cleanup ran"
    );
    assert_eq!(fakes.store.read(|s| s.clients[&gone].next_check_at), None);
}

#[tokio::test]
async fn one_failing_client_does_not_stop_the_sweep() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    onboard(&fakes, &ports, "100", &["ads_management"]).await;
    onboard(&fakes, &ports, "200", &["ads_management"]).await;
    fakes
        .clock
        .advance(ports.settings.health_check_interval_secs + 1);
    fakes.graph.fail(
        Call::DebugToken,
        crate::model::GraphError::meta(500, 2, None),
    );
    let report = sweep(&ports, 100).await.unwrap();
    assert_eq!(report.claimed, 2);
    assert_eq!((report.failed, report.healthy), (1, 1));
}

#[tokio::test]
async fn a_crash_after_each_write_step_of_a_page_token_is_repaired_by_the_sweep() {
    let mut at = 1;
    let mut adopted = 0;
    loop {
        let fakes = Fakes::new();
        let ports = fakes.ports();
        let id = onboard(&fakes, &ports, "100", &["pages_show_list"]).await;
        fakes.graph.add_page("100", "555");
        let owner = crate::model::Owner::Client(id);
        let crashed = fakes
            .interleaver
            .crash_before(at, tokens::page_token(&ports, &owner, "555"))
            .await;
        adopted += sweep_after_grace(&fakes, &ports).await.secrets_adopted;
        let page_named = fakes.store.read(|s| s.pages.len());
        let page_secrets = fakes
            .vault
            .names()
            .iter()
            .filter(|n| n.contains("/pages/"))
            .count();
        assert_eq!(
            page_named, page_secrets,
            "a crash before call {at} ({crashed:?}): every page secret is recorded"
        );
        assert!(fakes.store.read(|s| s.pending.is_empty()));
        if crashed.is_none() {
            break;
        }
        at += 1;
    }
    assert!(
        adopted >= 1,
        "a page secret written but not recorded is adopted"
    );
}

#[tokio::test]
async fn the_health_check_forgets_a_dead_page_token() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["pages_show_list"]).await;
    fakes.graph.add_page("100", "555");
    let owner = crate::model::Owner::Client(id.clone());
    use secrecy::ExposeSecret;
    let page = tokens::page_token(&ports, &owner, "555").await.unwrap();
    fakes.graph.invalidate(page.access_token.expose_secret());
    fakes
        .clock
        .advance(ports.settings.health_check_interval_secs + 1);
    let report = sweep(&ports, 10).await.unwrap();
    assert_eq!(report.healthy, 1);
    assert!(fakes.store.read(|s| s.pages.is_empty()));
    assert!(!fakes.vault.names().iter().any(|n| n.contains("/pages/")));
}
