//! What tests do to the stack: the browser's and the partner's requests, and the emulator's controls.

use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

use crate::emulator::{business_spec, code_request};
use crate::stack::{Stack, TABLE};
pub use local_stack::Session;

fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// An API Gateway HTTP API (payload 2.0) event, its body base64-encoded as API Gateway sends
/// bodies it does not take for text.
pub fn http_event(
    method: &str,
    path: &str,
    raw_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Value {
    use base64::Engine;
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), Value::from(*value)))
        .collect();
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {"http": {"method": method, "path": path, "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1", "userAgent": "e2e"}, "stage": "$default", "requestId": "e2e",
            "routeKey": "$default", "timeEpoch": 0},
        "body": base64::engine::general_purpose::STANDARD.encode(body),
        "isBase64Encoded": true,
    })
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.body))
    }
    pub fn location(&self) -> String {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
}

pub struct Business {
    pub id: String,
    pub system_user_id: String,
}

/// The items and secrets there are, to show that a request changed nothing.
#[derive(Debug, PartialEq, Eq)]
pub struct Counts {
    pub items: usize,
    pub secrets: usize,
}

/// Everything the service keeps, to show that requests changed nothing: every item of the
/// table as canonical JSON (keys sorted) by its `pk` and `sk`, and every secret with the
/// version `AWSCURRENT` points at. Its `Debug` shows session states: in messages, use
/// [`Snapshot::changes_since`], which does not.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub items: BTreeMap<(String, String), String>,
    pub secrets: Vec<local_stack::aws::SecretVersion>,
}

impl Snapshot {
    /// What differs from `before`, one line each, naming items by key (a session's state
    /// withheld) and changed attributes by name, never by value.
    pub fn changes_since(&self, before: &Snapshot) -> Vec<String> {
        let shown = |(pk, sk): &(String, String)| {
            let pk = match pk.split_once('#') {
                Some(("SESSION", _)) => "SESSION#<state>".to_owned(),
                _ => pk.clone(),
            };
            format!("{pk} / {sk}")
        };
        let mut changes = Vec::new();
        for (key, item) in &self.items {
            match before.items.get(key) {
                None => changes.push(format!("item added: {}", shown(key))),
                Some(old) if old != item => {
                    let parse = |text: &str| -> serde_json::Map<String, Value> {
                        serde_json::from_str(text).unwrap_or_default()
                    };
                    let (old, new) = (parse(old), parse(item));
                    let fields: std::collections::BTreeSet<&String> = old
                        .keys()
                        .chain(new.keys())
                        .filter(|k| old.get(*k) != new.get(*k))
                        .collect();
                    changes.push(format!("item changed: {} (fields {fields:?})", shown(key)));
                }
                Some(_) => {}
            }
        }
        for key in before.items.keys().filter(|k| !self.items.contains_key(*k)) {
            changes.push(format!("item removed: {}", shown(key)));
        }
        for secret in &self.secrets {
            if !before.secrets.contains(secret) {
                changes.push(format!("secret new or changed: {secret:?}"));
            }
        }
        for secret in &before.secrets {
            if !self.secrets.iter().any(|s| s.name == secret.name) {
                changes.push(format!("secret removed: {}", secret.name));
            }
        }
        changes
    }
}

/// What `cargo lambda watch` answers itself when it loses a function's answer: a large one,
/// now and then, on a loaded machine, although the function answered and Lambda would have
/// delivered it (see tools/local-stack/src/relay.rs). The functions never answer this.
const WATCH_LOST_ANSWER: &str =
    r#"{"type":"https://httpstatuses.com/500","status":500,"title":"Internal Server Error"}"#;

