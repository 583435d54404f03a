//! moto_server (through tests/e2e/scale/moto_fast.py) and the Graph emulator on loopback, with
//! the table and the app secret as the local stack makes them; no functions: the benchmark
//! runs the sweep in this process.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use local_stack::aws::Aws;
use local_stack::process::{Managed, free_port};
use local_stack::stack::{
    APP_SECRET, APP_SECRET_ID, TABLE, WEBHOOK_VERIFY_TOKEN, log_file, start_emulator,
    wait_for_http, workspace_root,
};
use serde_json::{Value, json};

pub struct Stack {
    pub moto_url: String,
    pub emulator: Emulator,
    // Stopped on drop.
    _emulator: Managed,
    _moto: Managed,
}

/// A 2xx answer.
fn ok(status: u16) -> bool {
    (200..300).contains(&status)
}

impl Stack {
    pub async fn start(log_dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(log_dir).map_err(|e| format!("log folder: {e}"))?;
        let root = workspace_root();
        let python = root.join(".venv/bin/python");
        let port = free_port();
        let mut moto = Command::new(&python);
        moto.arg(root.join("tests/e2e/scale/moto_fast.py"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(log_file(&log_dir.join("moto.log")))
            .stderr(log_file(&log_dir.join("moto.log")));
        let moto = Managed::spawn("moto_server", moto)
            .map_err(|e| format!("start {} (run `make venv` first): {e}", python.display()))?;
        let moto_url = format!("http://127.0.0.1:{port}");
        wait_for_http(
            &format!("{moto_url}/moto-api/"),
            Duration::from_secs(60),
            ok,
        )
        .await?;

        let (emulator, emulator_port) = start_emulator(None, log_dir)?;
        let emulator_url = format!("http://127.0.0.1:{emulator_port}");
        wait_for_http(
            &format!("{emulator_url}/_emulator/health"),
            Duration::from_secs(30),
            ok,
        )
        .await?;

        let aws = Aws::new(&moto_url).await;
        aws.create_table(TABLE).await?;
        let app_secret =
            json!({"app_secret": APP_SECRET, "webhook_verify_token": WEBHOOK_VERIFY_TOKEN});
        aws.put_secret(APP_SECRET_ID, &app_secret.to_string())
            .await?;
        Ok(Self {
            moto_url,
            emulator: Emulator::new(emulator_url),
            _emulator: emulator,
            _moto: moto,
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
