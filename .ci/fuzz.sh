#!/usr/bin/env bash
# Coverage-guided fuzzing of sessiond's parsers and token formats (cargo-fuzz + libFuzzer) on
# stable Rust. The targets live in fuzz/ (a cargo workspace of its own); see fuzz/README.md.
#
#   .ci/fuzz.sh                      # every target, FUZZ_SECONDS (default 30) each
#   FUZZ_SECONDS=5 .ci/fuzz.sh jws_parser cookie_token
#
# Stable Rust has no sanitizers, so targets are built with `-s none`: coverage guidance still
# works; what is caught is panics (failed assertions, overflow checks: `-a`), aborts and OOM.
# Prints one line per target:
#   fuzz <target>: <execs> executions, <cov> coverage, <ft> features, crashes: <n>
# and exits non-zero if any target crashed (libFuzzer's exit status, or a new crash-/oom-/
# timeout-/leak- file under fuzz/artifacts/<target>/). Corpora grow in fuzz/corpus/<target>/
# (seeded from fuzz/seeds/<target>/), libFuzzer logs go to fuzz/target/fuzz-logs/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${FUZZ_SECONDS:-30}"
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -gt 0 ]] || { echo "FUZZ_SECONDS must be a positive integer" >&2; exit 2; }
# Release build with debug assertions and overflow checks, no sanitizer (stable Rust). `build`
# and `run` must get the same flags, or `run` rebuilds.
flags=(--sanitizer none --release --debug-assertions)
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# (A failure of `cargo fuzz list` inside `< <(…)` does not stop the script: check the result, so a
# broken fuzz/Cargo.toml cannot pass as "no targets, nothing crashed".)
mapfile -t all < <(cargo fuzz list)
[[ ${#all[@]} -gt 0 ]] || { echo "cargo fuzz list found no fuzz targets in fuzz/" >&2; exit 2; }
if [[ $# -gt 0 ]]; then
  targets=("$@")
  for t in "${targets[@]}"; do
    printf '%s\n' "${all[@]}" | grep -qxF -- "$t" || { echo "unknown fuzz target: $t (have: ${all[*]})" >&2; exit 2; }
  done
else
  targets=("${all[@]}")
fi

start=$(date +%s)
echo "=== cargo fuzz build ${flags[*]}"
cargo fuzz build "${flags[@]}"
echo "=== built in $(( $(date +%s) - start ))s; fuzzing ${#targets[@]} target(s), ${seconds}s each"

# Scratch space for targets that write files (token_file), removed on exit; tmpfs when there
# is one, so fsync costs nothing.
scratch_parent=/dev/shm
[[ -d $scratch_parent && -w $scratch_parent ]] || scratch_parent="${TMPDIR:-/tmp}"
scratch=$(mktemp -d "$scratch_parent/sessiond-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export SESSIOND_FUZZ_TMPDIR="$scratch"
mkdir -p target/fuzz-logs

failed=()
for t in "${targets[@]}"; do
  corpus="corpus/$t"
  mkdir -p "$corpus" "artifacts/$t"
  if [[ -d "seeds/$t" ]]; then
    for f in "seeds/$t"/*; do
      [[ -f "$f" && ! -e "$corpus/${f##*/}" ]] && cp "$f" "$corpus/"
    done
  fi
  log="target/fuzz-logs/$t.log"
  marker="$scratch/$t.start"
  touch "$marker"
  status=0
  cargo fuzz run "${flags[@]}" "$t" "$corpus" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?

  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | tail -n1 | grep -oE '[0-9]+$' || true)
  last=$(grep -E '^#[0-9]+' "$log" | tail -n1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  crashes=$(find "artifacts/$t" -type f -newer "$marker" \
    \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) | wc -l)
  echo "fuzz $t: ${execs:-?} executions, ${cov:-?} coverage, ${ft:-?} features, crashes: $crashes"

  if [[ $status -ne 0 || $crashes -gt 0 ]]; then
    failed+=("$t")
    echo "--- $t failed (exit status $status); the end of $log:"
    tail -n 80 "$log"
    find "artifacts/$t" -type f -newer "$marker" | sed 's/^/artifact: fuzz\//'
  fi
done

echo "=== fuzzing done in $(( $(date +%s) - start ))s"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: crashes in: ${failed[*]}" >&2
  exit 1
fi
