//! Instructions a process runs from its start to its first request for an event, counted by
//! `valgrind --tool=callgrind`: unlike times, the count repeats on a noisy shared machine.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::instance::Launch;
use crate::runtime_api::RuntimeApi;

/// Runs `launch` under callgrind until it asks for its first event, then stops it (callgrind
/// writes its counts when the process ends on a signal) and answers the instructions counted.
pub async fn init_instructions(launch: &Launch, work_dir: &Path) -> Result<u64, String> {
    let api = RuntimeApi::start().await;
    let out = work_dir.join(format!("callgrind.{}.out", launch.name));
    let _ = std::fs::remove_file(&out);
    let direct = launch.command(
        &api,
        &work_dir.join(format!("{}.callgrind.log", launch.name)),
    );
    let mut command = Command::new("valgrind");
    command
        .args(["--tool=callgrind", "--quiet"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(direct.get_program())
        .args(direct.get_args())
        .env_clear()
        .envs(direct.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .stdin(std::process::Stdio::null())
        .stdout(local_stack::stack::log_file(
            &work_dir.join("callgrind.log"),
        ))
        .stderr(local_stack::stack::log_file(
            &work_dir.join("callgrind.log"),
        ));
    let mut child = command
        .spawn()
        .map_err(|e| format!("start valgrind (apt-get install valgrind): {e}"))?;
    let reached = api
        .first_next(Duration::from_secs(300), || {
            child.try_wait().ok().flatten().map(|s| s.to_string())
        })
        .await;
    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    reached?;
    stopped.map_err(|e| format!("kill: {e}"))?;
    let text = std::fs::read_to_string(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|n| n.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no instruction total in {}", out.display()))
}
