//! Graph's error envelope, parsed into one typed error, sorted by what it means and by whose
//! token made the call (DESIGN section 4).

use serde::Deserialize;

use crate::error::{CodeProblem, Error};

/// Why a call was not sent when Secrets Manager could not give the app secret.
const APP_SECRET_UNREAD: &str = "the app secret could not be read";

/// A failed Graph call. Meta's free text is kept only with anything token-like removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphError {
    pub http_status: Option<u16>,
    pub code: Option<i64>,
    pub subcode: Option<i64>,
    pub is_transient: bool,
    pub fbtrace_id: Option<Box<str>>,
    pub retry_after_secs: Option<u64>,
    /// Set when no HTTP answer came back (refused, reset, timed out).
    pub network: Option<Box<str>>,
    /// The call went to `/oauth/access_token`, where a 400 with code 1 means the app
    /// credentials are wrong.
    pub oauth_endpoint: bool,
    /// Meta's message, redacted and shortened.
    pub message: Option<Box<str>>,
    /// Not sent: the app secret (APP_SECRET_ID) is missing or not its JSON.
    pub no_app_secret: bool,
}

/// What a Graph error means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphErrorClass {
    InvalidToken,
    Permission,
    Throttled,
    Transient,
    Code(CodeProblem),
    AppCredentials,
    Rejected,
}

/// Whose token made the call: it decides who must act on an invalid token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whose {
    /// A client's token: the client reconnects.
    Client,
    /// The partner's own system user token: the operator fixes its secret.
    Partner,
    /// The app token or the app secret (debug_token, the code exchange, refresh).
    App,
}

#[derive(Deserialize)]
struct Envelope {
    error: EnvelopeError,
}

#[derive(Deserialize)]
struct EnvelopeError {
    message: Option<String>,
    code: Option<i64>,
    error_subcode: Option<i64>,
    fbtrace_id: Option<String>,
    #[serde(default)]
    is_transient: bool,
}

const MAX_MESSAGE: usize = 200;

/// Meta's message without anything that could be a token (a long run of letters and digits).
fn redact(message: &str) -> String {
    let mut out = String::new();
    for word in message.split_inclusive(|c: char| !c.is_ascii_alphanumeric() && c != '_') {
        let core = word.trim_end_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_');
        let token_like = core.len() >= 20 && !core.bytes().all(|b| b.is_ascii_digit());
        if token_like {
            out.push_str("[redacted]");
            out.push_str(&word[core.len()..]);
        } else {
            out.push_str(word);
        }
    }
    out.chars().take(MAX_MESSAGE).collect()
}

impl GraphError {
    /// Builds the error from an HTTP answer that was not a success.
    pub fn from_response(status: u16, body: &[u8], retry_after_secs: Option<u64>) -> Self {
        let mut err = Self {
            http_status: Some(status),
            retry_after_secs,
            ..Self::default()
        };
        if let Ok(Envelope { error: e }) = serde_json::from_slice::<Envelope>(body) {
            err.code = e.code;
            err.subcode = e.error_subcode;
            err.is_transient = e.is_transient;
            err.fbtrace_id = e.fbtrace_id.map(String::into_boxed_str);
            err.message = e.message.map(|m| redact(&m).into_boxed_str());
        }
        err
    }

    pub fn network(description: String) -> Self {
        Self {
            network: Some(description.into_boxed_str()),
            ..Self::default()
        }
    }

    /// The call could not be made because the app secret could not be read: unreachable
    /// Secrets Manager is transient, a missing or malformed secret is the operator's to fix.
    pub fn app_secret_unread(err: &Error) -> Self {
        match err {
            Error::PartnerCredentials(_) => Self {
                no_app_secret: true,
                ..Self::default()
            },
            _ => Self::network(APP_SECRET_UNREAD.into()),
        }
    }

    /// An error envelope with this code, as Meta would send it (for fakes and tests).
    pub fn meta(status: u16, code: i64, subcode: Option<i64>) -> Self {
        Self {
            http_status: Some(status),
            code: Some(code),
            subcode,
            ..Self::default()
        }
    }

    pub fn class(&self) -> GraphErrorClass {
        use GraphErrorClass::*;
        if self.network.is_some() {
            return Transient;
        }
        if self.no_app_secret {
            return AppCredentials;
        }
        match (self.code, self.subcode) {
            (Some(190 | 102), _) => InvalidToken,
            (Some(100), Some(36007)) => Code(CodeProblem::Expired),
            (Some(100), Some(36008)) => Code(CodeProblem::RedirectMismatch),
            (Some(100), Some(36009)) => Code(CodeProblem::AlreadyUsed),
            (Some(4 | 17 | 32 | 613 | 80000..=80014), _) => Throttled,
            (Some(10 | 200..=299), _) => Permission,
            (Some(101), _) => AppCredentials,
            // Code 1 is Meta's common transient answer, except as a 400 from the OAuth
            // endpoint, where it means the client secret was refused.
            (Some(1), _) if self.oauth_endpoint && self.http_status == Some(400) => AppCredentials,
            (Some(1 | 2 | 341), _) => Transient,
            _ if self.is_transient || self.http_status.is_some_and(|s| s >= 500) => Transient,
            _ => Rejected,
        }
    }

