//! JSON logs through `tracing`; the Lambda runtime's span adds the request id.

use tracing_subscriber::EnvFilter;

/// Quiet defaults for the SDKs, so a verbose `RUST_LOG` for our crates does not dump wire data.
const DEFAULT_FILTER: &str =
    "info,aws_smithy_runtime=warn,aws_config=warn,hyper=warn,reqwest=warn,rustls=warn";

pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(true)
        .with_ansi(false)
        .init();
}
