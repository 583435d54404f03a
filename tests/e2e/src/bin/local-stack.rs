//! `make dev`: the whole stack on fixed loopback ports, a demo session, and where to click.

use e2e::{Stack, StackOptions};

fn port(name: &str, default: u16) -> Option<u16> {
    Some(
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

#[tokio::main]
async fn main() {
    let log_dir = e2e::stack::workspace_root().join(".stack/dev");
    let options = StackOptions {
        invoke_port: port("DEV_INVOKE_PORT", 9000),
        emulator_port: port("DEV_EMULATOR_PORT", 9100),
        moto_port: port("DEV_MOTO_PORT", 9200),
        reload: true,
        log_dir: log_dir.clone(),
    };
    println!(
        "Starting moto_server, the Graph emulator and cargo lambda watch (logs in .stack/dev/) ..."
    );
    let stack = match Stack::start(options).await {
        Ok(stack) => stack,
        Err(err) => {
            eprintln!("The local stack did not start: {err}");
            std::process::exit(1);
        }
    };
    let session = stack.create_session("demo-account").await;
    let url = &stack.invoke_url;
    println!();
    println!("Ready. Open this page and click Connect (or follow the link to the consent page):");
    println!();
    println!("    {url}/onboarding?session={}", session.state);
    println!();
    println!(
        "New session:      curl -s -X POST {url}/onboarding/sessions -H 'content-type: application/json' -d '{{\"partner_ref\":\"demo\"}}'"
    );
    let demo = "3000000000000001";
    println!(
        "Datasets:         curl -s {url}/clients/{demo}/datasets   (once Demo Coffee Roasters is connected)"
    );
    println!(
        "Token:            curl -s {url}/2015-03-31/functions/token-fetch/invocations -d '{{\"client_business_id\":\"{demo}\"}}'"
    );
    println!(
        "Graph emulator:   {}  (request log: /_emulator/requests)",
        stack.emulator_url
    );
    println!("Function logs:    {}", stack.functions_log.display());
    println!("Stop with Ctrl-C.");
    let _ = tokio::signal::ctrl_c().await;
    println!("Stopping ...");
    drop(stack);
}
