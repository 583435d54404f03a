//! A stateful stand-in for Meta's Graph API and login dialog, for local runs and tests.
//! Usage: graph-emulator [--port N] [--seed FILE]; prints `listening on 127.0.0.1:PORT`.

mod control;
mod debug_token;
mod dialog;
mod edges;
mod faults;
mod graph;
mod obo;
mod pages;
mod readouts;
mod revoke;
mod routes;
mod scale;
mod signals;
mod system_users;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_partner;
#[cfg(test)]
mod tests_scale;
mod usage;
mod webhooks;
mod world;

use std::sync::Arc;
use tokio::sync::Mutex;

pub type Shared = Arc<Mutex<world::World>>;

const DEFAULT_SEED: &str = include_str!("../seed.json");

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut port = 0u16;
    let mut seed_text = DEFAULT_SEED.to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--port", Some(v)) => port = v.parse()?,
            ("--seed", Some(path)) => seed_text = std::fs::read_to_string(path)?,
            _ => {
                return Err(
                    format!("usage: graph-emulator [--port N] [--seed FILE] (got {arg})").into(),
                );
            }
        }
    }
    let seed: world::Seed = serde_json::from_str(&seed_text)?;
    let shared: Shared = Arc::new(Mutex::new(world::World::new(seed)));
    let app = routes::router(shared);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
