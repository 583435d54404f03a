//! The two doors of a function: HTTP requests (API Gateway payload 2.0) and direct
//! invocations, with their parsing, answers and logging.

pub mod event;
pub mod html;
pub mod http;
pub mod invoke;
pub mod shapes;
