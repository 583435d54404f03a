# The two commands of the README: `make dev` runs the service locally, `make test` runs every test.
# Both install what they need into a project-local virtual environment (.venv).

SHELL := /bin/bash
VENV := .venv
PYTHON ?= python3
# What `make dev` needs: cargo-lambda (the local Lambda runtime) and moto_server (local AWS).
DEV_TOOLS := cargo-lambda==1.9.2 'moto[server]==5.2.5'
# What the tests need on top: SAM's validation and build, cfn-lint, zig for the arm64 build.
TEST_TOOLS := aws-sam-cli==1.170.0 cfn-lint==1.58.0 ziglang==0.17.0
DEV_STAMP := $(VENV)/.dev-$(shell echo '$(DEV_TOOLS)' | sha1sum | cut -c1-12)
TEST_STAMP := $(VENV)/.test-$(shell echo '$(TEST_TOOLS)' | sha1sum | cut -c1-12)
# cargo lambda watch builds into its own target folder, so it never waits on cargo test's lock.
STACK_TARGET := target/stack
BROWSER_DIR := tests/e2e/browser

.PHONY: dev dev-notice test venv venv-dev browser-deps build-stack lint unit e2e infra sam-build bench scale load fuzz clean

venv-dev: $(DEV_STAMP)
venv: $(DEV_STAMP) $(TEST_STAMP)

$(VENV)/bin/python:
	@command -v $(PYTHON) >/dev/null || { echo "python3 is required (apt-get install python3 python3-venv)"; exit 1; }
	@$(PYTHON) -m venv --help >/dev/null 2>&1 || { apt-get update && apt-get install -y python3-venv; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip

$(DEV_STAMP): | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet $(DEV_TOOLS)
	@touch $@

$(TEST_STAMP): | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet $(TEST_TOOLS)
	@touch $@

# The browser tests' tools: Debian's headless Chromium and ChromeDriver, and axe-core from npm.
browser-deps: $(BROWSER_DIR)/node_modules/.installed
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; }

$(BROWSER_DIR)/node_modules/.installed: $(BROWSER_DIR)/package-lock.json
	npm ci --prefix $(BROWSER_DIR) --no-audit --no-fund
	@touch $@

FUNCTIONS := oauth-callback dataset-lookup token-fetch offboarding

dev-notice:
	@echo "Building the four functions, the Graph emulator and the launcher: the first build takes about 3 minutes on 2 cores (plus downloading crates the first time), later ones seconds."

# The functions as cargo lambda watch will run them (one at a time, as `cargo run --bin`
# resolves features per binary), plus the emulator and the local-stack launcher (tools/local-stack).
build-stack:
	for f in $(FUNCTIONS); do CARGO_TARGET_DIR=$(STACK_TARGET) cargo build --bin $$f || exit 1; done
	cargo build -p graph-emulator -p local-stack --bins

dev: venv-dev dev-notice build-stack
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" target/debug/local-stack

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

unit:
	cargo test --workspace --exclude e2e

# The local stack's moto first (tools/local-stack/moto_fast.py), then the suite over it.
e2e: venv-dev build-stack browser-deps
	cd tools/local-stack && $(CURDIR)/$(VENV)/bin/python -m unittest -v test_moto_fast
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo test -p e2e --test e2e

# The template, offline: SAM's validation with its linter, cfn-lint (any warning fails), and
# least privilege and route authorization (tests/infra).
SAM_ENV := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0
infra: venv
	$(SAM_ENV) sam validate --lint
	$(SAM_ENV) cfn-lint infra/template.yaml
	cd tests/infra && $(CURDIR)/$(VENV)/bin/python -m unittest -v test_infra

# sam build for arm64 (cargo-lambda cross-compiles with zig), then each bootstrap checked.
sam-build: venv
	rustup target add aarch64-unknown-linux-gnu
	$(SAM_ENV) sam build
	$(VENV)/bin/python tests/infra/check_build.py

test: venv lint unit e2e infra sam-build

# Cold start and warm cost (issue 13, not part of `make test`): the four functions and the floor
# built for release (x86_64 to run here, arm64 zipped for their size), the own-time benchmark
# over the fakes, then each binary started cold under a local Lambda Runtime API beside a
# Python boto3 token-fetch; prints the table, writes bench/results.md, fails on a missed target.
# BENCH_COLD_STARTS (40) and BENCH_WARM (1000) make it shorter.
BENCH_BINS := $(foreach f,$(FUNCTIONS) floor-echo,-p $(f))
bench: venv
	@command -v valgrind >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y valgrind; }
	rustup target add aarch64-unknown-linux-gnu
	cargo build --release $(BENCH_BINS) -p graph-emulator
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release --arm64 --output-format zip $(BENCH_BINS)
	cargo bench -p e2e --bench own_time
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" GRAPH_EMULATOR="$(CURDIR)/target/release/graph-emulator" \
		cargo bench -p e2e --bench cold

# The scale test of the sweep (issue 11, not part of `make test`): 10,000 clients in moto_server
# (started through tools/local-stack/moto_fast.py) and the emulator, the real sweep on a simulated
# clock for two health-check intervals and a day's backlog; fails on any check, and writes its
# figures to bench/scale.md and bench/scale-runs.csv. SCALE_CLIENTS, SCALE_INTERVAL_SECS,
# SCALE_INTERVALS and SCALE_OUTAGE=0 make it smaller.
scale: venv-dev
	cargo build -p graph-emulator
	GRAPH_EMULATOR="$(CURDIR)/target/debug/graph-emulator" cargo bench -p e2e --bench scale

# The load test (issue 14, not part of `make test`): LOAD_ONBOARDINGS (2000) onboardings through
# the release oauth-callback, then LOAD_TOKEN_FETCHES (10000) token-fetch invocations, at most
# LOAD_CONCURRENCY (8) at once, each instance under a local Lambda Runtime API over moto_server
# (moto_fast.py) and the Graph emulator; fails on any error or failed check, writes
# bench/load.md (LOAD_OUT).
load: venv-dev
	cargo build --release -p oauth-callback -p token-fetch -p graph-emulator
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" GRAPH_EMULATOR="$(CURDIR)/target/release/graph-emulator" \
		cargo bench -p e2e --bench load

# Hardening (issue 14, not part of `make test`): every fuzz target, 10 minutes each (FUZZ_SECONDS,
# FUZZ_TARGETS, FUZZ_PARALLEL); writes bench/fuzz.md, fails on a crash.
fuzz:
	scripts/harden.sh

clean:
	rm -rf $(VENV) .stack target .aws-sam
