//! The emulator's state: apps, businesses, codes, tokens and their lineage, faults, the request log.

use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
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
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Asset {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_business_id: Option<String>,
}

pub struct Code {
    pub app_id: String,
    pub config_id: String,
    pub business_id: String,
    /// `None` for codes handed to `FB.login`: no `redirect_uri` may be sent with them.
    pub redirect_uri: Option<String>,
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
}

/// A session invalidated (password change, security): 190 with this subcode.
pub const SESSION_INVALIDATED: i64 = 460;
/// The app was removed (uninstalled) for this user or business: 190 with this subcode.
pub const APP_NOT_INSTALLED: i64 = 458;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    SystemUser,
    User,
    /// The partner's own admin system user (for `fetch_only` recovery).
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
    pub faults: Faults,
    pub log: Vec<LogEntry>,
    pub code_lifetime: Duration,
    /// What every Graph answer reports in `X-App-Usage`.
    pub app_usage: AppUsage,
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
            faults: Faults::default(),
            log: Vec::new(),
            code_lifetime: Duration::from_secs(600),
            app_usage: AppUsage::default(),
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
    ) -> String {
        let code = format!("AQ{}", random_text(250));
        self.codes.insert(
            code.clone(),
            Code {
                app_id: app_id.into(),
                config_id: config_id.into(),
                business_id: business_id.into(),
                redirect_uri,
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
        let token = self.add_token(Token {
            app_id: app_id.into(),
            kind: if config.kind == "bisu" {
                TokenKind::SystemUser
            } else {
                TokenKind::User
            },
            business_id: business.id.clone(),
            system_user_id: business.system_user_id.clone(),
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
