#!/usr/bin/env bash
# End-to-end suite: supertokens-node 15.2.3, an older SDK that speaks CDI 3.0, against sessiond.
#
#   e2e/node-15/run.sh                   # builds sessiond with cargo (release) first
#   SESSIOND_BIN=/path/to/sessiond e2e/node-15/run.sh
#
# Starts one shared sessiond (loopback, free port, temporary SQLite store, API key), installs the
# npm dependencies if needed (npm ci), runs every test file with `node --test` one file at a time
# (some files start their own sessiond with other flags), stops sessiond, prints a summary, and
# exits non-zero if anything failed, was skipped, or was cancelled.
# Extra arguments are passed to `node --test` (e.g. --test-name-pattern=anti-csrf).
# The browser-like client and the sessiond/proxy helpers are e2e/node/lib's (node built-ins only,
# no npm install there needed); this directory has its own package.json pinned to 15.2.3.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
START_S=$(date +%s)

log() { printf '[e2e/node-15] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v node >/dev/null || die "node is required (>= 20)"
command -v npm >/dev/null || die "npm is required"
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
[ "$NODE_MAJOR" -ge 20 ] || die "node >= 20 is required (found $(node --version))"

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
LOCK_HASH="$(node -e 'const c=require("crypto").createHash("sha256");for(const f of ["package.json","package-lock.json"])c.update(require("fs").readFileSync(f));process.stdout.write(c.digest("hex"))')"
STAMP="node_modules/.e2e-lock-hash"
if [ ! -d node_modules ] || [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$LOCK_HASH" ]; then
    log "installing npm dependencies (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$LOCK_HASH" >"$STAMP"
else
    log "node_modules is up to date"
fi

# --- the shared sessiond ------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sessiond-e2e-node-15.XXXXXX")"
mkdir -p "$WORK/logs"
API_KEY="e2e-node-15-$(node -e 'process.stdout.write(require("crypto").randomBytes(24).toString("hex"))')"
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
echo "============== e2e/node-15 summary ==============="
echo "supertokens-node $(node -p 'require("./node_modules/supertokens-node/lib/build/version").version') against sessiond (CDI $(node -p 'require("./node_modules/supertokens-node/lib/build/version").cdiSupported.join(", ")'))"
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
