#!/usr/bin/env bash
# End-to-end suite in a real browser: Debian's Chromium driven by playwright-core against the
# sessiond demo app (and, for server-backed sessions, a sessiond service).
#
#   e2e/browser/run.sh                                   # builds what it needs with cargo
#   SESSIOND_DEMO_BIN=... SESSIOND_BIN=... e2e/browser/run.sh
#
# Installs Chromium with apt-get when /usr/bin/chromium is missing (machines are fresh),
# installs the npm dependencies (npm ci), runs every test file with `node --test`, and exits
# non-zero if anything failed, was skipped or was cancelled. Extra arguments go to `node --test`.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
START_S=$(date +%s)
SUITE=browser
# log, die, require_node, npm_ci_if_stale (node built-ins and npm only)
# shellcheck source=../node/lib/run-common.sh
source "$HERE/../node/lib/run-common.sh"

require_node

# --- Chromium -----------------------------------------------------------------------------------
CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM_PATH" ]; then
    [ "$(id -u)" = 0 ] || die "$CHROMIUM_PATH is missing and only root can apt-get install chromium"
    log "installing Debian's chromium (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
[ -x "$CHROMIUM_PATH" ] || die "no Chromium at $CHROMIUM_PATH"
log "chromium: $("$CHROMIUM_PATH" --version 2>/dev/null | tail -n1)"
export CHROMIUM_PATH

# --- the binaries -------------------------------------------------------------------------------
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$REPO_ROOT/$TARGET_DIR" ;; esac
if [ -z "${SESSIOND_DEMO_BIN:-}" ] || [ -z "${SESSIOND_BIN:-}" ]; then
    command -v cargo >/dev/null || die "SESSIOND_DEMO_BIN/SESSIOND_BIN are unset and cargo is not available"
    log "building sessiond-demo and sessiond (cargo build --release)"
    (cd "$REPO_ROOT" && cargo build --release -p sessiond-demo -p sessiond --bins)
    SESSIOND_DEMO_BIN="${SESSIOND_DEMO_BIN:-$TARGET_DIR/release/sessiond-demo}"
    SESSIOND_BIN="${SESSIOND_BIN:-$TARGET_DIR/release/sessiond}"
fi
[ -x "$SESSIOND_DEMO_BIN" ] || die "sessiond-demo binary not found: $SESSIOND_DEMO_BIN"
[ -x "$SESSIOND_BIN" ] || die "sessiond binary not found: $SESSIOND_BIN"
export SESSIOND_DEMO_BIN SESSIOND_BIN

# --- npm dependencies (npm ci only when node_modules is missing or stale) -----------------------
cd "$HERE"
npm_ci_if_stale "$HERE"

# The demo's /app/ page loads supertokens-web-js's bundle/ scripts from crates/sessiond-demo/web.
WEB="$REPO_ROOT/crates/sessiond-demo/web"
npm_ci_if_stale "$WEB" "supertokens-web-js for the demo (npm ci in crates/sessiond-demo/web)"
export SESSIOND_DEMO_WEB_JS="$WEB/node_modules/supertokens-web-js/bundle"

# --- the tests ----------------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sessiond-e2e-browser.XXXXXX")"
mkdir -p "$WORK/logs"
export E2E_WORK_DIR="$WORK" E2E_LOG_DIR="$WORK/logs"
# Settings from the caller's environment must not leak into the servers the tests start.
for v in $(env | sed -n 's/^\(SESSIOND_[A-Z0-9_]*\)=.*/\1/p'); do
    case "$v" in SESSIOND_BIN|SESSIOND_DEMO_BIN|SESSIOND_DEMO_WEB_JS|SESSIOND_TEST_*) ;; *) unset "$v" ;; esac
done
TAP="$WORK/results.tap"
set +e
node --test --test-concurrency=1 --test-reporter=tap "$@" test/ >"$TAP" 2>&1
STATUS=$?
set -e
cat "$TAP"
pass=$(sed -n 's/^# pass //p' "$TAP" | tail -n1)
fail=$(sed -n 's/^# fail //p' "$TAP" | tail -n1)
skipped=$(sed -n 's/^# skipped //p' "$TAP" | tail -n1)
cancelled=$(sed -n 's/^# cancelled //p' "$TAP" | tail -n1)
log "pass ${pass:-0}, fail ${fail:-?}, skipped ${skipped:-?}, cancelled ${cancelled:-?} in $(( $(date +%s) - START_S ))s"
# No test run at all is a failure too (a broken glob or a suite that stopped loading).
if [ "$STATUS" -ne 0 ] || [ "${pass:-0}" -eq 0 ] || [ "${fail:-1}" != 0 ] || [ "${skipped:-1}" != 0 ] || [ "${cancelled:-1}" != 0 ]; then
    log "logs kept in $WORK/logs"
    exit 1
fi
rm -rf "$WORK"
