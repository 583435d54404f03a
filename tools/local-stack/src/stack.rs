//! Starts the whole local stack on loopback, waits until each part answers, stops it on drop.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::aws::{self, Aws};
use crate::process::{Managed, free_port};
use crate::proxy::Proxy;
use crate::relay::RuntimeRelay;

/// The demo app of `tests/graph-emulator/seed.json`; obviously fake values.
pub const APP_ID: &str = "1000000000000001";
pub const APP_SECRET: &str = "demo-app-secret-not-a-real-secret";
pub const LOGIN_CONFIG_ID: &str = "2000000000000001";
/// The demo provider's name, as its onboarding pages show it.
pub const PROVIDER_NAME: &str = "Demo Partner Platform";
/// The emulator's user-token configuration with `business_management`, for On-Behalf-Of.
pub const OBO_CONFIG_ID: &str = "2000000000000003";
pub const WEBHOOK_VERIFY_TOKEN: &str = "demo-webhook-verify-token";
pub const TABLE: &str = "meta-login-local";
pub const SECRET_PREFIX: &str = "meta-login/local";
pub const APP_SECRET_ID: &str = "meta-login/local/app";
/// `{SECRET_PREFIX}/partner/system-user`: the partner system user's token, in a secret of its own.
pub const PARTNER_SECRET_ID: &str = "meta-login/local/partner/system-user";
pub const PARTNER_BUSINESS_ID: &str = "7000000000000001";
/// The partner's system user when the emulator does not name it: numbered like the seed's
/// system users (`4000…`), apart from the ones it gives client businesses.
pub const PARTNER_SYSTEM_USER_ID: &str = "4000000000000099";

pub struct StackOptions {
    /// Ports for people to remember; `None` picks free ones.
    pub invoke_port: Option<u16>,
    pub emulator_port: Option<u16>,
    pub moto_port: Option<u16>,
    /// Rebuild and restart functions when sources change (`make dev`).
    pub reload: bool,
    /// Where the logs of the three processes go.
    pub log_dir: PathBuf,
    /// The functions' `RUST_LOG` (`shared::logging` keeps wire data out at any level).
    pub function_log: String,
}

/// What the functions talk to: moto_server and the Graph emulator, each behind a proxy that
/// tests can take down, with the table and the app's secrets in place.
pub struct Backends {
    pub emulator_url: String,
    pub moto_url: String,
    pub aws: Aws,
    pub aws_proxy: Proxy,
    pub graph_proxy: Proxy,
    _emulator: Managed,
    _moto: Managed,
}

/// The backends and `cargo lambda watch` running the functions over them.
pub struct Stack {
    pub invoke_url: String,
    pub functions_log: PathBuf,
    /// Does not follow redirects, so callers see where the service sends the browser.
    pub http: reqwest::Client,
    // Dropped in this order: functions first, then what they talk to.
    _watch: Managed,
    backends: Backends,
}

impl std::ops::Deref for Stack {
    type Target = Backends;

    fn deref(&self) -> &Backends {
        &self.backends
    }
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// The folder our binaries were built into (`target/debug`), found from this executable.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current executable");
    let dir = exe.parent().expect("executable has a folder");
    if dir.ends_with("deps") {
        dir.parent().expect("deps has a parent").to_owned()
    } else {
        dir.to_owned()
    }
}

