//! token-fetch: tokens for the provider's own services, and the scheduled sweep.

mod handler;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::logging::init();
    let (_, ports) = shared::deps::from_env()?;
    shared::deps::prepare_if_provisioned(&ports).await;
    // Lives as long as the process: the secret cache is what makes warm calls cheap.
    let app: &'static handler::App = Box::leak(Box::new(handler::App { ports }));
    lambda_http::lambda_runtime::run(lambda_http::service_fn(move |event| app.handle(event))).await
}
