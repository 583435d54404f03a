//! The traits the flows need, named by what the logic asks. Each has a real adapter
//! (`adapters/`) and an in-memory one (`fakes/`). Every method returns the service error:
//! an adapter translates its own failures into `Error::StorageUnavailable` or the like.

use async_trait::async_trait;
use secrecy::SecretString;
use std::sync::Arc;
use url::Url;

use crate::error::Result;
use crate::model::{
    Asset, Client, ClientBusinessId, Dataset, DebugToken, Deletion, Event, ExchangedToken,
    GraphError, MeBusiness, MintParams, MintedToken, OnboardingResult, Owner, Ownership, PageInfo,
    PageToken, PartnerRef, PartnerSystemUser, PendingSecret, Pixel, Session, SessionState, Signal,
    SystemUserId, TokenSecret, WebhookChange,
};

/// Why a conditional write did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// The client item changed since it was read (version), or is not `active` (the fence).
    Stale,
}

/// What is written together with a client item, all or nothing.
pub enum Also<'a> {
    Event(&'a Event),
    /// Links the client to a partner ref, removing the link to `previous` if it differs.
    PartnerRef {
        partner_ref: &'a PartnerRef,
        previous: Option<&'a PartnerRef>,
    },
    /// Lets deauthorize and data deletion find the client by the user who connected it.
    UserIndex(&'a SystemUserId),
    /// Marks a claimed session completed with its result.
    CompleteSession {
        state: &'a SessionState,
        result: &'a OnboardingResult,
    },
    /// The pending marker of a secret that this write records.
    ClearPending(&'a PendingSecret),
}

impl Also<'_> {
    /// The same write again (the references are shared).
    pub fn copy(&self) -> Self {
        match self {
            Self::Event(e) => Also::Event(e),
            Self::PartnerRef {
                partner_ref,
                previous,
            } => Also::PartnerRef {
                partner_ref,
                previous: *previous,
            },
            Self::UserIndex(u) => Also::UserIndex(u),
            Self::CompleteSession { state, result } => Also::CompleteSession { state, result },
            Self::ClearPending(p) => Also::ClearPending(p),
        }
    }
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session; its state is random, so it never exists already.
    async fn create_session(&self, state: &SessionState, session: &Session) -> Result<()>;
    async fn session(&self, state: &SessionState) -> Result<Option<Session>>;
    /// Binds the session to a browser (a cookie hash) unless one is bound already;
    /// `false` when another browser was bound first.
    async fn bind_browser(&self, state: &SessionState, browser: &str) -> Result<bool>;
    /// Moves a pending session (or a claimed one whose lease ended) to `claimed` until
    /// `lease_until`; `false` when it could not be claimed.
    async fn claim_session(&self, state: &SessionState, now: i64, lease_until: i64)
    -> Result<bool>;
    /// Returns a claimed session to `pending` after a failure that stored nothing.
    async fn release_session(&self, state: &SessionState) -> Result<()>;
}

#[async_trait]
pub trait ClientStore: Send + Sync {
    async fn client(&self, id: &ClientBusinessId) -> Result<Option<Client>>;
    /// Writes `client` if the stored one still has `expected_version` (`None`: there is none),
    /// together with `also`, in one transaction.
    async fn save_client(
        &self,
        client: &Client,
        expected_version: Option<u64>,
        also: &[Also<'_>],
    ) -> Result<Result<(), Conflict>>;
    /// The clients a user (the system user id Meta sends in `signed_request`) connected.
    async fn clients_of_user(&self, user: &SystemUserId) -> Result<Vec<ClientBusinessId>>;
}

#[async_trait]
pub trait DatasetStore: Send + Sync {
    async fn datasets(&self, id: &ClientBusinessId) -> Result<Vec<Dataset>>;
    /// Writes `datasets` and removes the datasets named in `removed`, only while the client is
    /// `active` (the fence); `Conflict::Stale` when it is not, and then none of `datasets`
    /// stays.
    async fn write_datasets(
        &self,
        id: &ClientBusinessId,
        datasets: &[Dataset],
        removed: &[String],
    ) -> Result<Result<(), Conflict>>;
}

#[async_trait]
pub trait MintedTokenStore: Send + Sync {
    async fn minted_token(
        &self,
        id: &ClientBusinessId,
        token_id: &str,
    ) -> Result<Option<MintedToken>>;
    /// Records a minted token with its event, and clears its pending marker when given, only
    /// while the client is `active` (the fence).
    async fn put_minted_token(
        &self,
        id: &ClientBusinessId,
        token: &MintedToken,
        event: &Event,
        clear: Option<&PendingSecret>,
    ) -> Result<Result<(), Conflict>>;
    /// Every granular token minted for the client.
    async fn minted_tokens(&self, id: &ClientBusinessId) -> Result<Vec<MintedToken>>;
    /// Forgets one minted token (its secret is deleted by the caller).
    async fn delete_minted_token(&self, id: &ClientBusinessId, token_id: &str) -> Result<()>;
}

#[async_trait]
pub trait PartnerStore: Send + Sync {
    async fn partner_system_user(&self) -> Result<Option<PartnerSystemUser>>;
    /// Writes the partner item if the stored one has `expected_version` (`None`: there is
    /// none), with its event and the pending marker it clears, in one transaction.
    async fn save_partner_system_user(
        &self,
        item: &PartnerSystemUser,
        expected_version: Option<u64>,
        event: Option<&Event>,
        pending: Option<&PendingSecret>,
    ) -> Result<Result<(), Conflict>>;
}

#[async_trait]
pub trait PageStore: Send + Sync {
    async fn page(&self, owner: &Owner, page_id: &str) -> Result<Option<PageToken>>;
    async fn pages(&self, owner: &Owner) -> Result<Vec<PageToken>>;
    /// Records a page token and clears its pending marker; for a client, only while it is
    /// `active` or `incomplete` (an On-Behalf-Of onboarding stores pages before it completes),
    /// never once it is leaving (the fence).
    async fn put_page(
        &self,
        owner: &Owner,
        page: &PageToken,
        pending: &PendingSecret,
    ) -> Result<Result<(), Conflict>>;
    /// Forgets a page token (its secret is deleted by the caller).
    async fn delete_page(&self, owner: &Owner, page_id: &str) -> Result<()>;
}

#[async_trait]
pub trait PendingStore: Send + Sync {
    /// Written before the secret it names is created.
    async fn put_pending(&self, pending: &PendingSecret) -> Result<()>;
    /// Writes the marker only where there is none: `false` when another writer holds it.
    async fn claim_pending(&self, pending: &PendingSecret) -> Result<bool>;
    async fn pending(&self, owner: &Owner, secret_name: &str) -> Result<Option<PendingSecret>>;
    async fn delete_pending(&self, pending: &PendingSecret) -> Result<()>;
}

/// Everything stored under a client besides its item, for offboarding.
#[async_trait]
pub trait ClientItems: Send + Sync {
    /// Deletes the client's datasets, minted tokens and pages; returns how many.
    async fn delete_client_items(&self, id: &ClientBusinessId) -> Result<usize>;
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// An event that goes with no other write (a partner event, an install notice).
    async fn put_event(&self, event: &Event) -> Result<()>;
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Records a change; `false` when the same change was recorded before.
    async fn record_change(&self, change: &WebhookChange) -> Result<bool>;
    async fn change(&self, hash: &str) -> Result<Option<WebhookChange>>;
    async fn save_change(&self, change: &WebhookChange) -> Result<()>;
}

#[async_trait]
pub trait DeletionStore: Send + Sync {
    async fn put_deletion(&self, deletion: &Deletion) -> Result<()>;
    async fn deletion(&self, code: &str) -> Result<Option<Deletion>>;
}

/// Number of shards of the `due` index.
pub const DUE_SHARDS: u8 = 8;

/// What waits in the `due` index.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DueKey {
    Client(ClientBusinessId),
    Webhook(String),
    Pending {
        owner: Owner,
        secret_name: String,
    },
    /// The partner's system user: its rotation, or a revocation to retry.
    Partner,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueEntry {
    pub key: DueKey,
    pub due_at: i64,
}

/// What waits in one shard of the queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Waiting {
    /// Entries due at or before the time asked about.
    pub count: u32,
    pub oldest_due_at: Option<i64>,
}

/// The one queue of deferred work: items whose `due_at` has come, claimed with a lease.
#[async_trait]
pub trait DueQueue: Send + Sync {
    /// Up to `limit` entries of `shard` due at or before `now`, oldest first.
    async fn due(&self, shard: u8, now: i64, limit: usize) -> Result<Vec<DueEntry>>;
    /// Moves the entry's `due_at` to `lease_until` if it is still what was read; `false` when
    /// another worker claimed it or it changed.
    async fn claim(&self, entry: &DueEntry, lease_until: i64) -> Result<bool>;
    /// How many entries of `shard` are due at `now`, and since when the oldest.
    async fn waiting(&self, shard: u8, now: i64) -> Result<Waiting>;
}

/// Every store the flows use, in one object.
pub trait Store:
    SessionStore
    + ClientStore
    + DatasetStore
    + MintedTokenStore
    + PageStore
    + PartnerStore
    + PendingStore
    + ClientItems
    + EventStore
    + WebhookStore
    + DeletionStore
    + DueQueue
{
}

impl<T> Store for T where
    T: SessionStore
        + ClientStore
        + DatasetStore
        + MintedTokenStore
        + PageStore
        + PartnerStore
        + PendingStore
        + ClientItems
        + EventStore
        + WebhookStore
        + DeletionStore
        + DueQueue
{
}

/// Where a secret value was stored: the version lets readers cache by version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSecret {
    pub name: String,
    pub version: String,
}

