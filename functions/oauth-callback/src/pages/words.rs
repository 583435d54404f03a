//! What the pages say to a client's admin: permissions, assets and failures in plain words,
//! never an error code or a developer's term.

use shared::Error;
use shared::model::{Asset, AssetKind};

/// The permissions a BISU login gives the provider. The Login for Business configuration at
/// Meta holds the exact list and Meta's dialog shows it; these are the ones the service uses.
pub const BISU_SCOPES: &[&str] = &["ads_management", "business_management"];

/// One permission in words.
pub fn permission(scope: &str) -> String {
    let words = match scope {
        "ads_management" => "Manage your ad accounts and their ads, and send conversion events",
        "ads_read" => "See how your ads perform",
        "business_management" => "Manage your business's settings and the assets you share",
        "catalog_management" => "Manage your product catalogs",
        "pages_show_list" => "See the list of Pages you manage",
        "pages_read_engagement" => "Read the content and engagement of your Pages",
        "pages_manage_metadata" => "Manage your Pages' settings and webhooks",
        "pages_manage_posts" => "Publish and manage posts on your Pages",
        "leads_retrieval" => "Read the leads your ads collect",
        "whatsapp_business_management" => "Manage your WhatsApp Business accounts",
        "instagram_basic" => "See your Instagram business profile",
        other => return format!("Use the \u{201c}{other}\u{201d} permission"),
    };
    words.to_owned()
}

/// One asset to be shared, in words.
pub fn asset(asset: &Asset) -> String {
    let kind = match asset.kind {
        AssetKind::Page => "Page",
        AssetKind::Catalog => "Catalog",
        AssetKind::AdAccount => "Ad account",
    };
    let tasks: Vec<String> = asset.tasks.iter().map(|t| task(t)).collect();
    format!("{kind} {}: {}", asset.id, tasks.join(", "))
}

fn task(task: &str) -> String {
    match task {
        "MANAGE" => "manage it".into(),
        "CREATE_CONTENT" => "create content".into(),
        "MODERATE" => "moderate comments".into(),
        "MESSAGING" => "send messages".into(),
        "ADVERTISE" => "run ads".into(),
        "ANALYZE" | "AA_ANALYZE" => "see insights".into(),
        "DRAFT" => "draft ads".into(),
        "MANAGE_AR" => "manage AR effects".into(),
        // Tasks are checked when the session is made; a new one of Meta's still reads.
        other => other.to_lowercase().replace('_', " "),
    }
}

/// How a failure reads on a page: a headline, what happened and what to do, and whether
/// trying again with the same link can help.
pub struct Failure {
    pub headline: &'static str,
    pub text: String,
    pub retry: bool,
}

pub fn failure(err: &Error, provider: &str) -> Failure {
    let (headline, text, retry) = match err {
        Error::ConsentDenied { .. } => (
            "Nothing was shared",
            format!(
                "You cancelled on Facebook, so {provider} received no access to your business. You can try again."
            ),
            true,
        ),
        Error::SessionExpired => (
            "This link has expired",
            format!(
                "Connection links work for 15 minutes. Ask {provider} for a new link and open it here."
            ),
            false,
        ),
        Error::SessionNotFound => (
            "This link does not work",
            format!("The link is incomplete or was never valid. Ask {provider} for a new link."),
            false,
        ),
        Error::SessionOtherBrowser => (
            "Open the link where you started",
            format!(
                "For your safety, a connection link only works in the browser that first opened it. Go back to that browser, or ask {provider} for a new link."
            ),
            false,
        ),
        Error::SessionInProgress => (
            "Your business is being connected",
            "This takes a few seconds. Try again in a moment to see the result.".into(),
            true,
        ),
        Error::CodeRejected(_) => (
            "Facebook's answer could not be used",
            "It may have been used already or taken too long. Try again.".into(),
            true,
        ),
        Error::LoginRejected(_) | Error::PermissionDenied { .. } => (
            "Some access is missing",
            format!(
                "Facebook did not give {provider} all the access it needs. Try again and keep every permission and asset switched on."
            ),
            true,
        ),
        Error::OnboardingStopped { .. } => (
            "The connection stopped part-way",
            format!(
                "Nothing is lost: try again and it will go on from where it stopped. If it stops again, contact {provider}."
            ),
            true,
        ),
        Error::Throttled { .. } => (
            "Facebook is busy",
            "Facebook asked us to slow down. Wait a minute, then try again.".into(),
            true,
        ),
        Error::UpstreamUnavailable(_) | Error::StorageUnavailable(_) => (
            "We could not finish just now",
            "Facebook or our service did not answer in time. Try again in a minute.".into(),
            true,
        ),
        Error::ClientOffboarded | Error::OffboardingInProgress => (
            "Your business is being disconnected",
            format!(
                "{provider} is removing its access to this business. Wait a minute, then try again to connect it anew."
            ),
            true,
        ),
        _ => (
            "Something went wrong",
            format!(
                "The connection could not be completed. Try again; if it keeps happening, contact {provider}."
            ),
            true,
        ),
    };
    Failure {
        headline,
        text,
        retry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_speaks_plainly() {
        let errors = [
            Error::ConsentDenied {
                reason: "user_denied".into(),
            },
            Error::SessionExpired,
            Error::SessionNotFound,
            Error::SessionOtherBrowser,
            Error::LoginRejected("missing scopes: ads_management".into()),
            Error::Throttled {
                retry_after_secs: Some(60),
            },
            Error::Internal("a bug".into()),
        ];
        for err in errors {
            let failure = failure(&err, "Acme");
            for jargon in [
                "state",
                "user_denied",
                "session",
                "token",
                "scope",
                "(",
                "_",
            ] {
                assert!(
                    !failure.text.to_lowercase().contains(jargon),
                    "{jargon:?} in {:?}",
                    failure.text
                );
            }
        }
        assert!(!failure(&Error::SessionExpired, "Acme").retry);
        assert!(failure(&Error::ConsentDenied { reason: "x".into() }, "Acme").retry);
    }

    #[test]
    fn unknown_permissions_read_and_every_task_has_words() {
        assert_eq!(
            permission("some_new_scope"),
            "Use the \u{201c}some_new_scope\u{201d} permission"
        );
        let page = Asset::new("42", "page", Some(vec!["MANAGE".into(), "ANALYZE".into()])).unwrap();
        assert_eq!(asset(&page), "Page 42: manage it, see insights");
        for kind in [AssetKind::Page, AssetKind::Catalog, AssetKind::AdAccount] {
            for t in kind.tasks() {
                assert_ne!(task(t), t.to_lowercase(), "{t} has its own words");
            }
        }
    }
}
