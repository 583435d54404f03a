//! What the service tells its operator: counts and ages, never an id or a token. The EMF
//! adapter turns each into a CloudWatch metric; infra/template.yaml alarms on them.

/// How an onboarding ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnboardingOutcome {
    Completed,
    Failed,
}

/// What became of one webhook change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// Applied to the client.
    Applied,
    /// Older than the client's latest onboarding: recorded, not applied.
    Stale,
    /// Recorded; applying it is left to a later try.
    Left,
    /// Given up after its last try.
    Failed,
    /// Delivered again (a retry or a replay): already recorded, nothing done.
    Duplicate,
}

/// One sweep run's figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepFigures {
    pub done: u32,
    pub failed: u32,
    /// Items due now that this run left for the next.
    pub left: u32,
    /// Seconds since the oldest item still waiting fell due (0 when none waits).
    pub oldest_due_age_secs: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Onboarding(OnboardingOutcome),
    /// A token handed out by token-fetch, by its `kind`.
    TokenServed(&'static str),
    /// A client moved to `needs_reconnect`.
    ReconnectNeeded,
    /// A client's offboarding finished.
    Offboarding,
    WebhookChange(ChangeOutcome),
    /// A client's token checked by the sweep.
    HealthCheck,
    /// Meta answered a call with a throttling code.
    GraphThrottled,
    /// The partner's or the app's token was refused (190 or 102).
    PartnerTokenInvalid,
    /// A sweep run ended; its arrival is the sweep's heartbeat.
    SweepRun(SweepFigures),
}

impl OnboardingOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }
}

impl ChangeOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Stale => "stale",
            Self::Left => "left",
            Self::Failed => "failed",
            Self::Duplicate => "duplicate",
        }
    }
}
