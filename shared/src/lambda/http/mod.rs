//! Reading HTTP requests safely and answering them.

mod request;
mod response;

pub use request::{Query, cookie, describe_json_error, json_body, query, raw_body};
pub use response::{
    add_retry_after, answer_error, error_json, error_json_with, html, json, redirect, request_span,
    respond, set_cookie, text,
};
