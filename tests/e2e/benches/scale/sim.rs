//! What the benchmark puts around the real ports: a simulated clock, a Graph decorator that
//! records every call (whose token, when, how it went), and signals that are counted instead of
//! printed.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use shared::fakes::FakeClock;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use url::Url;

use shared::model::{
    Asset, ClientBusinessId, DebugToken, ExchangedToken, GraphError, MeBusiness, MintParams,
    Ownership, PageInfo, Pixel, Signal, SystemUserId,
};
use shared::ports::{Clock, Graph, Pace, Signals};

/// A token's name in the record: the first 16 hex digits of its SHA-256, never the value.
pub fn token_id(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))[..16].to_owned()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    DebugToken,
    Refresh,
    Pixels,
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// `debug_token`: whether the token is valid; other calls: `true`.
    Ok { valid: bool },
    /// Graph answered with an error (HTTP status and code).
    Refused { code: Option<i64> },
    /// Never sent: the adapter held it (throttled scope) or the network failed.
    NotSent { code: Option<i64> },
}

#[derive(Clone, Debug)]
pub struct Call {
    /// The run (set by the benchmark before each run).
    pub run: usize,
    pub at: i64,
    pub kind: Kind,
    /// The client business whose token (or business) the call is about.
    pub client: Option<String>,
    pub answer: Answer,
}

impl Call {
    /// Whether the call reached Graph.
    pub fn sent(&self) -> bool {
        !matches!(self.answer, Answer::NotSent { .. })
    }
}

#[derive(Default)]
struct Log {
    run: usize,
    calls: Vec<Call>,
    /// Token id -> client business id, for the tokens the benchmark seeded and their refreshes.
    owners: HashMap<String, String>,
}

/// The real Graph adapter, with every call recorded.
pub struct Recorder {
    inner: Arc<dyn Graph>,
    clock: Arc<FakeClock>,
    log: Mutex<Log>,
}

impl Recorder {
    pub fn new(inner: Arc<dyn Graph>, clock: Arc<FakeClock>) -> Self {
        Self {
            inner,
            clock,
            log: Mutex::default(),
        }
    }

    pub fn own(&self, token: &str, client: &str) {
        let mut log = self.log.lock().expect("log lock");
        log.owners.insert(token_id(token), client.to_owned());
    }

    pub fn set_run(&self, run: usize) {
        self.log.lock().expect("log lock").run = run;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls_since(0)
    }

    /// The calls recorded after the first `start`.
    pub fn calls_since(&self, start: usize) -> Vec<Call> {
        let log = self.log.lock().expect("log lock");
        log.calls.get(start..).unwrap_or_default().to_vec()
    }

    pub fn len(&self) -> usize {
        self.log.lock().expect("log lock").calls.len()
    }

    fn owner(&self, token: &SecretString) -> Option<String> {
        let log = self.log.lock().expect("log lock");
        log.owners.get(&token_id(token.expose_secret())).cloned()
    }

    fn record<T>(
        &self,
        kind: Kind,
        client: Option<String>,
        answer: &Result<T, GraphError>,
        valid: impl Fn(&T) -> bool,
    ) {
        let recorded = match answer {
            Ok(value) => Answer::Ok {
                valid: valid(value),
            },
            Err(err) if err.http_status.is_some() => Answer::Refused { code: err.code },
            Err(err) => Answer::NotSent { code: err.code },
        };
        let mut log = self.log.lock().expect("log lock");
        let call = Call {
            run: log.run,
            at: self.clock.now(),
            kind,
            client,
            answer: recorded,
        };
        log.calls.push(call);
    }

    fn other<T>(&self, answer: &Result<T, GraphError>) {
        self.record(Kind::Other, None, answer, |_| true);
    }
}

#[async_trait]
impl Graph for Recorder {
    async fn exchange_code(
        &self,
        code: &SecretString,
        redirect_uri: Option<&Url>,
    ) -> Result<ExchangedToken, GraphError> {
        let answer = self.inner.exchange_code(code, redirect_uri).await;
        self.other(&answer);
        answer
    }

    async fn me(&self, token: &SecretString) -> Result<MeBusiness, GraphError> {
        let answer = self.inner.me(token).await;
        self.other(&answer);
        answer
    }

    async fn me_id(&self, token: &SecretString) -> Result<String, GraphError> {
        let answer = self.inner.me_id(token).await;
        self.other(&answer);
        answer
    }

    async fn debug_token(&self, token: &SecretString) -> Result<DebugToken, GraphError> {
        let answer = self.inner.debug_token(token).await;
        self.record(Kind::DebugToken, self.owner(token), &answer, |d| d.is_valid);
        answer
    }

