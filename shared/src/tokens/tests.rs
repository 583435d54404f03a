//! Token flows over the fakes: the fence at every await point, and each error's type.

use super::*;
use crate::fakes::scenario::{leftovers, onboard, onboard_granular, put_partner_token};
use crate::fakes::{Call, Fakes};
use crate::model::{ClientStatus, EventType, GraphError, Subject};
use crate::offboarding::offboard;

fn mint(scopes: &[&str], assets: &[&str]) -> MintRequest {
    let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    MintRequest::new(owned(scopes), owned(assets), false, false).unwrap()
}

/// Runs `flow` paused before each of its calls in turn, offboards the client there, and
/// checks that nothing of the client is left once both have ended.
async fn offboarding_at_every_await_point<F, Fut, T>(flow: F)
where
    F: Fn(Fakes, crate::ports::Ports) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut at = 1;
    loop {
        let fakes = Fakes::new();
        let ports = fakes.ports();
        let id = onboard(
            &fakes,
            &ports,
            "100",
            &["ads_management", "business_management"],
        )
        .await;
        put_partner_token(&fakes, &ports).await;
        fakes.graph.set_pixels("100", &["1", "2"], &["3"]);
        let offboard_now = || async {
            offboard(
                &ports,
                &id,
                "partner_request",
                crate::offboarding::Initiator::Partner,
            )
            .await
            .unwrap();
        };
        let (result, paused) = fakes
            .interleaver
            .interleave(at, flow(fakes.clone(), ports.clone()), offboard_now)
            .await;
        if paused.is_none() {
            // The flow ran to its end undisturbed; offboarding after it removes it all too.
            offboard_now().await;
        }
        let (secrets, items) = leftovers(&fakes, &ports, &id);
        assert!(
            secrets.is_empty() && items == 0,
            "offboarding before call {at} ({paused:?}) left {secrets:?} and {items} item(s)"
        );
        assert_eq!(
            fakes.graph.live_minted("100"),
            Vec::<String>::new(),
            "offboarding before call {at} ({paused:?}) left a granular token live at Meta"
        );
        let client = fakes.store.read(|s| s.clients[&id].clone());
        assert_eq!(client.status, ClientStatus::Offboarded);
        let Some(_) = paused else {
            assert!(result.is_ok(), "the flow ran to its end undisturbed");
            break;
        };
        assert!(
            result.is_err(),
            "a flow interleaved with offboarding must not succeed"
        );
        at += 1;
    }
    assert!(at > 3, "the flow made several calls");
}

#[tokio::test]
async fn offboarding_at_every_await_point_of_a_mint_leaves_nothing() {
    offboarding_at_every_await_point(|_, ports| async move {
        let id = ClientBusinessId::parse("100").unwrap();
        granular(&ports, &id, mint(&["ads_management"], &[])).await
    })
    .await;
}

#[tokio::test]
async fn offboarding_at_every_await_point_of_a_recovery_leaves_nothing() {
    offboarding_at_every_await_point(|fakes, ports| async move {
        let id = ClientBusinessId::parse("100").unwrap();
        // The secret was lost: the next read recovers it with fetch_only.
        crate::ports::TokenVault::force_delete(
            fakes.vault.as_ref(),
            &ports.settings.names.bisu(&id),
        )
        .await?;
        client_token(&ports, &id, false).await
    })
    .await;
}

#[tokio::test]
async fn offboarding_at_every_await_point_of_a_dataset_refresh_leaves_nothing() {
    offboarding_at_every_await_point(|_, ports| async move {
        let id = ClientBusinessId::parse("100").unwrap();
        crate::datasets::lookup(&ports, &id, true, Recovery::Allowed).await
    })
    .await;
}

#[tokio::test]
async fn a_lost_bisu_is_recovered_with_the_partner_token() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    put_partner_token(&fakes, &ports).await;
    let before = client_token(&ports, &id, false).await.unwrap();
    crate::ports::TokenVault::force_delete(fakes.vault.as_ref(), &ports.settings.names.bisu(&id))
        .await
        .unwrap();
    let after = client_token(&ports, &id, false).await.unwrap();
    use secrecy::ExposeSecret;
    assert_eq!(
        before.access_token.expose_secret(),
        after.access_token.expose_secret()
    );
    assert_eq!(fakes.graph.count(Call::Mint), 1);
    assert!(fakes.store.read(|s| s.pending.is_empty()));
}

