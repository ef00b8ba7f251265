# shellcheck shell=bash
# The body of e2e/node/run.sh and e2e/node-15/run.sh (see their headers for what a run does): one
# shared sessiond, npm ci when needed, `node --test` over test/*.test.js, a summary. Source it from a
# run.sh with `set -euo pipefail`, the run.sh's arguments still in "$@" (they go to `node --test`) and:
#   SUITE     the directory name under e2e/ (log prefix, temp dir and API key names, summary title)
#   HERE      that directory
#   sdk_cdi   a function printing the CDI version(s) for the summary line (run in $HERE)

REPO_ROOT="$(cd "$HERE/../.." && pwd)"
START_S=$(date +%s)
# shellcheck source=run-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/run-common.sh"

require_node 20

# --- the sessiond binary ------------------------------------------------------------------------
if [ -n "${SESSIOND_BIN:-}" ]; then
    BIN="$SESSIOND_BIN"
else
    command -v cargo >/dev/null || die "SESSIOND_BIN is unset and cargo is not available to build sessiond"
    log "building sessiond (cargo build --release -p sessiond)"
    (cd "$REPO_ROOT" && cargo build --release -p sessiond)
    TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
    case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$REPO_ROOT/$TARGET_DIR" ;; esac
    BIN="$TARGET_DIR/release/sessiond"
fi
[ -x "$BIN" ] || die "sessiond binary not found or not executable: $BIN"
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
log "sessiond: $BIN ($("$BIN" --version 2>/dev/null || echo 'unknown version'))"

# --- npm dependencies (npm ci only when node_modules is missing or stale) -----------------------
cd "$HERE"
npm_ci_if_stale "$HERE"

# --- the shared sessiond ------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sessiond-e2e-$SUITE.XXXXXX")"
mkdir -p "$WORK/logs"
API_KEY="e2e-$SUITE-$(node -e 'process.stdout.write(require("crypto").randomBytes(24).toString("hex"))')"
SD_LOG="$WORK/sessiond.log"
SD_PID=""
KEEP_WORK=0

cleanup() {
    if [ -n "$SD_PID" ] && kill -0 "$SD_PID" 2>/dev/null; then
        kill -TERM "$SD_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$SD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SD_PID" 2>/dev/null || true
        wait "$SD_PID" 2>/dev/null || true
    fi
    if [ "$KEEP_WORK" = 0 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Settings from the caller's environment must not leak into the server (SESSIOND_BIN is ours).
for v in $(env | sed -n 's/^\(SESSIOND_[A-Z0-9_]*\)=.*/\1/p'); do
    [ "$v" = SESSIOND_BIN ] || unset "$v"
done

"$BIN" serve \
    --listen 127.0.0.1:0 \
    --store "sqlite://$WORK/s.db" \
    --api-key "$API_KEY" \
    --log-format json \
    2>"$SD_LOG" >/dev/null &
SD_PID=$!

ADDR=""
for _ in $(seq 1 300); do
    kill -0 "$SD_PID" 2>/dev/null || { cat "$SD_LOG" >&2; die "sessiond exited during start-up"; }
    LINE="$(grep -m1 '"message":"sessiond listening"' "$SD_LOG" || true)"
    if [ -n "$LINE" ]; then
        ADDR="$(printf '%s' "$LINE" | sed -E 's/.*"addr":"([^"]+)".*/\1/')"
        break
    fi
    sleep 0.1
done
[ -n "$ADDR" ] || { cat "$SD_LOG" >&2; die "sessiond did not log 'sessiond listening' within 30 s"; }
log "shared sessiond listening on $ADDR (pid $SD_PID)"

# --- the tests ----------------------------------------------------------------------------------
export SESSIOND_BIN="$BIN" SESSIOND_URL="http://$ADDR" SESSIOND_API_KEY="$API_KEY"
export E2E_WORK_DIR="$WORK" E2E_LOG_DIR="$WORK/logs"
TAP="$WORK/results.tap"
set +e
node --test --test-concurrency=1 --test-timeout=60000 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$TAP" \
    "$@" test/*.test.js
NODE_RC=$?
set -e

SD_ALIVE=1
kill -0 "$SD_PID" 2>/dev/null || SD_ALIVE=0

count() { sed -n "s/^# $1 \([0-9]*\)$/\1/p" "$TAP" | tail -1; }
TESTS="$(count tests)"; PASS="$(count pass)"; FAIL="$(count fail)"
SKIPPED="$(count skipped)"; TODO="$(count todo)"; CANCELLED="$(count cancelled)"
ELAPSED=$(( $(date +%s) - START_S ))

echo
bar() { printf '=%.0s' $(seq 1 "$1"); }
TITLE=" e2e/$SUITE summary "
echo "$(bar $(( (50 - ${#TITLE}) / 2 )))$TITLE$(bar $(( 50 - ${#TITLE} - (50 - ${#TITLE}) / 2 )))"
echo "supertokens-node $(node -p 'require("./node_modules/supertokens-node/lib/build/version").version') against sessiond (CDI $(sdk_cdi))"
echo "tests: ${TESTS:-?}  pass: ${PASS:-?}  fail: ${FAIL:-?}  skipped: ${SKIPPED:-?}  todo: ${TODO:-?}  cancelled: ${CANCELLED:-?}"
grep -E '^ *not ok ' "$TAP" | sed -E 's/^ */  FAILED: /' || true
echo "time: ${ELAPSED}s"

STATUS=0
[ "$NODE_RC" = 0 ] || STATUS=1
[ "${FAIL:-1}" = 0 ] && [ "${CANCELLED:-1}" = 0 ] || STATUS=1
if [ "$#" -eq 0 ]; then
    # A full run must not skip anything. (With a --test-name-pattern, the other tests show as skipped.)
    [ "${SKIPPED:-1}" = 0 ] && [ "${TODO:-1}" = 0 ] || { echo "skipped/todo tests are not allowed"; STATUS=1; }
fi
[ "${TESTS:-0}" -gt 0 ] || { echo "no tests ran"; STATUS=1; }
[ "$SD_ALIVE" = 1 ] || { echo "the shared sessiond died during the run"; STATUS=1; }

if [ "$STATUS" = 0 ]; then
    echo "result: PASS"
else
    KEEP_WORK=1
    echo "result: FAIL"
    echo "logs kept in $WORK: sessiond.log (shared instance), sessiond-*/ (per-file instances),"
    echo "  logs/<test file>.log (captured SDK console/debug output), results.tap"
    echo "--- last lines of the shared sessiond log ---"
    tail -n 20 "$SD_LOG" || true
fi
echo "=================================================="
exit "$STATUS"
