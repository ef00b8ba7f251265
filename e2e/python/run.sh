#!/usr/bin/env bash
# End-to-end suite: the SuperTokens backend SDK supertokens-python 0.31.4 with sessiond as its core.
#
#   e2e/python/run.sh [pytest args...]
#
# Environment:
#   SESSIOND_BIN   sessiond binary to test. Unset: build it with
#                  `cargo build --release -p sessiond` at the repo root.
#   PYTHON         interpreter for the virtualenv (default: python3.11, else python3).
#   E2E_PROFILES   space-separated subset of the profiles below (default: all).
#
# Creates/refreshes e2e/python/.venv from the hash-pinned requirements.txt, starts sessiond on a
# free loopback port with a throw-away SQLite store, runs one pytest process per SDK configuration
# ("profile": tests/<profile>/), stops sessiond, and exits non-zero if anything failed or was
# skipped. sessiond logs and JUnit XML reports are left in e2e/python/artifacts/.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
ALL_PROFILES="main anti_csrf static_key app_id expiry"
PROFILES="${E2E_PROFILES:-$ALL_PROFILES}"
START_SECONDS=$SECONDS
cd "$HERE"

log() { printf '[e2e/python] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---- virtualenv ----------------------------------------------------------------------------------
if [[ -n "${PYTHON:-}" ]]; then
  PY="$PYTHON"
elif command -v python3.11 >/dev/null 2>&1; then
  PY=python3.11
else
  PY=python3
fi
command -v "$PY" >/dev/null 2>&1 || die "no Python interpreter ($PY)"
VENV="$HERE/.venv"
VENV_PY="$VENV/bin/python"
STAMP="$VENV/.e2e-installed"
want_stamp="$("$PY" -c 'import sys; print(sys.version.split()[0])') $(cksum <requirements.txt)"
if [[ ! -x "$VENV_PY" || ! -f "$STAMP" || "$(cat "$STAMP")" != "$want_stamp" ]]; then
  log "creating $VENV with $PY (requirements.txt changed or venv missing)"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV_PY" -m pip install --quiet --disable-pip-version-check --no-input \
    --require-hashes --no-deps -r requirements.txt
  "$VENV_PY" -m pip check >/dev/null
  printf '%s\n' "$want_stamp" >"$STAMP"
fi

# ---- sessiond binary -----------------------------------------------------------------------------
if [[ -n "${SESSIOND_BIN:-}" ]]; then
  BIN="$SESSIOND_BIN"
else
  log "SESSIOND_BIN unset: cargo build --release -p sessiond"
  (cd "$REPO_ROOT" && cargo build --release -p sessiond)
  target_dir="${CARGO_TARGET_DIR:-target}"
  [[ "$target_dir" = /* ]] || target_dir="$REPO_ROOT/$target_dir"
  BIN="$target_dir/release/sessiond"
fi
[[ -x "$BIN" ]] || die "sessiond binary not found or not executable: $BIN"
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
log "sessiond: $BIN ($("$BIN" --version 2>/dev/null | head -n 1 || true))"

# ---- start sessiond ------------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sessiond-e2e-python.XXXXXX")"
ARTIFACTS="$HERE/artifacts"
rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"
SESSIOND_LOG="$WORK/sessiond.log"
SESSIOND_PID=""

cleanup() {
  local rc=$?
  if [[ -n "$SESSIOND_PID" ]] && kill -0 "$SESSIOND_PID" 2>/dev/null; then
    kill -TERM "$SESSIOND_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$SESSIOND_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SESSIOND_PID" 2>/dev/null || true
    wait "$SESSIOND_PID" 2>/dev/null || true
  fi
  # Keep the logs of every sessiond the run started (tests start extra ones under $WORK too).
  find "$WORK" -name '*.log' -exec cp {} "$ARTIFACTS/" \; 2>/dev/null || true
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

API_KEY="$("$VENV_PY" -c 'import secrets; print(secrets.token_hex(32))')"
# Within the refresh grace window sessiond hands any superseded refresh token the current
# successor; the theft tests replay one after it, so keep it short (default 10 s).
export E2E_REFRESH_GRACE_S=2
# Port 0: the kernel picks a free loopback port; sessiond logs the address it bound.
"$BIN" serve \
  --listen 127.0.0.1:0 \
  --store "sqlite://$WORK/s.db" \
  --api-key "$API_KEY" \
  --refresh-grace "$E2E_REFRESH_GRACE_S" \
  --log-format json \
  </dev/null >"$SESSIOND_LOG" 2>&1 &
SESSIOND_PID=$!

ADDR=""
for _ in $(seq 1 300); do
  if grep -q '"sessiond listening"' "$SESSIOND_LOG" 2>/dev/null; then
    ADDR="$("$VENV_PY" - "$SESSIOND_LOG" <<'PY'
import json, sys
for line in open(sys.argv[1], errors="replace"):
    try:
        entry = json.loads(line)
    except ValueError:
        continue
    if entry.get("message") == "sessiond listening" and entry.get("addr"):
        print(entry["addr"])
        break
PY
)"
    [[ -n "$ADDR" ]] && break
  fi
  kill -0 "$SESSIOND_PID" 2>/dev/null || { cat "$SESSIOND_LOG" >&2; die "sessiond exited during start-up"; }
  sleep 0.1
done
[[ -n "$ADDR" ]] || { cat "$SESSIOND_LOG" >&2; die "sessiond was not ready after 30s"; }
case "$ADDR" in 127.0.0.1:*) ;; *) die "sessiond listens on $ADDR, expected 127.0.0.1:<port>" ;; esac
log "sessiond pid $SESSIOND_PID listening on $ADDR"

# ---- run the profiles ----------------------------------------------------------------------------
export SESSIOND_URL="http://$ADDR"
export SESSIOND_API_KEY="$API_KEY"
export SESSIOND_BIN="$BIN"
export E2E_WORKDIR="$WORK"
# Use the public-suffix snapshot bundled with tldextract: no traffic off this machine.
export SUPERTOKENS_TLDEXTRACT_DISABLE_HTTP=1
# Never send loopback traffic through a proxy configured in the environment.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"
unset SUPERTOKENS_ENV SUPERTOKENS_DEBUG

TIMEOUT=()
command -v timeout >/dev/null 2>&1 && TIMEOUT=(timeout --signal=TERM 300)

failed=()
for profile in $PROFILES; do
  [[ -d "tests/$profile" ]] || die "unknown profile: $profile (have: $ALL_PROFILES)"
  log "profile $profile"
  if ! ${TIMEOUT[@]+"${TIMEOUT[@]}"} "$VENV_PY" -m pytest "tests/$profile" \
      --junitxml="$ARTIFACTS/junit-$profile.xml" "$@"; then
    failed+=("$profile")
  fi
done

if ! kill -0 "$SESSIOND_PID" 2>/dev/null; then
  failed+=("sessiond-exited")
  log "sessiond exited during the run; log tail:"
  tail -n 40 "$SESSIOND_LOG" >&2 || true
fi
errors="$(grep -c '"level":"ERROR"' "$SESSIOND_LOG" || true)"
[[ "$errors" == "0" ]] || log "note: sessiond logged $errors ERROR line(s); see artifacts/sessiond.log"

elapsed=$((SECONDS - START_SECONDS))
if ((${#failed[@]})); then
  log "FAILED: ${failed[*]} (${elapsed}s)"
  exit 1
fi
log "all profiles passed: $PROFILES (${elapsed}s)"
