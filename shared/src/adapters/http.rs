//! One HTTP client per process, for Graph calls and the AWS SDK alike: one connection pool and
//! one TLS configuration, made on the first request. Its trusted roots are compiled in
//! (`webpki-roots`, Mozilla's list), so no certificate file is read, at start or ever: the
//! only servers it talks to are Meta's and AWS's, whose roots that list holds.

use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How long a connection (TCP and TLS) may take before the call fails as a network error.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The process's client, made on first use.
pub fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config())
            .connect_timeout(CONNECT_TIMEOUT)
            // A redirect would resend a client secret, a token or a signed request elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "meta-login-token-service/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .expect("a client with static settings builds")
    })
}

fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    // A preconfigured TLS setup gets no ALPN from reqwest: offer what it speaks.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

/// The AWS SDK's HTTP client: requests go through [`client`]. The SDK's own timeouts (attempt
/// and operation) and retries wrap each call as usual; its connect timeout setting does not
/// apply, [`CONNECT_TIMEOUT`] does.
pub fn aws_http_client() -> SharedHttpClient {
    http_client_fn(|_settings, _components| SharedHttpConnector::new(SdkConnector))
}

#[derive(Debug)]
struct SdkConnector;

impl HttpConnector for SdkConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        HttpConnectorFuture::new(send(request))
    }
}

async fn send(request: HttpRequest) -> Result<HttpResponse, ConnectorError> {
    let request = request
        .try_into_http1x()
        .map_err(|e| ConnectorError::user(e.into()))?;
    let (parts, body) = request.into_parts();
    // DynamoDB and Secrets Manager requests are small JSON documents held in memory.
    let body = body
        .bytes()
        .map(bytes::Bytes::copy_from_slice)
        .ok_or_else(|| ConnectorError::user("a streaming request body".into()))?;
    let answer = client()
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(connector_error)?;
    let mut response = http::Response::builder().status(answer.status());
    if let Some(headers) = response.headers_mut() {
        *headers = answer.headers().clone();
    }
    let body = answer.bytes().await.map_err(connector_error)?;
    let response = response
        .body(SdkBody::from(body))
        .map_err(|e| ConnectorError::other(e.into(), None))?;
    HttpResponse::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
}

/// How the SDK should take a failed request: a timeout or a failed connection, request or
/// body is retried; a request that could not be built, or anything else, is not.
fn connector_error(err: reqwest::Error) -> ConnectorError {
    let (timeout, io, built) = (
        err.is_timeout(),
        err.is_connect() || err.is_request() || err.is_body(),
        !err.is_builder(),
    );
    // `without_url` keeps the query string out of errors and logs.
    let err = err.without_url();
    match (timeout, io, built) {
        (true, _, _) => ConnectorError::timeout(err.into()),
        (_, true, _) => ConnectorError::io(err.into()),
        (_, _, false) => ConnectorError::user(err.into()),
        _ => ConnectorError::other(err.into(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::http::HttpClient;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn the_roots_are_compiled_in() {
        let config = tls_config();
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100);
        assert_eq!(config.alpn_protocols.len(), 2);
    }

    /// A server that answers one request with `answer` and hands back what it received.
    async fn one_answer(answer: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = vec![0; 4096];
            let n = socket.read(&mut seen).await.unwrap();
            socket.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&seen[..n]).into_owned()
        });
        (url, served)
    }

    fn connector() -> SharedHttpConnector {
        let components = RuntimeComponentsBuilder::for_tests()
            .build()
            .expect("test components");
        aws_http_client().http_connector(&Default::default(), &components)
    }

    #[tokio::test]
    async fn the_sdk_connector_sends_the_request_and_reads_the_answer() {
        let (url, served) = one_answer(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 2\r\n\r\n{}",
        )
        .await;
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("{url}/"))
            .header("x-amz-target", "DynamoDB_20120810.GetItem")
            .body(SdkBody::from("{\"TableName\":\"t\"}"))
            .unwrap();
        let request = HttpRequest::try_from(request).unwrap();
        let answer = connector().call(request).await.unwrap();
        assert_eq!(answer.status().as_u16(), 400);
        assert_eq!(
            answer.headers().get("content-type"),
            Some("application/x-amz-json-1.0")
        );
        assert_eq!(answer.body().bytes(), Some(&b"{}"[..]));
        let seen = served.await.unwrap();
        assert!(seen.starts_with("POST / HTTP/1.1"), "{seen}");
        assert!(seen.contains("x-amz-target: DynamoDB_20120810.GetItem"));
        assert!(seen.ends_with("{\"TableName\":\"t\"}"));
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_io_error_the_sdk_retries() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let mut request = HttpRequest::new(SdkBody::empty());
        request
            .set_uri(format!("http://127.0.0.1:{port}/"))
            .unwrap();
        let err = connector().call(request).await.unwrap_err();
        assert!(err.is_io(), "{err:?}");
    }
}
