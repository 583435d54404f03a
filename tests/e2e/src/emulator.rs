//! The Graph emulator's control routes, for the benchmarks.

use serde_json::{Value, json};

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
