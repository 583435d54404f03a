//! moto_server (through tools/local-stack/moto_fast.py) and the Graph emulator on loopback, with
//! the table and the app secret as the local stack makes them; no functions: the benchmark
//! runs the sweep in this process.

use std::path::Path;

pub use e2e::emulator::Emulator;
use local_stack::Backends;

pub struct Stack {
    pub moto_url: String,
    pub emulator: Emulator,
    // Stopped on drop.
    _backends: Backends,
}

impl Stack {
    pub async fn start(log_dir: &Path) -> Result<Self, String> {
        let backends = Backends::start(None, None, log_dir).await?;
        Ok(Self {
            moto_url: backends.moto_url.clone(),
            emulator: Emulator::new(backends.emulator_url.clone()),
            _backends: backends,
        })
    }
}