/// Every token this service holds lives in the vault, nowhere else.
#[async_trait]
pub trait TokenVault: Send + Sync {
    /// Creates the secret (tagged with the client and kind), or puts a new version.
    async fn put_token(&self, name: &str, secret: &TokenSecret) -> Result<StoredSecret>;
    /// One version of a token secret (the current one when `version` is `None`);
    /// `None` when the secret or that version does not exist.
    async fn token(&self, name: &str, version: Option<&str>) -> Result<Option<TokenSecret>>;
    /// The current version id of a secret, `None` when it does not exist.
    async fn current_version(&self, name: &str) -> Result<Option<String>>;
    /// Names of the secrets that start with `prefix`.
    async fn names_under(&self, prefix: &str) -> Result<Vec<String>>;
    /// Deletes a secret at once, without a recovery window; a missing one is fine.
    async fn force_delete(&self, name: &str) -> Result<()>;
}

/// Graph, one typed call per thing the logic asks. Calls made with a token carry
/// `appsecret_proof`; errors come back typed, for the flow to judge by whose token it was.
#[async_trait]
pub trait Graph: Send + Sync {
    /// Exchanges an authorization code; `redirect_uri` only for codes from the login dialog.
    /// Never retried.
    async fn exchange_code(
        &self,
        code: &SecretString,
        redirect_uri: Option<&Url>,
    ) -> Result<ExchangedToken, GraphError>;
    /// `GET /me?fields=client_business_id` with a BISU token.
    async fn me(&self, token: &SecretString) -> Result<MeBusiness, GraphError>;
    /// `GET /me` with any system user's token: its id.
    async fn me_id(&self, token: &SecretString) -> Result<String, GraphError>;
    /// Inspects a token with the app token.
    async fn debug_token(&self, token: &SecretString) -> Result<DebugToken, GraphError>;
    /// Every owned or shared pixel of a business, all pages.
    async fn pixels(
        &self,
        business: &ClientBusinessId,
        ownership: Ownership,
        token: &SecretString,
    ) -> Result<Vec<Pixel>, GraphError>;
    /// `POST /{business}/system_user_access_tokens`. Never retried: every call may mint.
    async fn system_user_access_token(
        &self,
        business: &ClientBusinessId,
        token: &SecretString,
        params: &MintParams,
    ) -> Result<SecretString, GraphError>;
    /// A fresh 60-day token for `token` (`fb_exchange_token`).
    async fn refresh_token(&self, token: &SecretString) -> Result<ExchangedToken, GraphError>;
    /// A stable page token (`GET /{page}?fields=access_token`) with a token that has a role on
    /// the page.
    async fn page_token(
        &self,
        page_id: &str,
        token: &SecretString,
    ) -> Result<SecretString, GraphError>;
    /// The pages a token has a role on (`GET /me/accounts`, all pages), without their tokens.
    async fn pages(&self, token: &SecretString) -> Result<Vec<PageInfo>, GraphError>;
    /// Installs the app for one of the partner's own system users (`POST /{su}/applications`).
    async fn install_app(
        &self,
        system_user_id: &SystemUserId,
        token: &SecretString,
    ) -> Result<(), GraphError>;
    /// Mints a token for one of the partner's own system users (`POST /{su}/access_tokens`).
    async fn mint_system_user_token(
        &self,
        system_user_id: &SystemUserId,
        token: &SecretString,
        scopes: &[String],
        expires_in_60_days: bool,
    ) -> Result<SecretString, GraphError>;
    /// Revokes a token at Meta (`/oauth/revoke`, the one call that carries a token in its URL).
    async fn revoke(&self, token: &SecretString) -> Result<(), GraphError>;
    /// Creates the On-Behalf-Of relationship (`POST /{partner_bm}/managed_businesses`) with the
    /// client admin's user token; repeating it is harmless.
    async fn add_managed_business(
        &self,
        partner_business_id: &str,
        client: &ClientBusinessId,
        user_token: &SecretString,
    ) -> Result<(), GraphError>;
    /// The token of the partner's system user in the client's Business Manager
    /// (`POST /{client_bm}/access_token`), with the partner's own system user token.
    async fn client_system_user_token(
        &self,
        client: &ClientBusinessId,
        partner_token: &SecretString,
        scopes: &[String],
    ) -> Result<SecretString, GraphError>;
    /// Assigns an asset to a system user (`POST /{asset}/assigned_users`) with the client
    /// admin's user token.
    async fn assign_asset(
        &self,
        asset: &Asset,
        system_user_id: &SystemUserId,
        user_token: &SecretString,
    ) -> Result<(), GraphError>;
    /// Ends an On-Behalf-Of relationship.
    async fn remove_managed_business(
        &self,
        partner_business_id: &str,
        client: &ClientBusinessId,
        token: &SecretString,
    ) -> Result<(), GraphError>;
    /// How work about `business` (or the app alone) should go now, from what Meta last said.
    fn pace(&self, business: Option<&ClientBusinessId>, now: i64) -> Pace;
}

/// How work that calls Graph should go, from Meta's usage headers and throttling answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pace {
    Go,
    /// Near the limit: one at a time.
    Slow,
    /// At or over the limit: start nothing new before `until` (epoch seconds).
    Stop {
        until: i64,
    },
}

/// Where the operator's signals go (CloudWatch, through the logs); never fails a flow.
pub trait Signals: Send + Sync {
    fn emit(&self, signal: Signal);
}

/// Wall-clock time in Unix seconds.
pub trait Clock: Send + Sync {
    fn now(&self) -> i64;
}

/// The ports a flow runs over, and the settings it reads. Built once per process.
#[derive(Clone)]
pub struct Ports {
    pub store: Arc<dyn Store>,
    pub vault: Arc<dyn TokenVault>,
    pub graph: Arc<dyn Graph>,
    pub clock: Arc<dyn Clock>,
    pub signals: Arc<dyn Signals>,
    pub settings: Arc<crate::settings::Settings>,
}
