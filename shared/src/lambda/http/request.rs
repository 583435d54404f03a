//! Bounded, strict parsing of query strings and JSON bodies: what does not parse is a 4xx.

use lambda_http::{Body, Request};
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The longest query string accepted.
pub const MAX_QUERY_LEN: usize = 4096;

/// Decoded query parameters, in order, with repeats kept so they can be refused.
#[derive(Default)]
pub struct Query(Vec<(String, String)>);

/// Names only: values include the `code`, the `state` and `signed_request`.
impl std::fmt::Debug for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Query")
            .field(&self.0.iter().map(|(name, _)| name).collect::<Vec<_>>())
            .finish()
    }
}

pub fn query(req: &Request) -> Result<Query> {
    let raw = req.uri().query().unwrap_or("");
    if raw.len() > MAX_QUERY_LEN {
        return Err(Error::InvalidRequest(format!(
            "query string is longer than {MAX_QUERY_LEN} characters"
        )));
    }
    let pairs: Vec<(String, String)> = form_urlencoded_pairs(raw);
    for (key, value) in &pairs {
        if [key, value].iter().any(|s| s.contains('\u{FFFD}')) {
            return Err(Error::InvalidRequest(
                "query string is not valid UTF-8".into(),
            ));
        }
        if [key, value].iter().any(|s| s.chars().any(char::is_control)) {
            return Err(Error::InvalidRequest(
                "query string contains control characters".into(),
            ));
        }
    }
    Ok(Query(pairs))
}

fn form_urlencoded_pairs(raw: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl Query {
    /// The one value of `name`; repeating it is an error, as is a value longer than `max_len`.
    pub fn single(&self, name: &str, max_len: usize) -> Result<Option<&str>> {
        let mut values = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(Error::InvalidRequest(format!(
                "parameter {name} is repeated"
            )));
        }
        match first {
            Some(v) if v.len() > max_len => Err(Error::InvalidRequest(format!(
                "parameter {name} is longer than {max_len} characters"
            ))),
            other => Ok(other),
        }
    }

    pub fn required(&self, name: &str, max_len: usize) -> Result<&str> {
        self.single(name, max_len)?
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::InvalidRequest(format!("parameter {name} is required")))
    }
}

/// The value of cookie `name`, if the request sent exactly one.
pub fn cookie<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    let mut found = req
        .headers()
        .get_all(lambda_http::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v);
    let first = found.next();
    found.next().is_none().then_some(first).flatten()
}

/// The body's bytes, at most `max_len` of them.
pub fn raw_body(req: &Request, max_len: usize) -> Result<&[u8]> {
    let bytes: &[u8] = match req.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    };
    if bytes.len() > max_len {
        return Err(Error::PayloadTooLarge(format!(
            "body is larger than {max_len} bytes"
        )));
    }
    Ok(bytes)
}

/// A JSON body of at most `max_len` bytes, sent as `application/json`, into `T`.
pub fn json_body<T: DeserializeOwned>(req: &Request, max_len: usize) -> Result<T> {
    let content_type = req
        .headers()
        .get(lambda_http::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(Error::UnsupportedMediaType(
            "send the body as Content-Type: application/json".into(),
        ));
    }
    let bytes = raw_body(req, max_len)?;
    if bytes.is_empty() {
        return Err(Error::InvalidRequest("a JSON body is required".into()));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        // serde_json's message names the field and position, never echoes values.
        Error::InvalidRequest(format!(
            "body is not the expected JSON: {}",
            describe_json_error(&e)
        ))
    })
}

