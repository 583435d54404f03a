//! The partner's own system user over the fakes: provisioning, rotation, revocation retried.

use super::*;
use crate::fakes::scenario::put_partner_token;
use crate::fakes::{Call, Fakes};
use crate::model::GraphError;
use secrecy::ExposeSecret;

fn scopes() -> Vec<String> {
    vec!["business_management".into()]
}

#[tokio::test]
async fn provisioning_replaces_the_bootstrap_token_without_revoking_it() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    let bootstrap = put_partner_token(&fakes, &ports).await;
    let su = SystemUserId::parse("7100000000000001").unwrap();
    let status = provision(&ports, &su, &scopes(), true).await.unwrap();
    assert_eq!(status.system_user_id, su);
    assert!(status.expires_at.is_some());
    let stored = system_user_secret(&ports).await.unwrap();
    assert_ne!(stored.access_token.expose_secret(), bootstrap.as_str());
    assert!(
        fakes.graph.is_valid(&bootstrap),
        "the bootstrap token may be a person's"
    );
    assert_eq!(fakes.graph.count(Call::InstallApp), 1);
    let item = fakes.store.read(|s| s.partner.clone()).unwrap();
    assert_eq!(item.secret.name, ports.settings.names.partner_system_user());
    assert!(item.next_check_at.is_some(), "rotation is scheduled");
    assert!(fakes.store.read(|s| s.pending.is_empty()));
}

#[tokio::test]
async fn rotation_keeps_the_new_token_when_the_revoke_fails_and_the_sweep_retries_it() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    put_partner_token(&fakes, &ports).await;
    let su = SystemUserId::parse("7100000000000001").unwrap();
    provision(&ports, &su, &scopes(), false).await.unwrap();
    let old = system_user_secret(&ports).await.unwrap().access_token;
    fakes
        .graph
        .fail(Call::Revoke, GraphError::meta(500, 2, None));
    rotate(&ports).await.unwrap();
    let new = system_user_secret(&ports).await.unwrap().access_token;
    assert_ne!(old.expose_secret(), new.expose_secret());
    assert!(
        fakes.graph.is_valid(old.expose_secret()),
        "Meta refused the revoke"
    );
    let item = fakes.store.read(|s| s.partner.clone()).unwrap();
    assert_eq!(item.revoke_pending.len(), 1);
    fakes.clock.advance(REVOKE_RETRY_SECS + 1);
    let report = crate::sweep::sweep(&ports, 10).await.unwrap();
    assert_eq!(report.partner_checked, 1);
    assert!(
        !fakes.graph.is_valid(old.expose_secret()),
        "revoked on the retry"
    );
    let item = fakes.store.read(|s| s.partner.clone()).unwrap();
    assert!(item.revoke_pending.is_empty());
    assert!(fakes.graph.is_valid(new.expose_secret()));
}

#[tokio::test]
async fn the_sweep_rotates_when_due_and_a_dead_partner_token_blames_no_client() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    put_partner_token(&fakes, &ports).await;
    let su = SystemUserId::parse("7100000000000001").unwrap();
    provision(&ports, &su, &scopes(), true).await.unwrap();
    let first = system_user_secret(&ports).await.unwrap().access_token;
    fakes
        .clock
        .advance(ports.settings.partner_token_rotate_secs + 1);
    crate::sweep::sweep(&ports, 10).await.unwrap();
    let second = system_user_secret(&ports).await.unwrap().access_token;
    assert_ne!(first.expose_secret(), second.expose_secret());
    assert!(
        !fakes.graph.is_valid(first.expose_secret()),
        "the old token is revoked"
    );
    fakes.graph.invalidate(second.expose_secret());
    let err = rotate(&ports).await.unwrap_err();
    assert_eq!(err.error_type(), "PartnerCredentials");
    let invalid = fakes.store.read(|s| {
        s.events
            .iter()
            .filter(|e| e.kind == EventType::PartnerTokenInvalid)
            .count()
    });
    assert_eq!(invalid, 1);
}

#[tokio::test]
async fn a_crash_after_each_write_step_of_a_rotation_loses_no_partner_token() {
    let mut at = 1;
    loop {
        let fakes = Fakes::new();
        let ports = fakes.ports();
        put_partner_token(&fakes, &ports).await;
        let su = SystemUserId::parse("7100000000000001").unwrap();
        provision(&ports, &su, &scopes(), false).await.unwrap();
        let crashed = fakes.interleaver.crash_before(at, rotate(&ports)).await;
        fakes
            .clock
            .advance(crate::custody::PENDING_GRACE_SECS + crate::sweep::LEASE_SECS + 1);
        crate::sweep::sweep(&ports, 10).await.unwrap();
        let secret = system_user_secret(&ports).await.unwrap();
        assert!(
            fakes.graph.is_valid(secret.access_token.expose_secret()),
            "a crash before call {at} ({crashed:?}) left a dead partner token"
        );
        let item = fakes.store.read(|s| s.partner.clone()).unwrap();
        let current = ports
            .vault
            .current_version(&item.secret.name)
            .await
            .unwrap();
        assert_eq!(
            current.as_deref(),
            Some(item.secret.version.as_str()),
            "a crash before call {at}: the partner item names the newest token"
        );
        assert!(fakes.store.read(|s| s.pending.is_empty()));
        if crashed.is_none() {
            break;
        }
        at += 1;
    }
}

#[tokio::test]
async fn two_refused_revocations_are_both_kept_and_an_idle_visit_waits_for_the_rotation() {
    let fakes = Fakes::new();
    let ports = fakes.ports();
    put_partner_token(&fakes, &ports).await;
    let su = SystemUserId::parse("7100000000000001").unwrap();
    provision(&ports, &su, &scopes(), false).await.unwrap();
    let first = system_user_secret(&ports).await.unwrap().access_token;
    fakes
        .graph
        .fail(Call::Revoke, GraphError::meta(500, 2, None));
    rotate(&ports).await.unwrap();
    let second = system_user_secret(&ports).await.unwrap().access_token;
    fakes
        .graph
        .fail(Call::Revoke, GraphError::meta(500, 2, None));
    fakes
        .graph
        .fail(Call::Revoke, GraphError::meta(500, 2, None));
    rotate(&ports).await.unwrap();
    let item = fakes.store.read(|s| s.partner.clone()).unwrap();
    assert_eq!(
        item.revoke_pending.len(),
        2,
        "a rotation drops no older revocation"
    );
    fakes.clock.advance(REVOKE_RETRY_SECS + 1);
    crate::sweep::sweep(&ports, 10).await.unwrap();
    assert!(!fakes.graph.is_valid(first.expose_secret()));
    assert!(!fakes.graph.is_valid(second.expose_secret()));
    let item = fakes.store.read(|s| s.partner.clone()).unwrap();
    assert!(item.revoke_pending.is_empty());
    // With nothing left to do, the item waits for its rotation, not for a lease.
    let due = fakes
        .store
        .read(|s| s.due.get(&crate::ports::DueKey::Partner).copied());
    assert_eq!(due, item.next_check_at);
    assert!(due.unwrap() > ports.clock.now() + 86400);
}