#[tokio::test]
async fn a_190_on_the_partner_token_marks_no_client() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    let partner = put_partner_token(&fakes, &ports).await;
    fakes.graph.invalidate(&partner);
    crate::ports::TokenVault::force_delete(fakes.vault.as_ref(), &ports.settings.names.bisu(&id))
        .await
        .unwrap();
    let err = client_token(&ports, &id, false).await.unwrap_err();
    assert_eq!(err.error_type(), "PartnerCredentials");
    let (status, partner_events) = fakes.store.read(|s| {
        (
            s.clients[&id].status,
            s.events
                .iter()
                .filter(|e| {
                    e.subject == Subject::Partner && e.kind == EventType::PartnerTokenInvalid
                })
                .count(),
        )
    });
    assert_eq!(status, ClientStatus::Active, "the client is not blamed");
    assert_eq!(partner_events, 1);
}

#[tokio::test]
async fn each_error_type_comes_from_its_cause() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard_granular(
        &fakes,
        &ports,
        "100",
        &["ads_management", "business_management"],
        &[("ads_management", &["10"])],
    )
    .await;
    let other = ClientBusinessId::parse("555").unwrap();
    let mint_err = |e: GraphError| {
        fakes.graph.fail(Call::Mint, e);
        let ports = ports.clone();
        let id = id.clone();
        async move {
            granular(
                &ports,
                &id,
                MintRequest::new(vec!["ads_management".into()], vec![], false, true).unwrap(),
            )
            .await
            .unwrap_err()
            .error_type()
        }
    };
    let granted_elsewhere = granular(&ports, &id, mint(&["ads_management"], &["11"])).await;
    assert_eq!(
        granted_elsewhere.unwrap_err().error_type(),
        "InvalidRequest"
    );
    assert_eq!(
        client_token(&ports, &other, false)
            .await
            .unwrap_err()
            .error_type(),
        "ClientNotFound"
    );
    for (status, code, expected) in [
        (403, 200, "PermissionDenied"),
        (400, 80004, "Throttled"),
        (400, 100, "UpstreamRejected"),
        (500, 1, "UpstreamUnavailable"),
    ] {
        assert_eq!(
            mint_err(GraphError::meta(status, code, None)).await,
            expected,
            "code {code}"
        );
    }
    assert_eq!(
        fakes.store.read(|s| s.clients[&id].status),
        ClientStatus::Active,
        "none of these marks the client"
    );
    fakes
        .vault
        .down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        client_token(&ports, &id, true)
            .await
            .unwrap_err()
            .error_type(),
        "UpstreamUnavailable"
    );
    fakes
        .vault
        .down
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        mint_err(GraphError::meta(400, 190, Some(460))).await,
        "NeedsReconnect"
    );
    assert_eq!(
        fakes.store.read(|s| s.clients[&id].status),
        ClientStatus::NeedsReconnect
    );
    assert_eq!(
        client_token(&ports, &id, false)
            .await
            .unwrap_err()
            .error_type(),
        "NeedsReconnect"
    );
    offboard(&ports, &id, "done", crate::offboarding::Initiator::Partner)
        .await
        .unwrap();
    assert_eq!(
        client_token(&ports, &id, false)
            .await
            .unwrap_err()
            .error_type(),
        "ClientOffboarded"
    );
    // A completed session without its result is a bug, not the caller's fault.
    let state = crate::fakes::scenario::bound_session(&ports, "acct-2").await;
    fakes.store.write(|s| {
        s.sessions.get_mut(state.expose()).unwrap().status = crate::model::SessionStatus::Completed
    });
    let err = crate::fakes::scenario::complete(
        &ports,
        &state,
        Some(crate::fakes::scenario::BROWSER),
        "c",
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "Internal");
}

#[tokio::test]
async fn identical_mint_requests_reuse_the_stored_token() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    let a = granular(&ports, &id, mint(&["ads_management"], &[]))
        .await
        .unwrap();
    let b = granular(&ports, &id, mint(&["ads_management"], &[]))
        .await
        .unwrap();
    use secrecy::ExposeSecret;
    assert_eq!(
        a.access_token.expose_secret(),
        b.access_token.expose_secret()
    );
    assert_eq!(fakes.graph.count(Call::Mint), 1);
    assert_eq!(
        fakes.store.read(|s| s
            .events
            .iter()
            .filter(|e| e.kind == EventType::TokenMinted)
            .count()),
        1
    );
}

#[tokio::test]
async fn a_page_token_is_derived_once_then_served_without_graph() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["pages_show_list"]).await;
    fakes.graph.add_page("100", "555");
    let owner = crate::model::Owner::Client(id.clone());
    let first = page_token(&ports, &owner, "555").await.unwrap();
    let again = page_token(&ports, &owner, "555").await.unwrap();
    use secrecy::ExposeSecret;
    assert_eq!(
        first.access_token.expose_secret(),
        again.access_token.expose_secret()
    );
    assert_eq!(fakes.graph.count(Call::PageToken), 1);
    assert_eq!(first.kind, "page");
    let listed = pages(&ports, &owner).await.unwrap();
    assert_eq!(
        listed,
        vec![PageListing {
            id: "555".into(),
            name: Some("Page 555".into()),
            tasks: vec!["MANAGE".into()],
            stored: true
        }]
    );
    assert!(
        fakes
            .vault
            .names()
            .contains(&ports.settings.names.page(&owner, "555"))
    );
}

