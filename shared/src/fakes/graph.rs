//! A fake Graph: tokens, codes and pixels in memory, and any Meta error on any call.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use url::Url;

use super::{FakeClock, Interleaver};
use crate::model::{
    ClientBusinessId, DebugToken, ExchangedToken, GranularScope, GraphError, MeBusiness,
    MintParams, Ownership, Pixel,
};
use crate::ports::{Clock, Graph, Pace};

/// The fake's calls, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Call {
    ExchangeCode,
    Me,
    DebugToken,
    Pixels,
    Mint,
    Refresh,
    Revoke,
    AddManagedBusiness,
    ClientSystemUserToken,
    AssignAsset,
    InstallApp,
    MintSystemUserToken,
    PageToken,
    Pages,
    RemoveManagedBusiness,
}

/// A token the fake issued.
#[derive(Clone, Debug)]
pub struct FakeToken {
    pub business: Option<ClientBusinessId>,
    pub system_user_id: String,
    pub scopes: Vec<String>,
    pub granular: Vec<GranularScope>,
    pub valid: bool,
    pub app_id: String,
    pub expires_at: i64,
    /// A person's user token (a client admin's), not a system user's.
    pub user: bool,
}

#[derive(Default)]
struct State {
    tokens: HashMap<String, FakeToken>,
    codes: HashMap<String, String>,
    /// business -> its current BISU, what `fetch_only` returns.
    bisu: HashMap<ClientBusinessId, String>,
    pixels: HashMap<(ClientBusinessId, bool), Vec<Pixel>>,
    /// page id -> the business whose system user has a role on it (`None`: the partner's).
    pages: HashMap<String, Option<ClientBusinessId>>,
    faults: VecDeque<(Call, GraphError)>,
    calls: Vec<Call>,
    minted: usize,
    /// Client businesses the partner manages (On-Behalf-Of).
    managed: std::collections::HashSet<ClientBusinessId>,
    /// What `pace` answers, for the app (`None`) and per business.
    paces: HashMap<Option<ClientBusinessId>, Pace>,
    /// asset id -> the system user it is assigned to, with its tasks.
    assigned: HashMap<String, (String, Vec<String>)>,
}

pub struct FakeGraph {
    state: Mutex<State>,
    checkpoint: Arc<Interleaver>,
    clock: Arc<FakeClock>,
}

pub const APP_ID: &str = "1000000000000001";

fn pixel(id: &str) -> Pixel {
    serde_json::from_value(serde_json::json!({"id": id, "name": format!("Pixel {id}")}))
        .expect("a pixel")
}

impl FakeGraph {
    pub fn new(checkpoint: Arc<Interleaver>, clock: Arc<FakeClock>) -> Self {
        Self {
            state: Mutex::default(),
            checkpoint,
            clock,
        }
    }

    /// A code that exchanges for a new BISU of `business` with `scopes`; `granular` limits
    /// scopes to assets.
    /// From now on, `pace` answers `pace` for `business` (`None`: the app).
    pub fn set_pace(&self, business: Option<&str>, pace: Pace) {
        let business = business.map(|b| ClientBusinessId::parse(b).expect("a business id"));
        self.state.lock().unwrap().paces.insert(business, pace);
    }

    pub fn issue_code(
        &self,
        business: &str,
        system_user_id: &str,
        scopes: &[&str],
        granular: &[(&str, &[&str])],
    ) -> String {
        let mut s = self.state.lock().unwrap();
        let n = s.tokens.len() + 1;
        let token = format!("EAAfake{business}t{n}");
        let code = format!("code-{business}-{n}");
        let business = ClientBusinessId::parse(business).expect("digits");
        s.tokens.insert(
            token.clone(),
            FakeToken {
                business: Some(business.clone()),
                system_user_id: system_user_id.to_owned(),
                scopes: scopes.iter().map(|x| x.to_string()).collect(),
                granular: granular
                    .iter()
                    .map(|(scope, ids)| GranularScope {
                        scope: scope.to_string(),
                        target_ids: Some(ids.iter().map(|x| x.to_string()).collect()),
                    })
                    .collect(),
                valid: true,
                app_id: APP_ID.into(),
                expires_at: 0,
                user: false,
            },
        );
        s.bisu.insert(business, token.clone());
        s.codes.insert(code.clone(), token);
        code
    }

