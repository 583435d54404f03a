//! What the functions logged above INFO during the run: each level and message, how often,
//! and the first such line in full.

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

pub struct Logged {
    pub count: usize,
    pub first: String,
}

/// Where the log ends now; [`above_info`] reads from there.
pub fn end(log: &Path) -> u64 {
    std::fs::metadata(log).map_or(0, |m| m.len())
}

/// The WARN and ERROR lines written to `log` after `from`, by level, message and `error_type`.
pub fn above_info(log: &Path, from: u64) -> BTreeMap<String, Logged> {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(log) {
        let _ = file.seek(SeekFrom::Start(from));
        let _ = file.read_to_string(&mut text);
    }
    let mut found: BTreeMap<String, Logged> = BTreeMap::new();
    for line in text.lines() {
        let Ok(entry) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let level = entry["level"].as_str().unwrap_or_default();
        if !matches!(level, "WARN" | "ERROR") {
            continue;
        }
        let mut key = format!("{level} {}", entry["message"].as_str().unwrap_or_default());
        if let Some(error_type) = entry["error_type"].as_str() {
            key = format!("{key} ({error_type})");
        }
        found
            .entry(key)
            .or_insert_with(|| Logged {
                count: 0,
                first: line.to_owned(),
            })
            .count += 1;
    }
    found
}
