//! Onboarding through Facebook Login for Business: sessions, the code exchange, and what it stores.

mod complete;
mod session;

pub use complete::{CodeSource, Completed, complete};
pub use session::{NewSession, create_session, login_url, pending_session};

use crate::error::Error;

/// The `error_reason` of a denied login, reduced to a safe word.
pub fn consent_denied(reason: Option<&str>) -> Error {
    let reason = reason
        .filter(|r| {
            !r.is_empty() && r.len() <= 64 && r.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        })
        .unwrap_or("unknown_reason");
    Error::ConsentDenied {
        reason: reason.to_owned(),
    }
}
