//! An in-memory state store with DynamoDB's conditions: versions, the fence, single-use
//! sessions, the `due` index and its leases.

use async_trait::async_trait;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::Interleaver;
use crate::error::{Error, Result};
use crate::model::{
    Client, ClientBusinessId, ClientStatus, Dataset, Deletion, Event, MintedToken, Owner,
    PageToken, PartnerRef, PartnerSystemUser, PendingSecret, Session, SessionState, SessionStatus,
    SystemUserId, WebhookChange,
};
use crate::ports::{
    Also, ClientItems, ClientStore, Conflict, DatasetStore, DeletionStore, DueEntry, DueKey,
    DueQueue, EventStore, MintedTokenStore, PageStore, PartnerStore, PendingStore, SessionStore,
    Waiting, WebhookStore,
};

#[derive(Default)]
pub struct State {
    pub sessions: HashMap<String, Session>,
    pub clients: BTreeMap<ClientBusinessId, Client>,
    pub datasets: BTreeMap<(ClientBusinessId, String), Dataset>,
    pub minted: BTreeMap<(ClientBusinessId, String), MintedToken>,
    pub pending: BTreeMap<(Owner, String), PendingSecret>,
    pub pages: BTreeMap<(Owner, String), PageToken>,
    pub partner: Option<PartnerSystemUser>,
    pub refs: BTreeSet<(String, ClientBusinessId)>,
    pub users: BTreeSet<(SystemUserId, ClientBusinessId)>,
    pub events: Vec<Event>,
    pub webhooks: BTreeMap<String, WebhookChange>,
    pub deletions: HashMap<String, Deletion>,
    pub due: BTreeMap<DueKey, i64>,
}

pub struct MemoryStore {
    state: Mutex<State>,
    checkpoint: Arc<Interleaver>,
    /// Set: every call fails as DynamoDB would when unreachable.
    pub down: AtomicBool,
    /// `save_client` calls that applied their writes, counted from the start.
    client_writes: AtomicUsize,
    /// The applied `save_client` (1-based) answered as a stale conflict instead, as when the
    /// SDK's retry of a write whose answer was lost meets that write's own result (0: none).
    lose_client_answer_at: AtomicUsize,
    /// The next this many `save_client` calls find that another writer got there first: the
    /// stored client's version moves on just before the check, as when racing requests win.
    rival_client_writes: AtomicUsize,
    /// The next this many `claim_pending` calls write the marker but answer `false`, as when
    /// the answer is lost and the SDK's retry meets the write's own result.
    pub lost_claim_answers: AtomicUsize,
}

impl MemoryStore {
    pub fn new(checkpoint: Arc<Interleaver>) -> Self {
        Self {
            state: Mutex::default(),
            checkpoint,
            down: AtomicBool::new(false),
            client_writes: AtomicUsize::new(0),
            lose_client_answer_at: AtomicUsize::new(0),
            rival_client_writes: AtomicUsize::new(0),
            lost_claim_answers: AtomicUsize::new(0),
        }
    }

    /// `save_client` calls that applied their writes so far.
    pub fn client_writes(&self) -> usize {
        self.client_writes.load(Ordering::SeqCst)
    }

    /// Loses the answer of the `at`th applied `save_client` from now (see the field).
    pub fn lose_client_answer_at(&self, at: usize) {
        let base = self.client_writes();
        self.lose_client_answer_at
            .store(base + at, Ordering::SeqCst);
    }

    /// Lets another writer win the race for the client item the next `times` times.
    pub fn rival_client_writes(&self, times: usize) {
        self.rival_client_writes.store(times, Ordering::SeqCst);
    }

    /// Reads the state, for assertions.
    pub fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.state.lock().unwrap())
    }

    /// Changes the state directly, to set up a test.
    pub fn write<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    async fn enter(&self, what: &str) -> Result<std::sync::MutexGuard<'_, State>> {
        self.checkpoint.checkpoint(what).await;
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::StorageUnavailable(what.to_owned()));
        }
        Ok(self.state.lock().unwrap())
    }
}

