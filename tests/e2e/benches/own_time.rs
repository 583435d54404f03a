//! What each function's warm path costs in the code alone: the `shared` entry each handler
//! calls, over the in-memory fakes, so no network, AWS emulator or Graph is in the figures.
//! `make bench` runs it.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use secrecy::SecretString;

use shared::fakes::scenario::{BROWSER, onboard, session_and_code};
use shared::fakes::{Fakes, T0};
use shared::model::ClientBusinessId;
use shared::onboarding::{self, CodeSource};
use shared::tokens::{self, Recovery};
use shared::{Ports, datasets, offboarding};

/// A world of fakes with client 100 onboarded.
fn onboarded(runtime: &tokio::runtime::Runtime) -> (Fakes, Ports, ClientBusinessId) {
    let fakes = Fakes::new();
    let ports = fakes.cached_ports();
    let id = runtime.block_on(onboard(&fakes, &ports, "100", &["ads_management"]));
    (fakes, ports, id)
}

/// A delivery of one `business_integration_update` of `id` at `time`, signed as Meta signs.
fn update_delivery(ports: &Ports, id: &ClientBusinessId, time: i64) -> (Vec<u8>, String) {
    let body = serde_json::json!({"object": "application", "entry": [{
        "id": ports.settings.app_id.as_str(),
        "time": time,
        "changes": [{"field": "business_integration_update",
                     "value": {"business_manager_id": id.as_str()}}],
    }]})
    .to_string()
    .into_bytes();
    let signature = shared::signatures::hub_signature(shared::settings::TEST_APP_SECRET, &body);
    (body, signature)
}

fn own_time(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut group = c.benchmark_group("own_time");

    let (fakes, ports, id) = onboarded(&runtime);
    let reads = runtime.block_on(async {
        tokens::client_token(&ports, &id, false)
            .await
            .expect("a token");
        let reads = fakes.vault.reads();
        tokens::client_token(&ports, &id, false)
            .await
            .expect("a token");
        reads
    });
    assert_eq!(
        fakes.vault.reads(),
        reads,
        "a warm token comes from the cache"
    );
    group.bench_function("token_fetch_cache_hit", |b| {
        b.to_async(&runtime).iter(|| async {
            tokens::client_token(&ports, &id, false)
                .await
                .expect("a token")
        })
    });
    // force_refresh reads the current version, which the cache never serves.
    group.bench_function("token_fetch_cache_miss", |b| {
        b.to_async(&runtime).iter(|| async {
            tokens::client_token(&ports, &id, true)
                .await
                .expect("a token")
        })
    });

    let (fakes, ports, id) = onboarded(&runtime);
    fakes.graph.set_pixels("100", &["1", "2"], &["3"]);
    let first = runtime
        .block_on(datasets::lookup(&ports, &id, false, Recovery::NotHere))
        .expect("datasets");
    assert_eq!((first.count, first.source), (3, "graph"));
    group.bench_function("dataset_lookup_cached", |b| {
        b.to_async(&runtime).iter(|| async {
            let view = datasets::lookup(&ports, &id, false, Recovery::NotHere)
                .await
                .expect("datasets");
            assert_eq!((view.count, view.source), (3, "cache"));
            view
        })
    });

    let fakes = Fakes::new();
    let ports = fakes.cached_ports();
    // A new business each time, so every completion is a first onboarding.
    let mut business = 1_000_000u64;
    group.bench_function("code_post", |b| {
        b.to_async(&runtime).iter_batched(
            || {
                business += 1;
                // Criterion's setup is synchronous and runs inside the runtime, so it cannot
                // block_on; the fakes never wait, so one poll finishes it.
                session_and_code(&fakes, &ports, &business.to_string())
                    .now_or_never()
                    .expect("the fakes answer at once")
            },
            |(state, code)| {
                let ports = &ports;
                async move {
                    let done = onboarding::complete(
                        ports,
                        &state,
                        Some(BROWSER),
                        SecretString::from(code),
                        CodeSource::JsSdk,
                    )
                    .await
                    .expect("onboarded");
                    assert!(!done.replayed);
                    done
                }
            },
            BatchSize::SmallInput,
        )
    });

    let (_fakes, ports, id) = onboarded(&runtime);
    // A distinct time makes a distinct change, so none is a duplicate.
    let mut time = T0;
    group.bench_function("webhook_delivery", |b| {
        b.to_async(&runtime).iter_batched(
            || {
                time += 1;
                update_delivery(&ports, &id, time)
            },
            |(body, signature)| {
                let ports = &ports;
                async move {
                    let outcome = offboarding::handle_delivery(
                        ports,
                        &body,
                        Some(&signature),
                        Recovery::NotHere,
                    )
                    .await
                    .expect("a delivery");
                    assert_eq!((outcome.recorded, outcome.applied), (1, 1));
                    outcome
                }
            },
            BatchSize::SmallInput,
        )
    });

    group.finish();
}

criterion_group!(benches, own_time);
criterion_main!(benches);
