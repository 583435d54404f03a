//! The domain: what the service knows about clients, tokens, sessions and Meta's answers.
//! Nothing here knows a storage key or an AWS type.

mod client;
mod dataset;
mod deletion;
mod event;
pub mod graph_error;
pub mod graph_types;
pub mod ids;
mod obo;
mod owner;
mod partner;
mod session;
mod signal;
mod token;
mod webhook;

pub use client::{Client, ClientStatus, SecretRef};
pub use dataset::{Dataset, Ownership};
pub use deletion::Deletion;
pub use event::{Event, EventType, Subject};
pub use graph_error::{GraphError, GraphErrorClass, Whose};
pub use graph_types::{
    DebugToken, ExchangedToken, GranularScope, MeBusiness, MintParams, PageInfo, Pixel,
};
pub use ids::{
    AppId, ClientBusinessId, MAX_AUTH_CODE_LEN, Mode, PartnerRef, SessionState, SystemUserId,
    is_digits, parse_auth_code,
};
pub use obo::{Asset, AssetKind, MAX_ASSETS, OboState};
pub use owner::Owner;
pub use partner::PartnerSystemUser;
pub use session::{OnboardingResult, Session, SessionStatus};
pub use signal::{ChangeOutcome, OnboardingOutcome, Signal, SweepFigures};
pub use token::{MintedToken, PageToken, PendingPurpose, PendingSecret, TokenAnswer, TokenSecret};
pub use webhook::{ChangeStatus, WebhookChange};