fn is_active(state: &State, id: &ClientBusinessId) -> bool {
    state
        .clients
        .get(id)
        .is_some_and(|c| c.status == ClientStatus::Active)
}

fn set_due(state: &mut State, key: DueKey, at: Option<i64>) {
    match at {
        Some(at) => state.due.insert(key, at),
        None => state.due.remove(&key),
    };
}

fn clear_pending(state: &mut State, pending: &PendingSecret) {
    let (owner, secret_name) = (pending.owner.clone(), pending.secret_name.clone());
    state.pending.remove(&(owner.clone(), secret_name.clone()));
    state.due.remove(&DueKey::Pending { owner, secret_name });
}

fn put_marker(state: &mut State, pending: &PendingSecret) {
    let key = (pending.owner.clone(), pending.secret_name.clone());
    state.pending.insert(key.clone(), pending.clone());
    state.due.insert(
        DueKey::Pending {
            owner: key.0,
            secret_name: key.1,
        },
        pending.due_at,
    );
}

fn ref_key(partner_ref: &PartnerRef) -> String {
    partner_ref.as_str().to_owned()
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create_session(&self, state: &SessionState, session: &Session) -> Result<()> {
        let mut s = self.enter("store.create_session").await?;
        s.sessions
            .insert(state.expose().to_owned(), session.clone());
        Ok(())
    }

    async fn session(&self, state: &SessionState) -> Result<Option<Session>> {
        let s = self.enter("store.session").await?;
        Ok(s.sessions.get(state.expose()).cloned())
    }

    async fn bind_browser(&self, state: &SessionState, browser: &str) -> Result<bool> {
        let mut s = self.enter("store.bind_browser").await?;
        let Some(session) = s.sessions.get_mut(state.expose()) else {
            return Ok(false);
        };
        match &session.browser {
            Some(bound) => Ok(bound == browser),
            None => {
                session.browser = Some(browser.to_owned());
                Ok(true)
            }
        }
    }

    async fn claim_session(
        &self,
        state: &SessionState,
        now: i64,
        lease_until: i64,
    ) -> Result<bool> {
        let mut s = self.enter("store.claim_session").await?;
        let Some(session) = s.sessions.get_mut(state.expose()) else {
            return Ok(false);
        };
        let claimable = match session.status {
            SessionStatus::Pending => session.expires_at > now,
            SessionStatus::Claimed => session.claimed_until.is_some_and(|until| until < now),
            SessionStatus::Completed => false,
        };
        if claimable {
            session.status = SessionStatus::Claimed;
            session.claimed_until = Some(lease_until);
        }
        Ok(claimable)
    }

    async fn release_session(&self, state: &SessionState) -> Result<()> {
        let mut s = self.enter("store.release_session").await?;
        if let Some(session) = s.sessions.get_mut(state.expose())
            && session.status == SessionStatus::Claimed
        {
            session.status = SessionStatus::Pending;
            session.claimed_until = None;
        }
        Ok(())
    }
}

#[async_trait]
impl ClientStore for MemoryStore {
    async fn client(&self, id: &ClientBusinessId) -> Result<Option<Client>> {
        let s = self.enter("store.client").await?;
        Ok(s.clients.get(id).cloned())
    }

