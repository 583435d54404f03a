//! The data-deletion status page a person reaches from Facebook.

use lambda_http::{Body, Response};
use shared::clock::rfc3339;
use shared::lambda::html::{Scripts, escape, page};
use shared::model::Deletion;

pub fn deletion_status(deletion: &Deletion) -> Response<Body> {
    let body = format!(
        "<p>Confirmation code <code>{code}</code></p>\
         <p id=\"status\" data-status=\"{status}\">Status: {status}</p>\
         <p>Requested {requested}{completed}.</p>",
        code = escape(&deletion.confirmation_code),
        status = escape(&deletion.status),
        requested = rfc3339(deletion.requested_at),
        completed = deletion
            .completed_at
            .map(|at| format!(", completed {}", rfc3339(at)))
            .unwrap_or_default(),
    );
    page(200, "Data deletion request", &body, Scripts::None)
}
