//! The real ports: DynamoDB, Secrets Manager (behind a bounded cache) and Graph, over one
//! HTTPS client.

pub mod dynamo;
pub mod emf;
pub mod graph;
pub mod http;
pub mod secret_cache;
pub mod secrets_manager;