#[tokio::test]
async fn a_page_without_a_role_is_refused_and_nothing_is_stored() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["pages_show_list"]).await;
    let owner = crate::model::Owner::Client(id.clone());
    let err = page_token(&ports, &owner, "999").await.err().unwrap();
    assert_eq!(err.error_type(), "PermissionDenied");
    assert_eq!(leftovers(&fakes, &ports, &id).1, 0);
    assert_eq!(fakes.vault.names().len(), 1, "only the client's own token");
    assert_eq!(
        fakes.store.read(|s| s.clients[&id].status),
        ClientStatus::Active
    );
}

#[tokio::test]
async fn offboarding_at_every_await_point_of_a_page_token_leaves_nothing() {
    offboarding_at_every_await_point(|fakes, ports| async move {
        fakes.graph.add_page("100", "555");
        let owner = crate::model::Owner::Client(ClientBusinessId::parse("100").unwrap());
        page_token(&ports, &owner, "555").await
    })
    .await;
}

#[tokio::test]
async fn the_partner_keeps_its_own_page_tokens() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    put_partner_token(&fakes, &ports).await;
    let owner = crate::model::Owner::Partner;
    let err = page_token(&ports, &owner, "777").await.err().unwrap();
    assert_eq!(err.error_type(), "PermissionDenied");
    assert!(fakes.store.read(|s| s.pages.is_empty()));
    fakes.graph.add_partner_page("777");
    let page = page_token(&ports, &owner, "777").await.unwrap();
    assert_eq!(page.client_business_id, None);
    page_token(&ports, &owner, "777").await.unwrap();
    assert_eq!(
        fakes.graph.count(Call::PageToken),
        2,
        "the refusal and one derivation"
    );
    assert!(
        fakes
            .vault
            .names()
            .contains(&"meta-login/test/partner/pages/777".to_owned())
    );
}

#[tokio::test]
async fn a_warm_token_fetch_is_one_store_read_and_nothing_else() {
    let fakes = Fakes::new();
    let ports = fakes.cached_ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    client_token(&ports, &id, false).await.unwrap();
    fakes.interleaver.record_calls();
    let graph_calls = fakes.graph.calls().len();
    client_token(&ports, &id, false).await.unwrap();
    assert_eq!(fakes.interleaver.take_calls(), ["store.client"]);
    assert_eq!(fakes.graph.calls().len(), graph_calls, "no Graph call");
}

#[tokio::test]
async fn a_forced_refresh_revokes_the_granular_token_it_replaced() {
    use secrecy::ExposeSecret;
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    let first = granular(&ports, &id, mint(&["ads_management"], &[]))
        .await
        .unwrap();
    let forced = MintRequest::new(vec!["ads_management".into()], vec![], false, true).unwrap();
    let second = granular(&ports, &id, forced).await.unwrap();
    let (first, second) = (
        first.access_token.expose_secret().to_owned(),
        second.access_token.expose_secret().to_owned(),
    );
    assert_ne!(first, second);
    assert_eq!(
        fakes.graph.live_minted("100"),
        std::slice::from_ref(&second)
    );
    assert!(
        !fakes.graph.is_valid(&first),
        "the replaced token is revoked"
    );
    assert_eq!(fakes.store.read(|s| s.pending.len()), 0, "no claim is left");
    let again = granular(&ports, &id, mint(&["ads_management"], &[]))
        .await
        .unwrap();
    assert_eq!(again.access_token.expose_secret(), second);
}

/// The number of the call `name` among the calls of a first mint of a fresh client (1-based),
/// for pausing a mint there.
async fn call_of_a_first_mint(name: &str) -> usize {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    fakes.interleaver.record_calls();
    granular(&ports, &id, mint(&["ads_management"], &[]))
        .await
        .unwrap();
    let calls = fakes.interleaver.take_calls();
    1 + calls
        .iter()
        .position(|c| c == name)
        .expect("the mint makes the call")
}

#[tokio::test(start_paused = true)]
async fn identical_calls_while_a_token_is_minted_wait_and_are_served_its_token() {
    use secrecy::ExposeSecret;
    let at = call_of_a_first_mint("graph.Mint").await;
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    let request = || mint(&["ads_management"], &[]);
    let mut waiting = None;
    let (first, _) = fakes
        .interleaver
        .interleave(at, granular(&ports, &id, request()), || async {
            // Two calls arrive while the first is at Meta; they wait for it.
            let (ports, id) = (ports.clone(), id.clone());
            waiting = Some(tokio::spawn(async move {
                let (a, b) = tokio::join!(
                    granular(&ports, &id, request()),
                    granular(&ports, &id, request())
                );
                [a, b]
            }));
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        })
        .await;
    let first = first.unwrap();
    let waiting = waiting.unwrap().await.unwrap();
    for answer in waiting {
        assert_eq!(
            answer.unwrap().access_token.expose_secret(),
            first.access_token.expose_secret()
        );
    }
    assert_eq!(fakes.graph.count(Call::Mint), 1, "one token minted");
    assert_eq!(fakes.store.read(|s| s.pending.len()), 0, "no claim is left");
}

