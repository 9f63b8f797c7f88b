#!/usr/bin/env bash
# hoist-proxy benchmark, printed (never pass/fail on timings):
#  1. hoist-proxy vs Debian's nginx as reverse proxies to the same keep-alive
#     upstream, same load, same run: throughput ratio, p50/p99.
#  2. Failed requests during deploys: the end-to-end zero-downtime run
#     (deploy v2, a never-healthy v3, rollback to v1 under load) prints its counts.
# Usage: runner/benches/proxy.sh   (installs nginx-light when missing)
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/hoist-target}"
sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! [ -x /usr/sbin/nginx ]; then
  echo "==> installing nginx-light"
  export DEBIAN_FRONTEND=noninteractive
  sudo_ apt-get update -qq && sudo_ apt-get install -y -qq nginx-light >/dev/null
  # The package starts a system nginx on port 80; the bench runs its own.
  sudo_ systemctl stop nginx 2>/dev/null || sudo_ service nginx stop 2>/dev/null || sudo_ pkill -x nginx || true
fi
echo "==> hoist-proxy vs nginx (release builds)"
cargo test -q -p hoist-proxy --release --test bench vs_nginx -- --ignored --nocapture 2>&1 \
  | grep -E "round|hoist-proxy / nginx|test result|panicked"
echo "==> failed requests during deploys (e2e, test bed)"
cargo test -q -p hoist --test e2e_proxy zero_failed -- --nocapture 2>&1 \
  | grep -E "load through|test result|panicked"
