#!/usr/bin/env bash
# End-to-end suite: supertokens-node 24.0.3 against sessiond as its core.
#
#   e2e/node/run.sh                      # builds sessiond with cargo (release) first
#   SESSIOND_BIN=/path/to/sessiond e2e/node/run.sh
#
# Starts one shared sessiond (loopback, free port, temporary SQLite store, API key), installs the
# npm dependencies if needed (npm ci), runs every test file with `node --test` one file at a time
# (some files start their own sessiond with other flags), stops sessiond, prints a summary, and
# exits non-zero if anything failed, was skipped, or was cancelled.
# Extra arguments are passed to `node --test` (e.g. --test-name-pattern=anti-csrf).
# The steps are lib/run-sdk-suite.sh, shared with e2e/node-15.
set -euo pipefail

SUITE=node
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
sdk_cdi() { echo 5.4; }  # what 24.0.3 negotiates with sessiond
# shellcheck source=lib/run-sdk-suite.sh
source "$HERE/lib/run-sdk-suite.sh"
