#!/usr/bin/env bash
# Starts (or stops) a three-master Redis Cluster on free loopback ports, for tests.
#   .ci/redis-cluster.sh start DIR   -> prints redis+cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3
#   .ci/redis-cluster.sh stop DIR
# Nothing is persisted; each node keeps its files under DIR.
set -euo pipefail
cmd="${1:?start|stop}"
dir="${2:?directory}"
case "$cmd" in
start)
  mkdir -p "$dir"
  ports=$(python3 - <<'PY'
import random, socket
# Three ports that are free, and whose cluster-bus ports (port + 10000) are free too.
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
ports = []
while len(ports) < 3:
    p = random.randrange(20000, 55000)
    if p not in ports and free(p) and free(p + 10000):
        ports.append(p)
print(" ".join(str(p) for p in ports))
PY
)
  for p in $ports; do
    mkdir -p "$dir/$p"
    redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
      --cluster-config-file "$dir/$p/nodes.conf" --cluster-node-timeout 2000 \
      --save "" --appendonly no --dir "$dir/$p" --daemonize yes \
      --pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log"
    echo "$p" >> "$dir/ports"
  done
  for p in $(cat "$dir/ports"); do
    for _ in $(seq 1 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  nodes=$(sed 's/^/127.0.0.1:/' "$dir/ports" | tr '\n' ' ')
  # shellcheck disable=SC2086
  redis-cli --cluster create $nodes --cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1
  first=$(head -1 "$dir/ports")
  for _ in $(seq 1 100); do
    redis-cli -p "$first" cluster info 2>/dev/null | grep -q 'cluster_state:ok' && break
    sleep 0.1
  done
  redis-cli -p "$first" cluster info | grep -q 'cluster_state:ok' || { cat "$dir/create.log"; exit 1; }
  echo "redis+cluster://$(sed 's/^/127.0.0.1:/' "$dir/ports" | paste -sd,)"
  ;;
stop)
  [ -f "$dir/ports" ] || exit 0
  for p in $(cat "$dir/ports"); do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
  rm -rf "$dir"
  ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