    async fn pixels(
        &self,
        business: &ClientBusinessId,
        ownership: Ownership,
        token: &SecretString,
    ) -> Result<Vec<Pixel>, GraphError> {
        let answer = self.inner.pixels(business, ownership, token).await;
        self.record(Kind::Pixels, Some(business.to_string()), &answer, |_| true);
        answer
    }

    async fn system_user_access_token(
        &self,
        business: &ClientBusinessId,
        token: &SecretString,
        params: &MintParams,
    ) -> Result<SecretString, GraphError> {
        let answer = self
            .inner
            .system_user_access_token(business, token, params)
            .await;
        self.other(&answer);
        answer
    }

    async fn refresh_token(&self, token: &SecretString) -> Result<ExchangedToken, GraphError> {
        let answer = self.inner.refresh_token(token).await;
        let owner = self.owner(token);
        if let (Ok(renewed), Some(client)) = (&answer, &owner) {
            self.own(renewed.access_token.expose_secret(), client);
        }
        self.record(Kind::Refresh, owner, &answer, |_| true);
        answer
    }

    async fn page_token(
        &self,
        page_id: &str,
        token: &SecretString,
    ) -> Result<SecretString, GraphError> {
        let answer = self.inner.page_token(page_id, token).await;
        self.other(&answer);
        answer
    }

    async fn pages(&self, token: &SecretString) -> Result<Vec<PageInfo>, GraphError> {
        let answer = self.inner.pages(token).await;
        self.other(&answer);
        answer
    }

    async fn install_app(
        &self,
        system_user_id: &SystemUserId,
        token: &SecretString,
    ) -> Result<(), GraphError> {
        let answer = self.inner.install_app(system_user_id, token).await;
        self.other(&answer);
        answer
    }

    async fn mint_system_user_token(
        &self,
        system_user_id: &SystemUserId,
        token: &SecretString,
        scopes: &[String],
        expires_in_60_days: bool,
    ) -> Result<SecretString, GraphError> {
        let answer = self
            .inner
            .mint_system_user_token(system_user_id, token, scopes, expires_in_60_days)
            .await;
        self.other(&answer);
        answer
    }

    async fn revoke(&self, token: &SecretString) -> Result<(), GraphError> {
        let answer = self.inner.revoke(token).await;
        self.other(&answer);
        answer
    }

    async fn add_managed_business(
        &self,
        partner_business_id: &str,
        client: &ClientBusinessId,
        user_token: &SecretString,
    ) -> Result<(), GraphError> {
        let answer = self
            .inner
            .add_managed_business(partner_business_id, client, user_token)
            .await;
        self.other(&answer);
        answer
    }

    async fn client_system_user_token(
        &self,
        client: &ClientBusinessId,
        partner_token: &SecretString,
        scopes: &[String],
    ) -> Result<SecretString, GraphError> {
        let answer = self
            .inner
            .client_system_user_token(client, partner_token, scopes)
            .await;
        self.other(&answer);
        answer
    }

    async fn assign_asset(
        &self,
        asset: &Asset,
        system_user_id: &SystemUserId,
        user_token: &SecretString,
    ) -> Result<(), GraphError> {
        let answer = self
            .inner
            .assign_asset(asset, system_user_id, user_token)
            .await;
        self.other(&answer);
        answer
    }

    async fn remove_managed_business(
        &self,
        partner_business_id: &str,
        client: &ClientBusinessId,
        token: &SecretString,
    ) -> Result<(), GraphError> {
        let answer = self
            .inner
            .remove_managed_business(partner_business_id, client, token)
            .await;
        self.other(&answer);
        answer
    }

    fn pace(&self, business: Option<&ClientBusinessId>, now: i64) -> Pace {
        self.inner.pace(business, now)
    }
}

/// Signals counted by kind instead of printed as EMF lines.
#[derive(Default)]
pub struct CountedSignals {
    counts: Mutex<HashMap<String, u64>>,
}

impl CountedSignals {
    pub fn count(&self, name: &str) -> u64 {
        let counts = self.counts.lock().expect("signals lock");
        counts.get(name).copied().unwrap_or(0)
    }
}

impl Signals for CountedSignals {
    fn emit(&self, signal: Signal) {
        let name = format!("{signal:?}");
        let name = name.split('(').next().unwrap_or_default().to_owned();
        *self
            .counts
            .lock()
            .expect("signals lock")
            .entry(name)
            .or_default() += 1;
    }
}
