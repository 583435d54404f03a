//! moto_server (through tests/e2e/scale/moto_fast.py) and the Graph emulator on loopback, with
//! the table and the app secret as the local stack makes them; no functions: the benchmark
//! runs the sweep in this process.

use std::path::Path;

use local_stack::{Backends, Moto};
use serde_json::{Value, json};

pub struct Stack {
    pub moto_url: String,
    pub emulator: Emulator,
    // Stopped on drop.
    _backends: Backends,
}

impl Stack {
    pub async fn start(log_dir: &Path) -> Result<Self, String> {
        let backends = Backends::start(Moto::Fast, None, None, log_dir).await?;
        Ok(Self {
            moto_url: backends.moto_url.clone(),
            emulator: Emulator::new(backends.emulator_url.clone()),
            _backends: backends,
        })
    }
}

/// The emulator's control API, as the benchmark uses it.
pub struct Emulator {
    pub url: String,
    http: reqwest::Client,
}

impl Emulator {
    fn new(url: String) -> Self {
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
