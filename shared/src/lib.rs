//! The library every function of the Meta Business Login token service is built on.

pub mod app_secrets;
pub mod clock;
pub mod config;
pub mod deps;
pub mod error;
pub mod graph;
pub mod http;
pub mod ids;
pub mod logging;
pub mod onboarding;
pub mod signatures;
pub mod store;
pub mod vault;

pub use deps::Deps;
pub use error::{Error, Result};
