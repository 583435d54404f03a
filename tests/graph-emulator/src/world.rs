//! The emulator's state: apps, businesses, codes, tokens and their lineage, faults, the request log.

use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::faults::Faults;
use crate::usage::AppUsage;

#[derive(Clone, Debug, Deserialize)]
pub struct Seed {
    pub apps: Vec<App>,
    pub businesses: Vec<Business>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct App {
    pub id: String,
    pub secret: String,
    pub name: String,
    #[serde(default)]
    pub require_appsecret_proof: bool,
    pub configs: Vec<LoginConfig>,
    /// The Business Manager that owns the app (the partner's): its system users install it and
    /// mint tokens for it, and it is the partner of On-Behalf-Of relationships.
    #[serde(default)]
    pub business_id: Option<String>,
    /// Permissions a system user token of this app may be minted with; empty: any.
    #[serde(default)]
    pub permissions: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct LoginConfig {
    pub id: String,
    /// `bisu` (business integration system user token) or `user`.
    pub kind: String,
    pub scopes: Vec<String>,
    /// Scopes whose grant is limited to the business's assets (`target_ids`).
    #[serde(default)]
    pub targeted_scopes: Vec<String>,
    /// Lifetime of issued tokens; absent: they never expire (usual for BISU).
    #[serde(default)]
    pub token_expires_in: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Business {
    pub id: String,
    pub name: String,
    /// The app-scoped id of the business integration system user (BISU) of its logins.
    #[serde(default)]
    pub system_user_id: String,
    #[serde(default)]
    pub pixels: Vec<Asset>,
    #[serde(default)]
    pub pages: Vec<Asset>,
    /// Pixels other businesses shared with this one (`client_pixels`).
    #[serde(default)]
    pub shared_pixels: Vec<Asset>,
    /// Serve an empty page (with `next`) after the first page of each pixel list.
    #[serde(default)]
    pub empty_page: bool,
    #[serde(default)]
    pub catalogs: Vec<Asset>,
    /// Ids written as Graph's nodes are, `act_<number>`.
    #[serde(default)]
    pub ad_accounts: Vec<Asset>,
    /// Admin users (people): they log in with the user-token configuration (On-Behalf-Of).
    #[serde(default)]
    pub admins: Vec<Person>,
    /// System users of the business (not the BISU): the partner's own, or one created in a
    /// client business On Behalf Of a partner.
    #[serde(default)]
    pub system_users: Vec<SystemUser>,
    /// Its system user tokens must expire: minting one without `set_token_expires_in_60_days`
    /// fails.
    #[serde(default)]
    pub requires_expiring_tokens: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Asset {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_business_id: Option<String>,
    /// Who has a role on the asset (pages, catalogs, ad accounts) and with which tasks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Role>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Role {
    /// A (system) user id.
    pub user: String,
    pub tasks: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Person {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SystemUser {
    pub id: String,
    pub name: String,
    /// `ADMIN` or `EMPLOYEE`.
    #[serde(default = "employee")]
    pub role: String,
    /// For a system user created On Behalf Of a partner: the partner's business.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
}

fn employee() -> String {
    "EMPLOYEE".into()
}

/// What kind of asset an id is, for `assigned_users`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssetKind {
    Page,
    Catalog,
    AdAccount,
    Pixel,
}

impl AssetKind {
    /// The tasks `POST /{asset}/assigned_users` accepts for this kind.
    pub fn tasks(self) -> &'static [&'static str] {
        match self {
            AssetKind::Page => &[
                "MANAGE",
                "CREATE_CONTENT",
                "MODERATE",
                "MESSAGING",
                "ADVERTISE",
                "ANALYZE",
            ],
            AssetKind::Catalog => &["MANAGE", "ADVERTISE", "MANAGE_AR", "AA_ANALYZE"],
            AssetKind::AdAccount => &["MANAGE", "ADVERTISE", "ANALYZE", "DRAFT"],
            AssetKind::Pixel => &[],
        }
    }
}

/// A token revoked with `/oauth/revoke`: no token value, only its id.
#[derive(Clone, Debug, Serialize)]
pub struct Revocation {
    pub token_id: String,
    pub app_id: String,
    pub kind: TokenKind,
    pub business_id: String,
    pub user_id: String,
    pub revoked_at: u64,
    /// Tokens derived from it (page tokens...) that died with it.
    pub descendants_invalidated: usize,
}

pub struct Code {
    pub app_id: String,
    pub config_id: String,
    pub business_id: String,
    /// `None` for codes handed to `FB.login`: no `redirect_uri` may be sent with them.
    pub redirect_uri: Option<String>,
    /// For a user-token configuration: the admin who logged in.
    pub user_id: Option<String>,
    pub issued: Instant,
    pub used: bool,
}

#[derive(Clone)]
pub struct Token {
    pub app_id: String,
    pub kind: TokenKind,
    pub business_id: String,
    pub system_user_id: String,
    pub scopes: Vec<String>,
    pub granular: Vec<(String, Option<Vec<String>>)>,
    pub issued_at: u64,
    /// Order of issue, to find the newest.
    pub issued_seq: u64,
    pub expires_at: u64,
    pub valid: bool,
    /// Why an invalid token died: the `error_subcode` of its 190 (460 session invalidated,
    /// 458 app removed).
    pub invalid_subcode: i64,
    /// Issued by a Login for Business login (not minted from another token).
    pub bisu: bool,
    /// The token this one was derived from (a granular or page token): it dies with it.
    pub parent: Option<String>,
    /// The page a page token stands for.
    pub page_id: Option<String>,
    /// A client system user's token (On-Behalf-Of): the partner business whose relationship it
    /// lives by; removing the relationship kills it.
    pub obo_partner: Option<String>,
}

/// A session invalidated (password change, security): 190 with this subcode.
pub const SESSION_INVALIDATED: i64 = 460;
/// The app was removed (uninstalled) for this user or business: 190 with this subcode.
pub const APP_NOT_INSTALLED: i64 = 458;
/// Revoked with `/oauth/revoke` (or derived from a revoked token): 190 with this subcode
/// ("Access token has expired, been revoked, or is otherwise invalid").
pub const REVOKED: i64 = 467;
/// Sixty days, in seconds: the life of an expiring system user or user token.
pub const SIXTY_DAYS: u64 = 60 * 24 * 3600;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// A BISU, a token derived from one, or a client system user's token (On-Behalf-Of).
    SystemUser,
    /// A person's token (an admin who logged in with a user-token configuration).
    User,
    /// A system user of the partner's own business (the app's owner).
    Partner,
    /// A page token, derived from a (system) user token with a role on the page.
    Page,
}

#[derive(Clone, Debug, Serialize)]
pub struct LogEntry {
    pub seq: u64,
    pub method: String,
    /// The path after the version, e.g. `/me`.
    pub path: String,
    pub version: String,
    /// Path and query exactly as requested, to check no token sits in a URL.
    pub url: String,
    pub body_keys: Vec<String>,
    pub token_kind: Option<String>,
    pub appsecret_proof: Option<String>,
    pub proof_valid: Option<bool>,
    pub status: u16,
}

pub struct World {
    pub apps: Vec<App>,
    pub businesses: Vec<Business>,
    pub codes: HashMap<String, Code>,
    pub tokens: HashMap<String, Token>,
    /// Every `signed_request` built, for the same leak checks as tokens and codes.
    pub signed_requests: Vec<String>,
    pub faults: Faults,
    pub log: Vec<LogEntry>,
    pub code_lifetime: Duration,
    /// What every Graph answer reports in `X-App-Usage`.
    pub app_usage: AppUsage,
    /// Apps installed for system users: (system user id, app id).
    pub installs: BTreeSet<(String, String)>,
    /// On-Behalf-Of relationships: (partner business id, client business id).
    pub managed: BTreeSet<(String, String)>,
    pub revoked: Vec<Revocation>,
    /// Businesses whose use case is throttled until lifted (`/_emulator/throttles`).
    pub throttles: HashMap<String, crate::scale::BusinessThrottle>,
}

pub fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub fn random_text(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A token's id for read-outs: the first 16 hex digits of its SHA-256, never the value.
pub fn token_id(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))[..16].to_owned()
}

pub fn random_id() -> String {
    let mut rng = rand::rng();
    format!(
        "{}{:014}",
        rng.random_range(1..=9),
        rng.random_range(0..100_000_000_000_000u64)
    )
}

impl World {
    pub fn new(seed: Seed) -> Self {
        Self {
            apps: seed.apps,
            businesses: seed.businesses,
            codes: HashMap::new(),
            tokens: HashMap::new(),
            signed_requests: Vec::new(),
            faults: Faults::default(),
            log: Vec::new(),
            code_lifetime: Duration::from_secs(600),
            app_usage: AppUsage::default(),
            installs: BTreeSet::new(),
            managed: BTreeSet::new(),
            revoked: Vec::new(),
            throttles: HashMap::new(),
        }
    }

    pub fn app(&self, id: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.id == id)
    }

    pub fn business(&self, id: &str) -> Option<&Business> {
        self.businesses.iter().find(|b| b.id == id)
    }

    pub fn config(&self, app_id: &str, config_id: &str) -> Option<&LoginConfig> {
        self.app(app_id)?.configs.iter().find(|c| c.id == config_id)
    }

    pub fn issue_code(
        &mut self,
        app_id: &str,
        config_id: &str,
        business_id: &str,
        redirect_uri: Option<String>,
        user_id: Option<String>,
    ) -> String {
        let code = format!("AQ{}", random_text(250));
        self.codes.insert(
            code.clone(),
            Code {
                app_id: app_id.into(),
                config_id: config_id.into(),
                business_id: business_id.into(),
                redirect_uri,
                user_id,
                issued: Instant::now(),
                used: false,
            },
        );
        code
    }

    pub fn business_mut(&mut self, id: &str) -> Option<&mut Business> {
        self.businesses.iter_mut().find(|b| b.id == id)
    }

    /// Stores a token and returns its value.
    pub fn add_token(&mut self, token: Token) -> String {
        let value = format!("EAA{}", random_text(180));
        self.tokens.insert(value.clone(), token);
        value
    }

    /// The newest valid token a business's BISU login produced for an app.
    pub fn current_bisu(&self, app_id: &str, business_id: &str) -> Option<String> {
        self.tokens
            .iter()
            .filter(|(_, t)| {
                t.bisu && t.valid && t.app_id == app_id && t.business_id == business_id
            })
            .max_by_key(|(_, t)| t.issued_seq)
            .map(|(value, _)| value.clone())
    }

    /// Mints the token a code stands for, as Meta does at the exchange.
    pub fn mint_token(
        &mut self,
        app_id: &str,
        config_id: &str,
        business_id: &str,
    ) -> (String, Option<u64>) {
        self.mint_token_for(app_id, config_id, business_id, None)
    }

    /// As `mint_token`; for a user-token configuration the token is `user_id`'s (default the
    /// business's first admin).
    pub fn mint_token_for(
        &mut self,
        app_id: &str,
        config_id: &str,
        business_id: &str,
        user_id: Option<&str>,
    ) -> (String, Option<u64>) {
        let config = self
            .config(app_id, config_id)
            .cloned()
            .expect("code names a known config");
        let business = self
            .business(business_id)
            .cloned()
            .expect("code names a known business");
        let targets: Vec<String> = business
            .pixels
            .iter()
            .chain(&business.shared_pixels)
            .chain(&business.pages)
            .map(|a| a.id.clone())
            .collect();
        let granular = config
            .scopes
            .iter()
            .map(|s| {
                (
                    s.clone(),
                    config.targeted_scopes.contains(s).then(|| targets.clone()),
                )
            })
            .collect();
        let now = now_epoch();
        let seq = self.tokens.len() as u64;
        let user = if config.kind == "bisu" {
            business.system_user_id.clone()
        } else {
            user_id
                .map(str::to_owned)
                .or_else(|| business.admins.first().map(|a| a.id.clone()))
                .unwrap_or_else(|| business.system_user_id.clone())
        };
        let token = self.add_token(Token {
            app_id: app_id.into(),
            kind: if config.kind == "bisu" {
                TokenKind::SystemUser
            } else {
                TokenKind::User
            },
            business_id: business.id.clone(),
            system_user_id: user,
            scopes: config.scopes.clone(),
            granular,
            issued_at: now,
            issued_seq: seq,
            expires_at: config.token_expires_in.map_or(0, |s| now + s),
            valid: true,
            invalid_subcode: SESSION_INVALIDATED,
            bisu: config.kind == "bisu",
            parent: None,
            page_id: None,
            obo_partner: None,
        });
        (token, config.token_expires_in)
    }

    /// The client removes the app from its business (Connected apps): the app's BISU tokens for
    /// that business die, and with them every token derived from them (granular, page).
    /// Returns how many tokens died.
    pub fn uninstall(&mut self, app_id: &str, business_id: &str) -> usize {
        let roots: Vec<String> = self
            .tokens
            .iter()
            .filter(|(_, t)| t.bisu && t.app_id == app_id && t.business_id == business_id)
            .map(|(value, _)| value.clone())
            .collect();
        self.kill_with_descendants(roots, APP_NOT_INSTALLED)
    }

    /// Invalidates `roots` and every token derived from them, at any depth.
    pub fn kill_with_descendants(&mut self, roots: Vec<String>, subcode: i64) -> usize {
        let mut dead: HashSet<String> = roots.into_iter().collect();
        loop {
            let children: Vec<String> = self
                .tokens
                .iter()
                .filter(|(value, t)| {
                    !dead.contains(*value) && t.parent.as_ref().is_some_and(|p| dead.contains(p))
                })
                .map(|(value, _)| value.clone())
                .collect();
            if children.is_empty() {
                break;
            }
            dead.extend(children);
        }
        for value in &dead {
            if let Some(token) = self.tokens.get_mut(value) {
                if token.valid {
                    token.invalid_subcode = subcode;
                }
                token.valid = false;
            }
        }
        dead.len()
    }

    /// The business owning the app (the partner's), else the seed's first business that owns
    /// any app.
    pub fn partner_business(&self, app_id: &str) -> Option<String> {
        self.app(app_id)
            .and_then(|a| a.business_id.clone())
            .or_else(|| self.apps.iter().find_map(|a| a.business_id.clone()))
            .filter(|b| self.business(b).is_some())
    }

    /// Whether `user` is an admin (person) of `business`.
    pub fn is_admin(&self, business: &str, user: &str) -> bool {
        self.business(business)
            .is_some_and(|b| b.admins.iter().any(|a| a.id == user))
    }

    /// The business a system user (not a BISU) belongs to, and the system user.
    pub fn system_user(&self, id: &str) -> Option<(&Business, &SystemUser)> {
        self.businesses
            .iter()
            .find_map(|b| b.system_users.iter().find(|s| s.id == id).map(|s| (b, s)))
    }

    /// Whether the token's (system) user may act for `business`: an admin of it, or one of its
    /// system users.
    pub fn member_may_manage(&self, business: &str, info: &Token) -> bool {
        self.is_admin(business, &info.system_user_id)
            || (info.kind != TokenKind::User
                && self
                    .system_user(&info.system_user_id)
                    .is_some_and(|(b, _)| b.id == business))
    }

    /// The name of a person or system user, if the emulator knows one.
    pub fn person_name(&self, id: &str) -> Option<String> {
        self.businesses.iter().find_map(|b| {
            b.admins
                .iter()
                .find(|a| a.id == id)
                .map(|a| a.name.clone())
                .or_else(|| {
                    b.system_users
                        .iter()
                        .find(|s| s.id == id)
                        .map(|s| s.name.clone())
                })
        })
    }

    /// An asset by id (`act_` optional for ad accounts): its business, kind and index.
    fn locate_asset(&self, id: &str) -> Option<(usize, AssetKind, usize)> {
        let act = if id.starts_with("act_") {
            id.to_owned()
        } else {
            format!("act_{id}")
        };
        self.businesses.iter().enumerate().find_map(|(bi, b)| {
            let find = |list: &[Asset], kind, wanted: &str| {
                list.iter()
                    .position(|a| a.id == wanted)
                    .map(|i| (bi, kind, i))
            };
            find(&b.pages, AssetKind::Page, id)
                .or_else(|| find(&b.catalogs, AssetKind::Catalog, id))
                .or_else(|| find(&b.ad_accounts, AssetKind::AdAccount, &act))
                .or_else(|| find(&b.pixels, AssetKind::Pixel, id))
                .or_else(|| find(&b.shared_pixels, AssetKind::Pixel, id))
        })
    }

    /// An asset by id: the owning business's id, its kind, and the asset.
    pub fn asset(&self, id: &str) -> Option<(String, AssetKind, &Asset)> {
        let (bi, kind, i) = self.locate_asset(id)?;
        let b = &self.businesses[bi];
        let list = match kind {
            AssetKind::Page => &b.pages,
            AssetKind::Catalog => &b.catalogs,
            AssetKind::AdAccount => &b.ad_accounts,
            AssetKind::Pixel if i < b.pixels.len() && b.pixels[i].id == id => &b.pixels,
            AssetKind::Pixel => &b.shared_pixels,
        };
        Some((b.id.clone(), kind, &list[i]))
    }

    fn asset_mut(&mut self, id: &str) -> Option<&mut Asset> {
        let (bi, kind, i) = self.locate_asset(id)?;
        let b = &mut self.businesses[bi];
        match kind {
            AssetKind::Page => b.pages.get_mut(i),
            AssetKind::Catalog => b.catalogs.get_mut(i),
            AssetKind::AdAccount => b.ad_accounts.get_mut(i),
            AssetKind::Pixel => None,
        }
    }

    /// Gives `user` a role with `tasks` on an asset (replacing its tasks there).
    pub fn assign(&mut self, asset: &str, user: &str, tasks: Vec<String>) -> bool {
        let Some(asset) = self.asset_mut(asset) else {
            return false;
        };
        match asset.roles.iter_mut().find(|r| r.user == user) {
            Some(role) => role.tasks = tasks,
            None => asset.roles.push(Role {
                user: user.to_owned(),
                tasks,
            }),
        }
        true
    }

    /// Takes `user`'s role on an asset away; page tokens of that page derived from the
    /// user's tokens die. Whether there was a role.
    pub fn unassign(&mut self, asset: &str, user: &str) -> bool {
        let page = self
            .asset(asset)
            .filter(|(_, kind, _)| *kind == AssetKind::Page)
            .map(|(_, _, a)| a.id.clone());
        let Some(found) = self.asset_mut(asset) else {
            return false;
        };
        let before = found.roles.len();
        found.roles.retain(|r| r.user != user);
        let removed = found.roles.len() != before;
        if let Some(page) = page {
            let dead: Vec<String> = self
                .tokens
                .iter()
                .filter(|(_, t)| {
                    t.kind == TokenKind::Page
                        && t.system_user_id == user
                        && t.page_id.as_deref() == Some(page.as_str())
                })
                .map(|(v, _)| v.clone())
                .collect();
            self.kill_with_descendants(dead, SESSION_INVALIDATED);
        }
        removed
    }

    /// Pages `user` has a role on, with the role's tasks.
    pub fn pages_with_role(&self, user: &str) -> Vec<(Asset, Vec<String>)> {
        self.businesses
            .iter()
            .flat_map(|b| &b.pages)
            .filter_map(|p| {
                p.roles
                    .iter()
                    .find(|r| r.user == user)
                    .map(|r| (p.clone(), r.tasks.clone()))
            })
            .collect()
    }

    /// The system user a partner has in a client business (created On Behalf Of it): the one
    /// already there, else a new one named "{client name} SYSTEM USER".
    pub fn obo_system_user(&mut self, client: &str, partner: &str) -> Option<String> {
        let business = self.business_mut(client)?;
        if let Some(existing) = business
            .system_users
            .iter()
            .find(|s| s.on_behalf_of.as_deref() == Some(partner))
        {
            return Some(existing.id.clone());
        }
        let id = random_id();
        let name = format!("{} SYSTEM USER", business.name);
        business.system_users.push(SystemUser {
            id: id.clone(),
            name,
            role: "ADMIN".into(),
            on_behalf_of: Some(partner.to_owned()),
        });
        Some(id)
    }

    /// Deletes a system user: its tokens and everything derived from them die (190, subcode
    /// 460), its roles and installs go. How many tokens died.
    pub fn delete_system_user(&mut self, id: &str) -> usize {
        for business in &mut self.businesses {
            business.system_users.retain(|s| s.id != id);
            for asset in business
                .pages
                .iter_mut()
                .chain(&mut business.catalogs)
                .chain(&mut business.ad_accounts)
            {
                asset.roles.retain(|r| r.user != id);
            }
        }
        self.installs.retain(|(su, _)| su != id);
        let roots: Vec<String> = self
            .tokens
            .iter()
            .filter(|(_, t)| t.kind != TokenKind::User && t.system_user_id == id)
            .map(|(v, _)| v.clone())
            .collect();
        self.kill_with_descendants(roots, SESSION_INVALIDATED)
    }

    /// Ends an On-Behalf-Of relationship: the partner's system user in the client business is
    /// deleted with its tokens and every token derived from them. Whether it existed, and how
    /// many tokens died.
    pub fn remove_managed(&mut self, partner: &str, client: &str) -> (bool, usize) {
        let existed = self
            .managed
            .remove(&(partner.to_owned(), client.to_owned()));
        let system_users: Vec<String> = self
            .business(client)
            .map(|b| {
                b.system_users
                    .iter()
                    .filter(|s| s.on_behalf_of.as_deref() == Some(partner))
                    .map(|s| s.id.clone())
                    .collect()
            })
            .unwrap_or_default();
        let mut dead = 0;
        for su in system_users {
            dead += self.delete_system_user(&su);
        }
        let leftovers: Vec<String> = self
            .tokens
            .iter()
            .filter(|(_, t)| {
                t.valid && t.business_id == client && t.obo_partner.as_deref() == Some(partner)
            })
            .map(|(v, _)| v.clone())
            .collect();
        if !leftovers.is_empty() {
            dead += self.kill_with_descendants(leftovers, SESSION_INVALIDATED);
        }
        (existed, dead)
    }

    /// Revokes a token (`/oauth/revoke`): it and every token derived from it answer 190
    /// (subcode 467). Records the revocation once; how many tokens died.
    pub fn revoke(&mut self, value: &str) -> usize {
        let Some(info) = self.tokens.get(value).cloned() else {
            return 0;
        };
        let dead = self.kill_with_descendants(vec![value.to_owned()], REVOKED);
        if info.valid {
            self.revoked.push(Revocation {
                token_id: token_id(value),
                app_id: info.app_id,
                kind: info.kind,
                business_id: info.business_id,
                user_id: info.system_user_id,
                revoked_at: now_epoch(),
                descendants_invalidated: dead - 1,
            });
        }
        dead
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> World {
        World::new(serde_json::from_str(crate::DEFAULT_SEED).unwrap())
    }

    fn derive(world: &mut World, parent: &str) -> String {
        let token = Token {
            bisu: false,
            parent: Some(parent.to_owned()),
            ..world.tokens[parent].clone()
        };
        world.add_token(token)
    }

    #[test]
    fn an_uninstall_kills_only_that_apps_integration_and_its_descendants() {
        let mut world = world();
        let (bisu, _) =
            world.mint_token("1000000000000001", "2000000000000001", "3000000000000001");
        let child = derive(&mut world, &bisu);
        let grandchild = derive(&mut world, &child);
        let (elsewhere, _) =
            world.mint_token("1000000000000001", "2000000000000001", "3000000000000002");
        let (other_app, _) =
            world.mint_token("1000000000000002", "2000000000000002", "3000000000000001");

        assert_eq!(world.uninstall("1000000000000001", "3000000000000001"), 3);
        for dead in [&bisu, &child, &grandchild] {
            assert!(!world.tokens[dead].valid);
            assert_eq!(world.tokens[dead].invalid_subcode, APP_NOT_INSTALLED);
        }
        assert!(world.tokens[&elsewhere].valid);
        assert!(world.tokens[&other_app].valid);
        assert_eq!(
            world.current_bisu("1000000000000001", "3000000000000001"),
            None
        );
    }

    const PARTNER: &str = "7000000000000001";
    const FLOWERS: &str = "3000000000000003";

    /// A client system user's token, as `POST /{client}/access_token` mints it.
    fn obo_token(world: &mut World, client: &str) -> (String, String) {
        let su = world.obo_system_user(client, PARTNER).unwrap();
        let token = world.add_token(Token {
            app_id: "1000000000000001".into(),
            kind: TokenKind::SystemUser,
            business_id: client.into(),
            system_user_id: su.clone(),
            scopes: vec!["business_management".into()],
            granular: vec![],
            issued_at: 0,
            issued_seq: 0,
            expires_at: 0,
            valid: true,
            invalid_subcode: SESSION_INVALIDATED,
            bisu: false,
            parent: None,
            page_id: None,
            obo_partner: Some(PARTNER.into()),
        });
        (su, token)
    }

    fn page_of(world: &mut World, parent: &str, page: &str) -> String {
        let token = Token {
            kind: TokenKind::Page,
            parent: Some(parent.to_owned()),
            page_id: Some(page.to_owned()),
            ..world.tokens[parent].clone()
        };
        world.add_token(token)
    }

    #[test]
    fn the_seed_has_the_partner_business_and_demo_clients() {
        let world = world();
        assert_eq!(
            world.partner_business("1000000000000001").as_deref(),
            Some(PARTNER)
        );
        let (business, su) = world.system_user("7100000000000001").unwrap();
        assert_eq!((business.id.as_str(), su.role.as_str()), (PARTNER, "ADMIN"));
        assert!(world.is_admin(FLOWERS, "8000000000000003"));
        assert!(!world.is_admin(FLOWERS, "8000000000000001"));
        assert_eq!(
            world
                .config("1000000000000001", "2000000000000003")
                .unwrap()
                .kind,
            "user"
        );
        for business in ["3000000000000001", "3000000000000002", FLOWERS] {
            let b = world.business(business).unwrap();
            assert!(!b.pages.is_empty() && !b.catalogs.is_empty() && !b.ad_accounts.is_empty());
            assert_eq!(b.admins.len(), 1);
        }
    }

    #[test]
    fn assets_are_found_by_id_with_or_without_act() {
        let world = world();
        let kind = |id: &str| world.asset(id).map(|(owner, kind, _)| (owner, kind));
        assert_eq!(
            kind("6000000000000003"),
            Some((FLOWERS.into(), AssetKind::Page))
        );
        assert_eq!(
            kind("9100000000000003"),
            Some((FLOWERS.into(), AssetKind::Catalog))
        );
        assert_eq!(
            kind("act_9200000000000003"),
            Some((FLOWERS.into(), AssetKind::AdAccount))
        );
        assert_eq!(
            kind("9200000000000003"),
            Some((FLOWERS.into(), AssetKind::AdAccount))
        );
        assert_eq!(
            kind("5000000000000004"),
            Some((FLOWERS.into(), AssetKind::Pixel))
        );
        assert_eq!(kind("1"), None);
        assert!(AssetKind::Catalog.tasks().contains(&"MANAGE_AR"));
        assert!(!AssetKind::AdAccount.tasks().contains(&"MESSAGING"));
        assert!(AssetKind::Pixel.tasks().is_empty());
    }

    #[test]
    fn the_partner_has_one_system_user_per_client_business() {
        let mut world = world();
        let first = world.obo_system_user(FLOWERS, PARTNER).unwrap();
        assert_eq!(world.obo_system_user(FLOWERS, PARTNER).unwrap(), first);
        assert_eq!(
            world.person_name(&first).as_deref(),
            Some("Demo Flower Studio SYSTEM USER")
        );
        let elsewhere = world.obo_system_user("3000000000000001", PARTNER).unwrap();
        assert_ne!(elsewhere, first);
        assert!(world.obo_system_user("404", PARTNER).is_none());
    }

    #[test]
    fn removing_a_relationship_kills_its_system_users_tokens_and_their_page_tokens() {
        let mut world = world();
        world.managed.insert((PARTNER.into(), FLOWERS.into()));
        world
            .managed
            .insert((PARTNER.into(), "3000000000000001".into()));
        let (su, token) = obo_token(&mut world, FLOWERS);
        assert!(world.assign("6000000000000003", &su, vec!["MANAGE".into()]));
        let page = page_of(&mut world, &token, "6000000000000003");
        let (_, other_client) = obo_token(&mut world, "3000000000000001");
        let (bisu, _) = world.mint_token("1000000000000001", "2000000000000001", FLOWERS);

        assert_eq!(world.remove_managed(PARTNER, FLOWERS), (true, 2));
        assert!(!world.tokens[&token].valid && !world.tokens[&page].valid);
        assert!(world.tokens[&other_client].valid && world.tokens[&bisu].valid);
        assert!(world.system_user(&su).is_none());
        assert!(world.pages_with_role(&su).is_empty());
        assert!(!world.managed.contains(&(PARTNER.into(), FLOWERS.into())));
        assert_eq!(world.remove_managed(PARTNER, FLOWERS), (false, 0));
    }

    #[test]
    fn a_revocation_kills_descendants_and_is_recorded_once_without_the_value() {
        let mut world = world();
        let (bisu, _) =
            world.mint_token("1000000000000001", "2000000000000001", "3000000000000001");
        let child = derive(&mut world, &bisu);
        let page = page_of(&mut world, &child, "6000000000000001");
        assert_eq!(world.revoke(&child), 2);
        assert!(world.tokens[&bisu].valid);
        for dead in [&child, &page] {
            assert!(!world.tokens[dead].valid);
            assert_eq!(world.tokens[dead].invalid_subcode, REVOKED);
        }
        world.revoke(&child);
        assert_eq!(world.revoked.len(), 1);
        let record = serde_json::to_string(&world.revoked[0]).unwrap();
        assert!(!record.contains(&child));
        assert_eq!(world.revoked[0].token_id, token_id(&child));
        assert_eq!(world.revoked[0].descendants_invalidated, 1);
        assert_eq!(world.revoke("EAAunknown"), 0);
    }

    #[test]
    fn taking_a_page_role_away_kills_only_that_pages_tokens_of_that_user() {
        let mut world = world();
        let (su, token) = obo_token(&mut world, FLOWERS);
        world.assign("6000000000000003", &su, vec!["MANAGE".into()]);
        world.assign("6000000000000004", &su, vec!["ANALYZE".into()]);
        let kept = page_of(&mut world, &token, "6000000000000004");
        let lost = page_of(&mut world, &token, "6000000000000003");
        assert!(world.unassign("6000000000000003", &su));
        assert!(!world.tokens[&lost].valid);
        assert!(world.tokens[&kept].valid && world.tokens[&token].valid);
        let pages: Vec<String> = world
            .pages_with_role(&su)
            .into_iter()
            .map(|(p, tasks)| format!("{}:{}", p.id, tasks.join(",")))
            .collect();
        assert_eq!(pages, ["6000000000000004:ANALYZE"]);
        assert!(!world.unassign("6000000000000003", &su));
    }

    #[test]
    fn a_token_already_invalidated_keeps_its_reason() {
        let mut world = world();
        let (bisu, _) =
            world.mint_token("1000000000000001", "2000000000000001", "3000000000000001");
        world.kill_with_descendants(vec![bisu.clone()], SESSION_INVALIDATED);
        world.uninstall("1000000000000001", "3000000000000001");
        assert_eq!(world.tokens[&bisu].invalid_subcode, SESSION_INVALIDATED);
    }
}