#[tokio::test(start_paused = true)]
async fn a_call_that_waits_too_long_for_another_mint_answers_a_retryable_error() {
    let at = call_of_a_first_mint("graph.Mint").await;
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    let request = || mint(&["ads_management"], &[]);
    let mut second = None;
    let (first, _) = fakes
        .interleaver
        .interleave(at, granular(&ports, &id, request()), || async {
            second = Some(granular(&ports, &id, request()).await);
        })
        .await;
    assert!(first.is_ok());
    let err = second.unwrap().unwrap_err();
    assert_eq!(err.error_type(), "UpstreamUnavailable", "{err}");
    assert_eq!(
        fakes.graph.count(Call::Mint),
        1,
        "the waiting call minted nothing"
    );
}

#[tokio::test]
async fn the_claim_of_a_mint_that_died_is_resolved_and_taken_over() {
    for died_before in ["graph.Mint", "vault.put_token", "store.put_minted_token"] {
        let at = call_of_a_first_mint(died_before).await;
        let fakes = Fakes::new();
        let ports = fakes.ports();
        let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
        let request = || mint(&["ads_management"], &[]);
        let crashed = fakes
            .interleaver
            .crash_before(at, granular(&ports, &id, request()))
            .await;
        assert_eq!(crashed.as_deref(), Some(died_before));
        fakes.clock.advance(claim::LEASE_SECS + 1);
        let answer = granular(&ports, &id, request()).await.unwrap();
        use secrecy::ExposeSecret;
        let live = fakes.graph.live_minted("100");
        let unknowable = usize::from(died_before == "vault.put_token");
        assert_eq!(live.len(), 1 + unknowable, "died before {died_before}");
        assert!(live.contains(&answer.access_token.expose_secret().to_owned()));
        assert_eq!(fakes.store.read(|s| s.pending.len()), 0, "no claim is left");
    }
}

#[tokio::test]
async fn offboarding_at_every_await_point_of_a_forced_refresh_leaves_nothing() {
    offboarding_at_every_await_point(|_, ports| async move {
        let id = ClientBusinessId::parse("100").unwrap();
        granular(&ports, &id, mint(&["ads_management"], &[])).await?;
        let forced = MintRequest::new(vec!["ads_management".into()], vec![], false, true)?;
        granular(&ports, &id, forced).await
    })
    .await;
}

#[tokio::test]
async fn a_mint_that_fails_after_meta_answered_releases_its_claim_and_revokes_what_no_one_holds() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    let request = || mint(&["ads_management"], &[]);
    // Secrets Manager fails the write of the minted token.
    fakes
        .vault
        .failing_puts
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let err = granular(&ports, &id, request()).await.unwrap_err();
    assert_eq!(err.error_type(), "UpstreamUnavailable", "{err}");
    assert_eq!(fakes.graph.count(Call::Mint), 1);
    assert_eq!(
        fakes.graph.live_minted("100"),
        Vec::<String>::new(),
        "the token no one holds is revoked"
    );
    assert_eq!(
        fakes.store.read(|s| s.pending.len()),
        0,
        "the claim is released"
    );
    // A retry goes straight on.
    granular(&ports, &id, request()).await.unwrap();
    assert_eq!(fakes.graph.live_minted("100").len(), 1);
}

#[tokio::test]
async fn a_mint_meta_refuses_releases_its_claim() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    fakes.graph.fail(Call::Mint, GraphError::meta(500, 2, None));
    let err = granular(&ports, &id, mint(&["ads_management"], &[]))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "UpstreamUnavailable", "{err}");
    assert_eq!(
        fakes.store.read(|s| s.pending.len()),
        0,
        "the claim is released"
    );
    granular(&ports, &id, mint(&["ads_management"], &[]))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_claim_whose_answer_was_lost_is_known_as_the_calls_own() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let id = onboard(&fakes, &ports, "100", &["ads_management"]).await;
    fakes
        .store
        .lost_claim_answers
        .store(1, std::sync::atomic::Ordering::SeqCst);
    granular(&ports, &id, mint(&["ads_management"], &[]))
        .await
        .unwrap();
    assert_eq!(fakes.graph.count(Call::Mint), 1);
    assert_eq!(fakes.store.read(|s| s.pending.len()), 0, "no claim is left");
}
