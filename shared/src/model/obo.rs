//! On-Behalf-Of: the assets a client's admin assigns to the client's system user, and how far
//! an onboarding got.

use serde::{Deserialize, Serialize};

use super::ids::is_digits;
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetKind {
    Page,
    Catalog,
    AdAccount,
}

impl AssetKind {
    /// The tasks Meta accepts on `POST /{asset}/assigned_users` for this kind of asset.
    pub fn tasks(self) -> &'static [&'static str] {
        match self {
            Self::Page => &[
                "MANAGE",
                "CREATE_CONTENT",
                "MODERATE",
                "MESSAGING",
                "ADVERTISE",
                "ANALYZE",
            ],
            Self::Catalog => &["MANAGE", "ADVERTISE", "MANAGE_AR", "AA_ANALYZE"],
            Self::AdAccount => &["MANAGE", "ADVERTISE", "ANALYZE", "DRAFT"],
        }
    }
}

/// One asset to assign, checked at the edge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: AssetKind,
    pub tasks: Vec<String>,
}

/// Assets asked for at most, per session.
pub const MAX_ASSETS: usize = 50;

impl Asset {
    /// An asset as a session asks for it; tasks default to `MANAGE`.
    pub fn new(id: &str, kind: &str, tasks: Option<Vec<String>>) -> Result<Self> {
        let kind = match kind {
            "page" => AssetKind::Page,
            "catalog" => AssetKind::Catalog,
            "ad_account" => AssetKind::AdAccount,
            "pixel" | "dataset" => {
                return Err(Error::InvalidRequest(
                    "a dataset (pixel) cannot be assigned: the client's datasets are reached \
                     through its business"
                        .into(),
                ));
            }
            _ => {
                return Err(Error::InvalidRequest(
                    "an asset type is page, catalog or ad_account".into(),
                ));
            }
        };
        let digits = match kind {
            AssetKind::AdAccount => id.strip_prefix("act_").unwrap_or(id),
            _ => id,
        };
        if !is_digits(digits, 32) {
            return Err(Error::InvalidRequest(
                "an asset id is a numeric Graph id (act_ allowed for ad accounts)".into(),
            ));
        }
        let tasks = tasks.unwrap_or_else(|| vec!["MANAGE".into()]);
        if tasks.is_empty() || tasks.len() > 8 {
            return Err(Error::InvalidRequest("tasks must list 1 to 8 tasks".into()));
        }
        if let Some(task) = tasks.iter().find(|t| !kind.tasks().contains(&t.as_str())) {
            return Err(Error::InvalidRequest(format!(
                "{task} is not a task of this asset type (one of {})",
                kind.tasks().join(", ")
            )));
        }
        Ok(Self {
            id: id.to_owned(),
            kind,
            tasks,
        })
    }
}

/// How far an On-Behalf-Of onboarding got: its assets and the last step it completed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OboState {
    pub assets: Vec<Asset>,
    pub last_step: String,
    /// The step that failed, and Meta's or the service's word on it; `None` once completed.
    pub failed: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_checked_at_the_edge() {
        assert!(Asset::new("1", "page", None).is_ok());
        assert!(Asset::new("act_12", "ad_account", Some(vec!["DRAFT".into()])).is_ok());
        assert!(Asset::new("act_12", "page", None).is_err());
        assert!(Asset::new("1", "pixel", None).is_err());
        assert!(Asset::new("1", "catalog", Some(vec!["MODERATE".into()])).is_err());
        assert!(Asset::new("1", "page", Some(vec![])).is_err());
        assert_eq!(Asset::new("1", "catalog", None).unwrap().tasks, ["MANAGE"]);
    }
}
