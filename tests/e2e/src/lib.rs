//! The helpers the end-to-end tests drive the local stack (`tools/local-stack`) with.

pub mod browser;
pub mod client;
pub mod emulator;
pub mod stack;

pub use local_stack::{StackOptions, aws, proxy};
pub use stack::Stack;