impl Stack {
    async fn answer(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("the stack answers");
        let from_functions = response.url().as_str().starts_with(&self.invoke_url);
        let answer = Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap_or_default(),
        };
        if from_functions {
            self.witness(answer)
        } else {
            answer
        }
    }

    /// Keeps what the hygiene cases look for in the logs and answers: the cookies the
    /// functions set and the bodies of their refusals.
    fn witness(&self, answer: Answer) -> Answer {
        let cookies = answer
            .headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next()?.split_once('='))
            .map(|(_, value)| value.to_owned())
            .filter(|value| !value.is_empty());
        self.credentials.lock().unwrap().extend(cookies);
        if answer.status >= 400 {
            self.refusals.lock().unwrap().push(answer.body.clone());
        }
        answer
    }

    /// A request to the functions, by path (and query) under the invoke URL. A GET whose
    /// answer `cargo lambda watch` lost is sent again, once, and counted in `lost_answers`.
    pub async fn get(&self, path_and_query: &str) -> Answer {
        let url = format!("{}{path_and_query}", self.invoke_url);
        let answer = self.answer(self.http.get(&url)).await;
        if answer.status != 500 || answer.body != WATCH_LOST_ANSWER {
            return answer;
        }
        self.lost_answers
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        eprintln!("cargo lambda watch lost the answer to GET {path_and_query}: sent again");
        self.answer(self.http.get(&url)).await
    }

    pub async fn post(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Answer {
        let mut request = self
            .http
            .post(format!("{}{path}", self.invoke_url))
            .body(body);
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        self.answer(request).await
    }

    /// Sends an API Gateway HTTP API (payload 2.0) event with a base64 body straight to a
    /// function through the runtime's invoke API, and reads the HTTP answer out of its result.
    pub async fn invoke_http_event(
        &self,
        function: &str,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Answer {
        let event = http_event(method, path, "", &[("content-type", content_type)], body);
        let url = format!(
            "{}/2015-03-31/functions/{function}/invocations",
            self.invoke_url
        );
        let invoked = self.answer(self.http.post(url).json(&event)).await;
        assert_eq!(invoked.status, 200, "invoke: {}", invoked.body);
        let result = invoked.json();
        self.witness(Answer {
            status: result["statusCode"].as_u64().expect("statusCode") as u16,
            headers: reqwest::header::HeaderMap::new(),
            body: result["body"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// A request with any method, headers and body, from `browser` (this stack's own client,
    /// or another one, e.g. [`Stack::other_browser`]); status 0 when nothing came back.
    pub async fn send(
        &self,
        browser: &reqwest::Client,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let mut request = browser
            .request(method, format!("{}{path_and_query}", self.invoke_url))
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        match request.send().await {
            Ok(response) => self.witness(Answer {
                status: response.status().as_u16(),
                headers: response.headers().clone(),
                body: response.text().await.unwrap_or_default(),
            }),
            // Status 0: nothing came back. The URL may hold a state: it is left out.
            Err(err) => Answer {
                status: 0,
                headers: reqwest::header::HeaderMap::new(),
                body: format!("no answer: {}", err.without_url()),
            },
        }
    }

    /// A second browser: no cookie of this stack's browser, no redirects followed.
    pub fn other_browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .expect("HTTP client")
    }

    /// A direct invocation whose payload is exactly `body` (any bytes): `Ok(result)`, or
    /// `Err` with the `errorType`, or with what came back when there was none.
    pub async fn invoke_bytes(
        &self,
        function: &str,
        body: impl Into<reqwest::Body>,
    ) -> Result<Value, String> {
        let url = format!(
            "{}/2015-03-31/functions/{function}/invocations",
            self.invoke_url
        );
        let answer = self.answer(self.http.post(url).body(body)).await;
        let parsed: Option<Value> = serde_json::from_str(&answer.body).ok();
        match parsed {
            Some(value) => match value.get("errorType").and_then(Value::as_str) {
                Some(error_type) => Err(error_type.to_owned()),
                None if answer.status == 200 => Ok(value),
                None => Err(format!("HTTP {} without an errorType", answer.status)),
            },
            None => Err(format!(
                "HTTP {} with a body that is not JSON",
                answer.status
            )),
        }
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Answer {
        self.post(path, "application/json", body.to_string()).await
    }

    /// A direct invocation through the runtime's invoke API: `Ok(result)` or `Err(errorType)`.
    pub async fn invoke(&self, function: &str, payload: &Value) -> Result<Value, String> {
        let url = format!(
            "{}/2015-03-31/functions/{function}/invocations",
            self.invoke_url
        );
        let answer = self.answer(self.http.post(url).json(payload)).await;
        let body: Value =
            serde_json::from_str(&answer.body).unwrap_or(Value::String(answer.body.clone()));
        match body.get("errorType").and_then(Value::as_str) {
            Some(error_type) => Err(error_type.to_owned()),
            None if answer.status == 200 => Ok(body),
            None => panic!("invoke {function}: HTTP {} {}", answer.status, answer.body),
        }
    }

    /// A direct invocation whose payload is exactly `body` (maybe empty, maybe not JSON);
    /// answers the `errorType`, or `None` when the invocation succeeded.
    pub async fn invoke_raw(&self, function: &str, body: &str) -> Option<String> {
        let url = format!(
            "{}/2015-03-31/functions/{function}/invocations",
            self.invoke_url
        );
        let answer = self.answer(self.http.post(url).body(body.to_owned())).await;
        let parsed: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        parsed
            .get("errorType")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// A read-out of the emulator (`GET`), answering its JSON.
    pub async fn emulator_json_get(&self, path: &str) -> Value {
        let answer = self
            .answer(self.http.get(format!("{}{path}", self.emulator_url)))
            .await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        answer.json()
    }

    /// A control call to the emulator, answering its JSON.
    pub async fn emulator_json(&self, path: &str, body: &Value) -> Value {
        let answer = self.emulator(path, body).await;
        assert!(
            answer.status < 300,
            "{path}: {} {}",
            answer.status,
            answer.body
        );
        answer.json()
    }

    /// The secrets held for a client business.
    pub async fn client_secrets(&self, business: &Business) -> Vec<String> {
        let prefix = format!("{}/clients/{}/", crate::stack::SECRET_PREFIX, business.id);
        self.aws
            .secret_names()
            .await
            .into_iter()
            .filter(|n| n.starts_with(&prefix))
            .collect()
    }

    pub async fn invalidate_tokens(&self, business: &Business) {
        self.emulator(
            "/_emulator/tokens/invalidate",
            &json!({"business_id": business.id}),
        )
        .await;
    }

    pub async fn expire_tokens(&self, business: &Business, in_secs: u64) {
        let body = json!({"business_id": business.id, "expires_in_secs": in_secs});
        self.emulator("/_emulator/tokens/expire", &body).await;
    }

    pub async fn remove_pixel(&self, business: &Business, pixel_id: &str) {
        let url = format!(
            "{}/_emulator/businesses/{}/pixels/{pixel_id}",
            self.emulator_url, business.id
        );
        let answer = self.answer(self.http.delete(url)).await;
        assert_eq!(answer.json()["removed"], 1);
    }

    /// Sets one attribute of a client item, as another writer would.
    pub async fn set_client_field(&self, business: &Business, field: &str, value: &str) {
        use aws_sdk_dynamodb::types::AttributeValue;
        self.aws
            .dynamodb
            .update_item()
            .table_name(TABLE)
            .key("pk", AttributeValue::S(format!("CLIENT#{}", business.id)))
            .key("sk", AttributeValue::S("CLIENT".into()))
            .update_expression("SET #f = :v")
            .expression_attribute_names("#f", field)
            .expression_attribute_values(":v", AttributeValue::S(value.into()))
            .send()
            .await
            .expect("update the client item");
    }

    /// Makes the client's next check due now, as if its time (or a lease) had passed; a client
    /// out of the `due` index stays out.
    pub async fn make_due(&self, business: &Business) {
        use aws_sdk_dynamodb::types::AttributeValue;
        let past = AttributeValue::N((now_epoch() - 1).to_string());
        let result = self
            .aws
            .dynamodb
            .update_item()
            .table_name(TABLE)
            .key("pk", AttributeValue::S(format!("CLIENT#{}", business.id)))
            .key("sk", AttributeValue::S("CLIENT".into()))
            .update_expression("SET due_at = :past, next_check_at = :past")
            .condition_expression("attribute_exists(due_pk)")
            .expression_attribute_values(":past", past)
            .send()
            .await;
        if let Err(err) = result {
            use aws_sdk_dynamodb::error::ProvideErrorMetadata;
            assert_eq!(
                err.code(),
                Some("ConditionalCheckFailedException"),
                "make due"
            );
        }
    }

    /// Makes the pending-secret markers under `pk` due now, as if their grace had passed.
    pub async fn make_pending_due(&self, pk: &str) {
        use aws_sdk_dynamodb::types::AttributeValue;
        let past = AttributeValue::N((now_epoch() - 1).to_string());
        for item in self.items_under(pk).await {
            let sk = item["sk"].as_str().unwrap_or_default();
            if !sk.starts_with("PENDING#") {
                continue;
            }
            self.aws
                .dynamodb
                .update_item()
                .table_name(TABLE)
                .key("pk", AttributeValue::S(pk.to_owned()))
                .key("sk", AttributeValue::S(sk.to_owned()))
                .update_expression("SET due_at = :past")
                .expression_attribute_values(":past", past.clone())
                .send()
                .await
                .expect("make a pending marker due");
        }
    }

    pub async fn set_client_status(&self, business: &Business, status: &str) {
        self.set_client_field(business, "status", status).await;
    }

    /// A JSON POST with extra headers, e.g. a webhook signature.
    pub async fn post_with_headers(
        &self,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self
            .http
            .post(format!("{}{path}", self.invoke_url))
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.answer(request).await
    }

    /// Onboards `business` through the JavaScript SDK flow and returns the JSON answer.
    pub async fn onboard(&self, business: &Business, partner_ref: &str) -> (Session, Value) {
        let session = self.create_session(partner_ref).await;
        let code = self.issue_code(business, None).await;
        let answer = self.post_code(&code, &session.state).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        (session, answer.json())
    }

    /// What the onboarding page does with the code `FB.login` returned.
    pub async fn post_code(&self, code: &str, state: &str) -> Answer {
        self.post_json("/oauth/code", &json!({"code": code, "state": state}))
            .await
    }

    /// A new session, opened in this stack's browser: its `login_url` is bound to the
    /// browser's cookie and followed to Meta's dialog, which `login_url` then holds.
    pub async fn create_session(&self, partner_ref: &str) -> Session {
        let mut session = self
            .new_session(partner_ref)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        self.states.lock().unwrap().push(session.state.clone());
        let start = self.answer(self.http.get(session.login_url.clone())).await;
        assert_eq!(start.status, 302, "login_url: {}", start.body);
        session.login_url = start.location().parse().expect("the dialog URL");
        session
    }

    /// What a person does on the consent page: pick the business, Allow or Cancel.
    /// Returns where the dialog sends the browser back to.
    pub async fn consent(&self, session: &Session, business: &Business, allow: bool) -> url::Url {
        let page = self.answer(self.http.get(session.login_url.clone())).await;
        assert_eq!(page.status, 200, "consent page: {}", page.body);
        let mut form: HashMap<String, String> =
            session.login_url.query_pairs().into_owned().collect();
        form.retain(|k, _| {
            ["client_id", "config_id", "redirect_uri", "state"].contains(&k.as_str())
        });
        form.insert("business_id".into(), business.id.clone());
        form.insert(
            "decision".into(),
            if allow { "allow" } else { "cancel" }.into(),
        );
        let decided = self
            .answer(
                self.http
                    .post(format!("{}/_emulator/dialog/decide", self.emulator_url))
                    .form(&form),
            )
            .await;
        assert!(
            decided.status == 303 || decided.status == 302,
            "decide: {}",
            decided.status
        );
        decided.location().parse().expect("a redirect URL")
    }

    /// Follows the dialog's redirect back to the service, as the browser would.
    pub async fn follow(&self, target: &url::Url) -> Answer {
        self.answer(self.http.get(target.clone())).await
    }

    /// Follows `target` and the redirects after it, as a browser would: the last answer, and
    /// each address redirected to.
    pub async fn follow_redirects(&self, target: &url::Url) -> (Answer, Vec<url::Url>) {
        let mut hops = Vec::new();
        let mut answer = self.follow(target).await;
        while (300..400).contains(&answer.status) {
            assert!(hops.len() < 5, "a redirect loop: {hops:?}");
            let from = hops.last().unwrap_or(target);
            let next = from.join(&answer.location()).expect("a redirect target");
            answer = self.follow(&next).await;
            hops.push(next);
        }
        (answer, hops)
    }

    async fn emulator(&self, path: &str, body: &Value) -> Answer {
        self.answer(
            self.http
                .post(format!("{}{path}", self.emulator_url))
                .json(body),
        )
        .await
    }

    pub async fn new_business(&self) -> Business {
        self.new_business_with_pixels(0, 0, false).await
    }

    /// A business as `emulator::business_spec` describes it.
    pub async fn new_business_with_pixels(
        &self,
        owned: usize,
        shared: usize,
        empty_page: bool,
    ) -> Business {
        let spec = business_spec(owned, shared, empty_page);
        let body = self.emulator("/_emulator/businesses", &spec).await.json();
        Business {
            id: body["id"].as_str().expect("id").to_owned(),
            system_user_id: body["system_user_id"]
                .as_str()
                .expect("system_user_id")
                .to_owned(),
        }
    }

    /// A code as `emulator::code_request` asks for it.
    pub async fn issue_code(&self, business: &Business, redirect_uri: Option<&str>) -> String {
        let body = code_request(&business.id, redirect_uri);
        let answer = self.emulator("/_emulator/codes", &body).await;
        answer.json()["code"].as_str().expect("code").to_owned()
    }

    pub async fn inject_fault(&self, fault: Value) {
        let answer = self.emulator("/_emulator/faults", &fault).await;
        assert_eq!(answer.status, 204, "{}", answer.body);
    }

    /// Drops every injected fault not used up yet.
    pub async fn clear_faults(&self) {
        let answer = self
            .answer(
                self.http
                    .delete(format!("{}/_emulator/faults", self.emulator_url)),
            )
            .await;
        assert_eq!(answer.status, 204, "{}", answer.body);
    }

    pub async fn set_code_lifetime_ms(&self, ms: u64) {
        let answer = self
            .emulator("/_emulator/settings", &json!({"code_lifetime_ms": ms}))
            .await;
        assert_eq!(answer.status, 204);
    }

    /// The emulator's request log.
    pub async fn graph_requests(&self) -> Vec<Value> {
        let answer = self
            .answer(
                self.http
                    .get(format!("{}/_emulator/requests", self.emulator_url)),
            )
            .await;
        answer.json()["requests"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Calls to `path` in the log, e.g. `/oauth/access_token`.
    pub async fn graph_calls(&self, path: &str) -> usize {
        self.graph_requests()
            .await
            .iter()
            .filter(|r| r["path"] == path)
            .count()
    }

    /// Every token, code and `signed_request` the emulator ever issued.
    pub async fn issued_secrets(&self) -> Vec<String> {
        self.issued().await.into_iter().map(|(_, v)| v).collect()
    }

    /// The same, each with its kind (`token`, `code`, `signed_request`).
    pub async fn issued(&self) -> Vec<(&'static str, String)> {
        let body = self.emulator_json_get("/_emulator/issued").await;
        [
            ("tokens", "token"),
            ("codes", "code"),
            ("signed_requests", "signed_request"),
        ]
        .into_iter()
        .flat_map(|(key, kind)| {
            let listed = body[key].as_array().cloned().unwrap_or_default();
            listed
                .into_iter()
                .filter_map(move |v| Some((kind, v.as_str()?.to_owned())))
        })
        .collect()
    }

    pub async fn counts(&self) -> Counts {
        Counts {
            items: self.aws.scan(TABLE).await.len(),
            secrets: self.aws.secret_names().await.len(),
        }
    }

    /// Every item and every secret's current version, to compare before and after.
    pub async fn snapshot(&self) -> Snapshot {
        let items = self
            .aws
            .scan(TABLE)
            .await
            .into_iter()
            .map(|item| {
                let value: Value = serde_dynamo::from_item(item).expect("items convert to JSON");
                let key = |name: &str| value[name].as_str().unwrap_or_default().to_owned();
                // serde_json's maps are sorted, so the text is canonical.
                ((key("pk"), key("sk")), value.to_string())
            })
            .collect();
        let mut secrets = self.aws.secret_versions().await;
        secrets.sort();
        Snapshot { items, secrets }
    }
}

impl Stack {
    /// One table item as JSON, read straight from the local endpoint.
    pub async fn item(&self, pk: &str, sk: &str) -> Option<Value> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let out = self
            .aws
            .dynamodb
            .get_item()
            .table_name(TABLE)
            .key("pk", AttributeValue::S(pk.into()))
            .key("sk", AttributeValue::S(sk.into()))
            .send()
            .await
            .expect("get item");
        out.item
            .map(|item| serde_dynamo::from_item(item).expect("items convert to JSON"))
    }

    /// Every item under one partition key, as JSON.
    pub async fn items_under(&self, pk: &str) -> Vec<Value> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let out = self
            .aws
            .dynamodb
            .query()
            .table_name(TABLE)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.into()))
            .send()
            .await
            .expect("query items");
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(|item| serde_dynamo::from_item(item).expect("items convert to JSON"))
            .collect()
    }

    /// Writes a session item directly, e.g. one that has already expired.
    pub async fn put_session_item(&self, state: &str, expires_at_epoch: i64) {
        let item = json!({"pk": format!("SESSION#{state}"), "sk": "SESSION", "partner_ref": "acct-raw",
            "mode": "bisu", "status": "pending", "created_at": 1767225600,
            "expires_at": expires_at_epoch, "expires_at_epoch": expires_at_epoch, "result": null});
        self.aws
            .dynamodb
            .put_item()
            .table_name(TABLE)
            .set_item(Some(
                serde_dynamo::to_item(item).expect("JSON converts to an item"),
            ))
            .send()
            .await
            .expect("put session item");
        self.states.lock().unwrap().push(state.to_owned());
    }
}
