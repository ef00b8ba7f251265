# shellcheck shell=bash
# Shell helpers for the run.sh of e2e/node, e2e/node-15 and e2e/browser. Source it with SUITE set
# (the log prefix, e.g. SUITE=node-15).

log() { printf '[e2e/%s] %s\n' "$SUITE" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# node and npm on PATH; with an argument, node at least that major version.
require_node() {
    command -v node >/dev/null || die "node is required (>= 20)"
    command -v npm >/dev/null || die "npm is required"
    if [ -n "${1:-}" ]; then
        local major
        major="$(node -p 'process.versions.node.split(".")[0]')"
        [ "$major" -ge "$1" ] || die "node >= $1 is required (found $(node --version))"
    fi
}

# `npm ci` in DIR only when its node_modules is missing or was installed from another
# package.json/package-lock.json (a hash of the two is kept in node_modules/.e2e-lock-hash).
# WHAT: what to say when installing (default "npm dependencies (npm ci)").
npm_ci_if_stale() {
    local dir="$1" what="${2:-npm dependencies (npm ci)}" hash
    hash="$(cd "$dir" && node -e 'const c=require("crypto").createHash("sha256");for(const f of ["package.json","package-lock.json"])c.update(require("fs").readFileSync(f));process.stdout.write(c.digest("hex"))')"
    if [ ! -d "$dir/node_modules" ] || [ ! -f "$dir/node_modules/.e2e-lock-hash" ] ||
        [ "$(cat "$dir/node_modules/.e2e-lock-hash")" != "$hash" ]; then
        log "installing $what"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error && echo "$hash" >node_modules/.e2e-lock-hash)
    else
        log "node_modules is up to date ($dir)"
    fi
}
