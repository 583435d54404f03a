//! The local stack (moto_server, the Graph emulator, `cargo lambda watch`) on loopback, set up
//! as the functions expect it; `make dev`, the end-to-end tests and the benchmark all start it here.

pub mod aws;
pub mod process;
pub mod proxy;
pub mod relay;
pub mod stack;

pub use stack::{Backends, Session, Stack, StackOptions, workspace_root};
