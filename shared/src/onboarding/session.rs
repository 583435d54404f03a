//! Single-use onboarding sessions: created by the partner's backend, consumed by one login.

use url::Url;

use crate::clock::Now;
use crate::config::{Config, OnboardingConfig};
use crate::deps::Deps;
use crate::error::{Error, Result};
use crate::ids::{OnboardingMode, PartnerRef, SessionState};
use crate::store::{SESSION_SK, SessionItem, SessionStatus, session_pk};

pub struct NewSession {
    pub state: SessionState,
    pub login_url: Url,
    pub expires_at: String,
}

pub async fn create_session(
    deps: &Deps,
    onboarding: &OnboardingConfig,
    partner_ref: PartnerRef,
    mode: OnboardingMode,
) -> Result<NewSession> {
    if mode != OnboardingMode::Bisu {
        return Err(Error::InvalidRequest(format!(
            "mode {} is not available yet: only bisu onboarding is built",
            mode.as_str()
        )));
    }
    let now = Now::get();
    let state = SessionState::generate();
    let expires_at_epoch = now.epoch() + deps.config.session_ttl.as_secs() as i64;
    deps.store
        .put_session(&SessionItem {
            pk: session_pk(state.expose()),
            sk: SESSION_SK.into(),
            partner_ref,
            mode,
            status: SessionStatus::Pending,
            created_at: now.rfc3339(),
            expires_at_epoch,
            result: None,
        })
        .await?;
    Ok(NewSession {
        login_url: login_url(&deps.config, onboarding, &state),
        expires_at: Now::epoch_rfc3339(expires_at_epoch),
        state,
    })
}

/// The manual Login for Business dialog for this session.
pub fn login_url(config: &Config, onboarding: &OnboardingConfig, state: &SessionState) -> Url {
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

/// The session behind the onboarding page, if it can still be used.
pub async fn pending_session(deps: &Deps, state: &SessionState) -> Result<SessionItem> {
    let session = deps
        .store
        .get_session(state.expose())
        .await?
        .ok_or(Error::SessionNotFound)?;
    if session.status == SessionStatus::Pending && session.expires_at_epoch <= Now::get().epoch() {
        return Err(Error::SessionExpired);
    }
    Ok(session)
}