    async fn save_client(
        &self,
        client: &Client,
        expected_version: Option<u64>,
        also: &[Also<'_>],
    ) -> Result<Result<(), Conflict>> {
        let mut s = self.enter("store.save_client").await?;
        let id = &client.client_business_id;
        if super::take_one(&self.rival_client_writes)
            && let Some(stored) = s.clients.get_mut(id)
        {
            stored.version += 1;
        }
        let stored = s.clients.get(id).map(|c| c.version);
        if stored != expected_version {
            return Ok(Err(Conflict::Stale));
        }
        for write in also {
            if let Also::CompleteSession { state, .. } = write
                && s.sessions
                    .get(state.expose())
                    .is_none_or(|session| session.status != SessionStatus::Claimed)
            {
                return Ok(Err(Conflict::Stale));
            }
        }
        s.clients.insert(id.clone(), client.clone());
        set_due(&mut s, DueKey::Client(id.clone()), client.next_check_at);
        for write in also {
            match write {
                Also::Event(event) => s.events.push((*event).clone()),
                Also::PartnerRef {
                    partner_ref,
                    previous,
                } => {
                    if let Some(previous) = previous {
                        s.refs.remove(&(ref_key(previous), id.clone()));
                    }
                    s.refs.insert((ref_key(partner_ref), id.clone()));
                }
                Also::UserIndex(user) => {
                    s.users.insert(((*user).clone(), id.clone()));
                }
                Also::CompleteSession { state, result } => {
                    let session = s.sessions.get_mut(state.expose()).expect("checked above");
                    session.status = SessionStatus::Completed;
                    session.claimed_until = None;
                    session.result = Some((*result).clone());
                }
                Also::ClearPending(pending) => clear_pending(&mut s, pending),
            }
        }
        let applied = self.client_writes.fetch_add(1, Ordering::SeqCst) + 1;
        if applied == self.lose_client_answer_at.load(Ordering::SeqCst) {
            return Ok(Err(Conflict::Stale));
        }
        Ok(Ok(()))
    }

    async fn clients_of_user(&self, user: &SystemUserId) -> Result<Vec<ClientBusinessId>> {
        let s = self.enter("store.clients_of_user").await?;
        Ok(s.users
            .iter()
            .filter(|(u, _)| u == user)
            .map(|(_, id)| id.clone())
            .collect())
    }
}

#[async_trait]
impl DatasetStore for MemoryStore {
    async fn datasets(&self, id: &ClientBusinessId) -> Result<Vec<Dataset>> {
        let s = self.enter("store.datasets").await?;
        Ok(s.datasets
            .iter()
            .filter(|((owner, _), _)| owner == id)
            .map(|(_, d)| d.clone())
            .collect())
    }

    async fn write_datasets(
        &self,
        id: &ClientBusinessId,
        datasets: &[Dataset],
        removed: &[String],
    ) -> Result<Result<(), Conflict>> {
        let mut s = self.enter("store.write_datasets").await?;
        if !is_active(&s, id) {
            return Ok(Err(Conflict::Stale));
        }
        for d in datasets {
            s.datasets.insert((id.clone(), d.id.clone()), d.clone());
        }
        for pixel in removed {
            s.datasets.remove(&(id.clone(), pixel.clone()));
        }
        Ok(Ok(()))
    }
}

#[async_trait]
impl MintedTokenStore for MemoryStore {
    async fn minted_token(
        &self,
        id: &ClientBusinessId,
        token_id: &str,
    ) -> Result<Option<MintedToken>> {
        let s = self.enter("store.minted_token").await?;
        Ok(s.minted.get(&(id.clone(), token_id.to_owned())).cloned())
    }

    async fn put_minted_token(
        &self,
        id: &ClientBusinessId,
        token: &MintedToken,
        event: &Event,
        clear: Option<&PendingSecret>,
    ) -> Result<Result<(), Conflict>> {
        let mut s = self.enter("store.put_minted_token").await?;
        if !is_active(&s, id) {
            return Ok(Err(Conflict::Stale));
        }
        s.minted
            .insert((id.clone(), token.token_id.clone()), token.clone());
        s.events.push(event.clone());
        if let Some(pending) = clear {
            clear_pending(&mut s, pending);
        }
        Ok(Ok(()))
    }

    async fn minted_tokens(&self, id: &ClientBusinessId) -> Result<Vec<MintedToken>> {
        let s = self.enter("store.minted_tokens").await?;
        Ok(s.minted
            .iter()
            .filter(|((owner, _), _)| owner == id)
            .map(|(_, t)| t.clone())
            .collect())
    }