fn tool_path() -> String {
    let venv = workspace_root().join(".venv/bin");
    format!(
        "{}:{}",
        venv.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A log file to append a process's output to.
pub fn log_file(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open log file")
}

impl Backends {
    /// Starts moto_server (on `moto_port`, or a free port) and the emulator, and seeds them.
    /// moto runs through `tools/local-stack/moto_fast.py`: moto's own server copies every table
    /// and its whole stream in each transaction, so writes slow down as a run fills the table;
    /// moto_fast answers the same, without walking the table.
    pub async fn start(
        moto_port: Option<u16>,
        emulator_port: Option<u16>,
        log_dir: &Path,
    ) -> Result<Self, String> {
        std::fs::create_dir_all(log_dir).map_err(|e| format!("log folder: {e}"))?;
        let moto_port = moto_port.unwrap_or_else(free_port);
        let root = workspace_root();
        let mut moto_cmd = Command::new(root.join(".venv/bin/python"));
        moto_cmd.arg(root.join("tools/local-stack/moto_fast.py"));
        moto_cmd
            .args(["-H", "127.0.0.1", "-p", &moto_port.to_string()])
            .env("PATH", tool_path())
            .stdout(log_file(&log_dir.join("moto.log")))
            .stderr(log_file(&log_dir.join("moto.log")));
        let moto = Managed::spawn("moto_server", moto_cmd)
            .map_err(|e| format!("start moto_server (run `make venv` first): {e}"))?;
        let moto_url = format!("http://127.0.0.1:{moto_port}");
        wait_for_http(
            &format!("{moto_url}/moto-api/"),
            Duration::from_secs(60),
            |_| true,
        )
        .await?;

        let (emulator, emulator_port) = start_emulator(emulator_port, log_dir)?;
        let emulator_url = format!("http://127.0.0.1:{emulator_port}");
        wait_for_http(
            &format!("{emulator_url}/_emulator/health"),
            Duration::from_secs(30),
            |s| s == 200,
        )
        .await?;

        let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let aws_proxy = Proxy::start(loopback(moto_port))
            .await
            .map_err(|e| e.to_string())?;
        let graph_proxy = Proxy::start(loopback(emulator_port))
            .await
            .map_err(|e| e.to_string())?;

        let aws = Aws::new(&moto_url).await;
        aws.create_table(TABLE).await?;
        let app_secret = serde_json::json!({"app_secret": APP_SECRET, "webhook_verify_token": WEBHOOK_VERIFY_TOKEN});
        aws.put_secret(APP_SECRET_ID, &app_secret.to_string())
            .await?;
        let partner_secret = partner_system_user_secret(&emulator_url).await?;
        aws.put_secret(PARTNER_SECRET_ID, &partner_secret.to_string())
            .await?;
        Ok(Self {
            emulator_url,
            moto_url,
            aws,
            aws_proxy,
            graph_proxy,
            _emulator: emulator,
            _moto: moto,
        })
    }

    /// The functions' environment, as the template sets it, for a service answering at
    /// `public_url`; AWS and Graph calls go through the proxies.
    pub fn function_env(&self, public_url: &str) -> Vec<(&'static str, String)> {
        let emulator_url = &self.emulator_url;
        vec![
            ("META_APP_ID", APP_ID.to_owned()),
            ("APP_SECRET_ID", APP_SECRET_ID.to_owned()),
            ("LOGIN_CONFIG_ID", LOGIN_CONFIG_ID.to_owned()),
            ("PROVIDER_NAME", PROVIDER_NAME.to_owned()),
            ("OBO_CONFIG_ID", OBO_CONFIG_ID.to_owned()),
            ("REDIRECT_URI", format!("{public_url}/oauth/callback")),
            ("TABLE_NAME", TABLE.to_owned()),
            ("SECRET_PREFIX", SECRET_PREFIX.to_owned()),
            (
                "GRAPH_API_BASE_URL",
                format!("http://127.0.0.1:{}", self.graph_proxy.port),
            ),
            ("LOGIN_DIALOG_BASE_URL", emulator_url.to_owned()),
            ("JS_SDK_URL", format!("{emulator_url}/sdk.js")),
            ("PUBLIC_BASE_URL", public_url.to_owned()),
            ("PARTNER_BUSINESS_ID", PARTNER_BUSINESS_ID.to_owned()),
            (
                "AWS_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", self.aws_proxy.port),
            ),
            ("AWS_REGION", aws::REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", aws::ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", aws::SECRET_KEY.to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ]
    }
}

impl Stack {
    pub async fn start(options: StackOptions) -> Result<Self, String> {
        let backends =
            Backends::start(options.moto_port, options.emulator_port, &options.log_dir).await?;
        let path = tool_path();

        let invoke_port = options.invoke_port.unwrap_or_else(free_port);
        let invoke_url = format!("http://127.0.0.1:{invoke_port}");
        let env_file = options.log_dir.join("functions.env");
        let mut env = backends.function_env(&invoke_url);
        env.retain(|(name, _)| *name != "RUST_LOG");
        env.push(("RUST_LOG", options.function_log.clone()));
        write_env_file(&env_file, &env)?;
        let functions_log = options.log_dir.join("functions.log");
        let root = workspace_root();
        let relay = RuntimeRelay::start(SocketAddr::from(([127, 0, 0, 1], invoke_port)))
            .await
            .map_err(|e| format!("start the Runtime API relay: {e}"))?;
        let (runner_var, runner) = relay.runner_env(&bin_dir().join("local-stack"));
        let mut watch_cmd = Command::new("cargo");
        watch_cmd
            .args([
                "lambda",
                "watch",
                "-A",
                "127.0.0.1",
                "-P",
                &invoke_port.to_string(),
            ])
            .arg("--env-file")
            .arg(&env_file)
            .current_dir(&root)
            .env("PATH", &path)
            .env("CARGO_TARGET_DIR", root.join("target/stack"))
            .env(runner_var, runner)
            .stdout(log_file(&functions_log))
            .stderr(log_file(&functions_log));
        if !options.reload {
            watch_cmd.arg("--ignore-changes");
        }
        // Several instances per function, so concurrent requests really run at once.
        watch_cmd.args(["--concurrency", "4"]);
        // No `--timeout`: watch 1.9.2 applies it to a function's wait for its next event too, so
        // an instance idle that long gets an answer without a request id, lambda_runtime panics,
        // and watch never replaces the dead instance: its function stops answering for good.
        let mut watch = Managed::spawn("cargo lambda watch", watch_cmd)
            .map_err(|e| format!("start cargo lambda watch (run `make venv` first): {e}"))?;

        // The first request builds and starts the function; a 400 page means it answered.
        let probe = format!("{invoke_url}/onboarding");
        let deadline = Instant::now() + Duration::from_secs(20 * 60);
        // One browser: its cookie jar binds the onboarding sessions it opens.
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .expect("HTTP client");
        loop {
            if let Some(status) = watch.exited() {
                return Err(format!(
                    "cargo lambda watch exited ({status}); see {}",
                    functions_log.display()
                ));
            }
            if let Ok(r) = http.get(&probe).send().await
                && r.status() == 400
                && r.headers()
                    .get("content-type")
                    .is_some_and(|v| v.as_bytes().starts_with(b"text/html"))
            {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "oauth-callback did not answer in time; see {}",
                    functions_log.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }

        Ok(Self {
            invoke_url,
            functions_log,
            http,
            _watch: watch,
            backends,
        })
    }
}

/// An onboarding session, as `POST /onboarding/sessions` hands it out.
pub struct Session {
    pub state: String,
    pub login_url: url::Url,
}

impl Stack {
    /// Opens an onboarding session for `partner_ref`, as the partner's backend would.
    pub async fn new_session(&self, partner_ref: &str) -> Result<Session, String> {
        self.new_session_with(&serde_json::json!({"partner_ref": partner_ref}))
            .await
    }

    /// Opens an onboarding session with any request body (an On-Behalf-Of one, say).
    pub async fn new_session_with(&self, request: &serde_json::Value) -> Result<Session, String> {
        let response = self
            .http
            .post(format!("{}/onboarding/sessions", self.invoke_url))
            .json(request)
            .send()
            .await
            .map_err(|e| format!("new session: {e}"))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status != 201 {
            return Err(format!("new session: {status} {body}"));
        }
        let answer: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("new session: {e}: {body}"))?;
        let field = |name: &str| {
            answer[name]
                .as_str()
                .ok_or_else(|| format!("new session: no {name} in {body}"))
        };
        Ok(Session {
            state: field("state")?.to_owned(),
            login_url: field("login_url")?
                .parse()
                .map_err(|e| format!("new session: login_url: {e}"))?,
        })
    }
}

/// The partner's own admin system user token from the emulator, as the operator puts it in the
/// partner secret (`{"access_token", "system_user_id", "scopes", "expires_at", "obtained_at"}`).
async fn partner_system_user_secret(emulator_url: &str) -> Result<serde_json::Value, String> {
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{emulator_url}/_emulator/partner-token"))
        .json(&serde_json::json!({"app_id": APP_ID}))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| format!("partner token: {e}"))?
        .json()
        .await
        .map_err(|e| format!("partner token: {e}"))?;
    let token = answer["access_token"]
        .as_str()
        .ok_or("partner token: no access_token")?;
    let system_user_id = answer["system_user_id"]
        .as_str()
        .unwrap_or(PARTNER_SYSTEM_USER_ID);
    let scopes = answer
        .get("scopes")
        .filter(|s| s.is_array())
        .cloned()
        .unwrap_or_else(|| serde_json::json!([]));
    let obtained_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_secs();
    Ok(serde_json::json!({
        "access_token": token,
        "system_user_id": system_user_id,
        "scopes": scopes,
        "expires_at": null,
        "obtained_at": obtained_at,
    }))
}

/// Starts the Graph emulator on `port` (or a free one); the process and the port it listens on.
pub fn start_emulator(port: Option<u16>, log_dir: &Path) -> Result<(Managed, u16), String> {
    // `GRAPH_EMULATOR` names it when this program is built in another profile (benchmarks).
    let binary = std::env::var_os("GRAPH_EMULATOR")
        .map(PathBuf::from)
        .unwrap_or_else(|| bin_dir().join("graph-emulator"));
    let mut cmd = Command::new(&binary);
    cmd.args(["--port", &port.unwrap_or(0).to_string()])
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
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Ok((emulator, port))
}

fn write_env_file(path: &Path, settings: &[(&'static str, String)]) -> Result<(), String> {
    let mut file = File::create(path).map_err(|e| format!("env file: {e}"))?;
    for (key, value) in settings {
        // Quoted, as the dotenv format wants a value with spaces (the provider's name).
        debug_assert!(!value.contains(['"', '\\', '\n']));
        writeln!(file, "{key}=\"{value}\"").map_err(|e| format!("env file: {e}"))?;
    }
    Ok(())
}

/// Waits until `url` answers with a status `ok` accepts, for at most `limit`.
pub async fn wait_for_http(
    url: &str,
    limit: Duration,
    ok: impl Fn(u16) -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(r) = reqwest::get(url).await
            && ok(r.status().as_u16())
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{url} did not answer within {limit:?}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
