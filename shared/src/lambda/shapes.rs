//! What callers send, as the functions read it: the JSON bodies of the HTTP routes and the
//! direct invocations. A field not listed is refused (`deny_unknown_fields`); values are checked
//! by the flows that use them.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{Asset, ClientBusinessId, Mode, PartnerRef};
use crate::onboarding::OboRequest;

/// `POST /onboarding/sessions`.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSessionRequest {
    pub partner_ref: PartnerRef,
    #[serde(default)]
    pub mode: Option<Mode>,
    #[serde(default)]
    pub client_business_id: Option<ClientBusinessId>,
    #[serde(default)]
    pub assets: Option<Vec<AssetRequest>>,
    #[serde(default)]
    pub scope: Option<Vec<String>>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetRequest {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub tasks: Option<Vec<String>>,
}

impl NewSessionRequest {
    /// The On-Behalf-Of part, when any of its fields is there.
    pub fn obo(self) -> Result<Option<OboRequest>> {
        if self.client_business_id.is_none() && self.assets.is_none() && self.scope.is_none() {
            return Ok(None);
        }
        let client_business_id = self.client_business_id.ok_or_else(|| {
            Error::InvalidRequest("assets and scope go with a client_business_id".into())
        })?;
        let assets = self
            .assets
            .unwrap_or_default()
            .into_iter()
            .map(|a| Asset::new(&a.id, &a.kind, a.tasks))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(OboRequest {
            client_business_id,
            assets,
            scopes: self.scope.unwrap_or_default(),
        }))
    }
}

/// `POST /oauth/code`: what the onboarding page sends with the code `FB.login` returned.
#[derive(PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    pub code: String,
    pub state: String,
}

/// Both values are credentials: Debug shows neither.
impl std::fmt::Debug for CodeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeRequest(..)")
    }
}

/// dataset-lookup's invocation: `{"client_business_id", "refresh"?}`.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    pub client_business_id: String,
    #[serde(default)]
    pub refresh: bool,
}

/// offboarding's invocation: `{"client_business_id", "reason", "dataset_id"?}`.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffboardRequest {
    pub client_business_id: String,
    pub reason: String,
    /// Only this dataset: its granular tokens revoked, its item removed, the client stays.
    #[serde(default)]
    pub dataset_id: Option<String>,
}

/// token-fetch's invocations: every field any of its shapes may carry.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFields {
    pub action: Option<String>,
    pub client_business_id: Option<String>,
    pub scope: Option<Vec<String>>,
    pub assets: Option<Vec<String>>,
    pub expires_in_60_days: Option<bool>,
    pub force_refresh: Option<bool>,
    pub page_id: Option<String>,
    pub owner: Option<String>,
    pub max_items: Option<usize>,
    pub system_user_id: Option<String>,
}
