#!/usr/bin/env bash
# Hardening, not CI: runs every fuzz target (fuzz/fuzz_targets, one per parser of outside input)
# for FUZZ_SECONDS each (default 600), from its committed seeds (fuzz/seeds/<target>) and what
# earlier runs found (fuzz/corpus/<target>, git-ignored); prints a summary, writes it to
# bench/fuzz.md, and fails if any target crashed.
#   FUZZ_SECONDS=60            seconds per target
#   FUZZ_TARGETS="cookie json_body"   a subset (names as in fuzz/fuzz_targets)
#   FUZZ_PARALLEL=2            targets fuzzed at once (default 1: the run takes targets x seconds)
# Installs cargo-fuzz when missing. cargo-fuzz needs nightly features: it uses a nightly
# toolchain when one is installed, else the stable one with RUSTC_BOOTSTRAP=1. Targets are
# built with debug assertions (`-a`), so an arithmetic overflow is a crash, not a wrapped value.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
root=$(pwd)
seconds="${FUZZ_SECONDS:-600}"
parallel="${FUZZ_PARALLEL:-1}"
all_targets=$(cd fuzz/fuzz_targets && ls ./*.rs | sed 's|^\./||; s|\.rs$||')
targets="${FUZZ_TARGETS:-$all_targets}"
targets=$(echo "$targets" | tr ',' ' ')
for target in $targets; do
  [[ -f "fuzz/fuzz_targets/$target.rs" ]] || { echo "no fuzz target $target (have: $(echo $all_targets))" >&2; exit 2; }
done

# The longest input each target is given: a little over the limit its parser enforces, where
# that limit is small, so the refusal of an oversized input is fuzzed too.
max_len() {
  case "$1" in
    query_string) echo 4608 ;;     # MAX_QUERY_LEN 4096
    json_body) echo 9216 ;;        # oauth-callback's MAX_BODY 8192
    signed_request) echo 4608 ;;   # MAX_SIGNED_REQUEST_LEN 4096
    http_event|graph_answer|webhook_payload) echo 16384 ;;
    cookie) echo 2048 ;;
    *) echo 4096 ;;
  esac
}
dict() {
  case "$1" in
    query_string|cookie) echo "-dict=$root/fuzz/dicts/query.dict" ;;
    *) echo "-dict=$root/fuzz/dicts/json.dict" ;;
  esac
}

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
  toolchain="$(rustc +nightly -V)"
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
  toolchain="$(rustc -V) with RUSTC_BOOTSTRAP=1"
fi
# The fuzzed code builds against the versions the product is built with.
[[ -f fuzz/Cargo.lock ]] || cp Cargo.lock fuzz/Cargo.lock

echo "== building the fuzz targets"
(cd fuzz && "${fuzz[@]}" build -a)

logs="fuzz/target/harden"
mkdir -p "$logs"
run_target() {
  local target=$1 corpus="fuzz/corpus/$1" artifacts="fuzz/artifacts/$1"
  mkdir -p "$corpus" "$artifacts"
  # Seeds join the working corpus; what earlier runs found stays.
  for seed in fuzz/seeds/"$target"/*; do
    [[ -e "$seed" && ! -e "$corpus/$(basename "$seed")" ]] && cp "$seed" "$corpus/"
  done
  ls "$artifacts" > "$logs/$target.artifacts-before"
  local started rc=0
  started=$(date +%s)
  (cd fuzz && "${fuzz[@]}" run -a "$target" "$root/$corpus" -- \
      -max_total_time="$seconds" -max_len="$(max_len "$target")" "$(dict "$target")" \
      -timeout=30 -print_final_stats=1) \
    > "$logs/$target.log" 2>&1 || rc=$?
  echo "$rc $(( $(date +%s) - started )) $(date -u +%Y-%m-%dT%H:%MZ)" > "$logs/$target.result"
}

running=0
for target in $targets; do
  echo "== fuzzing $target for ${seconds}s (log: $logs/$target.log)"
  run_target "$target" &
  running=$((running + 1))
  if (( running >= parallel )); then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

final_stat() { grep -a "^stat::$2:" "$logs/$1.log" | tail -1 | awk '{print $2}' || true; }
# Every target's last run, this one's or an earlier one's (a subset run refreshes its rows).
table="| target | finished | seconds | executions | exec/s | corpus | crashes |
|---|---|---:|---:|---:|---:|---:|"
failed=()
for target in $all_targets; do
  [[ -f "$logs/$target.result" ]] || continue
  read -r rc wall at < "$logs/$target.result"
  # libFuzzer's own count of the time it fuzzed, else the wall clock.
  ran=$(grep -ao 'Done [0-9]* runs in [0-9]* second' "$logs/$target.log" | awk '{print $5}' | tail -1 || true)
  execs=$(final_stat "$target" number_of_executed_units)
  rate=$(final_stat "$target" average_exec_per_sec)
  corpus=$(find "fuzz/corpus/$target" -type f | wc -l)
  crashes=$(comm -13 "$logs/$target.artifacts-before" <(ls "fuzz/artifacts/$target") | grep -c . || true)
  if [[ "$rc" != 0 || "$crashes" != 0 ]]; then
    [[ " $(echo $targets) " == *" $target "* ]] && failed+=("$target")
    (( crashes > 0 )) || crashes="failed (exit $rc)"
  fi
  table+="
| $target | ${at:--} | ${ran:-$wall} | ${execs:-?} | ${rate:-?} | $corpus | $crashes |"
done

echo
echo "$table"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
{
  echo "# Fuzzing"
  echo
  echo "\`make fuzz\` (\`scripts/harden.sh\`): every fuzz target in \`fuzz/fuzz_targets\`, from the"
  echo "seeds in \`fuzz/seeds\` and the corpus of earlier runs, built with debug assertions; each"
  echo "row is that target's last run (this one ran ${seconds} s each: \`FUZZ_SECONDS\`). Executions are"
  echo "libFuzzer's \`stat::number_of_executed_units\`; corpus is the working corpus after the run;"
  echo "crashes are the artifacts that run left in \`fuzz/artifacts/<target>\`."
  echo
  echo "$table"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- machine: $(nproc) cores, ${cpu:-unknown CPU}"
  echo "- toolchain: ${toolchain}; $(cargo fuzz --version 2>/dev/null || echo cargo-fuzz)"
  echo "- targets: $(echo $targets)"
  echo "- reproduce: \`make fuzz\` (this run: \`FUZZ_SECONDS=${seconds}${FUZZ_TARGETS:+ FUZZ_TARGETS=\"$(echo $targets)\"} make fuzz\`)"
} > bench/fuzz.md
echo
echo "written to bench/fuzz.md"

if (( ${#failed[@]} > 0 )); then
  echo
  for target in "${failed[@]}"; do
    echo "!! $target crashed or failed: see $logs/$target.log"
    for artifact in $(comm -13 "$logs/$target.artifacts-before" <(ls "fuzz/artifacts/$target")); do
      echo "   reproduce: (cd fuzz && ${fuzz[*]} run -a $target artifacts/$target/$artifact)"
    done
  done
  exit 1
fi