    /// A code from the On-Behalf-Of login: it exchanges for the client admin's user token.
    pub fn issue_obo_code(&self, business: &str) -> String {
        let mut s = self.state.lock().unwrap();
        let n = s.tokens.len() + 1;
        let token = format!("EAAfakeadmin{business}t{n}");
        let code = format!("obo-code-{business}-{n}");
        s.tokens.insert(
            token.clone(),
            FakeToken {
                business: Some(ClientBusinessId::parse(business).expect("digits")),
                system_user_id: format!("{business}8"),
                scopes: vec!["business_management".into()],
                granular: vec![],
                valid: true,
                app_id: APP_ID.into(),
                expires_at: self.clock.now() + 60 * 86400,
                user: true,
            },
        );
        s.codes.insert(code.clone(), token);
        code
    }

    /// The system user and tasks an asset is assigned to.
    pub fn assigned(&self, asset: &str) -> Option<(String, Vec<String>)> {
        self.state.lock().unwrap().assigned.get(asset).cloned()
    }

    pub fn manages(&self, business: &str) -> bool {
        let id = ClientBusinessId::parse(business).expect("digits");
        self.state.lock().unwrap().managed.contains(&id)
    }

    /// A valid token of the partner's own system user.
    pub fn partner_token(&self) -> String {
        let mut s = self.state.lock().unwrap();
        let token = "EAAfakepartner".to_owned();
        s.tokens.insert(
            token.clone(),
            FakeToken {
                business: None,
                system_user_id: "9000000000000001".into(),
                scopes: vec!["business_management".into()],
                granular: vec![],
                valid: true,
                app_id: APP_ID.into(),
                expires_at: 0,
                user: false,
            },
        );
        token
    }

    pub fn set_pixels(&self, business: &str, owned: &[&str], shared: &[&str]) {
        let id = ClientBusinessId::parse(business).expect("digits");
        let mut s = self.state.lock().unwrap();
        s.pixels
            .insert((id.clone(), true), owned.iter().map(|p| pixel(p)).collect());
        s.pixels
            .insert((id, false), shared.iter().map(|p| pixel(p)).collect());
    }

    /// Gives the business's system user a role on a page.
    pub fn add_page(&self, business: &str, page_id: &str) {
        let id = ClientBusinessId::parse(business).expect("digits");
        self.state
            .lock()
            .unwrap()
            .pages
            .insert(page_id.to_owned(), Some(id));
    }

    /// Gives the partner's own system user a role on a page.
    pub fn add_partner_page(&self, page_id: &str) {
        self.state
            .lock()
            .unwrap()
            .pages
            .insert(page_id.to_owned(), None);
    }

    /// Every token of the business dies, as after an uninstall.
    pub fn uninstall(&self, business: &str) {
        let mut s = self.state.lock().unwrap();
        for token in s.tokens.values_mut() {
            if token
                .business
                .as_ref()
                .is_some_and(|b| b.as_str() == business)
            {
                token.valid = false;
            }
        }
    }

    pub fn invalidate(&self, token: &str) {
        if let Some(t) = self.state.lock().unwrap().tokens.get_mut(token) {
            t.valid = false;
        }
    }

    pub fn expire_at(&self, token: &str, at: i64) {
        if let Some(t) = self.state.lock().unwrap().tokens.get_mut(token) {
            t.expires_at = at;
        }
    }

    /// The next call of `call` fails with `error`.
    pub fn fail(&self, call: Call, error: GraphError) {
        self.state.lock().unwrap().faults.push_back((call, error));
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn count(&self, call: Call) -> usize {
        self.calls().iter().filter(|c| **c == call).count()
    }

    /// Granular tokens minted for `business` that Meta still takes.
    pub fn live_minted(&self, business: &str) -> Vec<String> {
        let prefix = format!("EAAfakeminted{business}n");
        let s = self.state.lock().unwrap();
        s.tokens
            .iter()
            .filter(|(value, t)| value.starts_with(&prefix) && t.valid)
            .map(|(value, _)| value.clone())
            .collect()
    }

    pub fn is_valid(&self, token: &str) -> bool {
        self.state
            .lock()
            .unwrap()
            .tokens
            .get(token)
            .is_some_and(|t| t.valid)
    }

    async fn enter(&self, call: Call) -> Result<(), GraphError> {
        self.checkpoint.checkpoint(&format!("graph.{call:?}")).await;
        let mut s = self.state.lock().unwrap();
        s.calls.push(call);
        if let Some(at) = s.faults.iter().position(|(c, _)| *c == call) {
            let (_, err) = s.faults.remove(at).expect("found");
            return Err(err);
        }
        Ok(())
    }

    fn valid(&self, token: &SecretString) -> Result<FakeToken, GraphError> {
        let s = self.state.lock().unwrap();
        match s.tokens.get(token.expose_secret()) {
            Some(t) if t.valid => Ok(t.clone()),
            _ => Err(GraphError::meta(400, 190, Some(460))),
        }
    }
}

#[async_trait]
impl Graph for FakeGraph {
    async fn exchange_code(
        &self,
        code: &SecretString,
        _redirect_uri: Option<&Url>,
    ) -> Result<ExchangedToken, GraphError> {
        self.enter(Call::ExchangeCode).await?;
        let token = self
            .state
            .lock()
            .unwrap()
            .codes
            .remove(code.expose_secret())
            .ok_or_else(|| GraphError::meta(400, 100, Some(36009)))?;
        Ok(ExchangedToken {
            access_token: SecretString::from(token),
            expires_in: None,
            expires: None,
        })
    }

