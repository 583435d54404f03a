//! Where the machine's CPU time went during a phase: this harness, each kind of process it
//! started (moto_server, the emulator, the functions), and everything else on the machine,
//! read from /proc, so a slow run says what it waited for.

use std::collections::BTreeMap;

/// /proc reports times in USER_HZ, which is 100 on Linux.
const TICKS_PER_SEC: f64 = 100.0;

/// CPU seconds used so far: by process kind, and by the whole machine.
#[derive(Clone, Default)]
pub struct Snapshot {
    by_kind: BTreeMap<String, f64>,
    machine: f64,
}

/// `(comm, ppid, utime + stime in seconds)` from a `/proc/<pid>/stat` line.
fn stat(text: &str) -> Option<(String, u32, f64)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text[open + 1..close].to_owned();
    let fields: Vec<&str> = text[close + 2..].split_whitespace().collect();
    // After the name: state, ppid, ... utime is field 14 and stime 15 of the whole line.
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((comm, ppid, (utime + stime) / TICKS_PER_SEC))
}

fn kind(comm: &str) -> String {
    if comm.starts_with("python") {
        "moto_server".into()
    } else {
        comm.to_owned()
    }
}

pub fn snapshot() -> Snapshot {
    let me = std::process::id();
    let mut by_kind = BTreeMap::new();
    if let Some((_, _, secs)) = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|t| stat(&t))
    {
        by_kind.insert("load harness".to_owned(), secs);
    }
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((comm, ppid, secs)) = stat(&text)
            && ppid == me
        {
            *by_kind.entry(kind(&comm)).or_default() += secs;
        }
    }
    // The first line of /proc/stat: every CPU's time by state; busy is all but idle and iowait.
    let machine = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| {
            let line = t.lines().next()?.to_owned();
            let ticks: Vec<f64> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|v| v.parse().ok())
                .collect();
            let all: f64 = ticks.iter().take(8).sum();
            Some((all - ticks.get(3)? - ticks.get(4)?) / TICKS_PER_SEC)
        })
        .unwrap_or(0.0);
    Snapshot { by_kind, machine }
}

/// CPU seconds per kind between two snapshots, and the rest of the machine's busy time as
/// "other work on the machine".
pub fn used(before: &Snapshot, after: &Snapshot) -> Vec<(String, f64)> {
    let mut used: Vec<(String, f64)> = after
        .by_kind
        .iter()
        .map(|(kind, secs)| {
            let was = before.by_kind.get(kind).copied().unwrap_or(0.0);
            (kind.clone(), secs - was)
        })
        .collect();
    used.sort_by(|a, b| b.1.total_cmp(&a.1));
    let ours: f64 = used.iter().map(|(_, s)| s).sum();
    let machine = after.machine - before.machine;
    used.push((
        "other work on the machine".into(),
        (machine - ours).max(0.0),
    ));
    used
}