/// What a JSON error says about the input without quoting it.
pub fn describe_json_error(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match err.classify() {
        Category::Syntax | Category::Eof => "malformed JSON".into(),
        Category::Io => "unreadable body".into(),
        Category::Data => {
            // serde's own messages quote the offending value ("invalid type: string \"..\"")
            // or name ("unknown field `..`"); keep only what was expected. Our validators'
            // messages never quote input.
            let text = err.to_string();
            let text = text
                .rsplit_once(" at line")
                .map_or(text.as_str(), |(t, _)| t);
            if text.starts_with("invalid ") {
                let expected = text.rsplit_once(", expected ").map_or("", |(_, e)| e);
                format!("a field has the wrong type or value (expected {expected})")
            } else if let Some(kind) = ["field", "variant"]
                .into_iter()
                .find(|kind| text.starts_with(&format!("unknown {kind} `")))
            {
                // After the last "`, expected " comes only our own list of names.
                match text.rsplit_once("`, expected ") {
                    Some((_, expected)) => format!("an unknown {kind} (expected {expected})"),
                    None => format!("an unknown {kind}"),
                }
            } else {
                text.chars().take(200).collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;

    fn get(uri: &str) -> Request {
        http::Request::builder().uri(uri).body(Body::Empty).unwrap()
    }

    #[test]
    fn repeated_and_oversized_parameters_are_refused() {
        let q = query(&get("/x?a=1&a=2&b=22")).unwrap();
        assert!(q.single("a", 10).is_err());
        assert!(q.single("b", 1).is_err());
        assert_eq!(q.single("b", 2).unwrap(), Some("22"));
        assert!(q.required("c", 10).is_err());
    }

    #[test]
    fn cookies_are_read_once() {
        let with = |value: &str| {
            http::Request::builder()
                .uri("/x")
                .header("cookie", value)
                .body(Body::Empty)
                .unwrap()
        };
        assert_eq!(cookie(&with("a=1; b=2"), "b"), Some("2"));
        assert_eq!(cookie(&with("a=1"), "b"), None);
        assert_eq!(
            cookie(&with("b=1; b=2"), "b"),
            None,
            "a repeated cookie is refused"
        );
    }

    #[test]
    fn bad_bytes_in_queries_are_refused() {
        assert!(query(&get("/x?a=%FF")).is_err());
        assert!(query(&get("/x?a=%00")).is_err());
        assert!(query(&get(&format!("/x?a={}", "b".repeat(5000)))).is_err());
    }

    #[test]
    fn json_bodies_need_the_right_type_and_size() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct In {
            code: String,
        }
        let post = |ct: &str, body: &str| {
            http::Request::builder()
                .method("POST")
                .uri("/x")
                .header("content-type", ct)
                .body(Body::Text(body.into()))
                .unwrap()
        };
        assert!(json_body::<In>(&post("application/json", r#"{"code":"a"}"#), 100).is_ok());
        assert!(json_body::<In>(&post("text/plain", r#"{"code":"a"}"#), 100).is_err());
        assert!(json_body::<In>(&post("application/json", r#"{"code":"a","x":1}"#), 100).is_err());
        assert!(json_body::<In>(&post("application/json", "{"), 100).is_err());
        let err =
            json_body::<In>(&post("application/json", r#"{"code":"secretvalue"}"#), 5).unwrap_err();
        assert!(matches!(err, Error::PayloadTooLarge(_)));
        let err = json_body::<In>(&post("application/json", r#"{"code": 5}"#), 100).unwrap_err();
        assert_eq!(
            err.to_string(),
            "body is not the expected JSON: a field has the wrong type or value (expected a string)"
        );
        let err = json_body::<In>(
            &post("application/json", r#"{"code": ["s3cr3t-value"]}"#),
            100,
        )
        .unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        let err = json_body::<In>(&post("application/json", r#"{}"#), 100).unwrap_err();
        assert!(err.to_string().contains("missing field `code`"), "{err}");
    }

    /// Found by `fuzz/fuzz_targets/json_body.rs`: serde names an unknown field (or variant)
    /// as sent, and the message went back to the caller whole.
    #[test]
    fn an_unknown_field_is_not_quoted_back() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct In {
            partner_ref: String,
            #[serde(default)]
            mode: Option<Mode>,
        }
        #[derive(serde::Deserialize, Debug)]
        #[serde(rename_all = "snake_case")]
        enum Mode {
            Bisu,
        }
        let body = |raw: &[u8]| {
            http::Request::builder()
                .method("POST")
                .uri("/x")
                .header("content-type", "application/json")
                .body(Body::Binary(raw.to_vec()))
                .unwrap()
        };
        let err = json_body::<In>(&body(b"{\"partner_refpathcct-42@sh{\"partnere\"}"), 100)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("partner_refpathcct"), "{err}");
        assert!(
            err.contains("an unknown field (expected `partner_ref` or `mode`)"),
            "{err}"
        );
        let err = json_body::<In>(
            &body(br#"{"partner_ref":"a","mode":"s3cr3t`, expected x"}"#),
            100,
        )
        .unwrap_err()
        .to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
        assert!(
            err.contains("an unknown variant (expected `bisu`)"),
            "{err}"
        );
    }
}
