//! Direct invocations: JSON in, JSON out, errors as Lambda errors with a stable `errorType`.
//! Any payload, even empty or not JSON, reaches the handler and gets one of DESIGN's types.

use lambda_http::lambda_runtime::Diagnostic;
use serde::de::{DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::fmt;

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
    /// An object names a field twice: which one would count is a guess, so none does.
    RepeatedField,
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Strict::deserialize(deserializer) {
            Ok(Strict {
                value,
                repeated: false,
            }) => Payload::Json(value),
            Ok(_) => Payload::RepeatedField,
            Err(_) => Payload::NotJson,
        })
    }
}

impl Payload {
    pub fn into_json(self) -> Result<Value> {
        match self {
            Self::Json(value) => Ok(value),
            Self::NotJson => Err(Error::InvalidRequest(
                "the invocation payload must be a JSON object".into(),
            )),
            Self::RepeatedField => Err(Error::InvalidRequest(
                "the invocation payload names a field twice".into(),
            )),
        }
    }
}

/// A JSON value, and whether one of its objects repeated a key (serde_json's `Value` keeps
/// the last one silently).
struct Strict {
    value: Value,
    repeated: bool,
}

impl Strict {
    fn plain(value: Value) -> Self {
        Self {
            value,
            repeated: false,
        }
    }
}

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Strict, E> {
        Ok(Strict::plain(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Strict, E> {
        Ok(Strict::plain(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Strict, E> {
        Ok(Strict::plain(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Strict, E> {
        // As serde_json's own `Value`: a float JSON cannot hold is null.
        Ok(Strict::plain(
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }
    fn visit_str<E>(self, v: &str) -> Result<Strict, E> {
        Ok(Strict::plain(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Strict, E> {
        Ok(Strict::plain(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict::plain(Value::Null))
    }
    fn visit_none<E>(self) -> Result<Strict, E> {
        Ok(Strict::plain(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Strict, D::Error> {
        Strict::deserialize(deserializer)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        let (mut items, mut repeated) = (Vec::new(), false);
        while let Some(item) = seq.next_element::<Strict>()? {
            repeated |= item.repeated;
            items.push(item.value);
        }
        Ok(Strict {
            value: Value::Array(items),
            repeated,
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let (mut object, mut repeated) = (serde_json::Map::new(), false);
        while let Some(key) = map.next_key::<String>()? {
            let item: Strict = map.next_value()?;
            repeated |= item.repeated || object.contains_key(&key);
            object.insert(key, item.value);
        }
        Ok(Strict {
            value: Value::Object(object),
            repeated,
        })
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

    /// Found by `fuzz/fuzz_targets/invocation.rs`: the message named the unknown field as sent.
    #[test]
    fn an_unknown_field_is_not_quoted_back() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Lookup {
            client_business_id: String,
        }
        let raw: &[u8] = br#"{"/wner": "partner", "page_id": "333"}"#;
        let payload: Value = serde_json::from_slice(raw).unwrap();
        let err = parse::<Lookup>(payload).unwrap_err();
        assert_eq!(err.error_type(), "InvalidRequest");
        assert!(!err.to_string().contains("/wner"), "{err}");
        assert!(
            err.to_string()
                .contains("an unknown field (expected `client_business_id`)"),
            "{err}"
        );
    }

    #[test]
    fn a_field_named_twice_is_refused_at_any_depth() {
        let read = |raw: &str| {
            let mut de = serde_json::Deserializer::from_str(raw);
            Payload::deserialize(&mut de).unwrap()
        };
        for repeated in [
            r#"{"client_business_id":"1","client_business_id":"1"}"#,
            r#"{"client_business_id":"x","client_business_id":"1"}"#,
            r#"{"a":[{"b":1,"b":2}]}"#,
            r#"{"a":{"b":{"c":1,"c":1}}}"#,
        ] {
            let err = read(repeated).into_json().unwrap_err();
            assert_eq!(err.error_type(), "InvalidRequest", "{repeated}");
        }
        // The same JSON as serde_json reads it, when nothing repeats.
        let raw = r#"{"a":[1,-2,3.5,"x",null,true,{"b":{}}],"c":18446744073709551615}"#;
        match read(raw) {
            Payload::Json(value) => {
                assert_eq!(value, serde_json::from_str::<Value>(raw).unwrap())
            }
            other => panic!("{other:?}"),
        }
    }

    /// Found by `fuzz/fuzz_targets/invocation.rs`: serde_json's own `Value` refuses an object
    /// keyed by its private RawValue token; the payload reads the object, which no shape takes.
    #[test]
    fn an_object_keyed_by_serde_jsons_raw_value_token_is_read_then_refused() {
        let raw: &[u8] = br#"{"$serde_json::private::RawValue": ""}"#;
        assert!(serde_json::from_slice::<Value>(raw).is_err());
        let payload: Payload = serde_json::from_slice(raw).unwrap();
        let value = payload.into_json().unwrap();
        assert_eq!(
            value,
            serde_json::json!({"$serde_json::private::RawValue": ""})
        );
        let refused = parse::<crate::lambda::shapes::TokenFields>(value).unwrap_err();
        assert_eq!(refused.error_type(), "InvalidRequest");
    }
}
