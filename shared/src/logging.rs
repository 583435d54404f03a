//! JSON logs through `tracing`; the Lambda runtime's span adds the request id.

use tracing::Level;
use tracing_subscriber::filter::{EnvFilter, FilterExt, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// Quiet defaults for the SDKs, so a verbose `RUST_LOG` for our crates does not dump wire data.
const DEFAULT_FILTER: &str =
    "info,aws_smithy_runtime=warn,aws_config=warn,hyper=warn,reqwest=warn,rustls=warn";

/// Ceilings no `RUST_LOG` lifts. At TRACE the Lambda runtime logs each raw event (the code POST,
/// the session cookie, a `signed_request`), and the HTTP and SDK layers log what they send and
/// receive (a token in a Secrets Manager body): DEBUG is as verbose as they get here. The
/// runtime also logs every handler error at ERROR; ours are logged by level already (a refusal
/// at INFO), and panics by the hook in `init`.
fn ceilings() -> Targets {
    const WIRE: &[&str] = &[
        "lambda_runtime",
        "lambda_runtime_api_client",
        "lambda_http",
        "aws_smithy_runtime",
        "aws_smithy_runtime_api",
        "aws_smithy_http",
        "aws_smithy_http_client",
        "aws_smithy_types",
        "aws_sigv4",
        "aws_config",
        "aws_runtime",
        "hyper",
        "hyper_util",
        "h2",
        "reqwest",
        "rustls",
    ];
    WIRE.iter()
        .fold(Targets::new().with_default(Level::TRACE), |t, target| {
            t.with_target(*target, Level::DEBUG)
        })
        .with_target(
            "lambda_runtime::layers::panic",
            tracing::level_filters::LevelFilter::OFF,
        )
}

/// What is logged: `RUST_LOG` (or the quiet defaults), never above the ceilings.
fn filter(rust_log: Option<&str>) -> impl tracing_subscriber::layer::Filter<Registry> + use<> {
    let wanted = rust_log
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER));
    wanted.and(ceilings())
}

pub fn init() {
    let rust_log = std::env::var("RUST_LOG").ok();
    subscriber(rust_log.as_deref(), std::io::stdout).init();
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        // The payload is not logged: it could hold whatever the panicking code held.
        tracing::error!(location = %at, "the handler panicked");
    }));
}

fn subscriber<W>(
    rust_log: Option<&str>,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync + use<W>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let json = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(true)
        .with_ansi(false)
        .with_writer(writer)
        .with_filter(filter(rust_log));
    Registry::default().with(json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged_under(rust_log: &str, emit: impl FnOnce()) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = subscriber(Some(rust_log), move || writer.clone());
        tracing::subscriber::with_default(subscriber, emit);
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn the_most_verbose_filter_keeps_wire_data_out_and_our_trace_in() {
        for rust_log in [
            "trace",
            "lambda_runtime=trace,hyper=trace,aws_smithy_runtime=trace,trace",
            "lambda_runtime::layers::api_response=trace",
        ] {
            let logs = logged_under(rust_log, || {
                tracing::trace!(
                    target: "lambda_runtime::layers::api_response",
                    body = "fake-code-in-an-event",
                    "raw JSON event received from Lambda"
                );
                tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", "fake-sdk-body");
                tracing::trace!(target: "hyper::proto::h1", "fake-wire-bytes");
                tracing::error!(target: "lambda_runtime::layers::panic", "fake-handler-error");
                tracing::trace!(target: "shared::tokens", "our own trace line");
            });
            for leaked in ["fake-code", "fake-sdk", "fake-wire", "fake-handler"] {
                assert!(!logs.contains(leaked), "{rust_log}: {leaked} in {logs}");
            }
            if rust_log.contains(",trace") || rust_log == "trace" {
                assert!(logs.contains("our own trace line"), "{rust_log}: {logs}");
            }
        }
    }

    #[test]
    fn the_default_filter_is_info_with_quiet_sdks() {
        let logs = logged_under(DEFAULT_FILTER, || {
            tracing::info!(target: "shared::tokens", "an info line");
            tracing::debug!(target: "shared::tokens", "a debug line");
            tracing::info!(target: "aws_smithy_runtime::client", "an sdk info line");
        });
        assert!(logs.contains("an info line"));
        assert!(!logs.contains("a debug line") && !logs.contains("an sdk info line"));
    }
}
