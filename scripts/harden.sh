#!/usr/bin/env bash
# Hardening, not CI: runs each fuzz target for a while (default 60 s; FUZZ_SECONDS to change).
# Installs cargo-fuzz when missing. cargo-fuzz needs nightly features: it uses a nightly
# toolchain when one is installed, else the stable one with RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi
for target in signed_request webhook_payload; do
  echo "== fuzzing $target for ${seconds}s"
  "${fuzz[@]}" run "$target" -- -max_total_time="$seconds" -max_len=4096
done
