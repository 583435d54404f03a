//! A Conversions API dataset (pixel) of a client business.

use serde::{Deserialize, Serialize};

/// Whether the client business owns a dataset or another business shared it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ownership {
    Owned,
    Shared,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    pub id: String,
    pub name: Option<String>,
    pub ownership: Ownership,
    pub permitted_tasks: Vec<String>,
    pub creation_time: Option<String>,
    pub last_fired_time: Option<String>,
    pub is_unavailable: Option<bool>,
    pub owner_business_id: Option<String>,
    pub owner_business_name: Option<String>,
    pub data_use_setting: Option<String>,
}
