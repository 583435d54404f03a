//! oauth-callback: onboarding sessions, the login page and the two ways a code comes back.

mod handler;
mod pages;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::logging::init();
    let (config, ports) = shared::deps::from_env()?;
    shared::deps::prepare_if_provisioned(&ports).await;
    let onboarding = config.onboarding()?;
    // Lives as long as the process: every invocation borrows it.
    let app: &'static handler::App = Box::leak(Box::new(handler::App {
        config,
        onboarding,
        ports,
    }));
    lambda_http::run(lambda_http::service_fn(move |req| app.handle(req))).await
}
