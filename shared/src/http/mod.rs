//! Reading HTTP requests safely and answering them, for the functions behind API Gateway.

mod request;
mod response;

pub use request::{Query, json_body, query};
pub use response::{add_retry_after, error_json, escape_html, html, json, redirect};