    async fn delete_minted_token(&self, id: &ClientBusinessId, token_id: &str) -> Result<()> {
        let mut s = self.enter("store.delete_minted_token").await?;
        s.minted.remove(&(id.clone(), token_id.to_owned()));
        Ok(())
    }
}

#[async_trait]
impl PartnerStore for MemoryStore {
    async fn partner_system_user(&self) -> Result<Option<PartnerSystemUser>> {
        let s = self.enter("store.partner_system_user").await?;
        Ok(s.partner.clone())
    }

    async fn save_partner_system_user(
        &self,
        item: &PartnerSystemUser,
        expected_version: Option<u64>,
        event: Option<&Event>,
        pending: Option<&PendingSecret>,
    ) -> Result<Result<(), Conflict>> {
        let mut s = self.enter("store.save_partner_system_user").await?;
        if s.partner.as_ref().map(|p| p.version) != expected_version {
            return Ok(Err(Conflict::Stale));
        }
        s.partner = Some(item.clone());
        set_due(&mut s, DueKey::Partner, item.next_check_at);
        s.events.extend(event.cloned());
        if let Some(pending) = pending {
            clear_pending(&mut s, pending);
        }
        Ok(Ok(()))
    }
}

#[async_trait]
impl PageStore for MemoryStore {
    async fn page(&self, owner: &Owner, page_id: &str) -> Result<Option<PageToken>> {
        let s = self.enter("store.page").await?;
        Ok(s.pages.get(&(owner.clone(), page_id.to_owned())).cloned())
    }

    async fn pages(&self, owner: &Owner) -> Result<Vec<PageToken>> {
        let s = self.enter("store.pages").await?;
        Ok(s.pages
            .iter()
            .filter(|((o, _), _)| o == owner)
            .map(|(_, p)| p.clone())
            .collect())
    }

    async fn put_page(
        &self,
        owner: &Owner,
        page: &PageToken,
        pending: &PendingSecret,
    ) -> Result<Result<(), Conflict>> {
        let mut s = self.enter("store.put_page").await?;
        if let Owner::Client(id) = owner
            && !s.clients.get(id).is_some_and(|c| {
                matches!(c.status, ClientStatus::Active | ClientStatus::Incomplete)
            })
        {
            return Ok(Err(Conflict::Stale));
        }
        s.pages
            .insert((owner.clone(), page.page_id.clone()), page.clone());
        clear_pending(&mut s, pending);
        Ok(Ok(()))
    }

    async fn delete_page(&self, owner: &Owner, page_id: &str) -> Result<()> {
        let mut s = self.enter("store.delete_page").await?;
        s.pages.remove(&(owner.clone(), page_id.to_owned()));
        Ok(())
    }
}

#[async_trait]
impl PendingStore for MemoryStore {
    async fn put_pending(&self, pending: &PendingSecret) -> Result<()> {
        let mut s = self.enter("store.put_pending").await?;
        put_marker(&mut s, pending);
        Ok(())
    }

    async fn claim_pending(&self, pending: &PendingSecret) -> Result<bool> {
        let mut s = self.enter("store.claim_pending").await?;
        let key = (pending.owner.clone(), pending.secret_name.clone());
        if s.pending.contains_key(&key) {
            return Ok(false);
        }
        put_marker(&mut s, pending);
        Ok(!super::take_one(&self.lost_claim_answers))
    }

    async fn pending(&self, owner: &Owner, secret_name: &str) -> Result<Option<PendingSecret>> {
        let s = self.enter("store.pending").await?;
        Ok(s.pending
            .get(&(owner.clone(), secret_name.to_owned()))
            .cloned())
    }

