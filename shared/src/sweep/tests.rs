//! The sweep over the fakes: crashes after each write step repaired, leases, health checks.

use super::*;
use crate::fakes::scenario::{BROWSER, complete, leftovers, onboard, session_and_code};
use crate::fakes::{Call, Fakes};
use crate::model::ClientBusinessId;
use crate::model::Signal;
use crate::ports::{Clock, Pace};
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

/// A client of business 100 whose mint of a granular token crashed before its `at`th call
/// (`None`: it ran to its end); `replacing`: a forced refresh of a token minted before.
async fn mint_crashed_before(
    at: usize,
    replacing: bool,
) -> (Fakes, Ports, ClientBusinessId, Option<String>) {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    let request =
        |force| MintRequest::new(vec!["ads_management".into()], vec![], false, force).unwrap();
    if replacing {
        granular(&ports, &id, request(false)).await.unwrap();
    }
    let crashed = fakes
        .interleaver
        .crash_before(at, granular(&ports, &id, request(replacing)))
        .await;
    (fakes, ports, id, crashed)
}

/// A worker that dies between Meta's answer and writing the secret leaves a token no one
/// knows, so no one can revoke it (README); every other crash leaves nothing unrecorded.
fn died_between_meta_and_the_vault(crashed: &Option<String>) -> bool {
    crashed.as_deref() == Some("vault.put_token")
}

/// Every granular token Meta still takes is the one its item points at.
fn only_recorded_tokens_live(fakes: &Fakes) -> Result<(), String> {
    use secrecy::ExposeSecret;
    let recorded: Vec<String> = fakes
        .store
        .read(|s| s.minted.values().cloned().collect::<Vec<_>>())
        .iter()
        .filter_map(|item| fakes.vault.current(&item.secret.name))
        .map(|secret| secret.access_token.expose_secret().to_owned())
        .collect();
    let live = fakes.graph.live_minted("100");
    let unrecorded: Vec<&String> = live.iter().filter(|t| !recorded.contains(t)).collect();
    if unrecorded.is_empty() && live.len() == recorded.len() {
        Ok(())
    } else {
        Err(format!(
            "{} live granular token(s) for {} item(s)",
            live.len(),
            recorded.len()
        ))
    }
}

#[tokio::test]
async fn a_crash_after_each_write_step_of_a_mint_is_repaired_by_the_sweep() {
    for replacing in [false, true] {
        let mut at = 1;
        let mut adopted = 0;
        loop {
            let (fakes, ports, _, crashed) = mint_crashed_before(at, replacing).await;
            let report = sweep_after_grace(&fakes, &ports).await;
            adopted += report.secrets_adopted;
            let live = || match died_between_meta_and_the_vault(&crashed) {
                true => Ok(()),
                false => only_recorded_tokens_live(&fakes),
            };
            if let Err(problem) = consistent(&fakes).and_then(|()| live()) {
                panic!("replacing {replacing}, a crash before call {at} ({crashed:?}): {problem}");
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
}

#[tokio::test]
async fn a_minted_secret_left_by_a_crash_is_revoked_when_its_client_is_offboarded() {
    for replacing in [false, true] {
        let left = minted_secrets_left_by_crashes_are_revoked(replacing).await;
        assert!(left >= 2, "crashes left a minted secret behind");
    }
}

async fn minted_secrets_left_by_crashes_are_revoked(replacing: bool) -> usize {
    let mut left = 0;
    for at in 1.. {
        let (fakes, ports, id, crashed) = mint_crashed_before(at, replacing).await;
        let held = fakes
            .vault
            .names()
            .iter()
            .any(|name| name.contains("/tokens/"))
            && !died_between_meta_and_the_vault(&crashed);
        crate::offboarding::offboard(&ports, &id, "done", crate::offboarding::Initiator::Partner)
            .await
            .unwrap();
        sweep_after_grace(&fakes, &ports).await;
        assert!(leftovers(&fakes, &ports, &id).0.is_empty());
        // A token whose worker died before it wrote the secret is known to no one, so no one
        // can revoke it; one that reached the vault is revoked before its secret goes.
        if held {
            left += 1;
            assert_eq!(
                fakes.graph.live_minted("100"),
                Vec::<String>::new(),
                "replacing {replacing}, a crash before call {at} ({crashed:?})"
            );
        }
        if crashed.is_none() {
            break;
        }
    }
    left
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
    // One read of each shard, the claim, the client.
    let calls_before_check = usize::from(DUE_SHARDS) + 2;
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
    assert_eq!(fakes.signals.count(|s| *s == Signal::ReconnectNeeded), 1);
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

/// `n` onboarded clients, each falling due one second after the one before.
async fn due_in_order(fakes: &Fakes, ports: &Ports, n: u32) -> Vec<ClientBusinessId> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(onboard(fakes, ports, &(1000 + i).to_string(), &["ads_management"]).await);
    }
    let first = fakes.clock.now() + 10;
    fakes.store.write(|s| {
        for (i, id) in ids.iter().enumerate() {
            s.due.insert(DueKey::Client(id.clone()), first + i as i64);
        }
    });
    fakes.clock.advance(10 + i64::from(n));
    ids
}

/// The clients whose health check a sweep has done: their next check is in the future.
fn checked(fakes: &Fakes, ids: &[ClientBusinessId]) -> Vec<ClientBusinessId> {
    let now = fakes.clock.now();
    fakes.store.read(|s| {
        ids.iter()
            .filter(|id| s.due[&DueKey::Client((*id).clone())] > now + LEASE_SECS)
            .cloned()
            .collect()
    })
}

#[tokio::test]
async fn runs_take_the_oldest_items_across_every_shard_and_each_goes_on_where_the_last_stopped() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let ids = due_in_order(&fakes, &ports, 24).await;
    let checks_before = fakes.graph.count(Call::DebugToken);
    let first = sweep(&ports, 10).await.unwrap();
    assert_eq!((first.claimed, first.healthy), (10, 10));
    assert_eq!(first.stopped, Some(Stop::MaxItems));
    assert_eq!(
        checked(&fakes, &ids),
        ids[..10],
        "the ten oldest, whatever their shard"
    );
    assert_eq!(first.left, 14);
    let second = sweep(&ports, 10).await.unwrap();
    assert_eq!(second.claimed, 10);
    assert_eq!(checked(&fakes, &ids), ids[..20]);
    let third = sweep(&ports, 10).await.unwrap();
    assert_eq!((third.claimed, third.left, third.stopped), (4, 0, None));
    assert_eq!(
        fakes.graph.count(Call::DebugToken) - checks_before,
        24,
        "each client checked once"
    );
}

#[tokio::test]
async fn a_run_out_of_time_leaves_everything_due_and_reports_the_oldest() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let ids = due_in_order(&fakes, &ports, 3).await;
    let limits = Limits {
        max_items: 100,
        time: Duration::ZERO,
    };
    let report = sweep(&ports, limits).await.unwrap();
    assert_eq!(report.claimed, 0);
    assert_eq!(report.stopped, Some(Stop::Time));
    assert_eq!(report.left, 3);
    assert_eq!(report.oldest_due_age_secs, 3, "the first fell due 3 s ago");
    assert_eq!(checked(&fakes, &ids), vec![]);
    let figures = fakes.signals.count(|s| {
        matches!(s, Signal::SweepRun(f) if f.left == 3 && f.done == 0 && f.oldest_due_age_secs == 3)
    });
    assert_eq!(figures, 1, "the run's figures and heartbeat go out");
}

