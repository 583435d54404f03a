//! Onboarding through Facebook Login for Business: sessions bound to a browser, the code
//! exchange, and what it stores.

mod browser;
mod complete;
mod obo;
mod session;

pub use browser::{BROWSER_COOKIE, BoundSession, bind_browser, browser_hash};
pub use complete::{CodeSource, Completed, complete};
pub use session::{NewSession, OboRequest, create_session, dialog_url, page_url, start_url};

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

#[cfg(test)]
mod tests;

#[cfg(test)]
mod obo_tests;
