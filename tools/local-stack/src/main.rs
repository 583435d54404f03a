//! `make dev`: the whole stack on fixed loopback ports, a demo session, and where to click.

use local_stack::{Stack, StackOptions};
use tokio::signal::unix::{SignalKind, signal};

fn port(name: &str, default: u16) -> Option<u16> {
    Some(
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

/// Ctrl-C, or SIGTERM (`timeout`, `kill`): either one stops the stack and what it started.
async fn stop_requested() {
    let mut term = signal(SignalKind::terminate()).expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn main() {
    // As the runner `cargo run` starts each function through (see `local_stack::relay`).
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [command, relay, program, rest @ ..] = args.as_slice()
        && command == local_stack::relay::RUNNER_COMMAND
    {
        let err = local_stack::relay::exec_through(relay, program, rest);
        eprintln!("local-stack: could not start {program}: {err}");
        std::process::exit(127);
    }
    tokio::runtime::Runtime::new()
        .expect("a tokio runtime")
        .block_on(run());
}

async fn run() {
    let stop = stop_requested();
    tokio::pin!(stop);
    let options = StackOptions {
        invoke_port: port("DEV_INVOKE_PORT", 9000),
        emulator_port: port("DEV_EMULATOR_PORT", 9100),
        moto_port: port("DEV_MOTO_PORT", 9200),
        reload: true,
        log_dir: local_stack::workspace_root().join(".stack/dev"),
        function_log: std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
    };
    println!(
        "Starting moto_server, the Graph emulator and cargo lambda watch (logs in .stack/dev/) ..."
    );
    // The processes run in process groups of their own, so a signal that reaches only this one
    // must still stop them: dropping the half-started stack does.
    let started = tokio::select! {
        started = Stack::start(options) => started,
        () = &mut stop => {
            println!("Stopped before the stack was ready.");
            return;
        }
    };
    let stack = match started {
        Ok(stack) => stack,
        Err(err) => {
            eprintln!("The local stack did not start: {err}");
            std::process::exit(1);
        }
    };
    let session = match stack.new_session("demo-account").await {
        Ok(session) => session,
        Err(err) => {
            eprintln!("The local stack started but did not open a demo session: {err}");
            drop(stack);
            std::process::exit(1);
        }
    };
    // Demo Bike Shop, connected On-Behalf-Of: its page and catalog assigned to a system user of
    // the partner in its Business Manager.
    let obo_request = serde_json::json!({"partner_ref": "demo-account", "mode": "obo",
        "client_business_id": "3000000000000002",
        "assets": [{"id": "6000000000000002", "type": "page"}, {"id": "9100000000000002", "type": "catalog"}]});
    let obo = match stack.new_session_with(&obo_request).await {
        Ok(session) => session,
        Err(err) => {
            eprintln!("The local stack started but did not open a demo session: {err}");
            drop(stack);
            std::process::exit(1);
        }
    };
    let url = &stack.invoke_url;
    println!();
    println!("Ready. Open a page, click Connect and Allow in the emulator's pop-up:");
    println!();
    println!(
        "    Login for Business:  {url}/onboarding?session={}",
        session.state
    );
    println!(
        "    On-Behalf-Of:        {url}/onboarding?session={}",
        obo.state
    );
    println!();
    println!("Or go through the manual login dialog instead of the pop-up:");
    println!();
    println!("    Login for Business:  {}", session.login_url);
    println!("    On-Behalf-Of:        {}", obo.login_url);
    println!();
    println!("A session works in the first browser that opens it, for 15 minutes. New ones:");
    println!(
        "    curl -s -X POST {url}/onboarding/sessions -H 'content-type: application/json' -d '{{\"partner_ref\":\"demo\"}}'"
    );
    println!();
    let demo = "3000000000000001";
    println!("Once Demo Coffee Roasters ({demo}) is connected:");
    println!("    Datasets:  curl -s {url}/clients/{demo}/datasets");
    println!(
        "    Token:     curl -s {url}/2015-03-31/functions/token-fetch/invocations -d '{{\"client_business_id\":\"{demo}\"}}'"
    );
    println!(
        "A refused invocation (an errorType such as ClientNotFound) answers HTTP 500 with the error as its body:"
    );
    println!(
        "that is how cargo lambda watch reports a function error (Lambda itself answers 200 with X-Amz-Function-Error); not a crash."
    );
    println!();
    println!(
        "Graph emulator:  {}  (request log: /_emulator/requests)",
        stack.emulator_url
    );
    println!("Function logs:   {}", stack.functions_log.display());
    println!("Stop with Ctrl-C.");
    stop.await;
    println!("Stopping ...");
    drop(stack);
}
