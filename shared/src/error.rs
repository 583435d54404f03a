//! The one error type of the service, with its mappings to HTTP and to Lambda `errorType`.

use crate::graph::GraphError;

/// What went wrong, phrased so the caller knows what to do next.
/// Messages never carry a token, code, secret or state value.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("route not found")]
    RouteNotFound,
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    #[error("unknown onboarding session: start a new one")]
    SessionNotFound,
    #[error("this onboarding session has expired: start a new one")]
    SessionExpired,
    #[error(
        "this onboarding session is being completed by another request: retry in a few seconds"
    )]
    SessionInProgress,
    #[error("the business did not grant access ({reason}): nothing was stored")]
    ConsentDenied { reason: String },
    #[error("{0}")]
    CodeRejected(CodeProblem),
    #[error("the login did not produce a usable business token: {0}")]
    LoginRejected(String),
    #[error("no deletion request has this confirmation code")]
    DeletionNotFound,
    #[error("client business not found")]
    ClientNotFound,
    #[error("client business has been offboarded")]
    ClientOffboarded,
    #[error("the client's token is no longer valid: the client must reconnect")]
    NeedsReconnect,
    #[error("Meta denied the call for lack of permission (code {code})")]
    PermissionDenied { code: i64 },
    #[error("Meta is throttling calls for this business")]
    Throttled { retry_after_secs: Option<u64> },
    #[error("Meta's Graph API is unavailable: {0}")]
    UpstreamUnavailable(String),
    #[error("Meta's Graph API rejected the call (code {code})")]
    UpstreamRejected { code: i64 },
    #[error("storage is unavailable: {0}")]
    StorageUnavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why Meta refused an authorization code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeProblem {
    #[error("the authorization code has expired: connect again")]
    Expired,
    #[error("the authorization code was issued for a different redirect URI")]
    RedirectMismatch,
    #[error("the authorization code has already been used: connect again")]
    AlreadyUsed,
    #[error("the authorization code is not valid: connect again")]
    Invalid,
}

impl Error {
    /// The stable `errorType` of DESIGN section 3 for direct invocations.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_)
            | Self::UnsupportedMediaType(_)
            | Self::PayloadTooLarge(_)
            | Self::Unauthorized(_)
            | Self::RouteNotFound
            | Self::DeletionNotFound
            | Self::MethodNotAllowed
            | Self::SessionNotFound
            | Self::SessionExpired
            | Self::SessionInProgress
            | Self::ConsentDenied { .. }
            | Self::CodeRejected(_)
            | Self::LoginRejected(_) => "InvalidRequest",
            Self::ClientNotFound => "ClientNotFound",
            Self::ClientOffboarded => "ClientOffboarded",
            Self::NeedsReconnect | Self::PermissionDenied { .. } => "NeedsReconnect",
            Self::Throttled { .. } => "Throttled",
            Self::UpstreamUnavailable(_)
            | Self::UpstreamRejected { .. }
            | Self::StorageUnavailable(_) => "UpstreamUnavailable",
            Self::Internal(_) => "Internal",
        }
    }

    /// The HTTP status this error answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::InvalidRequest(_) | Self::CodeRejected(_) | Self::LoginRejected(_) => 400,
            Self::Unauthorized(_) => 401,
            Self::ConsentDenied { .. } | Self::PermissionDenied { .. } => 403,
            Self::RouteNotFound
            | Self::DeletionNotFound
            | Self::SessionNotFound
            | Self::ClientNotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::SessionInProgress | Self::NeedsReconnect => 409,
            Self::SessionExpired | Self::ClientOffboarded => 410,
            Self::PayloadTooLarge(_) => 413,
            Self::UnsupportedMediaType(_) => 415,
            Self::Throttled { .. } => 429,
            Self::UpstreamRejected { .. } => 502,
            Self::UpstreamUnavailable(_) | Self::StorageUnavailable(_) => 503,
            Self::Internal(_) => 500,
        }
    }

    /// Seconds the caller should wait before retrying, when known.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::Throttled { retry_after_secs } => *retry_after_secs,
            Self::UpstreamUnavailable(_) | Self::StorageUnavailable(_) => Some(1),
            _ => None,
        }
    }

    pub fn storage(context: &str, err: impl std::fmt::Display) -> Self {
        // The AWS SDK's display names the operation and service, never the payload.
        tracing::warn!(error = %err, "{context} failed");
        Self::StorageUnavailable(context.to_owned())
    }
}

impl From<GraphError> for Error {
    fn from(err: GraphError) -> Self {
        err.into_service_error()
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
