#!/usr/bin/env bash
# Benchmark: `hoist deploy` to 1, 5, 10 and 20 test-bed servers in each
# delivery mode (streamed over SSH, a registry with auth, the local registry
# through tunnels), one proxied role. For each N it prints the wall time,
# hoist's own CPU time (user + system) and peak RSS from /usr/bin/time, the
# CPU per server, and the time line of each rollout step across hosts (when
# the first host started it, when the last one finished, and how far apart
# the hosts started it: a step no host waits for starts everywhere at once).
# It asserts nothing: the servers are containers sharing this machine's
# cores, so the wall time is mostly theirs; the runner's CPU and memory per
# server are what this measures.
#
#   runner/benches/fleet.sh [SIZES] [MODES]
#       SIZES default "1 5 10 20", MODES default "stream registry local"
#
# Needs: .ci/setup done; grows the test bed to the largest size (about 2 GiB
# of memory for 20 servers) and leaves it up (`runner/tests/testbed/testbed down`).
set -euo pipefail
cd "$(dirname "$0")/../.."
read -r -a SIZES <<<"${1:-1 5 10 20}"
read -r -a MODES <<<"${2:-stream registry local}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/hoist-target}"
MAX=0
for n in "${SIZES[@]}"; do [ "$n" -gt "$MAX" ] && MAX="$n"; done

cargo build -q --release -p hoist -p hoist-proxy
HOIST="$CARGO_TARGET_DIR/release/hoist"
examples/hello/build-app >/dev/null
eval "$(runner/tests/testbed/testbed up "$MAX" | sed 's/^/export /')"
read -r -a SERVERS <<<"$HOIST_TESTBED_SERVERS"
read -r -a NAMES <<<"$HOIST_TESTBED_NAMES"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
APP="$WORK/app"
mkdir -p "$APP/config" "$APP/dist" "$APP/.hoist"
cp examples/hello/Dockerfile examples/hello/.dockerignore "$APP/"
cp examples/hello/dist/hello "$APP/dist/"
cp "$HOIST_TESTBED_KNOWN_HOSTS" "$WORK/known_hosts"
echo "REGISTRY_PASSWORD=$HOIST_TESTBED_REGISTRY_PASSWORD" >"$APP/.hoist/secrets"

config() { # mode hosts...
  local mode="$1" list registry=""
  shift
  list="$(printf '%s, ' "$@")"
  case "$mode" in
    registry) registry="registry:
  server: $HOIST_TESTBED_REGISTRY
  username: $HOIST_TESTBED_REGISTRY_USER
  password: [REGISTRY_PASSWORD]" ;;
    local) registry="registry:
  server: $HOIST_TESTBED_LOCAL_REGISTRY" ;;
  esac
  cat >"$APP/config/deploy.yml" <<YML
service: fleet
image: hoist-bench/fleet
servers:
  web:
    hosts: [${list%, }]
proxy:
  host: fleet.test
ssh:
  keys: [$HOIST_TESTBED_KEY]
  keys_only: true
  known_hosts: $WORK/known_hosts
readiness_delay: 1
retain_containers: 1
boot:
  limit: 100%
$registry
YML
}

cleanup() { # servers...
  local name
  for name in "$@"; do
    docker exec "$name" sh -c 'ids=$(docker ps -aq --filter label=service=fleet); [ -z "$ids" ] || docker rm -f $ids >/dev/null; for s in $(docker exec hoist-proxy /hoist-proxy list --json 2>/dev/null | grep -o "\"service\":\"fleet-[^\"]*\"" | cut -d\" -f4); do docker exec hoist-proxy /hoist-proxy remove $s >/dev/null 2>&1; done; rm -rf /root/.hoist/fleet-audit.log' || true
  done
}

# The time line of one deploy's rollout steps, from its --json events.
timeline() { # events.json
  python3 - "$1" <<'PY'
import json, sys
steps = {}
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("event") != "step" or not e.get("host"):
        continue
    m = e.get("message") or ""
    name = ("start" if m.startswith("started") else "wait-healthy" if m.endswith("is ready")
            else "route" if "routes" in m or m.startswith("routed") else "retire" if m.startswith("update finished")
            else "other")
    end = e["t"]; start = end - (e.get("ms") or 0)
    steps.setdefault(name, []).append((start, end))
for name in ["start", "wait-healthy", "route", "retire", "other"]:
    if name not in steps:
        continue
    s = steps[name]
    starts = [a for a, _ in s]
    print(f"    {name:<13} hosts {len(s):>3}  first start {min(starts)/1000:7.2f}s  last end {max(b for _, b in s)/1000:7.2f}s  start spread {(max(starts)-min(starts))/1000:6.2f}s")
PY
}

printf '%-8s %4s %9s %9s %12s %9s\n' mode N "wall (s)" "CPU (s)" "CPU/server" "RSS (MiB)"
for mode in "${MODES[@]}"; do
  for n in "${SIZES[@]}"; do
    hosts=("${SERVERS[@]:0:$n}")
    cleanup "${NAMES[@]:0:$n}"
    config "$mode" "${hosts[@]}"
    # Not timed: boots the proxies, ships the first image.
    (cd "$APP" && "$HOIST" deploy -q --version "warm-$mode-$n") >/dev/null
    v="t-$mode-$n-$RANDOM"
    (cd "$APP" && /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" \
      "$HOIST" deploy --json --version "$v" >"$WORK/events.json" 2>"$WORK/stderr") \
      || { echo "deploy failed ($mode, $n):"; tail -5 "$WORK/stderr"; tail -3 "$WORK/events.json"; exit 1; }
    read -r wall user sys rss <"$WORK/time"
    cpu="$(awk "BEGIN { print $user + $sys }")"
    printf '%-8s %4s %9.2f %9.2f %9.1f ms %9.1f\n' "$mode" "$n" "$wall" "$cpu" \
      "$(awk "BEGIN { print 1000 * $cpu / $n }")" "$(awk "BEGIN { print $rss / 1024 }")"
    timeline "$WORK/events.json"
  done
done
cleanup "${NAMES[@]}"
echo "CPU and RSS are hoist's own process (/usr/bin/time); wall includes the servers' work on this machine's cores."
