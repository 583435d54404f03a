//! JSON logs through `tracing`; the Lambda runtime's span adds the request id.

use tracing_subscriber::EnvFilter;

/// Quiet defaults for the SDKs, so a verbose `RUST_LOG` for our crates does not dump wire data.
const DEFAULT_FILTER: &str =
    "info,aws_smithy_runtime=warn,aws_config=warn,hyper=warn,reqwest=warn,rustls=warn";
/// The runtime logs every handler error at ERROR; ours are logged by level already (a refusal
/// at INFO), and panics by the hook below.
const RUNTIME_ERROR_ECHO: &str = "lambda_runtime::layers::panic=off";

pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
        .add_directive(RUNTIME_ERROR_ECHO.parse().expect("a valid directive"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(true)
        .with_ansi(false)
        .init();
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        // The payload is not logged: it could hold whatever the panicking code held.
        tracing::error!(location = %at, "the handler panicked");
    }));
}
