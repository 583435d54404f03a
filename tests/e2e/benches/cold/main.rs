//! `make bench`: each function's release binary started cold under a local Lambda Runtime API
//! against the local stack (moto_server, the Graph emulator), beside the floor (a minimal
//! `lambda_runtime` echo) and the usual alternative (token-fetch in Python with boto3). It
//! measures init, the first request, warm latency, peak memory, init instructions (callgrind)
//! and the zipped arm64 size, checks the targets of README "Cold start and warm cost", and writes
//! the table to `bench/results.md`.

mod callgrind;
mod host;
mod instance;
mod report;
mod runtime_api;
mod stats;
mod workloads;

use local_stack::Backends;
use local_stack::stack::workspace_root;
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

use e2e::emulator::Emulator;
use instance::{Instance, Launch};
use report::{Layout, Measured, Role};
use stats::Sample;

/// What the environment can change (the defaults are the issue's minimums and more).
struct Options {
    cold_starts: usize,
    warm: usize,
    out: PathBuf,
}

impl Options {
    fn from_env() -> Self {
        let number = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let root = workspace_root();
        Self {
            cold_starts: number("BENCH_COLD_STARTS", 40),
            warm: number("BENCH_WARM", 1000),
            out: std::env::var_os("BENCH_OUT")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("bench/results.md")),
        }
    }
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; this harness has no options of its own.
    let options = Options::from_env();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(&options)) {
        Ok(measured) => {
            let table = report::render(&measured);
            println!("{table}");
            if let Err(err) = std::fs::write(&options.out, &table) {
                eprintln!("writing {}: {err}", options.out.display());
                return ExitCode::FAILURE;
            }
            println!("written to {}", options.out.display());
            let missed = report::missed_targets(&measured);
            for miss in &missed {
                eprintln!("target missed: {miss}");
            }
            if missed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("bench: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Every launch of the benchmark, in the order a round of cold starts runs them.
fn launches(env: &[(&'static str, String)]) -> Vec<(Role, Launch)> {
    let env = instance::lambda_env(env);
    let binary = |role: Role| (role, Launch::release(role.name(), &env));
    let python = Launch {
        name: Role::Python.name(),
        program: workspace_root().join(".venv/bin/python"),
        args: vec![
            workspace_root()
                .join("tests/e2e/benches/cold/token_fetch.py")
                .display()
                .to_string(),
        ],
        env: env.clone(),
    };
    vec![
        binary(Role::Floor),
        binary(Role::OauthCallback),
        binary(Role::DatasetLookup),
        binary(Role::TokenFetch),
        binary(Role::Offboarding),
        (Role::Python, python),
    ]
}

/// The clients and helpers the events need.
struct World {
    emulator: Emulator,
    /// A warm oauth-callback that opens sessions and binds their cookies.
    setup: Instance,
    client: String,
    webhooks: std::sync::atomic::AtomicI64,
}

impl World {
    /// The event a role's first (cold) request gets, and each of its warm ones.
    async fn event(&self, role: Role) -> Result<Vec<u8>, String> {
        Ok(match role {
            Role::Floor => br#"{"echo":"bench"}"#.to_vec(),
            Role::OauthCallback => workloads::code_post(&self.setup, &self.emulator).await?,
            Role::DatasetLookup => workloads::datasets_request(&self.client),
            Role::TokenFetch | Role::Python => workloads::token_request(&self.client, false),
            Role::Offboarding => {
                let n = self
                    .webhooks
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                workloads::webhook_delivery(&self.client, n)
            }
        })
    }
}

impl report::Workload {
    async fn event(self, world: &World, role: Role) -> Result<Vec<u8>, String> {
        match self {
            report::Workload::CacheHit => Ok(workloads::token_request(&world.client, false)),
            report::Workload::CacheMiss => Ok(workloads::token_request(&world.client, true)),
            _ => world.event(role).await,
        }
    }
}

/// Whether an answer is the success this event should get.
fn check(role: Role, answer: &[u8]) -> Result<(), String> {
    let fail = || {
        format!(
            "{}: unexpected answer {}",
            role.name(),
            String::from_utf8_lossy(answer)
        )
    };
    match role {
        Role::Floor => Ok(()),
        Role::TokenFetch | Role::Python => {
            let body: Value = serde_json::from_slice(answer).map_err(|_| fail())?;
            body["access_token"].as_str().map(|_| ()).ok_or_else(fail)
        }
        _ => {
            let http = workloads::http_answer(answer)?;
            (http.status == 200).then_some(()).ok_or_else(fail)
        }
    }
}

async fn run(options: &Options) -> Result<Measured, String> {
    let log_dir = workspace_root().join(".stack/bench");
    let backends = Backends::start(None, None, &log_dir).await?;
    let env = backends.function_env("https://bench.example.test");
    let launches = launches(&env);
    let log = log_dir.join("functions.log");
    let oauth = &launches[1].1;
    let setup = Instance::start(oauth, &log).await?;
    let emulator = Emulator::new(backends.emulator_url.clone());
    let client = workloads::onboard(&setup, &emulator).await?;
    let world = World {
        emulator,
        setup,
        client,
        webhooks: 0.into(),
    };
    let mut measured = Measured::new(options.cold_starts, options.warm);

    let bundle_dir = log_dir.join("no-cert-dir");
    std::fs::create_dir_all(&bundle_dir).map_err(|e| e.to_string())?;
    for layout in Layout::ALL {
        let layout_env = layout.env(&bundle_dir);
        for _ in 0..options.cold_starts {
            // Interleaved, so a slow moment of the machine falls on every role alike.
            for (role, launch) in &launches {
                let mut launch = launch.clone();
                launch.env.extend(layout_env.clone());
                let event = world.event(*role).await?;
                let instance = Instance::start(&launch, &log).await?;
                let (answer, took) = instance.invoke(&event).await?;
                check(*role, &answer)?;
                measured.cold(layout, *role, instance.init, took);
            }
        }
    }

    for (role, launch) in &launches {
        let instance = Instance::start(launch, &log).await?;
        for &workload in role.workloads() {
            let mut times = Vec::with_capacity(options.warm);
            for i in 0..options.warm + 10 {
                let event = workload.event(&world, *role).await?;
                let (answer, took) = instance.invoke(&event).await?;
                check(*role, &answer)?;
                // The first few warm the caches and connections.
                if i >= 10 {
                    times.push(took);
                }
            }
            measured.warm(*role, workload, Sample::new(times));
        }
        measured.peak_rss(*role, instance.peak_rss_kib());
    }

    for layout in Layout::ALL {
        for (role, launch) in launches.iter().filter(|(r, _)| r.callgrind()) {
            let mut launch = launch.clone();
            launch.env.extend(layout.env(&bundle_dir));
            // Twice, to show the count repeats.
            for _ in 0..2 {
                let count = callgrind::init_instructions(&launch, &log_dir).await?;
                measured.instructions(layout, *role, count);
            }
        }
    }
    measured.sizes(&workspace_root().join("target/lambda"));
    measured.own_times(&workspace_root().join("target/criterion/own_time"));
    drop(backends);
    Ok(measured)
}
