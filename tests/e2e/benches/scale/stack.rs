//! moto_server (through tests/e2e/scale/moto_fast.py) and the Graph emulator on loopback, with
//! the table and the app secret as the local stack makes them; no functions: the benchmark
//! runs the sweep in this process.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use local_stack::aws::Aws;
use local_stack::process::{Managed, free_port};
use local_stack::stack::{APP_SECRET, APP_SECRET_ID, TABLE, WEBHOOK_VERIFY_TOKEN, workspace_root};
use serde_json::{Value, json};

pub struct Stack {
    pub moto_url: String,
    pub emulator: Emulator,
    // Stopped on drop.
    _emulator: Managed,
    _moto: Managed,
}

fn log_file(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open log file")
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
        wait_for(&format!("{moto_url}/moto-api/"), Duration::from_secs(60)).await?;

        let (emulator, emulator_port) = start_emulator(log_dir)?;
        let emulator_url = format!("http://127.0.0.1:{emulator_port}");
        wait_for(
            &format!("{emulator_url}/_emulator/health"),
            Duration::from_secs(30),
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

/// The emulator built beside this benchmark, or the one `GRAPH_EMULATOR` names.
fn emulator_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("GRAPH_EMULATOR") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("current executable");
    let dir = exe.parent().expect("executable has a folder");
    let dir = if dir.ends_with("deps") {
        dir.parent().expect("deps has a parent")
    } else {
        dir
    };
    dir.join("graph-emulator")
}

fn start_emulator(log_dir: &Path) -> Result<(Managed, u16), String> {
    let binary = emulator_binary();
    let mut cmd = Command::new(&binary);
    cmd.args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(log_file(&log_dir.join("emulator.log")));
    let mut emulator = Managed::spawn("graph-emulator", cmd).map_err(|e| {
        format!(
            "start {} (build it with `cargo build -p graph-emulator`): {e}",
            binary.display()
        )
    })?;
    let stdout = emulator.child_mut().stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    let port = first
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .ok_or_else(|| format!("graph-emulator did not say where it listens: {first:?}"))?;
    std::thread::spawn(move || lines.for_each(drop));
    Ok((emulator, port))
}

async fn wait_for(url: &str, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        if reqwest::get(url)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{url} did not answer within {limit:?}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
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
