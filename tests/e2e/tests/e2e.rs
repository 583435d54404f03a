//! End-to-end tests: the real functions under `cargo lambda watch`, against moto_server and the
//! Graph emulator. One stack serves every case, so cases run one at a time.

mod cases;

use e2e::Stack;
use libtest_mimic::{Arguments, Trial};
use local_stack::StackOptions;
use std::sync::Arc;

fn main() {
    let mut args = Arguments::from_args();
    // Faults and outages are stack-wide: cases must not overlap.
    args.test_threads = Some(1);
    let runtime = Arc::new(tokio::runtime::Runtime::new().expect("tokio runtime"));
    let stack: Option<Arc<Stack>> = (!args.list).then(|| {
        let options = StackOptions {
            invoke_port: None,
            emulator_port: None,
            moto_port: None,
            reload: false,
            log_dir: local_stack::workspace_root().join(".stack/e2e"),
            // The whole suite runs at the most verbose level, so the hygiene cases can show
            // that no secret reaches a log even then.
            function_log: "trace".to_owned(),
        };
        let _ = std::fs::remove_dir_all(&options.log_dir);
        match runtime.block_on(Stack::start(options)) {
            Ok(stack) => Arc::new(stack),
            Err(err) => {
                eprintln!("the local stack did not start: {err}");
                std::process::exit(1);
            }
        }
    });
    let trials = cases::all()
        .into_iter()
        .map(|(name, case)| {
            let (runtime, stack) = (runtime.clone(), stack.clone());
            Trial::test(name, move || {
                let stack = stack.as_deref().expect("the stack runs when tests run");
                runtime.block_on(case(stack));
                Ok(())
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    drop(stack);
    conclusion.exit();
}
