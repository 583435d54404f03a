//! dataset-lookup: a client's datasets and record, over HTTP and by direct invocation.

mod handler;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::logging::init();
    let (_, ports) = shared::deps::from_env()?;
    shared::deps::prepare_if_provisioned(&ports).await;
    // Lives as long as the process: every invocation borrows it.
    let app: &'static handler::App = Box::leak(Box::new(handler::App { ports }));
    lambda_http::lambda_runtime::run(lambda_http::service_fn(move |event| {
        shared::lambda::event::handle(app, event)
    }))
    .await
}
