//! The library every function of the Meta Business Login token service is built on.
//! `model` is the domain, `ports` the traits the flows run over, `adapters` the real ports,
//! `fakes` the in-memory ones, `lambda` the two doors (HTTP and direct invocation).

pub mod adapters;
pub mod app_secrets;
mod backoff;
pub mod clients;
pub mod clock;
pub mod config;
mod custody;
pub mod datasets;
pub mod deps;
pub mod error;
#[cfg(any(test, feature = "fakes"))]
pub mod fakes;
pub mod lambda;
pub mod lazy;
pub mod logging;
pub mod model;
pub mod offboarding;
pub mod onboarding;
mod optimistic;
pub mod partner;
pub mod ports;
#[cfg(test)]
mod redaction_tests;
pub mod settings;
pub mod signatures;
pub mod sweep;
pub mod tokens;

pub use error::{Error, Result};
pub use ports::Ports;
