//! Single-use onboarding sessions: created by the partner's backend, consumed by one login.

use url::Url;

use crate::config::{Config, OnboardingConfig};
use crate::error::{Error, Result};
use crate::model::{
    Asset, ClientBusinessId, MAX_ASSETS, Mode, PartnerRef, Session, SessionState, SessionStatus,
};
use crate::ports::Ports;

pub struct NewSession {
    pub state: SessionState,
    pub session: Session,
}

/// What an On-Behalf-Of session asks for.
pub struct OboRequest {
    pub client_business_id: ClientBusinessId,
    pub assets: Vec<Asset>,
    /// Empty: `OBO_SCOPES`; otherwise a subset of them.
    pub scopes: Vec<String>,
}

pub async fn create_session(
    ports: &Ports,
    partner_ref: PartnerRef,
    mode: Mode,
    obo: Option<OboRequest>,
) -> Result<NewSession> {
    let now = ports.clock.now();
    let mut session = Session {
        partner_ref,
        mode,
        status: SessionStatus::Pending,
        created_at: now,
        expires_at: now + ports.settings.session_ttl_secs,
        claimed_until: None,
        browser: None,
        result: None,
        client_business_id: None,
        assets: vec![],
        scopes: vec![],
    };
    match (mode, obo) {
        (Mode::Bisu, None) => {}
        (Mode::Bisu, Some(_)) => {
            return Err(Error::InvalidRequest(
                "client_business_id, assets and scope go with mode obo".into(),
            ));
        }
        (Mode::Obo, None) => {
            return Err(Error::InvalidRequest(
                "mode obo needs the client's client_business_id".into(),
            ));
        }
        (Mode::Obo, Some(request)) => {
            let settings = &ports.settings;
            if !settings.obo_enabled || settings.partner_business_id.is_none() {
                return Err(Error::Internal(
                    "configuration: On-Behalf-Of needs OBO_CONFIG_ID and PARTNER_BUSINESS_ID"
                        .into(),
                ));
            }
            if request.assets.len() > MAX_ASSETS {
                return Err(Error::InvalidRequest(format!(
                    "assets may list at most {MAX_ASSETS} assets"
                )));
            }
            if let Some(scope) = request
                .scopes
                .iter()
                .find(|s| !settings.obo_scopes.contains(s))
            {
                return Err(Error::InvalidRequest(format!(
                    "the scope {scope} is not among OBO_SCOPES: a session may only narrow them"
                )));
            }
            session.client_business_id = Some(request.client_business_id);
            session.assets = request.assets;
            session.scopes = if request.scopes.is_empty() {
                settings.obo_scopes.clone()
            } else {
                request.scopes
            };
        }
    }
    let state = SessionState::generate();
    ports.store.create_session(&state, &session).await?;
    Ok(NewSession { state, session })
}

/// `/onboarding/start?session=STATE` beside the redirect URI: it binds the browser, then
/// sends it to Meta's dialog.
pub fn start_url(onboarding: &OnboardingConfig, state: &SessionState) -> Url {
    let mut url = onboarding
        .redirect_uri
        .join("../onboarding/start")
        .expect("a relative path joins");
    url.query_pairs_mut().append_pair("session", state.expose());
    url
}

/// The session's onboarding page; `connected`: shown right after the business connected.
pub fn page_url(onboarding: &OnboardingConfig, state: &SessionState, connected: bool) -> Url {
    let mut url = onboarding
        .redirect_uri
        .join("../onboarding")
        .expect("a relative path joins");
    url.query_pairs_mut().append_pair("session", state.expose());
    if connected {
        url.query_pairs_mut().append_pair("connected", "1");
    }
    url
}

/// Meta's manual Login for Business dialog for this session, with its mode's configuration.
pub fn dialog_url(
    config: &Config,
    onboarding: &OnboardingConfig,
    state: &SessionState,
    mode: Mode,
) -> Result<Url> {
    let mut url = config.login_dialog_base_url.clone();
    url.path_segments_mut()
        .expect("http URLs have paths")
        .pop_if_empty()
        .extend([config.graph_version.as_str(), "dialog", "oauth"]);
    url.query_pairs_mut()
        .append_pair("client_id", config.app_id.as_str())
        .append_pair("config_id", onboarding.config_id(mode)?)
        .append_pair("redirect_uri", onboarding.redirect_uri.as_str())
        .append_pair("state", state.expose())
        .append_pair("response_type", "code")
        .append_pair("override_default_response_type", "true");
    Ok(url)
}
