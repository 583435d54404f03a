//! How long token-fetch's work takes against the local stack (moto_server and the Graph
//! emulator): a warm call (one DynamoDB read, the secret from memory) and a cache miss
//! (one DynamoDB read and one Secrets Manager read). Run with `make bench`.

use criterion::{Criterion, criterion_group, criterion_main};
use e2e::Stack;
use local_stack::StackOptions;
use local_stack::stack::{APP_ID, APP_SECRET_ID, SECRET_PREFIX, TABLE, workspace_root};
use shared::config::Config;
use shared::model::ClientBusinessId;
use shared::tokens;

fn token_fetch(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let options = StackOptions {
        invoke_port: None,
        emulator_port: None,
        moto_port: None,
        reload: false,
        log_dir: workspace_root().join(".stack/bench"),
    };
    let stack = runtime
        .block_on(Stack::start(options))
        .expect("the local stack starts");
    let (deps, id) = runtime.block_on(async {
        let business = stack.new_business().await;
        stack.onboard(&business, "bench").await;
        let settings = [
            ("META_APP_ID", APP_ID.to_owned()),
            ("APP_SECRET_ID", APP_SECRET_ID.to_owned()),
            ("TABLE_NAME", TABLE.to_owned()),
            ("SECRET_PREFIX", SECRET_PREFIX.to_owned()),
            ("GRAPH_API_BASE_URL", stack.emulator_url.clone()),
        ];
        let config = Config::from_lookup(|name| {
            settings
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        })
        .expect("bench configuration");
        let aws = local_stack::aws::sdk_config(&stack.moto_url).await;
        let ports = shared::deps::ports(&config, &aws).await.expect("ports");
        (ports, ClientBusinessId::parse(&business.id).expect("an id"))
    });

    let mut group = c.benchmark_group("token_fetch");
    group.bench_function("warm_cache_hit", |b| {
        b.to_async(&runtime).iter(|| async {
            tokens::client_token(&deps, &id, false)
                .await
                .expect("a token")
        })
    });
    // force_refresh reads the current version, so every iteration reads Secrets Manager.
    group.bench_function("cache_miss", |b| {
        b.to_async(&runtime).iter(|| async {
            tokens::client_token(&deps, &id, true)
                .await
                .expect("a token")
        })
    });
    group.finish();
    drop(stack);
}

criterion_group!(benches, token_fetch);
criterion_main!(benches);
