#!/usr/bin/env bash
# Benchmark: wall time of `hoist deploy` to 1 and to 3 test-bed servers, against
# a minimal shell script doing the same steps with ssh + docker (build, stream
# the image with `docker save | ssh docker load`, `docker run` the new
# container, wait until it is healthy, stop the old one), in the same run.
# Prints medians and ratios; it asserts nothing (timings are not tests).
#
#   runner/benches/servers.sh [ROUNDS]      (default 3 rounds per case)
#
# Needs: .ci/setup done; starts the test bed itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS="${1:-3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/hoist-target}"

cargo build -q --release -p hoist
HOIST="$CARGO_TARGET_DIR/release/hoist"
examples/hello/build-app >/dev/null
eval "$(runner/tests/testbed/testbed up | sed 's/^/export /')"
read -r -a SERVERS <<<"$HOIST_TESTBED_SERVERS"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
APP="$WORK/app"
mkdir -p "$APP/config" "$APP/dist"
cp examples/hello/Dockerfile examples/hello/.dockerignore "$APP/"
cp examples/hello/dist/hello "$APP/dist/"
cp "$HOIST_TESTBED_KNOWN_HOSTS" "$WORK/known_hosts"

config() { # hosts...
  local list
  list="$(printf '%s, ' "$@")"
  cat >"$APP/config/deploy.yml" <<YML
service: bench
image: hoist-bench/bench
servers:
  web: [${list%, }]
ssh:
  keys: [$HOIST_TESTBED_KEY]
  keys_only: true
  known_hosts: $WORK/known_hosts
readiness_delay: 1
retain_containers: 2
YML
}

now() { date +%s.%N; }
calc() { awk "BEGIN { print $* }"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

ssh_to() { # host:port, command...
  local host="$1"; shift
  ssh -q -i "$HOIST_TESTBED_KEY" -o UserKnownHostsFile="$WORK/known_hosts" -o StrictHostKeyChecking=yes \
    -o BatchMode=yes -p "${host##*:}" "root@${host%:*}" "$@"
}

# The same steps as hoist, by hand: one server.
shell_deploy_one() { # host version previous
  local host="$1" v="$2" prev="$3"
  docker save "hoist-bench/shell:$v" | ssh_to "$host" docker load >/dev/null
  ssh_to "$host" docker run -d --name "shell-web-$v" --label service=shell \
    --restart unless-stopped "hoist-bench/shell:$v" >/dev/null
  until [ "$(ssh_to "$host" docker inspect -f '{{.State.Health.Status}}' "shell-web-$v")" = healthy ]; do
    sleep 0.2
  done
  [ -z "$prev" ] || ssh_to "$host" docker stop "shell-web-$prev" >/dev/null
}

shell_deploy() { # version previous hosts...
  local v="$1" prev="$2"; shift 2
  docker build -q -t "hoist-bench/shell:$v" --label service=shell "$APP" >/dev/null
  local pids=() h
  for h in "$@"; do shell_deploy_one "$h" "$v" "$prev" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p"; done
}

cleanup_servers() {
  local i
  for i in 1 2 3; do
    docker exec "hoist-tb-$i" sh -c 'ids=$(docker ps -aq --filter label=service=bench --filter label=service=shell); [ -z "$ids" ] || docker rm -f $ids >/dev/null; rm -rf /root/.hoist' || true
    docker exec "hoist-tb-$i" sh -c 'ids=$(docker ps -aq --filter label=service=shell); [ -z "$ids" ] || docker rm -f $ids >/dev/null' || true
  done
}

declare -A RESULT
for n in 1 3; do
  hosts=("${SERVERS[@]:0:$n}")
  config "${hosts[@]}"
  cleanup_servers
  # First deploys (not timed): both start from a running previous version.
  (cd "$APP" && "$HOIST" deploy -q --version warm) >/dev/null
  shell_deploy warm "" "${hosts[@]}"
  prev=warm
  : >"$WORK/hoist.$n"; : >"$WORK/shell.$n"
  for r in $(seq 1 "$ROUNDS"); do
    v="r$n-$r-$RANDOM"
    t0="$(now)"; (cd "$APP" && "$HOIST" deploy -q --version "$v") >/dev/null; t1="$(now)"
    calc "$t1 - $t0" >>"$WORK/hoist.$n"
    t0="$(now)"; shell_deploy "$v" "$prev" "${hosts[@]}"; t1="$(now)"
    calc "$t1 - $t0" >>"$WORK/shell.$n"
    prev="$v"
  done
  RESULT[hoist.$n]="$(median <"$WORK/hoist.$n")"
  RESULT[shell.$n]="$(median <"$WORK/shell.$n")"
done
cleanup_servers
docker images -q --filter label=service=shell | sort -u | xargs -r docker rmi -f >/dev/null 2>&1 || true
docker images -q --filter label=service=bench | sort -u | xargs -r docker rmi -f >/dev/null 2>&1 || true

printf '\nDeploy wall time, median of %s rounds (stream delivery, hello image):\n' "$ROUNDS"
printf '%-10s %10s %14s %16s\n' servers "hoist (s)" "ssh+docker (s)" "hoist / script"
for n in 1 3; do
  printf '%-10s %10.2f %14.2f %16.2f\n' "$n" "${RESULT[hoist.$n]}" "${RESULT[shell.$n]}" \
    "$(calc "${RESULT[hoist.$n]} / ${RESULT[shell.$n]}")"
done
printf '%-10s %10.2f %14.2f\n' "3 vs 1" \
  "$(calc "${RESULT[hoist.3]} / ${RESULT[hoist.1]}")" \
  "$(calc "${RESULT[shell.3]} / ${RESULT[shell.1]}")"
echo "hoist also takes the deploy lock, writes the audit log and prunes; the script does none of that."