    async fn me(&self, token: &SecretString) -> Result<MeBusiness, GraphError> {
        self.enter(Call::Me).await?;
        let t = self.valid(token)?;
        Ok(MeBusiness {
            id: t.system_user_id,
            client_business_id: t.business.map(|b| b.to_string()),
        })
    }

    async fn me_id(&self, token: &SecretString) -> Result<String, GraphError> {
        self.enter(Call::Me).await?;
        Ok(self.valid(token)?.system_user_id)
    }

    async fn debug_token(&self, token: &SecretString) -> Result<DebugToken, GraphError> {
        self.enter(Call::DebugToken).await?;
        let s = self.state.lock().unwrap();
        let t = s.tokens.get(token.expose_secret());
        Ok(DebugToken {
            app_id: t.map(|t| t.app_id.clone()),
            token_type: Some("SYSTEM_USER".into()),
            is_valid: t.is_some_and(|t| t.valid),
            expires_at: t.map(|t| t.expires_at),
            scopes: t.map(|t| t.scopes.clone()).unwrap_or_default(),
            granular_scopes: t.map(|t| t.granular.clone()).unwrap_or_default(),
            user_id: t.map(|t| t.system_user_id.clone()),
        })
    }

    async fn pixels(
        &self,
        business: &ClientBusinessId,
        ownership: Ownership,
        token: &SecretString,
    ) -> Result<Vec<Pixel>, GraphError> {
        self.enter(Call::Pixels).await?;
        self.valid(token)?;
        let owned = ownership == Ownership::Owned;
        Ok(self
            .state
            .lock()
            .unwrap()
            .pixels
            .get(&(business.clone(), owned))
            .cloned()
            .unwrap_or_default())
    }

    async fn system_user_access_token(
        &self,
        business: &ClientBusinessId,
        token: &SecretString,
        params: &MintParams,
    ) -> Result<SecretString, GraphError> {
        self.enter(Call::Mint).await?;
        let caller = self.valid(token)?;
        let mut s = self.state.lock().unwrap();
        if params.fetch_only {
            return s
                .bisu
                .get(business)
                .filter(|t| s.tokens.get(*t).is_some_and(|t| t.valid))
                .map(|t| SecretString::from(t.clone()))
                .ok_or_else(|| GraphError::meta(400, 100, None));
        }
        if params.scopes.iter().any(|x| !caller.scopes.contains(x)) {
            return Err(GraphError::meta(400, 3962, None));
        }
        s.minted += 1;
        let minted = format!("EAAfakeminted{business}n{}", s.minted);
        let expires_at = if params.expires_in_60_days {
            self.clock.now() + 60 * 86400
        } else {
            0
        };
        s.tokens.insert(
            minted.clone(),
            FakeToken {
                scopes: params.scopes.clone(),
                granular: vec![],
                expires_at,
                ..caller
            },
        );
        Ok(SecretString::from(minted))
    }

    async fn refresh_token(&self, token: &SecretString) -> Result<ExchangedToken, GraphError> {
        self.enter(Call::Refresh).await?;
        let t = self.valid(token)?;
        let mut s = self.state.lock().unwrap();
        let fresh = format!("{}r", token.expose_secret());
        s.tokens.insert(
            fresh.clone(),
            FakeToken {
                expires_at: 0,
                ..t.clone()
            },
        );
        if let Some(business) = &t.business {
            s.bisu.insert(business.clone(), fresh.clone());
        }
        Ok(ExchangedToken {
            access_token: SecretString::from(fresh),
            expires_in: Some(60 * 86400),
            expires: None,
        })
    }

    async fn revoke(&self, token: &SecretString) -> Result<(), GraphError> {
        self.enter(Call::Revoke).await?;
        self.valid(token)?;
        self.invalidate(token.expose_secret());
        Ok(())
    }

    async fn install_app(
        &self,
        _system_user_id: &crate::model::SystemUserId,
        token: &SecretString,
    ) -> Result<(), GraphError> {
        self.enter(Call::InstallApp).await?;
        self.valid(token).map(drop)
    }