#[tokio::test]
async fn at_metas_limit_the_sweep_calls_nothing_and_near_it_goes_on_one_at_a_time() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let ids = due_in_order(&fakes, &ports, 5).await;
    let checks_before = fakes.graph.count(Call::DebugToken);
    let until = fakes.clock.now() + 300;
    fakes.graph.set_pace(None, Pace::Stop { until });
    let stopped = sweep(&ports, 100).await.unwrap();
    assert_eq!((stopped.claimed, stopped.left), (0, 5));
    assert_eq!(stopped.stopped, Some(Stop::Throttled));
    assert_eq!(fakes.graph.count(Call::DebugToken), checks_before);
    fakes.graph.set_pace(None, Pace::Slow);
    let slow = sweep(&ports, 100).await.unwrap();
    assert_eq!((slow.healthy, slow.left, slow.stopped), (5, 0, None));
    assert_eq!(checked(&fakes, &ids), ids);
    assert_eq!(
        fakes.signals.count(|s| *s == Signal::HealthCheck),
        5,
        "every check counted once"
    );
}

#[tokio::test]
async fn a_throttled_business_is_put_back_until_access_returns_and_others_go_on() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let ids = due_in_order(&fakes, &ports, 3).await;
    let until = fakes.clock.now() + 600;
    fakes
        .graph
        .set_pace(Some(ids[1].as_str()), Pace::Stop { until });
    let report = sweep(&ports, 100).await.unwrap();
    assert_eq!((report.healthy, report.deferred), (2, 1));
    let due_at = fakes.store.read(|s| s.due[&DueKey::Client(ids[1].clone())]);
    assert_eq!(due_at, until, "back when Meta said access returns");
    fakes.clock.advance(600);
    fakes.graph.set_pace(Some(ids[1].as_str()), Pace::Go);
    let later = sweep(&ports, 100).await.unwrap();
    assert_eq!(later.healthy, 1);
    assert_eq!(checked(&fakes, &ids[1..2]), ids[1..2]);
}

#[tokio::test]
async fn a_check_meta_throttles_waits_until_access_returns_and_is_no_failure() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let ids = due_in_order(&fakes, &ports, 2).await;
    let mut throttled = crate::model::GraphError::meta(400, 80004, None);
    throttled.retry_after_secs = Some(1200);
    fakes.graph.fail(Call::DebugToken, throttled);
    let report = sweep(&ports, 100).await.unwrap();
    assert_eq!((report.healthy, report.deferred, report.failed), (1, 1, 0));
    let now = fakes.clock.now();
    let waiting: Vec<i64> = fakes.store.read(|s| {
        ids.iter()
            .map(|id| s.due[&DueKey::Client(id.clone())])
            .filter(|at| *at < now + ports.settings.health_check_interval_secs)
            .collect()
    });
    assert_eq!(waiting, [now + 1200], "back when Meta said access returns");
}

#[test]
fn a_run_keeps_a_margin_before_its_deadline() {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let budget = time_before(now_ms + 300_000);
    assert!(budget <= Duration::from_secs(255) && budget > Duration::from_secs(250));
    assert_eq!(time_before(now_ms + 10_000), Duration::ZERO);
    assert_eq!(
        time_before(now_ms - 1),
        Duration::ZERO,
        "the deadline is past"
    );
    assert_eq!(
        time_before(600_000),
        TIME_BUDGET,
        "a timeout passed as the deadline"
    );
}
