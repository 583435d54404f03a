//! Steps that unit tests of several flows share: onboarding a client through the fakes.

use secrecy::SecretString;

use super::Fakes;
use crate::model::{ClientBusinessId, PartnerRef, SessionState};
use crate::onboarding::{self, CodeSource};
use crate::ports::Ports;

/// A browser's cookie value (43 base64url characters), fake.
pub const BROWSER: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// A session bound to [`BROWSER`].
pub async fn bound_session(ports: &Ports, partner_ref: &str) -> SessionState {
    let new = onboarding::create_session(
        ports,
        PartnerRef::parse(partner_ref).expect("a ref"),
        crate::model::Mode::Bisu,
        None,
    )
    .await
    .expect("a session");
    onboarding::bind_browser(ports, &new.state, Some(BROWSER))
        .await
        .expect("bound");
    new.state
}

/// A session bound to [`BROWSER`] and a code for a new BISU of `business`.
pub async fn session_and_code(
    fakes: &Fakes,
    ports: &Ports,
    business: &str,
) -> (SessionState, String) {
    let state = bound_session(ports, "acct-1").await;
    let code = fakes.graph.issue_code(
        business,
        &system_user_of(business),
        &["ads_management"],
        &[],
    );
    (state, code)
}

/// Onboards `business` with `scopes` (the system user is `business` + 1) and returns its id.
pub async fn onboard(
    fakes: &Fakes,
    ports: &Ports,
    business: &str,
    scopes: &[&str],
) -> ClientBusinessId {
    onboard_granular(fakes, ports, business, scopes, &[]).await
}

pub async fn onboard_granular(
    fakes: &Fakes,
    ports: &Ports,
    business: &str,
    scopes: &[&str],
    granular: &[(&str, &[&str])],
) -> ClientBusinessId {
    let state = bound_session(ports, "acct-1").await;
    let code = fakes
        .graph
        .issue_code(business, &system_user_of(business), scopes, granular);
    complete(ports, &state, Some(BROWSER), &code)
        .await
        .expect("onboarded");
    ClientBusinessId::parse(business).expect("digits")
}

/// What the onboarding page does with a code from `FB.login`, from `browser`.
pub async fn complete(
    ports: &Ports,
    state: &SessionState,
    browser: Option<&str>,
    code: &str,
) -> crate::Result<onboarding::Completed> {
    onboarding::complete(
        ports,
        state,
        browser,
        SecretString::from(code.to_owned()),
        CodeSource::JsSdk,
    )
    .await
}

pub fn system_user_of(business: &str) -> String {
    format!("{business}9")
}

/// The partner's system user token, put where the flows read it.
pub async fn put_partner_token(fakes: &Fakes, ports: &Ports) -> String {
    use crate::model::{SystemUserId, TokenSecret};
    let token = fakes.graph.partner_token();
    let secret = TokenSecret {
        access_token: SecretString::from(token.clone()),
        system_user_id: SystemUserId::parse("9000000000000001").expect("digits"),
        client_business_id: None,
        scopes: vec!["business_management".into()],
        expires_at: None,
        obtained_at: 0,
        assets: None,
    };
    ports
        .vault
        .put_token(&ports.settings.names.partner_system_user(), &secret)
        .await
        .expect("stored");
    token
}

/// What a client leaves behind: its secrets and its dataset, token and pending items.
pub fn leftovers(fakes: &Fakes, ports: &Ports, id: &ClientBusinessId) -> (Vec<String>, usize) {
    let prefix = ports.settings.names.client_prefix(id);
    let secrets: Vec<String> = fakes
        .vault
        .names()
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect();
    let items = fakes.store.read(|s| {
        s.datasets.keys().filter(|(o, _)| o == id).count()
            + s.minted.keys().filter(|(o, _)| o == id).count()
            + s.pending
                .keys()
                .filter(|(o, _)| *o == crate::model::Owner::Client(id.clone()))
                .count()
    });
    (secrets, items)
}

/// An On-Behalf-Of session for `business`, bound to [`BROWSER`], assigning `assets`.
pub async fn obo_session(
    ports: &Ports,
    business: &str,
    assets: Vec<crate::model::Asset>,
) -> SessionState {
    let new = onboarding::create_session(
        ports,
        PartnerRef::parse("acct-obo").expect("a ref"),
        crate::model::Mode::Obo,
        Some(onboarding::OboRequest {
            client_business_id: ClientBusinessId::parse(business).expect("digits"),
            assets,
            scopes: vec![],
        }),
    )
    .await
    .expect("a session");
    onboarding::bind_browser(ports, &new.state, Some(BROWSER))
        .await
        .expect("bound");
    new.state
}
