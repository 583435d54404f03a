//! The data-deletion status page a person reaches from Facebook.

use lambda_http::{Body, Response};
use shared::http::{escape_html, html};
use shared::store::DeletionItem;

pub fn deletion_status(deletion: &DeletionItem) -> Response<Body> {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Data deletion request</title></head>\
         <body style=\"font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto\">\
         <h1>Data deletion request</h1><p>Confirmation code <code>{code}</code></p>\
         <p id=\"status\" data-status=\"{status}\">Status: {status}</p>\
         <p>Requested {requested}{completed}.</p></body></html>",
        code = escape_html(&deletion.confirmation_code),
        status = escape_html(&deletion.status),
        requested = escape_html(&deletion.requested_at),
        completed = deletion
            .completed_at
            .as_deref()
            .map(|at| format!(", completed {}", escape_html(at)))
            .unwrap_or_default(),
    );
    html(200, page)
}
