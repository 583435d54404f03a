//! Direct invocations: JSON in, JSON out, errors as Lambda errors with a stable `errorType`.
//! Any payload, even empty or not JSON, reaches the handler and gets one of DESIGN's types.

use lambda_http::lambda_runtime::Diagnostic;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::{Error, Result};

impl From<Error> for Diagnostic {
    fn from(err: Error) -> Self {
        Diagnostic {
            error_type: err.error_type().to_owned(),
            error_message: err.to_string(),
        }
    }
}

/// What the runtime hands the handler: the JSON, or the fact that there was none.
/// Deserializing never fails, so the runtime never answers for us.
#[derive(Debug)]
pub enum Payload {
    Json(Value),
    NotJson,
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Value::deserialize(deserializer).map_or(Payload::NotJson, Payload::Json))
    }
}

impl Payload {
    pub fn into_json(self) -> Result<Value> {
        match self {
            Self::Json(value) => Ok(value),
            Self::NotJson => Err(Error::InvalidRequest(
                "the invocation payload must be a JSON object".into(),
            )),
        }
    }
}

/// The payload as `T`; a payload that does not fit is `InvalidRequest` with a message that
/// names what was expected, never the value sent.
pub fn parse<T: DeserializeOwned>(payload: Value) -> Result<T> {
    if !payload.is_object() {
        return Err(Error::InvalidRequest(
            "the invocation payload must be a JSON object".into(),
        ));
    }
    serde_json::from_value(payload).map_err(|e| {
        Error::InvalidRequest(format!(
            "the invocation payload is not as expected: {}",
            crate::lambda::http::describe_json_error(&e)
        ))
    })
}

/// Runs a direct invocation in a span with the request id (and later the client), and answers
/// it as Lambda expects.
pub async fn run(
    context: &lambda_http::Context,
    work: impl std::future::Future<Output = Result<Value>>,
) -> Result<Value, Diagnostic> {
    use tracing::Instrument;
    let span = tracing::info_span!(
        "invocation",
        request_id = %context.request_id,
        client_business_id = tracing::field::Empty
    );
    let result = work.instrument(span.clone()).await;
    let _entered = span.enter();
    finish(result)
}

/// Logs how an invocation ended (refusals at info, failures at error) and turns the error
/// into what Lambda reports.
pub fn finish(result: Result<Value>) -> Result<Value, Diagnostic> {
    result.map_err(|err| {
        match err.http_status() {
            500.. => {
                tracing::error!(error = %err, error_type = err.error_type(), "invocation failed")
            }
            _ => tracing::info!(error = %err, error_type = err.error_type(), "invocation refused"),
        }
        err.into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_payload_reaches_the_handler() {
        let read = |raw: &[u8]| {
            let mut de = serde_json::Deserializer::from_slice(raw);
            Payload::deserialize(&mut de).unwrap()
        };
        assert!(matches!(read(b""), Payload::NotJson));
        assert!(matches!(read(b"not json"), Payload::NotJson));
        assert!(matches!(read(b"{\"a\":1}"), Payload::Json(_)));
        let err = read(b"").into_json().unwrap_err();
        assert_eq!(err.error_type(), "InvalidRequest");
    }
}
