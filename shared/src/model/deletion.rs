//! A data-deletion request and how it went, for its status page.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deletion {
    pub confirmation_code: String,
    pub status: String,
    pub clients: Vec<String>,
    pub requested_at: i64,
    pub completed_at: Option<i64>,
}