    async fn mint_system_user_token(
        &self,
        system_user_id: &crate::model::SystemUserId,
        token: &SecretString,
        scopes: &[String],
        expires_in_60_days: bool,
    ) -> Result<SecretString, GraphError> {
        self.enter(Call::MintSystemUserToken).await?;
        let caller = self.valid(token)?;
        let mut s = self.state.lock().unwrap();
        s.minted += 1;
        let minted = format!("EAAfakepartner{}n{}", system_user_id, s.minted);
        let expires_at = if expires_in_60_days {
            self.clock.now() + 60 * 86400
        } else {
            0
        };
        s.tokens.insert(
            minted.clone(),
            FakeToken {
                business: None,
                system_user_id: system_user_id.to_string(),
                scopes: scopes.to_vec(),
                granular: vec![],
                expires_at,
                ..caller
            },
        );
        Ok(SecretString::from(minted))
    }

    async fn page_token(
        &self,
        page_id: &str,
        token: &SecretString,
    ) -> Result<SecretString, GraphError> {
        self.enter(Call::PageToken).await?;
        let caller = self.valid(token)?;
        let mut s = self.state.lock().unwrap();
        if s.pages.get(page_id) != Some(&caller.business) {
            return Err(GraphError::meta(403, 200, None));
        }
        let page_token = format!("EAAfakepage{page_id}");
        s.tokens.insert(
            page_token.clone(),
            FakeToken {
                scopes: vec![],
                granular: vec![],
                ..caller
            },
        );
        Ok(SecretString::from(page_token))
    }

    async fn pages(&self, token: &SecretString) -> Result<Vec<crate::model::PageInfo>, GraphError> {
        self.enter(Call::Pages).await?;
        let caller = self.valid(token)?;
        let s = self.state.lock().unwrap();
        let mut pages: Vec<_> = s
            .pages
            .iter()
            .filter(|(_, b)| **b == caller.business)
            .map(|(id, _)| crate::model::PageInfo {
                id: id.clone(),
                name: Some(format!("Page {id}")),
                tasks: vec!["MANAGE".into()],
            })
            .collect();
        pages.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(pages)
    }

    async fn add_managed_business(
        &self,
        _partner_business_id: &str,
        client: &ClientBusinessId,
        user_token: &SecretString,
    ) -> Result<(), GraphError> {
        self.enter(Call::AddManagedBusiness).await?;
        let admin = self.valid(user_token)?;
        if !admin.user || admin.business.as_ref() != Some(client) {
            return Err(GraphError::meta(400, 42004, None));
        }
        self.state.lock().unwrap().managed.insert(client.clone());
        Ok(())
    }

    async fn client_system_user_token(
        &self,
        client: &ClientBusinessId,
        partner_token: &SecretString,
        scopes: &[String],
    ) -> Result<SecretString, GraphError> {
        self.enter(Call::ClientSystemUserToken).await?;
        let partner = self.valid(partner_token)?;
        let mut s = self.state.lock().unwrap();
        if partner.business.is_some() || !s.managed.contains(client) {
            return Err(GraphError::meta(403, 200, None));
        }
        s.minted += 1;
        let token = format!("EAAfakeobo{client}n{}", s.minted);
        s.tokens.insert(
            token.clone(),
            FakeToken {
                business: Some(client.clone()),
                system_user_id: format!("{client}7"),
                scopes: scopes.to_vec(),
                granular: vec![],
                valid: true,
                app_id: APP_ID.into(),
                expires_at: 0,
                user: false,
            },
        );
        Ok(SecretString::from(token))
    }

    async fn assign_asset(
        &self,
        asset: &crate::model::Asset,
        system_user_id: &crate::model::SystemUserId,
        user_token: &SecretString,
    ) -> Result<(), GraphError> {
        self.enter(Call::AssignAsset).await?;
        let admin = self.valid(user_token)?;
        if !admin.user {
            return Err(GraphError::meta(403, 200, None));
        }
        self.state.lock().unwrap().assigned.insert(
            asset.id.clone(),
            (system_user_id.to_string(), asset.tasks.clone()),
        );
        Ok(())
    }

    async fn remove_managed_business(
        &self,
        _partner_business_id: &str,
        _client: &ClientBusinessId,
        token: &SecretString,
    ) -> Result<(), GraphError> {
        self.enter(Call::RemoveManagedBusiness).await?;
        self.valid(token).map(drop)
    }

    fn pace(&self, business: Option<&ClientBusinessId>, _now: i64) -> Pace {
        let state = self.state.lock().unwrap();
        let app = state.paces.get(&None).copied().unwrap_or(Pace::Go);
        match business.and_then(|b| state.paces.get(&Some(b.clone()))) {
            Some(Pace::Go) | None => app,
            Some(own) => *own,
        }
    }
}
