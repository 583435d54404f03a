//! One function process on its own Runtime API: started cold, timed to its first request for
//! an event, invoked, measured for memory, and killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::runtime_api::RuntimeApi;

/// How a function is started: its program and arguments, and its environment.
#[derive(Clone)]
pub struct Launch {
    pub name: &'static str,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Launch {
    /// A release binary of the workspace (from `BENCH_BIN_DIR`, else `target/release`) in
    /// `env` (see [`lambda_env`]).
    pub fn release(name: &'static str, env: &[(String, String)]) -> Self {
        let dir = std::env::var_os("BENCH_BIN_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| local_stack::stack::workspace_root().join("target/release"));
        Self {
            name,
            program: dir.join(name),
            args: vec![],
            env: env.to_vec(),
        }
    }

    /// The command for this launch on `api`, its output appended to `log`.
    pub fn command(&self, api: &RuntimeApi, log: &Path) -> Command {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", self.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", self.name),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .stdin(Stdio::null())
            .stdout(local_stack::stack::log_file(log))
            .stderr(local_stack::stack::log_file(log));
        command
    }
}

/// The functions' environment for the local stack (`Backends::function_env`), with the region
/// also under the name boto3 reads (Lambda sets both).
pub fn lambda_env(env: &[(&'static str, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    env.push(("AWS_DEFAULT_REGION".into(), local_stack::aws::REGION.into()));
    env
}

pub struct Instance {
    pub api: RuntimeApi,
    child: Child,
    /// Process start to its first request for an event.
    pub init: Duration,
}

/// The longest an init or an invocation may take before the benchmark gives up.
pub const LIMIT: Duration = Duration::from_secs(60);

impl Instance {
    /// Starts `launch` cold and waits for its first request for an event.
    pub async fn start(launch: &Launch, log: &Path) -> Result<Self, String> {
        let api = RuntimeApi::start().await;
        let mut command = launch.command(&api, log);
        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| format!("start {}: {e}", launch.program.display()))?;
        let first = api
            .first_next(LIMIT, || {
                child.try_wait().ok().flatten().map(|s| s.to_string())
            })
            .await;
        match first {
            Ok(at) => Ok(Self {
                api,
                child,
                init: at - started,
            }),
            Err(err) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("{}: {err}; see {}", launch.name, log.display()))
            }
        }
    }

    /// One invocation: the answer's bytes and how long it took from hand-over to answer.
    pub async fn invoke(&self, payload: &[u8]) -> Result<(Vec<u8>, Duration), String> {
        let sent = Instant::now();
        let answer = self.api.invoke(payload.to_vec(), LIMIT).await?;
        Ok((answer.to_vec(), sent.elapsed()))
    }

    /// The most memory the process has held (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
