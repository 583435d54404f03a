//! Reading HTTP requests safely and answering them, for the functions behind API Gateway.

pub mod event;
mod request;
mod response;

pub use request::{Query, describe_json_error, json_body, query, raw_body};
pub use response::{
    add_retry_after, answer_error, error_json, escape_html, html, json, redirect, request_span,
    respond, text,
};
