//! Shapes of the Graph answers this service reads.

use secrecy::SecretString;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// `GET|POST /oauth/access_token`. Debug shows the token redacted (`SecretString`).
#[derive(Debug, Deserialize)]
pub struct ExchangedToken {
    pub access_token: SecretString,
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// Older answers named the lifetime `expires`.
    #[serde(default)]
    pub expires: Option<u64>,
}

impl ExchangedToken {
    /// Seconds the token lives; `None` means it never expires (usual for BISU tokens).
    pub fn lifetime_secs(&self) -> Option<u64> {
        self.expires_in.or(self.expires).filter(|secs| *secs > 0)
    }
}

/// `GET /me?fields=client_business_id` with a BISU token.
#[derive(Debug, Deserialize)]
pub struct MeBusiness {
    #[serde(deserialize_with = "graph_id")]
    pub id: String,
    #[serde(default, deserialize_with = "opt_graph_id")]
    pub client_business_id: Option<String>,
}

/// `debug_token`'s `data`.
#[derive(Debug, Clone, Deserialize)]
pub struct DebugToken {
    #[serde(default, deserialize_with = "opt_graph_id")]
    pub app_id: Option<String>,
    #[serde(rename = "type", default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub is_valid: bool,
    /// 0 means the token never expires.
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub granular_scopes: Vec<GranularScope>,
    #[serde(default, deserialize_with = "opt_graph_id")]
    pub user_id: Option<String>,
}

impl DebugToken {
    /// Unix time the token expires at, `None` for never.
    pub fn expiry_epoch(&self) -> Option<i64> {
        self.expires_at.filter(|t| *t > 0)
    }

    /// Scope -> asset ids, for the scopes Meta limited to some assets.
    pub fn granted_assets(&self) -> BTreeMap<String, Vec<String>> {
        self.granular_scopes
            .iter()
            .filter_map(|g| Some((g.scope.clone(), g.target_ids.clone()?)))
            .collect()
    }
}

/// One permission and, when it is limited to some assets, their ids.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GranularScope {
    pub scope: String,
    /// Absent: the permission applies to everything.
    #[serde(default, deserialize_with = "opt_graph_ids")]
    pub target_ids: Option<Vec<String>>,
}

/// One pixel (dataset) as Graph describes it.
#[derive(Clone, Debug, Deserialize)]
pub struct Pixel {
    #[serde(deserialize_with = "graph_id")]
    pub id: String,
    pub name: Option<String>,
    pub creation_time: Option<String>,
    pub last_fired_time: Option<String>,
    pub is_unavailable: Option<bool>,
    pub owner_business: Option<OwnerBusiness>,
    pub data_use_setting: Option<String>,
    #[serde(default)]
    pub permitted_tasks: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct OwnerBusiness {
    #[serde(default, deserialize_with = "opt_graph_id")]
    pub id: Option<String>,
    pub name: Option<String>,
}

/// A page a (system) user has a role on, from `GET /me/accounts`; its token is not kept here.
#[derive(Clone, Debug, Deserialize)]
pub struct PageInfo {
    #[serde(deserialize_with = "graph_id")]
    pub id: String,
    pub name: Option<String>,
    #[serde(default)]
    pub tasks: Vec<String>,
}

/// The parameters of `POST /{business}/system_user_access_tokens`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MintParams {
    pub system_user_id: String,
    pub scopes: Vec<String>,
    pub assets: Vec<String>,
    pub expires_in_60_days: bool,
    /// Return the existing token instead of minting one (recovery).
    pub fetch_only: bool,
}

/// Graph ids arrive as strings but older answers use numbers: accept both, keep strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum IdRepr {
    Text(String),
    Number(u64),
}

impl From<IdRepr> for String {
    fn from(id: IdRepr) -> String {
        match id {
            IdRepr::Text(s) => s,
            IdRepr::Number(n) => n.to_string(),
        }
    }
}

pub(crate) fn graph_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    IdRepr::deserialize(d).map(String::from)
}

pub(crate) fn opt_graph_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<IdRepr>::deserialize(d)?.map(String::from))
}

fn opt_graph_ids<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Ok(Option::<Vec<IdRepr>>::deserialize(d)?
        .map(|ids| ids.into_iter().map(String::from).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_token_accepts_string_and_number_ids() {
        let raw = r#"{"data":{"app_id":"123","type":"SYSTEM_USER","is_valid":true,"expires_at":0,
            "scopes":["ads_management","business_management"],
            "granular_scopes":[{"scope":"ads_management","target_ids":["11",22]},{"scope":"business_management"}],
            "user_id":987}}"#;
        #[derive(Deserialize)]
        struct Envelope {
            data: DebugToken,
        }
        let token = serde_json::from_str::<Envelope>(raw).unwrap().data;
        assert_eq!(token.app_id.as_deref(), Some("123"));
        assert_eq!(token.expiry_epoch(), None);
        assert_eq!(token.user_id.as_deref(), Some("987"));
        assert_eq!(
            token.granular_scopes[0].target_ids,
            Some(vec!["11".into(), "22".into()])
        );
        assert_eq!(token.granular_scopes[1].target_ids, None);
    }

    #[test]
    fn exchanged_token_reads_either_lifetime_field() {
        let t: ExchangedToken =
            serde_json::from_str(r#"{"access_token":"x","token_type":"bearer"}"#).unwrap();
        assert_eq!(t.lifetime_secs(), None);
        let t: ExchangedToken =
            serde_json::from_str(r#"{"access_token":"x","expires":60}"#).unwrap();
        assert_eq!(t.lifetime_secs(), Some(60));
    }
}
