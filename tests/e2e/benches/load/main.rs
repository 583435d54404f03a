//! The load test of issue 14 (`make load`, not part of `make test`): complete onboardings
//! through the release oauth-callback, then token-fetch invocations spread over the onboarded
//! clients, each phase at bounded concurrency, every function instance under its own local
//! Lambda Runtime API (the cold bench's) over moto_server and the Graph emulator. Any error
//! (a non-2xx answer, a function error, a timeout, a wrong answer) or a failed check of the
//! table and Secrets Manager afterwards fails the run. Writes bench/load.md.
//!
//! Knobs (environment): LOAD_ONBOARDINGS (2000), LOAD_TOKEN_FETCHES (10000),
//! LOAD_CONCURRENCY (8), LOAD_INSTANCES (instances of each function; LOAD_CONCURRENCY),
//! LOAD_OUT (bench/load.md), BENCH_BIN_DIR (target/release).

mod checks;
mod cpu;
mod logs;
mod phases;
mod pool;
mod report;
mod tally;

// The cold bench's harness, shared; not every item of it is used here.
#[allow(dead_code)]
#[path = "../cold/host.rs"]
mod host;
#[allow(dead_code)]
#[path = "../cold/instance.rs"]
mod instance;
#[allow(dead_code)]
#[path = "../cold/runtime_api.rs"]
mod runtime_api;
#[allow(dead_code)]
#[path = "../cold/stats.rs"]
mod stats;
#[allow(dead_code)]
#[path = "../cold/workloads.rs"]
mod workloads;

use e2e::emulator::Emulator;
use local_stack::Backends;
use local_stack::stack::workspace_root;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use checks::Check;
use instance::Launch;
use pool::Pool;

pub struct Options {
    pub onboardings: usize,
    pub token_fetches: usize,
    pub concurrency: usize,
    pub instances: usize,
    pub out: PathBuf,
}

impl Options {
    fn from_env() -> Self {
        let number = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(default)
        };
        let concurrency = number("LOAD_CONCURRENCY", 8).max(1);
        Self {
            onboardings: number("LOAD_ONBOARDINGS", 2000),
            token_fetches: number("LOAD_TOKEN_FETCHES", 10_000),
            concurrency,
            instances: number("LOAD_INSTANCES", concurrency).max(1),
            out: std::env::var_os("LOAD_OUT")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace_root().join("bench/load.md")),
        }
    }
}

// Two workers, as the machine the figures are for has two cores.
#[tokio::main(worker_threads = 2)]
async fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; this harness has no options of its own.
    match run(&Options::from_env()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("load: could not run: {err}");
            ExitCode::from(2)
        }
    }
}

async fn run(options: &Options) -> Result<bool, String> {
    let started = Instant::now();
    let log_dir = workspace_root().join(".stack/load");
    let backends = Backends::start(None, None, &log_dir).await?;
    let mut env = backends.function_env("https://load.example.test");
    // Straight to moto_server and the emulator: the proxies are the e2e suite's fault switches,
    // a hop that is not part of the service.
    for (key, value) in &mut env {
        match *key {
            "AWS_ENDPOINT_URL" => value.clone_from(&backends.moto_url),
            "GRAPH_API_BASE_URL" => value.clone_from(&backends.emulator_url),
            _ => {}
        }
    }
    let env = instance::lambda_env(&env);
    let log = log_dir.join("functions.log");
    let log_start = logs::end(&log);
    let oauth = Pool::start(
        &Launch::release("oauth-callback", &env),
        options.instances,
        &log,
    )
    .await?;
    let tokens = Pool::start(
        &Launch::release("token-fetch", &env),
        options.instances,
        &log,
    )
    .await?;
    let emulator = Emulator::new(backends.emulator_url.clone());
    println!(
        "load: {} instances each of oauth-callback and token-fetch; moto_server at {}, emulator \
         at {}; logs in {}",
        options.instances,
        backends.moto_url,
        backends.emulator_url,
        log_dir.display()
    );

    let before = cpu::snapshot();
    let mut onboarded =
        phases::onboardings(&oauth, &emulator, options.onboardings, options.concurrency).await;
    let between = cpu::snapshot();
    onboarded.phase.cpu = cpu::used(&before, &between);
    let mut fetched = phases::token_fetches(
        &tokens,
        &onboarded.clients,
        options.token_fetches,
        options.concurrency,
    )
    .await;
    fetched.phase.cpu = cpu::used(&between, &cpu::snapshot());

    let mut checks = checks::run(
        &backends.aws,
        options.onboardings,
        &onboarded.clients,
        &fetched.granular_clients,
    )
    .await;
    let state = emulator
        .get("/_emulator/state")
        .await
        .expect("the emulator's state");
    checks.push(checks::live_granular(&state, &fetched.granular_clients));
    let memory = vec![
        (oauth.name, oauth.peak_rss_kib()),
        (tokens.name, tokens.peak_rss_kib()),
    ];
    let gone: Vec<String> = memory
        .iter()
        .flat_map(|(name, peaks)| peaks.iter().filter(|p| p.is_none()).map(move |_| *name))
        .map(|name| format!("an instance of {name} exited"))
        .collect();
    checks.push(Check {
        name: "every function instance still running",
        passed: gone.is_empty(),
        detail: if gone.is_empty() {
            format!("{} instances", 2 * options.instances)
        } else {
            gone.join("; ")
        },
    });

    let phases = [onboarded.phase, fetched.phase];
    let run = report::Run {
        options,
        phases: &phases,
        checks: &checks,
        memory,
        logged: logs::above_info(&log, log_start),
        wall: started.elapsed(),
    };
    let text = report::render(&run);
    println!("{text}");
    std::fs::write(&options.out, &text)
        .map_err(|e| format!("writing {}: {e}", options.out.display()))?;
    println!("load: written to {}", options.out.display());
    for c in checks.iter().filter(|c| !c.passed) {
        eprintln!("load: check failed: {}: {}", c.name, c.detail);
    }
    if run.errors() > 0 {
        eprintln!("load: {} errors; see {}", run.errors(), log.display());
    }
    Ok(run.passed())
}
