//! The library every function of the Meta Business Login token service is built on.

pub mod app_secrets;
pub mod clients;
pub mod clock;
pub mod config;
pub mod datasets;
pub mod deps;
pub mod error;
pub mod graph;
pub mod http;
pub mod ids;
pub mod invoke;
pub mod logging;
pub mod offboarding;
pub mod onboarding;
pub mod secret_cache;
pub mod signatures;
pub mod store;
pub mod tokens;
pub mod vault;

pub use deps::Deps;
pub use error::{Error, Result};
