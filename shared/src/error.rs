//! The one error type of the service, with its mappings to HTTP and to Lambda `errorType`.

/// What went wrong, phrased so the caller knows what to do next.
/// Messages never carry a token, code, secret, state value, or storage or library error text.
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
    #[error(
        "this onboarding link was opened in another browser: finish there, or ask for a new link"
    )]
    SessionOtherBrowser,
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
    #[error("this client business is being offboarded: retry in a minute")]
    OffboardingInProgress,
    #[error("{0}")]
    NeedsReconnect(String),
    #[error(
        "Meta refused the permission or the asset (code {code}: {message}): the client must grant it"
    )]
    PermissionDenied { code: i64, message: String },
    #[error("{0}")]
    PartnerCredentials(String),
    #[error("Meta is throttling calls: {}", retry_hint(*.retry_after_secs))]
    Throttled { retry_after_secs: Option<u64> },
    #[error("{0}")]
    UpstreamUnavailable(String),
    #[error("Meta's Graph API refused the call (code {code}): {message}")]
    UpstreamRejected { code: i64, message: String },
    #[error("storage is unavailable while {0}: retry later")]
    StorageUnavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// An On-Behalf-Of onboarding stopped at a step; a new session for the business resumes.
    #[error(
        "the connection stopped at the step \"{step}\" ({cause}); a new onboarding session for this business resumes from there"
    )]
    OnboardingStopped {
        step: &'static str,
        cause: Box<Error>,
    },
}

/// When access returns, in words, for callers that see no `Retry-After` header.
fn retry_hint(secs: Option<u64>) -> String {
    match secs {
        Some(secs) => format!("retry in {secs} seconds"),
        None => "retry in a minute".into(),
    }
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
    /// The stable `errorType` of DESIGN section 3.
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
            | Self::SessionOtherBrowser
            | Self::ConsentDenied { .. }
            | Self::CodeRejected(_)
            | Self::LoginRejected(_) => "InvalidRequest",
            Self::ClientNotFound => "ClientNotFound",
            Self::ClientOffboarded | Self::OffboardingInProgress => "ClientOffboarded",
            Self::NeedsReconnect(_) => "NeedsReconnect",
            Self::PermissionDenied { .. } => "PermissionDenied",
            Self::PartnerCredentials(_) => "PartnerCredentials",
            Self::Throttled { .. } => "Throttled",
            Self::UpstreamUnavailable(_) | Self::StorageUnavailable(_) => "UpstreamUnavailable",
            Self::UpstreamRejected { .. } => "UpstreamRejected",
            Self::Internal(_) => "Internal",
            Self::OnboardingStopped { cause, .. } => cause.error_type(),
        }
    }

    /// The HTTP status this error answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::InvalidRequest(_) | Self::CodeRejected(_) | Self::LoginRejected(_) => 400,
            Self::Unauthorized(_) => 401,
            Self::ConsentDenied { .. }
            | Self::PermissionDenied { .. }
            | Self::SessionOtherBrowser => 403,
            Self::RouteNotFound
            | Self::DeletionNotFound
            | Self::SessionNotFound
            | Self::ClientNotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::SessionInProgress | Self::NeedsReconnect(_) | Self::OffboardingInProgress => 409,
            Self::SessionExpired | Self::ClientOffboarded => 410,
            Self::PayloadTooLarge(_) => 413,
            Self::UnsupportedMediaType(_) => 415,
            Self::Throttled { .. } => 429,
            Self::UpstreamRejected { .. } => 502,
            Self::UpstreamUnavailable(_) | Self::StorageUnavailable(_) => 503,
            Self::PartnerCredentials(_) | Self::Internal(_) => 500,
            Self::OnboardingStopped { cause, .. } => cause.http_status(),
        }
    }

    /// Seconds the caller should wait before retrying, when known.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::Throttled { retry_after_secs } => *retry_after_secs,
            Self::UpstreamUnavailable(_) | Self::StorageUnavailable(_) => Some(1),
            Self::OffboardingInProgress => Some(60),
            Self::OnboardingStopped { cause, .. } => cause.retry_after_secs(),
            _ => None,
        }
    }

    /// A storage failure: the library's text goes to the log, only `context` to the caller.
    pub fn storage(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %err, "storage failed while {context}");
        Self::StorageUnavailable(context.to_owned())
    }

    /// A failure that must not happen: the detail goes to the log, a generic text out.
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "{context}");
        Self::Internal(context.to_owned())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
