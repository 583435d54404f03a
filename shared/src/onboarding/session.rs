//! Single-use onboarding sessions: created by the partner's backend, consumed by one login.

use url::Url;

use crate::config::{Config, OnboardingConfig};
use crate::error::{Error, Result};
use crate::model::{Mode, PartnerRef, Session, SessionState, SessionStatus};
use crate::ports::Ports;

pub struct NewSession {
    pub state: SessionState,
    pub session: Session,
}

pub async fn create_session(
    ports: &Ports,
    partner_ref: PartnerRef,
    mode: Mode,
) -> Result<NewSession> {
    if mode != Mode::Bisu {
        return Err(Error::InvalidRequest(format!(
            "mode {} is not available yet: only bisu onboarding is built",
            mode.as_str()
        )));
    }
    let now = ports.clock.now();
    let state = SessionState::generate();
    let session = Session {
        partner_ref,
        mode,
        status: SessionStatus::Pending,
        created_at: now,
        expires_at: now + ports.settings.session_ttl_secs,
        claimed_until: None,
        browser: None,
        result: None,
    };
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

/// Meta's manual Login for Business dialog for this session.
pub fn dialog_url(config: &Config, onboarding: &OnboardingConfig, state: &SessionState) -> Url {
    let mut url = config.login_dialog_base_url.clone();
    url.path_segments_mut()
        .expect("http URLs have paths")
        .pop_if_empty()
        .extend([config.graph_version.as_str(), "dialog", "oauth"]);
    url.query_pairs_mut()
        .append_pair("client_id", config.app_id.as_str())
        .append_pair("config_id", &onboarding.login_config_id)
        .append_pair("redirect_uri", onboarding.redirect_uri.as_str())
        .append_pair("state", state.expose())
        .append_pair("response_type", "code")
        .append_pair("override_default_response_type", "true");
    url
}
