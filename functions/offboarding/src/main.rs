//! offboarding: partner-initiated offboarding, Meta's webhooks and signed_request callbacks.

mod handler;
mod pages;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::logging::init();
    let (config, ports) = shared::deps::from_env()?;
    shared::deps::prepare_if_provisioned(&ports).await;
    // Refuse at cold start rather than at the first data-deletion request.
    config.deletion_status_base()?;
    // Lives as long as the process: every invocation borrows it.
    let app: &'static handler::App = Box::leak(Box::new(handler::App { ports }));
    lambda_http::lambda_runtime::run(lambda_http::service_fn(move |event| {
        shared::lambda::event::handle(app, event)
    }))
    .await
}