    /// The service error a caller sees when this Graph error ends the operation.
    pub fn into_error(self, whose: Whose) -> Error {
        tracing::warn!(
            graph_code = self.code,
            graph_subcode = self.subcode,
            http_status = self.http_status,
            fbtrace_id = self.fbtrace_id.as_deref(),
            network = self.network.as_deref(),
            whose = ?whose,
            "Graph call failed"
        );
        let code = self.code.unwrap_or_default();
        match self.class() {
            GraphErrorClass::InvalidToken if whose == Whose::Client => {
                Error::NeedsReconnect(format!(
                    "Meta reports the client's token invalid (code {code}): the client must connect again"
                ))
            }
            GraphErrorClass::InvalidToken if whose == Whose::Partner => {
                Error::PartnerCredentials(format!(
                    "Meta reports the partner system user token invalid (code {code}): the operator must replace it"
                ))
            }
            GraphErrorClass::AppCredentials if self.no_app_secret => Error::PartnerCredentials(
                "the app secret (APP_SECRET_ID) is missing or not its JSON: the operator must put it in"
                    .into(),
            ),
            GraphErrorClass::InvalidToken | GraphErrorClass::AppCredentials => {
                Error::PartnerCredentials(format!(
                    "Meta refused the app credentials (code {code}): check META_APP_ID and the app secret"
                ))
            }
            GraphErrorClass::Code(problem) => Error::CodeRejected(problem),
            GraphErrorClass::Throttled => Error::Throttled {
                retry_after_secs: self.retry_after_secs,
            },
            GraphErrorClass::Permission => Error::PermissionDenied {
                code,
                message: self.message_or_none(),
            },
            GraphErrorClass::Transient => Error::UpstreamUnavailable(match &self.network {
                Some(why) if why.as_ref() == APP_SECRET_UNREAD => {
                    "the app secret could not be read from Secrets Manager; no Graph call was made"
                        .into()
                }
                Some(_) => "Meta's Graph API could not be reached".into(),
                None => format!(
                    "Meta's Graph API failed (HTTP {}, code {code})",
                    self.http_status.unwrap_or_default()
                ),
            }),
            GraphErrorClass::Rejected => Error::UpstreamRejected {
                code,
                message: self.message_or_none(),
            },
        }
    }

    /// Meta's message (redacted), for the caller to read.
    fn message_or_none(&self) -> String {
        self.message.as_deref().unwrap_or("no message").to_owned()
    }

    /// The code exchange's own reading: a bad parameter there means the code itself is bad.
    pub fn into_exchange_error(self) -> Error {
        if self.class() == GraphErrorClass::Rejected && self.code == Some(100) {
            tracing::info!(
                graph_code = self.code,
                fbtrace_id = self.fbtrace_id.as_deref(),
                "code refused"
            );
            return Error::CodeRejected(CodeProblem::Invalid);
        }
        self.into_error(Whose::App)
    }
}

/// The longest wait read from Meta's headers: a day. Meta's estimates are minutes to hours;
/// anything longer is read as a day, so that no clock arithmetic on it can overflow.
pub const MAX_WAIT_SECS: u64 = 24 * 3600;

