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
# The browser-like client, the sessiond/proxy helpers and the app/capture/suite code are
# e2e/node/lib's (node built-ins only, no npm install there needed; the SDK and express they use are
# this directory's); this directory has its own package.json pinned to 15.2.3.
# The steps are e2e/node/lib/run-sdk-suite.sh, shared with e2e/node.
set -euo pipefail

SUITE=node-15
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
sdk_cdi() { node -p 'require("./node_modules/supertokens-node/lib/build/version").cdiSupported.join(", ")'; }
# shellcheck source=../node/lib/run-sdk-suite.sh
source "$HERE/../node/lib/run-sdk-suite.sh"
