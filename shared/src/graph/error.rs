//! Graph's error envelope, parsed into one typed error and sorted into what the caller should do.

use serde::Deserialize;

use crate::error::{CodeProblem, Error};

/// A failed Graph call. Never holds Graph's free-text message: it can echo the token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphError {
    pub http_status: Option<u16>,
    pub code: Option<i64>,
    pub subcode: Option<i64>,
    /// Graph's `type` was `OAuthException` (what tells a refused client secret from a glitch).
    pub oauth_exception: bool,
    pub is_transient: bool,
    pub fbtrace_id: Option<Box<str>>,
    pub retry_after_secs: Option<u64>,
    /// Set when no HTTP answer came back (refused, reset, timed out).
    pub network: Option<Box<str>>,
}

/// What a Graph error means for the caller (DESIGN section 4).
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

#[derive(Deserialize)]
struct Envelope {
    error: EnvelopeError,
}

#[derive(Deserialize)]
struct EnvelopeError {
    #[serde(rename = "type")]
    error_type: Option<String>,
    code: Option<i64>,
    error_subcode: Option<i64>,
    fbtrace_id: Option<String>,
    #[serde(default)]
    is_transient: bool,
}

impl GraphError {
    /// Builds the error from an HTTP answer that was not a success or carried an `error` object.
    pub fn from_response(status: u16, body: &[u8], retry_after_secs: Option<u64>) -> Self {
        let parsed = serde_json::from_slice::<Envelope>(body)
            .ok()
            .map(|e| e.error);
        let mut err = Self {
            http_status: Some(status),
            retry_after_secs,
            ..Self::default()
        };
        if let Some(e) = parsed {
            err.code = e.code;
            err.subcode = e.error_subcode;
            err.oauth_exception = e.error_type.as_deref() == Some("OAuthException");
            err.is_transient = e.is_transient;
            err.fbtrace_id = e.fbtrace_id.map(String::into_boxed_str);
        }
        err
    }

    pub fn network(description: String) -> Self {
        Self {
            network: Some(description.into_boxed_str()),
            ..Self::default()
        }
    }

    pub fn class(&self) -> GraphErrorClass {
        use GraphErrorClass::*;
        if self.network.is_some() {
            return Transient;
        }
        match (self.code, self.subcode) {
            (Some(190 | 102), _) => InvalidToken,
            (Some(100), Some(36007)) => Code(CodeProblem::Expired),
            (Some(100), Some(36008)) => Code(CodeProblem::RedirectMismatch),
            (Some(100), Some(36009)) => Code(CodeProblem::AlreadyUsed),
            (Some(4 | 17 | 32 | 613 | 80000..=80014), _) => Throttled,
            (Some(10 | 200..=299), _) => Permission,
            (Some(101), _) => AppCredentials,
            // Code 1 from the OAuth endpoint means the client secret was refused.
            (Some(1), _) if self.oauth_exception => AppCredentials,
            (Some(1 | 2 | 341), _) => Transient,
            _ if self.is_transient || self.http_status.is_some_and(|s| s >= 500) => Transient,
            _ => Rejected,
        }
    }

    /// The service error a caller sees when this Graph error ends the operation.
    pub fn into_service_error(self) -> Error {
        tracing::warn!(
            graph_code = self.code,
            graph_subcode = self.subcode,
            http_status = self.http_status,
            fbtrace_id = self.fbtrace_id.as_deref(),
            network = self.network.as_deref(),
            "Graph call failed"
        );
        match self.class() {
            GraphErrorClass::InvalidToken => Error::NeedsReconnect,
            GraphErrorClass::Code(problem) => Error::CodeRejected(problem),
            GraphErrorClass::Throttled => Error::Throttled {
                retry_after_secs: self.retry_after_secs,
            },
            GraphErrorClass::Permission => Error::PermissionDenied {
                code: self.code.unwrap_or_default(),
            },
            GraphErrorClass::AppCredentials => Error::Internal(
                "Meta refused the app credentials: check META_APP_ID and the app secret".into(),
            ),
            GraphErrorClass::Transient => Error::UpstreamUnavailable(match &self.network {
                Some(_) => "Graph could not be reached".into(),
                None => format!(
                    "Graph answered HTTP {}",
                    self.http_status.unwrap_or_default()
                ),
            }),
            GraphErrorClass::Rejected => Error::UpstreamRejected {
                code: self.code.unwrap_or_default(),
            },
        }
    }
}

/// The code exchange's own reading: a bad parameter there means the code itself is bad.
pub fn exchange_error(err: GraphError) -> Error {
    if err.class() == GraphErrorClass::Rejected && err.code == Some(100) {
        tracing::info!(
            graph_code = err.code,
            fbtrace_id = err.fbtrace_id.as_deref(),
            "code refused"
        );
        return Error::CodeRejected(CodeProblem::Invalid);
    }
    err.into_service_error()
}

/// Seconds until Meta lifts business use case throttling, from `X-Business-Use-Case-Usage`
/// (`estimated_time_to_regain_access` is in minutes).
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
        .map(|minutes| minutes * 60)
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
        assert_eq!(err(101, None, 400).class(), AppCredentials);
        assert_eq!(err(1, None, 400).class(), AppCredentials);
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
    fn reads_regain_access_minutes() {
        let header = r#"{"123":[{"type":"ads_management","call_count":100,"estimated_time_to_regain_access":3},{"type":"x","estimated_time_to_regain_access":7}]}"#;
        assert_eq!(regain_access_secs(header), Some(420));
        assert_eq!(
            regain_access_secs(r#"{"1":[{"estimated_time_to_regain_access":0}]}"#),
            None
        );
        assert_eq!(regain_access_secs("not json"), None);
    }
}