    async fn delete_pending(&self, pending: &PendingSecret) -> Result<()> {
        let mut s = self.enter("store.delete_pending").await?;
        clear_pending(&mut s, pending);
        Ok(())
    }
}

#[async_trait]
impl ClientItems for MemoryStore {
    async fn delete_client_items(&self, id: &ClientBusinessId) -> Result<usize> {
        let mut s = self.enter("store.delete_client_items").await?;
        let count = |s: &State| s.datasets.len() + s.minted.len() + s.pending.len() + s.pages.len();
        let before = count(&s);
        let held = Owner::Client(id.clone());
        s.datasets.retain(|(owner, _), _| owner != id);
        s.minted.retain(|(owner, _), _| owner != id);
        s.pending.retain(|(owner, _), _| *owner != held);
        s.pages.retain(|(owner, _), _| *owner != held);
        s.due
            .retain(|key, _| !matches!(key, DueKey::Pending { owner, .. } if *owner == held));
        Ok(before - count(&s))
    }
}

#[async_trait]
impl EventStore for MemoryStore {
    async fn put_event(&self, event: &Event) -> Result<()> {
        let mut s = self.enter("store.put_event").await?;
        s.events.push(event.clone());
        Ok(())
    }
}

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn record_change(&self, change: &WebhookChange) -> Result<bool> {
        let mut s = self.enter("store.record_change").await?;
        if s.webhooks.contains_key(&change.hash) {
            return Ok(false);
        }
        s.webhooks.insert(change.hash.clone(), change.clone());
        set_due(
            &mut s,
            DueKey::Webhook(change.hash.clone()),
            change.next_attempt_at,
        );
        Ok(true)
    }

    async fn change(&self, hash: &str) -> Result<Option<WebhookChange>> {
        let s = self.enter("store.change").await?;
        Ok(s.webhooks.get(hash).cloned())
    }

    async fn save_change(&self, change: &WebhookChange) -> Result<()> {
        let mut s = self.enter("store.save_change").await?;
        s.webhooks.insert(change.hash.clone(), change.clone());
        set_due(
            &mut s,
            DueKey::Webhook(change.hash.clone()),
            change.next_attempt_at,
        );
        Ok(())
    }
}

#[async_trait]
impl DeletionStore for MemoryStore {
    async fn put_deletion(&self, deletion: &Deletion) -> Result<()> {
        let mut s = self.enter("store.put_deletion").await?;
        s.deletions
            .insert(deletion.confirmation_code.clone(), deletion.clone());
        Ok(())
    }

    async fn deletion(&self, code: &str) -> Result<Option<Deletion>> {
        let s = self.enter("store.deletion").await?;
        Ok(s.deletions.get(code).cloned())
    }
}

/// The shard of an entry: spread like DynamoDB's, by a hash of the key, so a sweep that
/// forgot a shard would miss work here too.
fn shard_of(key: &DueKey) -> u8 {
    let text = format!("{key:?}");
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (hash % u64::from(crate::ports::DUE_SHARDS)) as u8
}

/// A shard's entries due at `now`, oldest first.
fn due_in(s: &State, shard: u8, now: i64) -> Vec<DueEntry> {
    let mut entries: Vec<DueEntry> = s
        .due
        .iter()
        .filter(|(key, at)| **at <= now && shard_of(key) == shard)
        .map(|(key, at)| DueEntry {
            key: key.clone(),
            due_at: *at,
        })
        .collect();
    entries.sort_by_key(|e| e.due_at);
    entries
}

#[async_trait]
impl DueQueue for MemoryStore {
    async fn due(&self, shard: u8, now: i64, limit: usize) -> Result<Vec<DueEntry>> {
        let s = self.enter("store.due").await?;
        let mut entries = due_in(&s, shard, now);
        entries.truncate(limit);
        Ok(entries)
    }

    async fn waiting(&self, shard: u8, now: i64) -> Result<Waiting> {
        let s = self.enter("store.waiting").await?;
        let entries = due_in(&s, shard, now);
        Ok(Waiting {
            count: entries.len() as u32,
            oldest_due_at: entries.first().map(|e| e.due_at),
        })
    }

    async fn claim(&self, entry: &DueEntry, lease_until: i64) -> Result<bool> {
        let mut s = self.enter("store.claim").await?;
        match s.due.get_mut(&entry.key) {
            Some(at) if *at == entry.due_at => {
                *at = lease_until;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
