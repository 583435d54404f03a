//! The Graph emulator's control routes, for the benchmarks, and the bodies the tests send too.

use local_stack::stack::{APP_ID, LOGIN_CONFIG_ID};
use serde_json::{Value, json};

/// `POST /_emulator/businesses`: a business with `owned` pixels of its own and `shared` ones
/// shared with it; with `empty_page`, each list serves an empty page (with `next`) after its
/// first page.
pub fn business_spec(owned: usize, shared: usize, empty_page: bool) -> Value {
    json!({"owned_pixels": owned, "shared_pixels": shared, "empty_page": empty_page})
}

/// `POST /_emulator/codes`: a code as `FB.login` hands it to the page (no redirect URI), or as
/// the dialog would.
pub fn code_request(business_id: &str, redirect_uri: Option<&str>) -> Value {
    json!({"app_id": APP_ID, "config_id": LOGIN_CONFIG_ID, "business_id": business_id,
        "redirect_uri": redirect_uri})
}

/// The Graph emulator's control API (`/_emulator/...`), as the benchmarks use it.
pub struct Emulator {
    pub url: String,
    http: reqwest::Client,
}

impl Emulator {
    pub fn new(url: String) -> Self {
        Self {
            url,
            http: reqwest::Client::new(),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Result<Value, String> {
        let response = request.send().await.map_err(|e| format!("{what}: {e}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!("{what}: {status} {text}"));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        let request = self.http.post(format!("{}{path}", self.url)).json(&body);
        self.send(request, path).await
    }

    pub async fn get(&self, path: &str) -> Result<Value, String> {
        let request = self.http.get(format!("{}{path}", self.url));
        self.send(request, path).await
    }

    pub async fn delete(&self, path: &str, body: Value) -> Result<Value, String> {
        let request = self.http.delete(format!("{}{path}", self.url)).json(&body);
        self.send(request, path).await
    }

    /// The app usage every Graph answer reports from now on, in percent of calls.
    pub async fn set_app_usage(&self, call_count: u32) -> Result<(), String> {
        self.post(
            "/_emulator/settings",
            json!({"app_usage": {"call_count": call_count}}),
        )
        .await
        .map(drop)
    }
}
