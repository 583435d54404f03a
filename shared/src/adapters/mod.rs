//! The real ports: DynamoDB, Secrets Manager (behind a bounded cache) and Graph over HTTPS.

pub mod dynamo;
pub mod emf;
pub mod graph;
pub mod secret_cache;
pub mod secrets_manager;