/// Seconds until Meta lifts business use case throttling, from `X-Business-Use-Case-Usage`
/// (`estimated_time_to_regain_access` is in minutes), at most [`MAX_WAIT_SECS`].
pub fn regain_access_secs(header: &str) -> Option<u64> {
    let usage: serde_json::Value = serde_json::from_str(header).ok()?;
    usage
        .as_object()?
        .values()
        .filter_map(|entries| entries.as_array())
        .flatten()
        .filter_map(|entry| entry.get("estimated_time_to_regain_access")?.as_u64())
        .max()
        .filter(|minutes| *minutes > 0)
        .map(|minutes| minutes.saturating_mul(60).min(MAX_WAIT_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: i64, subcode: Option<i64>, status: u16) -> GraphError {
        let body = serde_json::json!({"error": {"message": "m", "type": "OAuthException",
            "code": code, "error_subcode": subcode, "fbtrace_id": "Abc"}});
        GraphError::from_response(status, body.to_string().as_bytes(), None)
    }

    #[test]
    fn classifies_like_design_section_4() {
        use GraphErrorClass::*;
        assert_eq!(err(190, Some(460), 400).class(), InvalidToken);
        assert_eq!(err(102, None, 400).class(), InvalidToken);
        assert_eq!(
            err(100, Some(36007), 400).class(),
            Code(CodeProblem::Expired)
        );
        assert_eq!(
            err(100, Some(36008), 400).class(),
            Code(CodeProblem::RedirectMismatch)
        );
        assert_eq!(
            err(100, Some(36009), 400).class(),
            Code(CodeProblem::AlreadyUsed)
        );
        for code in [4, 17, 32, 613, 80000, 80004, 80014] {
            assert_eq!(err(code, None, 400).class(), Throttled, "{code}");
        }
        for code in [10, 200, 270, 299] {
            assert_eq!(err(code, None, 403).class(), Permission, "{code}");
        }
        assert_eq!(err(2, None, 500).class(), Transient);
        assert_eq!(err(341, None, 400).class(), Transient);
        assert_eq!(err(100, None, 400).class(), Rejected);
        assert_eq!(err(368, None, 400).class(), Rejected);
        assert_eq!(err(101, None, 400).class(), AppCredentials);
        let html = GraphError::from_response(502, b"<html>bad gateway</html>", None);
        assert_eq!(html.class(), Transient);
        let flagged = br#"{"error":{"code":100,"is_transient":true}}"#;
        assert_eq!(
            GraphError::from_response(400, flagged, None).class(),
            Transient
        );
        assert_eq!(GraphError::network("refused".into()).class(), Transient);
    }

    #[test]
    fn code_1_is_transient_except_a_400_from_the_oauth_endpoint() {
        assert_eq!(err(1, None, 400).class(), GraphErrorClass::Transient);
        assert_eq!(err(1, None, 500).class(), GraphErrorClass::Transient);
        let mut oauth = err(1, None, 400);
        oauth.oauth_endpoint = true;
        assert_eq!(oauth.class(), GraphErrorClass::AppCredentials);
        assert_eq!(
            oauth.into_error(Whose::App).error_type(),
            "PartnerCredentials"
        );
        let mut oauth_500 = err(1, None, 500);
        oauth_500.oauth_endpoint = true;
        assert_eq!(oauth_500.class(), GraphErrorClass::Transient);
    }

    #[test]
    fn whose_token_decides_who_must_act() {
        assert_eq!(
            err(190, None, 400).into_error(Whose::Client).error_type(),
            "NeedsReconnect"
        );
        assert_eq!(
            err(190, None, 400).into_error(Whose::Partner).error_type(),
            "PartnerCredentials"
        );
        assert_eq!(
            err(190, None, 400).into_error(Whose::App).error_type(),
            "PartnerCredentials"
        );
        assert_eq!(
            err(200, None, 403).into_error(Whose::Client).error_type(),
            "PermissionDenied"
        );
        assert_eq!(
            err(100, None, 400).into_error(Whose::Client).error_type(),
            "UpstreamRejected"
        );
        assert_eq!(
            err(1, None, 500).into_error(Whose::Client).error_type(),
            "UpstreamUnavailable"
        );
        assert_eq!(
            err(80004, None, 400).into_error(Whose::Client).error_type(),
            "Throttled"
        );
    }

    #[test]
    fn meta_messages_lose_anything_token_like() {
        let body = br#"{"error":{"message":"(#100) Invalid token EAABsbCS1iHgBAKZCZBZAxyz123abc for object 1234567890123456789","code":100}}"#;
        let e = GraphError::from_response(400, body, None);
        let message = e.message.as_deref().unwrap();
        assert!(!message.contains("EAAB"), "{message}");
        assert!(message.contains("1234567890123456789"), "{message}");
        let Error::UpstreamRejected { message, .. } = e.into_error(Whose::Client) else {
            panic!("100 is a rejection");
        };
        assert!(message.contains("[redacted]"), "{message}");
    }

    #[test]
    fn reads_regain_access_minutes() {
        let header = r#"{"123":[{"type":"ads_management","call_count":100,"estimated_time_to_regain_access":3},{"type":"x","estimated_time_to_regain_access":7}]}"#;
        assert_eq!(regain_access_secs(header), Some(420));
        assert_eq!(
            regain_access_secs(r#"{"1":[{"estimated_time_to_regain_access":0}]}"#),
            None
        );
        assert_eq!(regain_access_secs("not json"), None);
    }

    /// Found by `fuzz/fuzz_targets/throttle_headers.rs`: minutes * 60 overflowed.
    #[test]
    fn a_huge_regain_estimate_is_read_as_a_day() {
        let header: &[u8] = br#"{"42":[{"estimated_time_to_regain_access":9223372036854775807}]}"#;
        let header = std::str::from_utf8(header).unwrap();
        assert_eq!(regain_access_secs(header), Some(MAX_WAIT_SECS));
        let max = format!(
            r#"{{"42":[{{"estimated_time_to_regain_access":{}}}]}}"#,
            u64::MAX
        );
        assert_eq!(regain_access_secs(&max), Some(MAX_WAIT_SECS));
    }
}
