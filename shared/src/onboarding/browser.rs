//! Binding a session to the first browser that opens it: an `HttpOnly` cookie whose hash the
//! session records, so a state that leaks later cannot complete the onboarding elsewhere.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::model::{Session, SessionState, SessionStatus};
use crate::ports::Ports;

pub const BROWSER_COOKIE: &str = "onboarding_browser";
/// 32 random bytes in unpadded base64url.
const COOKIE_LEN: usize = 43;

pub fn browser_hash(cookie: &str) -> String {
    hex::encode(Sha256::digest(cookie.as_bytes()))
}

pub struct BoundSession {
    pub session: Session,
    /// A cookie to set: the browser had none.
    pub new_cookie: Option<String>,
}

/// The cookie binds the session: Debug says only whether one is set.
impl std::fmt::Debug for BoundSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundSession")
            .field("session", &self.session)
            .field("sets_cookie", &self.new_cookie.is_some())
            .finish()
    }
}

fn well_formed(cookie: &str) -> bool {
    cookie.len() == COOKIE_LEN
        && URL_SAFE_NO_PAD
            .decode(cookie)
            .is_ok_and(|bytes| bytes.len() == 32)
}

/// The session behind a page or the login link, bound to this browser (`cookie`, if it sent
/// one). Refused when it is unknown, expired, or bound to another browser.
pub async fn bind_browser(
    ports: &Ports,
    state: &SessionState,
    cookie: Option<&str>,
) -> Result<BoundSession> {
    let session = ports
        .store
        .session(state)
        .await?
        .ok_or(Error::SessionNotFound)?;
    if session.is_expired(ports.clock.now()) {
        return Err(Error::SessionExpired);
    }
    let (cookie, new_cookie) = match cookie.filter(|c| well_formed(c)) {
        Some(c) => (c.to_owned(), None),
        None => {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            let fresh = URL_SAFE_NO_PAD.encode(bytes);
            (fresh.clone(), Some(fresh))
        }
    };
    let hash = browser_hash(&cookie);
    if session.browser.as_deref() == Some(hash.as_str()) {
        return Ok(BoundSession {
            session,
            new_cookie,
        });
    }
    // A completed session is only shown to its browser; a pending one binds the first.
    if session.status == SessionStatus::Completed || !ports.store.bind_browser(state, &hash).await?
    {
        return Err(Error::SessionOtherBrowser);
    }
    let session = Session {
        browser: Some(hash),
        ..session
    };
    Ok(BoundSession {
        session,
        new_cookie,
    })
}
