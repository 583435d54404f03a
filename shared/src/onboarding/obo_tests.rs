//! On-Behalf-Of onboarding over the fakes: the whole path, each step failing in turn and a
//! resume that completes with nothing lost, and the admin's token kept nowhere.

use crate::fakes::scenario::{BROWSER, complete, obo_session, put_partner_token};
use crate::fakes::{Call, Fakes};
use crate::model::{Asset, ClientBusinessId, ClientStatus, GraphError, Mode, Owner};
use crate::ports::Ports;
use secrecy::ExposeSecret;

const BUSINESS: &str = "300";

fn assets() -> Vec<Asset> {
    vec![
        Asset::new("601", "page", None).unwrap(),
        Asset::new(
            "901",
            "catalog",
            Some(vec!["MANAGE".into(), "ADVERTISE".into()]),
        )
        .unwrap(),
    ]
}

async fn world() -> (Fakes, Ports) {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    put_partner_token(&fakes, &ports).await;
    fakes.graph.add_page(BUSINESS, "601");
    fakes.graph.add_page(BUSINESS, "602");
    (fakes, ports)
}

async fn connect(fakes: &Fakes, ports: &Ports) -> crate::Result<crate::onboarding::Completed> {
    let state = obo_session(ports, BUSINESS, assets()).await;
    let code = fakes.graph.issue_obo_code(BUSINESS);
    complete(ports, &state, Some(BROWSER), &code).await
}

/// An onboarded On-Behalf-Of client as it must be: active, one system user secret, its pages
/// kept, nothing pending, and no admin token anywhere.
fn assert_complete(fakes: &Fakes, ports: &Ports) {
    let id = ClientBusinessId::parse(BUSINESS).unwrap();
    let client = fakes.store.read(|s| s.clients[&id].clone());
    assert_eq!(client.status, ClientStatus::Active);
    assert_eq!(client.mode, Mode::Obo);
    let obo = client.obo.unwrap();
    assert_eq!((obo.last_step.as_str(), obo.failed), ("done", None));
    assert_eq!(client.secret.name, ports.settings.names.obo(&id));
    let (pages, pending) = fakes.store.read(|s| (s.pages.len(), s.pending.len()));
    assert_eq!((pages, pending), (2, 0));
    for name in fakes.vault.names() {
        let secret = fakes.vault.current(&name).unwrap();
        assert!(
            !secret.access_token.expose_secret().contains("admin"),
            "the admin's token sits in {name}"
        );
    }
    assert_eq!(
        fakes.vault.names().len(),
        1 + 1 + 2,
        "partner, system user, two pages"
    );
}

#[tokio::test]
async fn an_obo_onboarding_assigns_the_assets_and_keeps_the_system_user_and_its_pages() {
    let (fakes, ports) = world().await;
    let done = connect(&fakes, &ports).await.unwrap();
    assert_eq!(done.result.system_user_id.as_str(), "3007");
    assert!(fakes.graph.manages(BUSINESS));
    assert_eq!(
        fakes.graph.assigned("901"),
        Some(("3007".into(), vec!["MANAGE".into(), "ADVERTISE".into()]))
    );
    assert_complete(&fakes, &ports);
    let id = ClientBusinessId::parse(BUSINESS).unwrap();
    let token = crate::tokens::client_token(&ports, &id, false)
        .await
        .unwrap();
    assert_eq!(token.kind, "obo");
    let page = crate::tokens::page_token(&ports, &Owner::Client(id), "602")
        .await
        .unwrap();
    assert_eq!(page.kind, "page");
    assert_eq!(
        fakes.graph.count(Call::PageToken),
        2,
        "the page came from the vault"
    );
}

#[tokio::test]
async fn each_step_failing_in_turn_is_recorded_and_a_new_session_resumes_with_nothing_lost() {
    for call in [
        Call::ExchangeCode,
        Call::AddManagedBusiness,
        Call::ClientSystemUserToken,
        Call::Me,
        Call::AssignAsset,
        Call::Pages,
        Call::PageToken,
    ] {
        let (fakes, ports) = world().await;
        fakes.graph.fail(call, GraphError::meta(500, 2, None));
        let err = connect(&fakes, &ports).await.unwrap_err();
        assert_eq!(err.error_type(), "UpstreamUnavailable", "{call:?}: {err}");
        let id = ClientBusinessId::parse(BUSINESS).unwrap();
        if let Some(client) = fakes.store.read(|s| s.clients.get(&id).cloned()) {
            assert_eq!(client.status, ClientStatus::Incomplete, "{call:?}");
            let refused = crate::tokens::client_token(&ports, &id, false)
                .await
                .unwrap_err();
            assert_eq!(refused.error_type(), "NeedsReconnect", "{call:?}");
        }
        if matches!(call, Call::AssignAsset | Call::Pages | Call::PageToken) {
            let failed = fakes
                .store
                .read(|s| s.clients[&id].obo.clone().unwrap().failed);
            assert!(failed.is_some(), "{call:?}: the failed step is recorded");
        }
        connect(&fakes, &ports)
            .await
            .unwrap_or_else(|e| panic!("{call:?}: the resume failed: {e}"));
        assert_complete(&fakes, &ports);
    }
}

#[tokio::test]
async fn a_final_write_whose_answer_was_lost_completes_the_onboarding() {
    let (fakes, ports) = world().await;
    let before = fakes.store.client_writes();
    connect(&fakes, &ports).await.expect("a clean run");
    let writes = fakes.store.client_writes() - before;
    assert!(writes >= 2, "the flow writes its client {writes} times");
    for lost in 1..=writes {
        let (fakes, ports) = world().await;
        fakes.store.lose_client_answer_at(lost);
        connect(&fakes, &ports)
            .await
            .unwrap_or_else(|e| panic!("the answer of client write {lost} lost: {e}"));
        assert_complete(&fakes, &ports);
    }
}

#[tokio::test]
async fn a_dataset_cannot_be_assigned_and_obo_needs_its_business() {
    assert!(Asset::new("5000000000000004", "pixel", None).is_err());
    let (_, ports) = world().await;
    let err = crate::onboarding::create_session(
        &ports,
        crate::model::PartnerRef::parse("acct").unwrap(),
        Mode::Obo,
        None,
    )
    .await
    .err()
    .unwrap();
    assert_eq!(err.error_type(), "InvalidRequest");
}
