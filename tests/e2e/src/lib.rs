//! The local stack (moto_server, the Graph emulator, `cargo lambda watch`) and the helpers
//! the end-to-end tests and `make dev` drive it with.

pub mod aws;
pub mod client;
pub mod process;
pub mod proxy;
pub mod stack;

pub use stack::{Stack, StackOptions};
